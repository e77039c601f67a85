/*
 * One FUSE request as the server sees it: the in-header and fixed argument struct copied out
 * of guest memory once, a cursor over the rest of the readable buffers, and a writer into the
 * writable ones that refuses to go past their end.
 *
 * Guest memory may change under us at any time, so everything the server decides on (header,
 * argument structs, names) is copied before it is checked. Only bulk data (WRITE payload, READ
 * result) is used in place, through iovecs.
 */
#ifndef SMOLVM_FS_FUSE_REQ_H
#define SMOLVM_FS_FUSE_REQ_H

#include <limits.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* More buffers than this in one request is not something a virtio-fs driver sends. */
#define FUSE_REQ_MAX_IOV 1024

/* Every fixed argument struct a request can start with. */
union fuse_req_arg {
	struct fuse_init_in init;
	struct fuse_forget_in forget;
	struct fuse_batch_forget_in batch_forget;
	struct fuse_getattr_in getattr;
	struct fuse_setattr_in setattr;
	struct fuse_mknod_in mknod;
	struct fuse_mkdir_in mkdir;
	struct fuse_rename_in rename;
	struct fuse_rename2_in rename2;
	struct fuse_link_in link;
	struct fuse_open_in open;
	struct fuse_create_in create;
	struct fuse_release_in release;
	struct fuse_flush_in flush;
	struct fuse_read_in read;
	struct fuse_write_in write;
	struct fuse_fsync_in fsync;
	struct fuse_setxattr_in setxattr; /* only the first FUSE_COMPAT_SETXATTR_IN_SIZE bytes */
	struct fuse_getxattr_in getxattr;
	struct fuse_lk_in lk;
	struct fuse_access_in access;
	struct fuse_fallocate_in fallocate;
	struct fuse_lseek_in lseek;
	struct fuse_copy_file_range_in copy_file_range;
	struct fuse_interrupt_in interrupt;
	uint8_t raw[96];
};

struct fuse_req {
	struct fuse_in_header hdr;
	union fuse_req_arg arg;
	struct fs_node *node; /* hdr.nodeid, resolved and referenced by the dispatcher */

	const struct iovec *in;
	unsigned nin;
	unsigned in_idx; /* cursor: buffer index ... */
	size_t in_off;	 /* ... and offset inside it */
	size_t in_left;	 /* argument bytes not yet consumed */

	const struct iovec *out;
	unsigned nout;
	size_t out_cap; /* bytes the writable buffers hold */
	size_t out_len; /* bytes of reply written, 0 until a reply is made */
};

/*
 * Checks the header against the buffers and copies it. Returns 0, or -EINVAL for a request
 * whose length disagrees with its buffers (r->hdr.unique is valid whenever out_cap allows a
 * reply at all).
 */
int fuse_req_init(struct fuse_req *r, const struct iovec *in, unsigned nin, const struct iovec *out,
		  unsigned nout);

/* Copies the next `len` argument bytes; -EINVAL if the request is shorter. */
int fuse_req_read(struct fuse_req *r, void *dst, size_t len);

/*
 * Reads a NUL-terminated file name and checks it is one component that stays in its
 * directory: -EINVAL for an empty name, "." or "..", a '/' or no NUL inside the request;
 * -ENAMETOOLONG past NAME_MAX.
 */
int fuse_req_read_name(struct fuse_req *r, char name[NAME_MAX + 1]);

/*
 * Reads a NUL-terminated string of any bytes into buf; -EINVAL with no NUL inside the
 * request, `toolong` if it does not fit in cap bytes with its NUL.
 */
int fuse_req_read_str(struct fuse_req *r, char *buf, size_t cap, int toolong);

/* Bytes of arguments not yet read. */
static inline size_t fuse_req_left(const struct fuse_req *r)
{
	return r->in_left;
}

/*
 * Describes the next `len` unread argument bytes in place (for pwritev) in at most `max`
 * iovecs. Returns the number used, or -EINVAL if the request is shorter.
 */
int fuse_req_in_iov(struct fuse_req *r, size_t len, struct iovec *iov, unsigned max);

/* Describes `len` writable bytes starting at `off` of the reply (for preadv), clamped to the
 * buffers; returns the number of iovecs used and the bytes they cover in *got. */
unsigned fuse_req_out_iov(const struct fuse_req *r, size_t off, size_t len, struct iovec *iov,
			  unsigned max, size_t *got);

/* Room for reply arguments after the out header. */
static inline size_t fuse_req_out_room(const struct fuse_req *r)
{
	return r->out_cap - sizeof(struct fuse_out_header);
}

/* Writes bytes at `off` of the reply (offset 0 is the out header); -ERANGE past the end. */
int fuse_req_write(struct fuse_req *r, size_t off, const void *src, size_t len);

/* Replies with success and `len` argument bytes: -ERANGE if they do not fit. */
int fuse_reply(struct fuse_req *r, const void *arg, size_t len);

/* Replies with success and `len` bytes the handler already wrote after the out header. */
int fuse_reply_written(struct fuse_req *r, size_t len);

/* Replies with -err (err > 0). Writes nothing if the buffers cannot hold a header. */
void fuse_reply_err(struct fuse_req *r, int err);

#endif
