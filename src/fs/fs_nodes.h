/*
 * The node table: the host inodes the guest knows, each under a node id of our own.
 *
 * A node holds an O_PATH descriptor that pins its host inode, so the inode cannot go away or
 * its number be reused while the guest may still name it; that makes (st_dev, st_ino) a safe
 * key, and hard links to one inode share one node. Node ids count up from 2 (1 is the root)
 * and are never reused, so a stale or invented id finds nothing.
 *
 * Two counts keep a node alive: nlookup, the lookups the guest holds (LOOKUP and friends add
 * one, FORGET takes them back, never below zero), and refs, our own (requests in flight, open
 * handles, children that name it as their parent). The node is freed when both reach zero;
 * the root never is. One mutex guards the table; no host I/O happens under it.
 */
#ifndef SMOLVM_FS_FS_NODES_H
#define SMOLVM_FS_FS_NODES_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct fs_node {
	uint64_t id;
	dev_t dev;
	ino_t ino;
	int fd;	     /* O_PATH | O_NOFOLLOW */
	mode_t type; /* S_IFMT bits: an inode never changes type */
	/* Guarded by the table lock: */
	uint64_t nlookup;
	uint64_t refs;
	struct fs_node *parent; /* where `name` was last seen, referenced; NULL for the root */
	char *name;
	struct fs_node *next_id, *next_key;
};

/*
 * A count of something held, up to max: the host descriptors all servers keep open (one
 * budget per process), or one share's nodes or handles (its caps).
 */
struct fs_budget {
	long used; /* atomic */
	long max;
};

bool fs_budget_take(struct fs_budget *b);
void fs_budget_give(struct fs_budget *b);
/* One place under a share's cap and one descriptor of the process budget b: 0, cap_err when
 * the cap is reached, -ENFILE when the budget is. fs_budget_give_both returns both. */
int fs_budget_take_both(struct fs_budget *cap, struct fs_budget *b, int cap_err);
void fs_budget_give_both(struct fs_budget *cap, struct fs_budget *b);

struct fs_nodes {
	pthread_mutex_t lock;
	struct fs_node **by_id, **by_key;
	size_t nbuckets; /* power of two */
	size_t count;
	uint64_t next_id;
	struct fs_node *root;
	struct fs_budget *budget; /* the process's descriptors */
	struct fs_budget cap;	  /* this share's nodes, the root not counted */
};

/*
 * Makes the table with the root node (id FUSE_ROOT_ID) owning root_fd, holding at most
 * max_nodes other nodes. 0 or -ENOMEM.
 */
int fs_nodes_init(struct fs_nodes *t, int root_fd, const struct stat *st, struct fs_budget *b,
		  long max_nodes);
void fs_nodes_destroy(struct fs_nodes *t);

/*
 * Takes the room for one new node before its O_PATH descriptor is opened: a place under the
 * share's cap and a descriptor from the process budget. 0, or -ENFILE if either is used up.
 * fs_nodes_adopt() keeps it or gives it back; before that, fs_nodes_give_slot() does.
 */
int fs_nodes_take_slot(struct fs_nodes *t);
void fs_nodes_give_slot(struct fs_nodes *t);

/* The node with this id, referenced, if the guest holds a lookup of it (or it is the root). */
struct fs_node *fs_nodes_get(struct fs_nodes *t, uint64_t id);
/* One more reference to a node the caller already holds. */
void fs_nodes_hold(struct fs_nodes *t, struct fs_node *n);
void fs_nodes_put(struct fs_nodes *t, struct fs_node *n);

/*
 * Counts a guest lookup of the node keyed (dev, ino), if there is one, and records that it
 * was just seen as `name` in `parent`. Returns it referenced, or NULL.
 */
struct fs_node *fs_nodes_find(struct fs_nodes *t, dev_t dev, ino_t ino, struct fs_node *parent,
			      const char *name);

/*
 * Counts a guest lookup of the inode behind fd (O_PATH, with attributes st), seen as `name`
 * in `parent`: a new node owning fd and the caller's slot, or the existing node for that inode
 * (fd closed, slot given back). Returns the node id, or -ENOMEM (fd closed, slot given back).
 * With ref, the node is also returned referenced.
 */
int64_t fs_nodes_adopt(struct fs_nodes *t, int fd, const struct stat *st, struct fs_node *parent,
		       const char *name, struct fs_node **ref);

/* Takes back up to n guest lookups; the excess is ignored. */
void fs_nodes_forget(struct fs_nodes *t, uint64_t id, uint64_t n);
/* Takes back every guest lookup (DESTROY). */
void fs_nodes_forget_all(struct fs_nodes *t);

/* Records that the node keyed (dev, ino), if any, is now `name` in `parent` (after RENAME). */
void fs_nodes_moved(struct fs_nodes *t, dev_t dev, ino_t ino, struct fs_node *parent,
		    const char *name);

/*
 * The node's last known parent (referenced) and name, for reopening it by name.
 * -ESTALE for the root or a node never seen by name.
 */
int fs_nodes_where(struct fs_nodes *t, struct fs_node *n, struct fs_node **parent,
		   char name[NAME_MAX + 1]);

#endif
