/*
 * Open files: OPEN, CREATE, READ, WRITE, RELEASE, FLUSH, FSYNC, FALLOCATE, LSEEK and
 * COPY_FILE_RANGE. Data moves straight between the host file and the guest's buffers
 * (preadv/pwritev on the request's iovecs), with no copy in between.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fs_host.h"
#include "fs/fuse_server_priv.h"

/*
 * The guest's open flags we pass on. O_APPEND is emulated per write (RWF_APPEND) because the
 * guest also writes back mmap'd pages through the same handle at explicit offsets; O_DIRECT
 * would need the guest's buffers aligned; O_NOATIME fails on files we do not own. O_CREAT,
 * O_EXCL and O_TRUNC are the callers' business.
 */
#define FS_OPEN_PASS (O_ACCMODE | O_SYNC | O_DSYNC)

static int reply_open(struct fuse_server *s, struct fuse_req *r, int64_t fh, const void *entry,
		      size_t entry_len)
{
	struct fuse_open_out open_out = {.fh = (uint64_t)fh, .open_flags = s->cache->file_open};
	char buf[sizeof(struct fuse_entry_out) + sizeof(open_out)];

	if (entry_len)
		memcpy(buf, entry, entry_len);
	memcpy(buf + entry_len, &open_out, sizeof(open_out));
	return fuse_reply(r, buf, entry_len + sizeof(open_out));
}

