/* The node table: two chained hash tables over one set of nodes, by id and by host inode. */
#include "fs/fs_nodes.h"

#include <errno.h>
#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FS_NODES_MIN_BUCKETS 1024

bool fs_budget_take(struct fs_budget *b)
{
	if (__atomic_add_fetch(&b->used, 1, __ATOMIC_RELAXED) > b->max) {
		__atomic_sub_fetch(&b->used, 1, __ATOMIC_RELAXED);
		return false;
	}
	return true;
}

void fs_budget_give(struct fs_budget *b)
{
	__atomic_sub_fetch(&b->used, 1, __ATOMIC_RELAXED);
}

int fs_budget_take_both(struct fs_budget *cap, struct fs_budget *b, int cap_err)
{
	/* The share's cap first: a share at its cap must not use up descriptors others need. */
	if (!fs_budget_take(cap))
		return cap_err;
	if (!fs_budget_take(b)) {
		fs_budget_give(cap);
		return -ENFILE;
	}
	return 0;
}

void fs_budget_give_both(struct fs_budget *cap, struct fs_budget *b)
{
	fs_budget_give(b);
	fs_budget_give(cap);
}

int fs_nodes_take_slot(struct fs_nodes *t)
{
	return fs_budget_take_both(&t->cap, t->budget, -ENFILE);
}

void fs_nodes_give_slot(struct fs_nodes *t)
{
	fs_budget_give_both(&t->cap, t->budget);
}

static size_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return (size_t)x;
}

static size_t id_bucket(const struct fs_nodes *t, uint64_t id)
{
	return mix64(id) & (t->nbuckets - 1);
}

static size_t key_bucket(const struct fs_nodes *t, dev_t dev, ino_t ino)
{
	return mix64((uint64_t)ino ^ mix64((uint64_t)dev)) & (t->nbuckets - 1);
}

static void link_node(struct fs_nodes *t, struct fs_node *n)
{
	size_t bi = id_bucket(t, n->id), bk = key_bucket(t, n->dev, n->ino);

	n->next_id = t->by_id[bi];
	t->by_id[bi] = n;
	n->next_key = t->by_key[bk];
	t->by_key[bk] = n;
}

/* Doubles the buckets when the chains get long; on no memory, longer chains still work. */
static void maybe_grow(struct fs_nodes *t)
{
	size_t old = t->nbuckets, nb = old * 2;
	struct fs_node **by_id, **by_key, **old_id = t->by_id;

	if (t->count <= old)
		return;
	by_id = calloc(nb, sizeof(*by_id));
	by_key = calloc(nb, sizeof(*by_key));
	if (!by_id || !by_key) {
		free(by_id);
		free(by_key);
		return;
	}
	free(t->by_key);
	t->by_id = by_id;
	t->by_key = by_key;
	t->nbuckets = nb;
	for (size_t b = 0; b < old; b++) {
		struct fs_node *n = old_id[b], *next;

		for (; n; n = next) {
			next = n->next_id;
			link_node(t, n);
		}
	}
	free(old_id);
}

static void unlink_node(struct fs_nodes *t, struct fs_node *n)
{
	struct fs_node **pp;

	for (pp = &t->by_id[id_bucket(t, n->id)]; *pp != n; pp = &(*pp)->next_id)
		;
	*pp = n->next_id;
	for (pp = &t->by_key[key_bucket(t, n->dev, n->ino)]; *pp != n; pp = &(*pp)->next_key)
		;
	*pp = n->next_key;
	t->count--;
}

/*
 * Unlinks n if nothing keeps it, then does the same for the parent it referenced. Unlinked
 * nodes go on *dead (through next_id) to be closed after the lock is dropped.
 */
static void reap_locked(struct fs_nodes *t, struct fs_node *n, struct fs_node **dead)
{
	while (n && !n->refs && !n->nlookup && n != t->root) {
		struct fs_node *parent = n->parent;

		unlink_node(t, n);
		n->next_id = *dead;
		*dead = n;
		n = parent;
		if (n)
			n->refs--;
	}
}

static void put_locked(struct fs_nodes *t, struct fs_node *n, struct fs_node **dead)
{
	n->refs--;
	reap_locked(t, n, dead);
}

