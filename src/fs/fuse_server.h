/*
 * The FUSE server behind virtio-fs: answers FUSE requests (linux/fuse.h, protocol 7.31 and
 * later) against one host directory, the share root. It knows nothing about virtqueues: the
 * device hands it a request as iovecs and gets the reply written into iovecs.
 *
 * The guest is hostile. No request can reach a host file outside the root, every length and
 * name is checked, and replies never exceed the buffers they are written into.
 */
#ifndef SMOLVM_FS_FUSE_SERVER_H
#define SMOLVM_FS_FUSE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct fuse_server;

struct fuse_server_config {
	const char *root; /* host directory to share */
	bool readonly;	  /* refuse every modification with EROFS */
};

/*
 * Opens the share root. Returns 0 or -errno (-ENOTDIR if root is not a directory).
 * Process-wide effects, on the first call: RLIMIT_NOFILE is raised to its hard limit, and the
 * hard limit to fs.nr_open where the process may (every file the guest has looked up holds a
 * descriptor; all shares together use at most 3/4 of the limit); SIGXFSZ is ignored if it was
 * default, so a guest write past RLIMIT_FSIZE fails with EFBIG instead of killing smolvm.
 */
int fuse_server_new(const struct fuse_server_config *cfg, struct fuse_server **out);

/* Closes every host file the server holds. No call may be running on another thread. */
void fuse_server_free(struct fuse_server *s);

/*
 * Ends the session as DESTROY does (the device was reset: the guest's driver forgot every node
 * and handle and will send INIT again). No call may be running on another thread.
 */
void fuse_server_reset(struct fuse_server *s);

/*
 * Handle one request. `in` holds the device-readable buffers (struct fuse_in_header +
 * arguments (+ write payload)), `out` the device-writable ones (struct fuse_out_header + reply
 * (+ read data)). Returns the number of bytes written into `out`: 0 for requests that take no
 * reply (FORGET, BATCH_FORGET, INTERRUPT) or if out cannot hold even an error header.
 * Never trusts any length. Safe to call from several threads at once.
 */
size_t fuse_server_handle(struct fuse_server *s, const struct iovec *in, unsigned nin,
			  const struct iovec *out, unsigned nout);

#endif
