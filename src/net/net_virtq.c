/* Used-ring publication of several chains in one index update (see net_virtq.h). */
#include "net/net_virtq.h"

void net_virtq_push_batch(struct virtq *q, const struct virtq_used_elem *e, unsigned n)
{
	uint16_t old = q->used_idx;

	if (!q->enabled || q->broken || n == 0)
		return;
	for (unsigned i = 0; i < n; i++) {
		struct virtq_used_elem *u = &q->used->ring[(uint16_t)(old + i) & (q->size - 1)];
		__atomic_store_n(&u->id, e[i].id, __ATOMIC_RELAXED);
		__atomic_store_n(&u->len, e[i].len, __ATOMIC_RELAXED);
	}
	q->used_idx = old + n;
	/* Release: the entries are visible before the index that publishes them. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
	/* As virtq_push: once the index laps the last signalled one, that one no longer tells
	 * old from new for the event-index check. */
	if ((uint16_t)(q->signalled_used - old - 1) < n)
		q->signalled_used_valid = false;
}
