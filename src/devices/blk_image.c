/*
 * A virtio-blk disk's backing file. Cache modes (as qemu's -drive cache=):
 *   writeback     page cache; a guest flush is fdatasync
 *   none          O_DIRECT; a guest flush is fdatasync (the disk's own cache)
 *   unsafe        page cache; guest flushes are ignored
 *   directsync    O_DIRECT | O_DSYNC
 *   writethrough  O_DSYNC
 * Where O_DIRECT is refused (a file system without it, or a request whose buffers are not
 * aligned as the file system wants), I/O goes through a second, buffered descriptor of
 * the same file: the kernel copies instead of us keeping bounce buffers.
 */
#include "devices/blk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/log.h"

#define BLK_ZERO_CHUNK (64 * 1024)
#define BLK_ZERO_IOVS  16

/* Written from by write_zeroes where the file system cannot zero a range itself; aligned
 * for O_DIRECT. */
static const uint8_t blk_zeroes[BLK_ZERO_CHUNK] __attribute__((aligned(4096)));

static void blk_image_fail(const struct blk_image *img, const char *why)
{
	log_error("drive %s: %s", img->path, why);
}

/* Another descriptor of the already open file (not of whatever the path names by now). */
static int blk_image_reopen(int fd, int flags)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return open(proc, flags | O_CLOEXEC);
}

/* The image again with O_DIRECT (by path only where /proc is missing); -1 and errno. */
static int blk_image_open_direct(const struct blk_image *img, int flags)
{
	int fd = blk_image_reopen(img->fd_buffered, flags | O_DIRECT);

	if (fd < 0 && errno == ENOENT)
		fd = open(img->path, flags | O_DIRECT | O_CLOEXEC);
	return fd;
}

#define BLK_IMAGE_LOCK_TRIES 50 /* 20 ms apart */

static int blk_image_lock(struct blk_image *img)
{
	struct flock fl = {
	    .l_type = img->readonly ? F_RDLCK : F_WRLCK,
	    .l_whence = SEEK_SET,
	};

	/* An open file description lock: it conflicts with any other open of the image,
	 * in this process too (the same image given twice), and dies with the descriptor.
	 * Held for up to a second: a smolvm just killed with SIGKILL takes its VM process
	 * (PR_SET_PDEATHSIG) a moment later, and that one holds the lock until it is gone. */
	for (int tries = 0; tries < BLK_IMAGE_LOCK_TRIES; tries++) {
		if (fcntl(img->fd_buffered, F_OFD_SETLK, &fl) == 0)
			return 0;
		if (errno != EAGAIN && errno != EACCES)
			break;
		usleep(20 * 1000);
	}
	if (errno == EAGAIN || errno == EACCES) {
		blk_image_fail(img,
			       "in use by another process (one writer, or readonly=on readers)");
		return -EBUSY;
	}
	/* A file system without locks (some network ones): run unprotected, but say so. */
	log_warn("drive %s: cannot lock the image (%s); nothing stops a second user", img->path,
		 strerror(errno));
	return 0;
}

/* Type and size checks on the open file; 0 or -errno after one line. */
static int blk_image_check(struct blk_image *img)
{
	struct stat st;
	off_t end;
	int err;

	if (fstat(img->fd_buffered, &st) != 0) {
		err = -errno;
		blk_image_fail(img, strerror(-err));
		return err;
	}
	if (S_ISDIR(st.st_mode)) {
		blk_image_fail(img, "is a directory, not a disk image");
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		blk_image_fail(img, "not a regular file or block device");
		return -EINVAL;
	}
	/* lseek gives a block device's size too. */
	end = lseek(img->fd_buffered, 0, SEEK_END);
	if (end < 0) {
		err = -errno;
		blk_image_fail(img, strerror(-err));
		return err;
	}
	img->size = (uint64_t)end & ~(uint64_t)(BLK_SECTOR_SIZE - 1);
	if ((uint64_t)end != img->size)
		log_warn("drive %s: its size %lld is not a multiple of 512; the guest sees the "
			 "first %llu bytes",
			 img->path, (long long)end, (unsigned long long)img->size);
	return 0;
}