static void free_node(struct fs_nodes *t, struct fs_node *n)
{
	close(n->fd);
	if (n == t->root)
		fs_budget_give(t->budget);
	else
		fs_nodes_give_slot(t);
	free(n->name);
	free(n);
}

static void free_dead(struct fs_nodes *t, struct fs_node *dead)
{
	while (dead) {
		struct fs_node *next = dead->next_id;

		free_node(t, dead);
		dead = next;
	}
}

/* Remembers where n was seen last; on no memory the old name stays (reopen may say ESTALE). */
static void set_where_locked(struct fs_nodes *t, struct fs_node *n, struct fs_node *parent,
			     const char *name, struct fs_node **dead)
{
	char *copy;

	if (n == t->root || !parent)
		return;
	if (n->parent == parent && n->name && !strcmp(n->name, name))
		return;
	copy = strdup(name);
	if (!copy)
		return;
	free(n->name);
	n->name = copy;
	if (n->parent != parent) {
		parent->refs++;
		if (n->parent)
			put_locked(t, n->parent, dead);
		n->parent = parent;
	}
}

static struct fs_node *find_id_locked(struct fs_nodes *t, uint64_t id)
{
	struct fs_node *n = t->by_id[id_bucket(t, id)];

	while (n && n->id != id)
		n = n->next_id;
	return n;
}

static struct fs_node *find_key_locked(struct fs_nodes *t, dev_t dev, ino_t ino)
{
	struct fs_node *n = t->by_key[key_bucket(t, dev, ino)];

	while (n && (n->ino != ino || n->dev != dev))
		n = n->next_key;
	return n;
}

