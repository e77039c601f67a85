/*
 * Split virtqueues, device side (virtio 1.2, 2.7). The guest owns the ring memory and may
 * change it at any moment, so every field is copied once into a local and only the copy
 * is checked and used. Memory ordering follows 2.7.13 and 2.7.7/2.7.10 (event index).
 */
#include "virtio/virtq.h"

#include <errno.h>
#include <string.h>

/* Keeps the compiler from re-reading guest memory after a copy was checked. */
#define virtq_barrier() __asm__ __volatile__("" ::: "memory")

/* virtio 1.2, 2.7.10: was event_idx crossed when the index moved from old to new? */
static bool virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

static uint16_t *virtq_used_event(struct virtq *q)
{
	return &q->avail->ring[q->size];
}

static uint16_t *virtq_avail_event(struct virtq *q)
{
	return (uint16_t *)&q->used->ring[q->size];
}

/* Map one ring area of len bytes. The host address must be aligned like the gpa, or the
 * atomic accesses below would be misaligned (a region mapped at an odd host offset). */
static int virtq_map(const struct guest_mem *mem, uint64_t gpa, uint64_t len, uint64_t align,
		     void **p)
{
	if (gpa & (align - 1))
		return -EINVAL;
	*p = guest_mem_ptr(mem, gpa, len);
	if (!*p)
		return -EFAULT;
	if ((uintptr_t)*p & (align - 1))
		return -EINVAL;
	return 0;
}

int virtq_enable(struct virtq *q, const struct guest_mem *mem)
{
	uint64_t n = q->size;
	void *desc, *avail, *used;
	int err;

	q->enabled = false;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	/* Sizes from 2.7: each area includes its trailing event field. */
	err = virtq_map(mem, q->desc_gpa, 16 * n, 16, &desc);
	if (!err)
		err = virtq_map(mem, q->avail_gpa, 6 + 2 * n, 2, &avail);
	if (!err)
		err = virtq_map(mem, q->used_gpa, 6 + 8 * n, 4, &used);
	if (err)
		return err;

	q->mem = mem;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_used_valid = false;
	q->kicks_off = false;
	q->broken = false;
	q->err = 0;
	q->enabled = true;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

static int virtq_fail(struct virtq *q, int err)
{
	q->broken = true;
	q->err = err;
	return err;
}

/* Copy descriptor i of a table once. Indirect tables need not be 8-byte aligned, so this
 * goes through memcpy; the barrier makes the local copy the only one used afterwards. */
static void virtq_read_desc(const void *table, unsigned i, struct virtq_desc *d)
{
	memcpy(d, (const uint8_t *)table + (size_t)i * sizeof(*d), sizeof(*d));
	virtq_barrier();
}

/* Append one checked buffer to the chain. */
static int virtq_add_buf(struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	size_t *total = writable ? &c->in_len : &c->out_len;
	void *p;

	if (!writable && c->nin)
		return -EINVAL;
	if (d->len == 0)
		return 0;
	/* used.len is 32 bits, so neither part may hold more than that. */
	if (__builtin_add_overflow(*total, (size_t)d->len, total) || *total > UINT32_MAX)
		return -EINVAL;
	p = guest_mem_ptr(q->mem, d->addr, d->len);
	if (!p)
		return -EFAULT;
	c->iov[c->nout + c->nin] = (struct iovec){.iov_base = p, .iov_len = d->len};
	if (writable)
		c->nin++;
	else
		c->nout++;
	return 0;
}

/* Walk the chain starting at head. The budget counts buffer descriptors, including those
 * of an indirect table, so a loop anywhere ends after q->size hops and iov[] cannot
 * overflow. The INDIRECT descriptor itself ends the main chain (NEXT is refused with it). */
static int virtq_walk(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	const void *table = q->desc;
	unsigned table_size = q->size, budget = q->size, i = head;
	bool nested = false;
	struct virtq_desc d;
	int err;

	c->head = head;
	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	if (head >= q->size)
		return -EINVAL;
	for (;;) {
		virtq_read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!q->indirect || nested || (d.flags & VIRTQ_DESC_F_NEXT))
				return -EINVAL;
			if (d.len == 0 || d.len % sizeof(d) || d.len / sizeof(d) > q->size)
				return -EINVAL;
			table = guest_mem_ptr(q->mem, d.addr, d.len);
			if (!table)
				return -EFAULT;
			table_size = d.len / sizeof(d);
			nested = true;
			i = 0;
			continue;
		}
		if (budget == 0)
			return -ELOOP;
		budget--;
		err = virtq_add_buf(q, c, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= table_size)
			return -EINVAL;
		i = d.next;
	}
}

