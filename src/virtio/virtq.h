/*
 * Split virtqueues (virtio 1.2, 2.7), as seen by the device. The ring lives in guest
 * memory and the guest may rewrite any of it at any time: the walker validates the ring
 * layout once (virtq_enable), then copies every descriptor into locals before checking it,
 * and walks a chain with a budget of the queue size.
 *
 * A queue is used by one thread at a time (the device's I/O thread).
 */
#ifndef SMOLVM_VIRTQ_H
#define SMOLVM_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE 1024

/* Ring layouts of virtio 1.2, 2.7.5 - 2.7.8. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* then used_event */
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* then avail_event */
};
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq {
	/* Written by the transport from the driver's queue registers before virtq_enable(). */
	uint16_t size;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */

	/* Private to virtq.c. */
	const struct guest_mem *mem;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail; /* next avail ring entry to take */
	uint16_t used_idx;   /* next used ring entry to fill */
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool enabled;
	bool broken;
	bool kicks_off; /* virtq_set_notify(false) in effect */
	int err;	/* why the queue broke: virtq_pop returns it until reset */
};

/* One chain taken from the ring, as host iovecs into guest RAM: the nout device-readable
 * buffers first, then the nin device-writable ones. Zero-length descriptors are skipped. */
struct virtq_chain {
	uint16_t head;
	unsigned nout, nin;
	size_t out_len, in_len; /* bytes in each part */
	struct iovec iov[VIRTQ_MAX_SIZE];
};

/* Check size (a power of two, 1..VIRTQ_MAX_SIZE) and that the three ring areas are aligned
 * and lie inside guest RAM, then make the queue usable. -EINVAL or -EFAULT otherwise. */
int virtq_enable(struct virtq *q, const struct guest_mem *mem);

/* Forget all ring state (device reset); the transport's fields are cleared too. */
void virtq_reset(struct virtq *q);

/* Take the next available chain into *chain. Returns 1 when a chain was taken, 0 when the
 * ring is empty, or a negative errno when the driver broke the ring (index out of range,
 * loop, chain longer than the queue, nested indirect table, buffer outside RAM, writable
 * buffer before a readable one, avail.idx more than a queue ahead); the queue is then
 * marked broken and returns that error until reset, so the device can ask for a reset.
 * A queue that is not enabled has nothing to pop (0). */
int virtq_pop(struct virtq *q, struct virtq_chain *chain);

/* Give back the last popped chain unconsumed (e.g. a receive buffer we could not fill).
 * Only valid right after a successful virtq_pop, once per pop. */
void virtq_unpop(struct virtq *q);

/* Return a chain to the driver with len bytes written into its writable buffers. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t len);

/* After one or more pushes: whether the driver asked to be interrupted now (honours
 * VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX). */
bool virtq_should_notify(struct virtq *q);

/* Ask the driver for kicks (enable) or not. Re-enabling returns true when new buffers
 * arrived meanwhile, so the caller processes them instead of sleeping. */
bool virtq_set_notify(struct virtq *q, bool enable);

/* Whether chains are waiting in the avail ring. */
bool virtq_has_work(struct virtq *q);

/* Copy helpers across a chain's iovecs: from the readable part starting at byte offset off,
 * and into the writable part. Return bytes copied. */
size_t virtq_chain_read(const struct virtq_chain *c, size_t off, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, size_t off, const void *src, size_t len);

#endif