int fs_nodes_init(struct fs_nodes *t, int root_fd, const struct stat *st, struct fs_budget *b,
		  long max_nodes)
{
	memset(t, 0, sizeof(*t));
	t->budget = b;
	t->cap.max = max_nodes;
	t->nbuckets = FS_NODES_MIN_BUCKETS;
	t->by_id = calloc(t->nbuckets, sizeof(*t->by_id));
	t->by_key = calloc(t->nbuckets, sizeof(*t->by_key));
	t->root = calloc(1, sizeof(*t->root));
	if (!t->by_id || !t->by_key || !t->root) {
		free(t->by_id);
		free(t->by_key);
		free(t->root);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->root->id = FUSE_ROOT_ID;
	t->root->dev = st->st_dev;
	t->root->ino = st->st_ino;
	t->root->fd = root_fd;
	t->root->type = st->st_mode & S_IFMT;
	t->root->refs = 1; /* the table's own: the root outlives every FORGET and DESTROY */
	t->next_id = FUSE_ROOT_ID + 1;
	link_node(t, t->root);
	t->count = 1;
	__atomic_add_fetch(&b->used, 1, __ATOMIC_RELAXED);
	return 0;
}

void fs_nodes_destroy(struct fs_nodes *t)
{
	for (size_t b = 0; b < t->nbuckets; b++) {
		struct fs_node *n = t->by_id[b], *next;

		for (; n; n = next) {
			next = n->next_id;
			free_node(t, n);
		}
	}
	free(t->by_id);
	free(t->by_key);
	pthread_mutex_destroy(&t->lock);
}

struct fs_node *fs_nodes_get(struct fs_nodes *t, uint64_t id)
{
	struct fs_node *n;

	pthread_mutex_lock(&t->lock);
	n = find_id_locked(t, id);
	if (n && !n->nlookup && n != t->root)
		n = NULL; /* forgotten: the guest no longer holds this id */
	if (n)
		n->refs++;
	pthread_mutex_unlock(&t->lock);
	return n;
}

void fs_nodes_hold(struct fs_nodes *t, struct fs_node *n)
{
	pthread_mutex_lock(&t->lock);
	n->refs++;
	pthread_mutex_unlock(&t->lock);
}

void fs_nodes_put(struct fs_nodes *t, struct fs_node *n)
{
	struct fs_node *dead = NULL;

	pthread_mutex_lock(&t->lock);
	put_locked(t, n, &dead);
	pthread_mutex_unlock(&t->lock);
	free_dead(t, dead);
}

struct fs_node *fs_nodes_find(struct fs_nodes *t, dev_t dev, ino_t ino, struct fs_node *parent,
			      const char *name)
{
	struct fs_node *n, *dead = NULL;

	pthread_mutex_lock(&t->lock);
	n = find_key_locked(t, dev, ino);
	if (n) {
		n->nlookup++;
		n->refs++;
		set_where_locked(t, n, parent, name, &dead);
	}
	pthread_mutex_unlock(&t->lock);
	free_dead(t, dead);
	return n;
}

int64_t fs_nodes_adopt(struct fs_nodes *t, int fd, const struct stat *st, struct fs_node *parent,
		       const char *name, struct fs_node **ref)
{
	struct fs_node *n, *dead = NULL;
	int64_t id;

	pthread_mutex_lock(&t->lock);
	n = find_key_locked(t, st->st_dev, st->st_ino);
	if (n) {
		/* Another name or another thread got there first: one inode, one node. */
		n->nlookup++;
		set_where_locked(t, n, parent, name, &dead);
		id = (int64_t)n->id;
		if (ref) {
			n->refs++;
			*ref = n;
		}
		pthread_mutex_unlock(&t->lock);
		free_dead(t, dead);
		close(fd);
		fs_nodes_give_slot(t);
		return id;
	}
	n = calloc(1, sizeof(*n));
	if (n)
		n->name = strdup(name);
	if (!n || !n->name) {
		pthread_mutex_unlock(&t->lock);
		free(n);
		close(fd);
		fs_nodes_give_slot(t);
		return -ENOMEM;
	}
	n->id = t->next_id++;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->fd = fd;
	n->type = st->st_mode & S_IFMT;
	n->nlookup = 1;
	n->parent = parent;
	parent->refs++;
	link_node(t, n);
	t->count++;
	maybe_grow(t);
	id = (int64_t)n->id;
	if (ref) {
		n->refs++;
		*ref = n;
	}
	pthread_mutex_unlock(&t->lock);
	return id;
}

void fs_nodes_forget(struct fs_nodes *t, uint64_t id, uint64_t count)
{
	struct fs_node *n, *dead = NULL;

	pthread_mutex_lock(&t->lock);
	n = find_id_locked(t, id);
	if (n) {
		/* A guest that forgets more than it looked up gets no underflow, just zero. */
		n->nlookup -= count < n->nlookup ? count : n->nlookup;
		reap_locked(t, n, &dead);
	}
	pthread_mutex_unlock(&t->lock);
	free_dead(t, dead);
}

void fs_nodes_forget_all(struct fs_nodes *t)
{
	struct fs_node *dead = NULL;

	pthread_mutex_lock(&t->lock);
	t->root->nlookup = 0;
	/* Every device reset comes here: with only the root, there is no table to walk. */
	for (size_t b = 0; t->count > 1 && b < t->nbuckets; b++)
		for (struct fs_node *n = t->by_id[b]; n; n = n->next_id)
			n->nlookup = 0;
	for (size_t b = 0; t->count > 1 && b < t->nbuckets; b++) {
		struct fs_node *n;
	again:
		for (n = t->by_id[b]; n; n = n->next_id) {
			if (!n->refs && n != t->root) {
				reap_locked(t, n, &dead);
				goto again;
			}
		}
	}
	pthread_mutex_unlock(&t->lock);
	free_dead(t, dead);
}

void fs_nodes_moved(struct fs_nodes *t, dev_t dev, ino_t ino, struct fs_node *parent,
		    const char *name)
{
	struct fs_node *n, *dead = NULL;

	pthread_mutex_lock(&t->lock);
	n = find_key_locked(t, dev, ino);
	if (n)
		set_where_locked(t, n, parent, name, &dead);
	pthread_mutex_unlock(&t->lock);
	free_dead(t, dead);
}

int fs_nodes_where(struct fs_nodes *t, struct fs_node *n, struct fs_node **parent,
		   char name[NAME_MAX + 1])
{
	int err = -ESTALE;

	pthread_mutex_lock(&t->lock);
	if (n->parent && n->name && strlen(n->name) <= NAME_MAX) {
		strcpy(name, n->name);
		n->parent->refs++;
		*parent = n->parent;
		err = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}