/* Tell the driver which avail index should make it kick us next (2.7.10). */
static void virtq_publish_avail_event(struct virtq *q)
{
	if (q->event_idx && !q->kicks_off)
		__atomic_store_n(virtq_avail_event(q), q->last_avail, __ATOMIC_RELAXED);
}

int virtq_pop(struct virtq *q, struct virtq_chain *chain)
{
	uint16_t avail_idx, head;
	int err;

	if (q->broken)
		return q->err;
	/* A kick for a queue the driver never enabled finds nothing to do. */
	if (!q->enabled)
		return 0;
	/* Acquire: the ring entry and descriptors are read after the index that covers them. */
	avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return virtq_fail(q, -EINVAL);
	head = __atomic_load_n(&q->avail->ring[q->last_avail & (q->size - 1)], __ATOMIC_RELAXED);
	err = virtq_walk(q, head, chain);
	if (err)
		return virtq_fail(q, err);
	q->last_avail++;
	virtq_publish_avail_event(q);
	return 1;
}

void virtq_unpop(struct virtq *q)
{
	if (!q->enabled || q->broken)
		return;
	q->last_avail--;
	virtq_publish_avail_event(q);
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	struct virtq_used_elem *e;

	if (!q->enabled || q->broken)
		return;
	e = &q->used->ring[q->used_idx & (q->size - 1)];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	q->used_idx++;
	/* Release: the element is visible before the index that publishes it. */
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
	/* After 2^16 pushes without a check, signalled_used no longer tells old from new. */
	if (q->used_idx == q->signalled_used)
		q->signalled_used_valid = false;
}

bool virtq_should_notify(struct virtq *q)
{
	uint16_t old, event;
	bool valid;

	if (!q->enabled || q->broken)
		return false;
	/* Full fence: our used.idx store must be ordered before reading the driver's flags or
	 * used_event, or we could miss a driver that just asked for an interrupt. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) &
			 VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = q->signalled_used;
	valid = q->signalled_used_valid;
	event = __atomic_load_n(virtq_used_event(q), __ATOMIC_RELAXED);
	q->signalled_used = q->used_idx;
	q->signalled_used_valid = true;
	return !valid || virtq_need_event(event, q->used_idx, old);
}

bool virtq_set_notify(struct virtq *q, bool enable)
{
	if (!q->enabled || q->broken)
		return false;
	q->kicks_off = !enable;
	/* With EVENT_IDX the driver ignores used.flags; disabling just stops moving
	 * avail_event, so the driver kicks at most once more. */
	if (q->event_idx)
		virtq_publish_avail_event(q);
	else
		__atomic_store_n(&q->used->flags, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY,
				 __ATOMIC_RELAXED);
	if (!enable)
		return false;
	/* Full fence: the driver may have added buffers before it saw kicks enabled; order
	 * our store before re-reading avail.idx so one of us notices. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != q->last_avail;
}

bool virtq_has_work(struct virtq *q)
{
	if (!q->enabled || q->broken)
		return false;
	return __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE) != q->last_avail;
}

size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < c->nout && done < len; i++) {
		size_t n, l = c->iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		n = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)c->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *src, size_t len)
{
	size_t done = 0;

	for (unsigned i = c->nout; i < c->nout + c->nin && done < len; i++) {
		size_t n, l = c->iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		n = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)c->iov[i].iov_base + off, (const uint8_t *)src + done, n);
		done += n;
		off = 0;
	}
	return done;
}