int blk_image_open(struct blk_image *img, const struct drive_config *drive)
{
	int flags = (drive->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	bool want_direct =
	    drive->cache == DRIVE_CACHE_NONE || drive->cache == DRIVE_CACHE_DIRECTSYNC;
	int err;

	*img = (struct blk_image){
	    .path = drive->path,
	    .fd = -1,
	    .fd_buffered = -1,
	    .readonly = drive->readonly,
	    .unsafe = drive->cache == DRIVE_CACHE_UNSAFE,
	};
	if (!drive->readonly &&
	    (drive->cache == DRIVE_CACHE_DIRECTSYNC || drive->cache == DRIVE_CACHE_WRITETHROUGH)) {
		flags |= O_DSYNC;
		img->dsync = true;
	}
	/* O_NONBLOCK: a FIFO given as an image must not hang us in open(). */
	img->fd_buffered = open(drive->path, flags | O_NONBLOCK);
	if (img->fd_buffered < 0) {
		err = -errno;
		if (err == -EISDIR)
			blk_image_fail(img, "is a directory, not a disk image");
		else if ((err == -EACCES || err == -EROFS || err == -EPERM) && !drive->readonly)
			log_error("drive %s: %s (readonly=on opens it read-only)", drive->path,
				  strerror(-err));
		else
			blk_image_fail(img, strerror(-err));
		return err;
	}
	img->fd = img->fd_buffered;
	fcntl(img->fd, F_SETFL, fcntl(img->fd, F_GETFL) & ~O_NONBLOCK);
	err = blk_image_check(img);
	if (!err)
		err = blk_image_lock(img);
	if (err) {
		blk_image_close(img);
		return err;
	}
	if (want_direct) {
		int fd = blk_image_open_direct(img, flags);
		if (fd >= 0) {
			img->fd = fd;
			img->direct = true;
		} else {
			log_warn("drive %s: O_DIRECT refused (%s); cache=%s goes through the host "
				 "page cache",
				 drive->path, strerror(errno),
				 drive->cache == DRIVE_CACHE_NONE ? "none" : "directsync");
		}
	}
	return 0;
}

void blk_image_close(struct blk_image *img)
{
	if (img->fd >= 0 && img->fd != img->fd_buffered)
		close(img->fd);
	if (img->fd_buffered >= 0)
		close(img->fd_buffered); /* drops the lock */
	img->fd = img->fd_buffered = -1;
}

/* Drop the first done bytes of iov[0..*n). */
static struct iovec *blk_iov_advance(struct iovec *iov, unsigned *n, size_t done)
{
	while (*n && done >= iov->iov_len) {
		done -= iov->iov_len;
		iov++;
		(*n)--;
	}
	if (*n) {
		iov->iov_base = (uint8_t *)iov->iov_base + done;
		iov->iov_len -= done;
	}
	return iov;
}

static int blk_image_rw(struct blk_image *img, bool write, struct iovec *iov, unsigned n,
			uint64_t off)
{
	int fd = img->fd;

	while (n > 0) {
		int cnt = n > IOV_MAX ? IOV_MAX : (int)n;
		ssize_t r = write ? pwritev(fd, iov, cnt, off) : preadv(fd, iov, cnt, off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* O_DIRECT wants aligned buffers, offsets and lengths; this request's
			 * are not (or no longer, after a short transfer). */
			if (errno == EINVAL && fd != img->fd_buffered) {
				fd = img->fd_buffered;
				continue;
			}
			return -errno;
		}
		if (r == 0)
			return -EIO;
		off += r;
		iov = blk_iov_advance(iov, &n, r);
	}
	return 0;
}

int blk_image_read(struct blk_image *img, struct iovec *iov, unsigned n, uint64_t off)
{
	return blk_image_rw(img, false, iov, n, off);
}

int blk_image_write(struct blk_image *img, struct iovec *iov, unsigned n, uint64_t off)
{
	if (img->readonly)
		return -EROFS;
	return blk_image_rw(img, true, iov, n, off);
}

int blk_image_flush(struct blk_image *img)
{
	if (img->unsafe || img->readonly)
		return 0;
	return fdatasync(img->fd) == 0 ? 0 : -errno;
}

/* fallocate, then for the O_DSYNC modes make it as durable as their writes are. */
static int blk_image_fallocate(struct blk_image *img, int mode, uint64_t off, uint64_t len)
{
	if (fallocate(img->fd, mode, off, len) != 0)
		return -errno;
	if (img->dsync && fdatasync(img->fd) != 0)
		return -errno;
	return 0;
}

static bool blk_fallocate_unsupported(int err)
{
	return err == -EOPNOTSUPP || err == -ENOSYS || err == -EINVAL || err == -ENODEV;
}

int blk_image_discard(struct blk_image *img, uint64_t off, uint64_t len)
{
	int err;

	if (img->readonly)
		return -EROFS;
	err = blk_image_fallocate(img, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
	return blk_fallocate_unsupported(err) ? 0 : err;
}

int blk_image_write_zeroes(struct blk_image *img, uint64_t off, uint64_t len, bool unmap)
{
	struct iovec iov[BLK_ZERO_IOVS];
	int err;

	if (img->readonly)
		return -EROFS;
	if (unmap) {
		err =
		    blk_image_fallocate(img, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
		if (!blk_fallocate_unsupported(err))
			return err;
	}
	err = blk_image_fallocate(img, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len);
	if (!blk_fallocate_unsupported(err))
		return err;
	while (len > 0) {
		unsigned n = 0;
		uint64_t chunk = 0;
		while (n < BLK_ZERO_IOVS && chunk < len) {
			size_t l = len - chunk < BLK_ZERO_CHUNK ? len - chunk : BLK_ZERO_CHUNK;
			iov[n++] = (struct iovec){(void *)blk_zeroes, l};
			chunk += l;
		}
		err = blk_image_rw(img, true, iov, n, off);
		if (err)
			return err;
		off += chunk;
		len -= chunk;
	}
	return 0;
}
