/* The handle table: one chained hash table keyed by handle number. */
#include "fs/fs_handles.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FS_HANDLES_MIN_BUCKETS 256

static size_t fh_bucket(const struct fs_handles *h, uint64_t fh)
{
	return (size_t)((fh * 0x9e3779b97f4a7c15ULL) >> 32) & (h->nbuckets - 1);
}

static void maybe_grow(struct fs_handles *h)
{
	size_t old = h->nbuckets, nb = old * 2;
	struct fs_handle **buckets, **old_b = h->buckets;

	if (h->count <= old)
		return;
	buckets = calloc(nb, sizeof(*buckets));
	if (!buckets)
		return;
	h->buckets = buckets;
	h->nbuckets = nb;
	for (size_t b = 0; b < old; b++) {
		struct fs_handle *hd = old_b[b], *next;

		for (; hd; hd = next) {
			size_t i = fh_bucket(h, hd->fh);

			next = hd->next;
			hd->next = buckets[i];
			buckets[i] = hd;
		}
	}
	free(old_b);
}

int fs_handles_take_slot(struct fs_handles *h)
{
	return fs_budget_take_both(&h->cap, h->budget, -EMFILE);
}

void fs_handles_give_slot(struct fs_handles *h)
{
	fs_budget_give_both(&h->cap, h->budget);
}

static void free_handle(struct fs_handles *h, struct fs_handle *hd)
{
	close(hd->fd);
	fs_handles_give_slot(h);
	if (hd->dir) {
		pthread_mutex_destroy(&hd->dir->lock);
		free(hd->dir);
	}
	fs_nodes_put(h->nodes, hd->node);
	free(hd);
}

int fs_handles_init(struct fs_handles *h, struct fs_nodes *nodes, struct fs_budget *b,
		    long max_handles)
{
	memset(h, 0, sizeof(*h));
	h->nbuckets = FS_HANDLES_MIN_BUCKETS;
	h->buckets = calloc(h->nbuckets, sizeof(*h->buckets));
	if (!h->buckets)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->next_fh = 1;
	h->nodes = nodes;
	h->budget = b;
	h->cap.max = max_handles;
	return 0;
}

void fs_handles_destroy(struct fs_handles *h)
{
	for (size_t b = 0; b < h->nbuckets; b++) {
		struct fs_handle *hd = h->buckets[b], *next;

		for (; hd; hd = next) {
			next = hd->next;
			free_handle(h, hd);
		}
	}
	free(h->buckets);
	pthread_mutex_destroy(&h->lock);
}

int64_t fs_handles_add(struct fs_handles *h, struct fs_node *node, int fd, int flags, bool is_dir)
{
	struct fs_handle *hd = calloc(1, sizeof(*hd));
	int64_t fh;
	size_t i;

	if (hd && is_dir) {
		hd->dir = calloc(1, sizeof(*hd->dir));
		if (!hd->dir) {
			free(hd);
			hd = NULL;
		} else {
			pthread_mutex_init(&hd->dir->lock, NULL);
		}
	}
	if (!hd) {
		close(fd);
		fs_handles_give_slot(h);
		return -ENOMEM;
	}
	fs_nodes_hold(h->nodes, node);
	hd->fd = fd;
	hd->flags = flags;
	hd->is_dir = is_dir;
	hd->node = node;
	hd->refs = 1; /* the table's */
	pthread_mutex_lock(&h->lock);
	hd->fh = h->next_fh++;
	i = fh_bucket(h, hd->fh);
	hd->next = h->buckets[i];
	h->buckets[i] = hd;
	h->count++;
	maybe_grow(h);
	fh = (int64_t)hd->fh;
	pthread_mutex_unlock(&h->lock);
	return fh;
}

static struct fs_handle **find_locked(struct fs_handles *h, uint64_t fh, uint64_t nodeid,
				      bool is_dir)
{
	struct fs_handle **pp = &h->buckets[fh_bucket(h, fh)];

	while (*pp && (*pp)->fh != fh)
		pp = &(*pp)->next;
	/* A handle used with another node or as the other kind is as good as unknown. */
	if (*pp && ((*pp)->node->id != nodeid || (*pp)->is_dir != is_dir))
		return NULL;
	return *pp ? pp : NULL;
}

struct fs_handle *fs_handles_get(struct fs_handles *h, uint64_t fh, uint64_t nodeid, bool is_dir)
{
	struct fs_handle **pp, *hd = NULL;

	pthread_mutex_lock(&h->lock);
	pp = find_locked(h, fh, nodeid, is_dir);
	if (pp) {
		hd = *pp;
		hd->refs++;
	}
	pthread_mutex_unlock(&h->lock);
	return hd;
}

void fs_handles_put(struct fs_handles *h, struct fs_handle *hd)
{
	uint64_t left;

	pthread_mutex_lock(&h->lock);
	left = --hd->refs;
	pthread_mutex_unlock(&h->lock);
	if (!left)
		free_handle(h, hd);
}

int fs_handles_remove(struct fs_handles *h, uint64_t fh, uint64_t nodeid, bool is_dir)
{
	struct fs_handle **pp, *hd;

	pthread_mutex_lock(&h->lock);
	pp = find_locked(h, fh, nodeid, is_dir);
	if (!pp) {
		pthread_mutex_unlock(&h->lock);
		return -EBADF;
	}
	hd = *pp;
	*pp = hd->next;
	h->count--;
	pthread_mutex_unlock(&h->lock);
	fs_handles_put(h, hd);
	return 0;
}

void fs_handles_remove_all(struct fs_handles *h)
{
	struct fs_handle *gone = NULL;

	pthread_mutex_lock(&h->lock);
	/* Every device reset comes here: an unused share costs no walk of the table. */
	for (size_t b = 0; h->count && b < h->nbuckets; b++) {
		while (h->buckets[b]) {
			struct fs_handle *hd = h->buckets[b];

			h->buckets[b] = hd->next;
			hd->next = gone;
			gone = hd;
		}
	}
	h->count = 0;
	pthread_mutex_unlock(&h->lock);
	while (gone) {
		struct fs_handle *next = gone->next;

		fs_handles_put(h, gone);
		gone = next;
	}
}
