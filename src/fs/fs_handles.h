/*
 * Open files and directories the guest holds, by the handle number (fh) we gave it.
 *
 * Handle numbers count up from 1 and are never reused, so a guest cannot reach a handle it
 * was not given, and a handle released on one queue while in use on another stays valid until
 * the last request using it is done: the descriptor is closed only then, so a concurrent
 * pread can never land on a descriptor number the kernel has since handed to another file.
 */
#ifndef SMOLVM_FS_FS_HANDLES_H
#define SMOLVM_FS_FS_HANDLES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/fs_nodes.h"

/* A directory read in progress: getdents64 output not yet passed to the guest. */
struct fs_dirstream {
	pthread_mutex_t lock; /* the descriptor's position is shared state */
	uint64_t pos;	      /* the guest's offset cookie for buf[cur] */
	size_t len, cur;
	char buf[8192];
};

struct fs_handle {
	uint64_t fh;
	int fd;
	int flags; /* the guest's open flags; O_APPEND is ours to emulate */
	bool is_dir;
	bool locked;	      /* a POSIX lock was taken through it (atomic) ... */
	uint64_t lock_owner;  /* ... by this guest lock owner, whose FLUSH drops them (atomic) */
	struct fs_node *node; /* referenced */
	struct fs_dirstream *dir;
	/* Guarded by the table lock: */
	uint64_t refs;
	struct fs_handle *next;
};

struct fs_handles {
	pthread_mutex_t lock;
	struct fs_handle **buckets;
	size_t nbuckets; /* power of two */
	size_t count;
	uint64_t next_fh;
	struct fs_nodes *nodes;
	struct fs_budget *budget; /* the process's descriptors */
	struct fs_budget cap;	  /* this share's handles, counted until their descriptor closes */
};

/* Makes an empty table for at most max_handles handles. 0 or -ENOMEM. */
int fs_handles_init(struct fs_handles *h, struct fs_nodes *nodes, struct fs_budget *b,
		    long max_handles);
void fs_handles_destroy(struct fs_handles *h);

/*
 * Takes the room for one handle before its descriptor is opened: a place under the share's cap
 * (else -EMFILE, the guest's "too many open files") and a descriptor from the process budget
 * (else -ENFILE). fs_handles_add() keeps it; if the open fails, fs_handles_give_slot().
 */
int fs_handles_take_slot(struct fs_handles *h);
void fs_handles_give_slot(struct fs_handles *h);

/*
 * Files fd (whose slot the caller took) as a new handle on node, which it references.
 * Returns the handle number, or -ENOMEM (fd closed, slot given back).
 */
int64_t fs_handles_add(struct fs_handles *h, struct fs_node *node, int fd, int flags, bool is_dir);

/* The handle, referenced, if it exists, is of the right kind and belongs to node id `nodeid`. */
struct fs_handle *fs_handles_get(struct fs_handles *h, uint64_t fh, uint64_t nodeid, bool is_dir);
void fs_handles_put(struct fs_handles *h, struct fs_handle *hd);

/* Forgets a handle (RELEASE); it closes when its last user is done. -EBADF if not found. */
int fs_handles_remove(struct fs_handles *h, uint64_t fh, uint64_t nodeid, bool is_dir);
/* Forgets every handle (DESTROY). */
void fs_handles_remove_all(struct fs_handles *h);

#endif
