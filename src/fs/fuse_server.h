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

/*
 * Each share's caps on what its guest can make smolvm hold (0 in the config picks these).
 * Measured (x86-64, ext4): a node costs ~150 B of heap (~400 B with a 255-byte name) and an
 * O_PATH descriptor (a 192 B struct file and its fd slot), and pins a host dentry and inode
 * (~1.3 KB of cache the host cannot reclaim meanwhile). An open file costs ~90 B of heap and a
 * descriptor; an open directory ~8.4 KB (its getdents buffer) and a descriptor.
 *
 * Nodes: every inode the guest has looked up and not forgotten (and the directories above
 * them, while those are needed). A Linux guest forgets only under memory pressure, so `find`
 * over a big tree holds a node per file it passed: 1 Mi nodes lets a million-file tree (a large
 * monorepo with its node_modules) be walked whole, and bounds a share at ~0.4 GB of smolvm's
 * memory and kernel file objects (~0.65 GB with the longest names) plus ~1.4 GB of pinned host
 * cache.
 *
 * Handles: the files and directories the guest has open. Programs close what they open, so
 * even a large parallel build holds a few thousand: 16 Ki handles bounds a share at ~140 MB
 * if all are directories, ~5 MB if all are files (the descriptor budget alone let a guest
 * hold up to 12 M directory handles, ~100 GB).
 *
 * At a cap the guest gets ENFILE for what would add a node (LOOKUP, MKNOD, MKDIR, SYMLINK,
 * CREATE: nothing is made; READDIRPLUS lists the remaining names without a node, and the
 * guest's own LOOKUP of them fails) and EMFILE for OPEN, OPENDIR and CREATE; FORGET and
 * RELEASE make room again. LINK adds no node (the inode has one already). The process-wide
 * descriptor budget (see fuse_server_new) still bounds all shares together, and refuses first
 * where RLIMIT_NOFILE is lower.
 */
#define FUSE_SERVER_MAX_NODES	(1L << 20)
#define FUSE_SERVER_MAX_HANDLES (1L << 14)

/*
 * How much the guest's kernel may cache, with virtiofsd's meanings of its --cache modes.
 * AUTO: names and attributes for 1 s, file data dropped on every open and whenever the
 * attributes show a change: host-side changes show within a second. ALWAYS: names (missing
 * ones too), attributes, file data and directory listings for a day and across opens: only for
 * trees that nothing but this guest changes. NEVER: nothing (every lookup and stat asks the
 * host, file I/O bypasses the guest's page cache): host-side changes show at once.
 */
enum fuse_server_cache {
	FUSE_SERVER_CACHE_AUTO,
	FUSE_SERVER_CACHE_ALWAYS,
	FUSE_SERVER_CACHE_NEVER,
};

struct fuse_server_config {
	const char *root; /* host directory to share */
	bool readonly;	  /* refuse every modification with EROFS */
	enum fuse_server_cache cache;
	long max_nodes;	  /* 0: FUSE_SERVER_MAX_NODES; tests set small caps */
	long max_handles; /* 0: FUSE_SERVER_MAX_HANDLES */
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