int fuse_op_open(struct fuse_server *s, struct fuse_req *r)
{
	uint32_t flags = r->arg.open.flags;
	int64_t fh;
	int fd, err;

	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	if (s->readonly && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EROFS;
	if (r->node->type == S_IFDIR)
		return -EISDIR;
	err = fs_handles_take_slot(&s->handles);
	if (err)
		return err;
	fd = fs_host_reopen(&s->nodes, r->node, (int)(flags & (FS_OPEN_PASS | O_TRUNC)));
	if (fd < 0) {
		fs_handles_give_slot(&s->handles);
		return fd;
	}
	fh = fs_handles_add(&s->handles, r->node, fd, (int)flags, false);
	return fh < 0 ? (int)fh : reply_open(s, r, fh, NULL, 0);
}

/* CREATE without O_EXCL of a name that exists: open what is there, if it is a regular file. */
static int create_existing(struct fuse_server *s, struct fuse_req *r, const char *name,
			   uint32_t flags, struct fuse_entry_out *e, struct fs_node **n)
{
	int fd, err = fuse_entry_lookup(s, r->node, name, 0, e, n);

	if (err)
		return err;
	if ((*n)->type == S_IFDIR)
		err = -EISDIR;
	else if ((*n)->type == S_IFLNK)
		err = -ELOOP;
	if (err)
		fd = err;
	else
		fd = fs_host_reopen(&s->nodes, *n, (int)(flags & (FS_OPEN_PASS | O_TRUNC)));
	if (fd < 0) {
		fs_nodes_forget(&s->nodes, (*n)->id, 1);
		fs_nodes_put(&s->nodes, *n);
	}
	return fd;
}

int fuse_op_create(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_create_in *a = &r->arg.create;
	mode_t mode = a->mode & 07777;
	char name[NAME_MAX + 1];
	struct fuse_entry_out e;
	struct fs_node *n;
	int fd, err;
	int64_t fh;

	if ((a->flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	err = fuse_req_read_name(r, name);
	if (!err)
		err = fs_handles_take_slot(&s->handles);
	if (err)
		return err;
	/* Room for the new node too, before anything is made. */
	err = fs_nodes_take_slot(&s->nodes);
	if (err) {
		fs_handles_give_slot(&s->handles);
		return err;
	}
	/* O_NONBLOCK: whatever turns up under this name, opening it cannot block. */
	fd = fs_host_open_beneath(r->node->fd, name,
				  (int)(a->flags & FS_OPEN_PASS) | O_CREAT | O_EXCL | O_NOFOLLOW |
				      O_NONBLOCK | O_NOCTTY,
				  mode);
	if (fd >= 0) {
		err = fuse_entry_created(s, r, name, mode, &e, &n);
		if (err) {
			close(fd);
			fd = err;
		}
	} else {
		/* An existing file needs a node slot only if no node has it yet: the lookup
		 * takes one then. */
		fs_nodes_give_slot(&s->nodes);
		if (fd == -EEXIST && !(a->flags & O_EXCL))
			fd = create_existing(s, r, name, a->flags, &e, &n);
	}
	if (fd < 0) {
		fs_handles_give_slot(&s->handles);
		return fd;
	}
	fh = fs_handles_add(&s->handles, n, fd, (int)a->flags, false);
	fs_nodes_put(&s->nodes, n);
	if (fh < 0) {
		fs_nodes_forget(&s->nodes, e.nodeid, 1);
		return (int)fh;
	}
	return reply_open(s, r, fh, &e, sizeof(e));
}

static struct fs_handle *file_handle(struct fuse_server *s, struct fuse_req *r, uint64_t fh)
{
	return fs_handles_get(&s->handles, fh, r->hdr.nodeid, false);
}

int fuse_op_read(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_read_in *a = &r->arg.read;
	struct iovec iov[FUSE_REQ_MAX_IOV];
	struct fs_handle *hd;
	size_t size = a->size, got;
	unsigned n;
	ssize_t len;

	if (a->offset > INT64_MAX)
		return -EINVAL;
	hd = file_handle(s, r, a->fh);
	if (!hd)
		return -EBADF;
	if (size > fuse_req_out_room(r))
		size = fuse_req_out_room(r);
	n = fuse_req_out_iov(r, sizeof(struct fuse_out_header), size, iov, FUSE_REQ_MAX_IOV, &got);
	len = got ? preadv(hd->fd, iov, (int)n, (off_t)a->offset) : 0;
	if (len < 0)
		len = -errno;
	fs_handles_put(&s->handles, hd);
	return len < 0 ? (int)len : fuse_reply_written(r, (size_t)len);
}

int fuse_op_write(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_write_in *a = &r->arg.write;
	struct iovec iov[FUSE_REQ_MAX_IOV];
	struct fuse_write_out out = {0};
	struct fs_handle *hd;
	int n, rwf = 0;
	ssize_t len;

	/* The payload is exactly what the request carries after the struct. */
	if (a->size != fuse_req_left(r) || a->offset > INT64_MAX)
		return -EINVAL;
	n = fuse_req_in_iov(r, a->size, iov, FUSE_REQ_MAX_IOV);
	if (n < 0)
		return n;
	hd = file_handle(s, r, a->fh);
	if (!hd)
		return -EBADF;
	/* A guest write(2) on an O_APPEND file appends, wherever the guest thinks the end is;
	 * page-cache writeback (FUSE_WRITE_CACHE) goes where it says. */
	if ((hd->flags & O_APPEND) && !(a->write_flags & FUSE_WRITE_CACHE))
		rwf = RWF_APPEND;
	len = a->size ? pwritev2(hd->fd, iov, n, (off_t)a->offset, rwf) : 0;
	if (len < 0)
		len = -errno;
	fs_handles_put(&s->handles, hd);
	if (len < 0)
		return (int)len;
	out.size = (uint32_t)len;
	return fuse_reply(r, &out, sizeof(out));
}

int fuse_op_release(struct fuse_server *s, struct fuse_req *r)
{
	int err = fs_handles_remove(&s->handles, r->arg.release.fh, r->hdr.nodeid, false);

	return err ? err : fuse_reply(r, NULL, 0);
}

/*
 * close(2) in the guest. POSIX drops the closing process's record locks on the file: our locks
 * are OFD locks on this handle's descriptor, taken for that lock owner, so drop them.
 */
int fuse_op_flush(struct fuse_server *s, struct fuse_req *r)
{
	struct fs_handle *hd = file_handle(s, r, r->arg.flush.fh);
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};

	if (!hd)
		return -EBADF;
	if (__atomic_load_n(&hd->locked, __ATOMIC_ACQUIRE) &&
	    __atomic_load_n(&hd->lock_owner, __ATOMIC_RELAXED) == r->arg.flush.lock_owner)
		fcntl(hd->fd, F_OFD_SETLK, &fl);
	fs_handles_put(&s->handles, hd);
	return fuse_reply(r, NULL, 0);
}

int fuse_op_fsync(struct fuse_server *s, struct fuse_req *r)
{
	struct fs_handle *hd = file_handle(s, r, r->arg.fsync.fh);
	int err;

	if (!hd)
		return -EBADF;
	err = fs_host_sync(hd->fd, r->arg.fsync.fsync_flags & FUSE_FSYNC_FDATASYNC);
	fs_handles_put(&s->handles, hd);
	return err ? err : fuse_reply(r, NULL, 0);
}

int fuse_op_fallocate(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_fallocate_in *a = &r->arg.fallocate;
	struct fs_handle *hd;
	int err;

	if (a->mode &
	    ~(uint32_t)(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if (a->offset > INT64_MAX || a->length > INT64_MAX)
		return -EINVAL;
	hd = file_handle(s, r, a->fh);
	if (!hd)
		return -EBADF;
	err = fallocate(hd->fd, (int)a->mode, (off_t)a->offset, (off_t)a->length) ? -errno : 0;
	fs_handles_put(&s->handles, hd);
	return err ? err : fuse_reply(r, NULL, 0);
}

/* The guest kernel answers SEEK_SET/CUR/END itself; only DATA and HOLE need the host. */
int fuse_op_lseek(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_lseek_in *a = &r->arg.lseek;
	struct fuse_lseek_out out = {0};
	struct fs_handle *hd;
	off_t off;
	int err = 0;

	if ((a->whence != SEEK_DATA && a->whence != SEEK_HOLE) || a->offset > INT64_MAX)
		return -EINVAL;
	hd = file_handle(s, r, a->fh);
	if (!hd)
		return -EBADF;
	/* Our reads and writes are positional: moving the shared offset disturbs nothing. */
	off = lseek(hd->fd, (off_t)a->offset, (int)a->whence);
	if (off < 0)
		err = -errno;
	fs_handles_put(&s->handles, hd);
	if (err)
		return err;
	out.offset = (uint64_t)off;
	return fuse_reply(r, &out, sizeof(out));
}

int fuse_op_copy_file_range(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_copy_file_range_in *a = &r->arg.copy_file_range;
	struct fuse_write_out out = {0};
	struct fs_handle *in, *dst;
	loff_t off_in, off_out;
	size_t len;
	ssize_t n;

	if (a->flags || a->off_in > INT64_MAX || a->off_out > INT64_MAX)
		return -EINVAL;
	/* The reply counts bytes in 32 bits. */
	len = a->len > (1u << 30) ? (1u << 30) : (size_t)a->len;
	in = file_handle(s, r, a->fh_in);
	if (!in)
		return -EBADF;
	dst = fs_handles_get(&s->handles, a->fh_out, a->nodeid_out, false);
	if (!dst) {
		fs_handles_put(&s->handles, in);
		return -EBADF;
	}
	off_in = (loff_t)a->off_in;
	off_out = (loff_t)a->off_out;
	n = copy_file_range(in->fd, &off_in, dst->fd, &off_out, len, 0);
	if (n < 0)
		n = -errno;
	fs_handles_put(&s->handles, dst);
	fs_handles_put(&s->handles, in);
	if (n < 0)
		return (int)n;
	out.size = (uint32_t)n;
	return fuse_reply(r, &out, sizeof(out));
}
