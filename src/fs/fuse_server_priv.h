/* What the FUSE operation files share: the server state and the handlers' signatures. */
#ifndef SMOLVM_FS_FUSE_SERVER_PRIV_H
#define SMOLVM_FS_FUSE_SERVER_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/fs_handles.h"
#include "fs/fs_nodes.h"
#include "fs/fuse_req.h"
#include "fs/fuse_server.h"

/* Largest READ/WRITE we offer the guest: FUSE_MAX_PAGES pages of 4 KiB. */
#define FUSE_SERVER_MAX_PAGES 256
#define FUSE_SERVER_MAX_IO    (FUSE_SERVER_MAX_PAGES * 4096)

/* What a share's cache mode (enum fuse_server_cache) tells the guest's kernel. */
struct fuse_cache_policy {
	uint64_t valid;	     /* seconds a name (entry_valid) and attributes (attr_valid) hold */
	bool negative;	     /* a missing name is cached too (LOOKUP answers nodeid 0) */
	uint32_t file_open;  /* FOPEN_* flags of OPEN and CREATE */
	uint32_t dir_open;   /* FOPEN_* flags of OPENDIR */
	uint32_t init_unset; /* INIT flags not offered */
};

struct fuse_server {
	struct fs_nodes nodes;
	struct fs_handles handles;
	struct fs_budget *budget; /* one for all servers: descriptors are per process */
	const struct fuse_cache_policy *cache;
	bool readonly;
	bool as_root;	 /* files the guest creates get the request's uid/gid */
	mode_t umask;	 /* the process umask, which the host applies to every creation */
	int initialized; /* atomic: INIT answered and no DESTROY since */
};

/*
 * Counts a guest lookup of `name` in parent and fills the entry for it. With hint (an inode
 * number from getdents), an existing node for it is used without resolving the name again.
 * With ref, the node is also returned referenced.
 */
int fuse_entry_lookup(struct fuse_server *s, struct fs_node *parent, const char *name, ino_t hint,
		      struct fuse_entry_out *e, struct fs_node **ref);

/*
 * Finishes a creation (MKNOD, MKDIR, SYMLINK, CREATE): gives the new file the requester's
 * uid/gid when we are root and the exact mode the guest asked for (undoing our umask), then
 * counts the lookup the guest gets in the reply. The caller took a node slot before making the
 * file (fs_nodes_take_slot), so a share at its cap makes nothing; this uses it or gives it
 * back. With ref, the node is also returned referenced.
 */
int fuse_entry_created(struct fuse_server *s, struct fuse_req *r, const char *name, mode_t mode,
		       struct fuse_entry_out *e, struct fs_node **ref);

/* Handlers: return 0 once a reply is made, or -errno for an error reply. */
typedef int fuse_op_fn(struct fuse_server *s, struct fuse_req *r);

fuse_op_fn fuse_op_lookup, fuse_op_forget, fuse_op_batch_forget, fuse_op_getattr, fuse_op_setattr,
    fuse_op_readlink, fuse_op_access, fuse_op_statfs;
fuse_op_fn fuse_op_mknod, fuse_op_mkdir, fuse_op_symlink, fuse_op_unlink, fuse_op_rmdir,
    fuse_op_rename, fuse_op_rename2, fuse_op_link;
fuse_op_fn fuse_op_open, fuse_op_create, fuse_op_read, fuse_op_write, fuse_op_release,
    fuse_op_flush, fuse_op_fsync, fuse_op_fallocate, fuse_op_lseek, fuse_op_copy_file_range;
fuse_op_fn fuse_op_opendir, fuse_op_readdir, fuse_op_readdirplus, fuse_op_releasedir,
    fuse_op_fsyncdir;
fuse_op_fn fuse_op_setxattr, fuse_op_getxattr, fuse_op_listxattr, fuse_op_removexattr;
fuse_op_fn fuse_op_getlk, fuse_op_setlk, fuse_op_setlkw;

#endif
