/*
 * The file behind a virtio-blk disk: a raw image or a block device, opened with the
 * -drive cache mode, locked against a second writer, and accessed with positioned vector
 * I/O straight on guest memory. Safe to use from several threads at once.
 */
#ifndef SMOLVM_BLK_IMAGE_H
#define SMOLVM_BLK_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "cli/options.h"

#define BLK_SECTOR_SIZE 512

struct blk_image {
	const char *path;
	int fd;		 /* what I/O goes through: O_DIRECT for cache=none/directsync */
	int fd_buffered; /* the same file through the page cache; == fd without O_DIRECT */
	uint64_t size;	 /* bytes the guest sees: the file's size rounded down to 512 */
	bool readonly;
	bool direct; /* fd has O_DIRECT */
	bool dsync;  /* writes are durable on completion (O_DSYNC modes) */
	bool unsafe; /* cache=unsafe: flushes are no-ops */
};

/*
 * Open drive->path as the cache mode says and lock it: a write lock for a writable drive,
 * a read lock for readonly=on, so one writer or many readers share an image. On failure
 * prints one line naming the file and returns -errno (the image is left closed).
 * The size is rounded down to whole sectors; a trailing partial sector is never touched.
 */
int blk_image_open(struct blk_image *img, const struct drive_config *drive);
void blk_image_close(struct blk_image *img);

/* Read or write all of iov[0..n) at byte offset off. The iovecs are consumed (advanced in
 * place). 0, or -errno; -EIO if the file ended early (it shrank under us). */
int blk_image_read(struct blk_image *img, struct iovec *iov, unsigned n, uint64_t off);
int blk_image_write(struct blk_image *img, struct iovec *iov, unsigned n, uint64_t off);

/* Make completed writes durable (fdatasync); a no-op for cache=unsafe. 0 or -errno. */
int blk_image_flush(struct blk_image *img);

/* Deallocate [off, off + len): a hint, so file systems that cannot punch holes succeed. */
int blk_image_discard(struct blk_image *img, uint64_t off, uint64_t len);

/* Make [off, off + len) read as zeroes: by punching a hole when unmap allows, else by
 * zeroing the range in place (FALLOC_FL_ZERO_RANGE, or plain writes of zeroes). */
int blk_image_write_zeroes(struct blk_image *img, uint64_t off, uint64_t len, bool unmap);

#endif
