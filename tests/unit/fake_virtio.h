/*
 * A fake virtio driver for device-model unit tests: guest RAM in a plain buffer, queues laid
 * out by hand, buffers added and kicks sent as a driver would, used entries awaited. The
 * device under test runs its real threads; no KVM, no PCI transport.
 */
#ifndef SMOLVM_FAKE_VIRTIO_H
#define SMOLVM_FAKE_VIRTIO_H

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>

#include "virtio/virtio.h"

struct fake_queue {
	uint16_t size;
	uint64_t desc, avail, used; /* guest addresses of the rings */
	uint16_t next_desc;         /* next free descriptor (simple bump allocation, wraps) */
	uint16_t avail_idx;
	uint16_t used_seen;         /* used entries already consumed by the test */
};

struct fake_driver {
	struct guest_mem mem;
	uint8_t *ram;
	uint64_t ram_size;
	uint64_t data_next; /* bump allocator for data buffers, after the rings */
	struct fake_queue q[16];
};

struct fake_buf {
	uint64_t gpa;
	uint32_t len;
	int writable; /* device-writable */
};

/* RAM at gpa 0 of ram_size bytes; rings go in the first MiB, data buffers after it. */
static inline void fake_driver_init(struct fake_driver *d, uint64_t ram_size)
{
	memset(d, 0, sizeof(*d));
	d->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->ram == MAP_FAILED)
		abort();
	d->ram_size = ram_size;
	d->mem.region[0] = (struct guest_mem_region){0, ram_size, d->ram};
	d->mem.nregions = 1;
	d->data_next = 1 << 20;
}

static inline void fake_driver_destroy(struct fake_driver *d)
{
	munmap(d->ram, d->ram_size);
}

static inline void *fake_ptr(struct fake_driver *d, uint64_t gpa)
{
	return d->ram + gpa;
}

/* Reserve len bytes of guest RAM for data; returns its guest address. */
static inline uint64_t fake_alloc(struct fake_driver *d, uint64_t len)
{
	uint64_t gpa = d->data_next;
	d->data_next = (d->data_next + len + 4095) & ~4095ULL;
	if (d->data_next > d->ram_size)
		abort();
	return gpa;
}

/* A copy of len bytes of data in guest RAM; returns its guest address. */
static inline uint64_t fake_put(struct fake_driver *d, const void *data, uint64_t len)
{
	uint64_t gpa = fake_alloc(d, len ? len : 1);

	memcpy(fake_ptr(d, gpa), data, len);
	return gpa;
}

/* Lay out queue qi (size entries) and register it with the device as the driver would. */
static inline void fake_queue_setup(struct fake_driver *d, struct virtio_device *vdev, unsigned qi,
				    uint16_t size)
{
	struct fake_queue *fq = &d->q[qi];
	uint64_t base = 0x1000 + (uint64_t)qi * 0x10000;

	fq->size = size;
	fq->desc = base;
	fq->avail = base + 16 * size;
	fq->used = (fq->avail + 6 + 2 * size + 4095) & ~4095ULL;
	vdev->queue[qi].vq.size = size;
	vdev->queue[qi].vq.desc_gpa = fq->desc;
	vdev->queue[qi].vq.avail_gpa = fq->avail;
	vdev->queue[qi].vq.used_gpa = fq->used;
	vdev->queue[qi].enabled = 1;
}

/* What the transport does at DRIVER_OK (features: the device's own plus VERSION_1). */
static inline int fake_activate(struct fake_driver *d, struct virtio_device *vdev, uint64_t features)
{
	vdev->mem = &d->mem;
	vdev->acked = features | 1ULL << VIRTIO_F_VERSION_1;
	for (unsigned i = 0; i < vdev->nqueues; i++) {
		if (!vdev->queue[i].enabled)
			continue;
		vdev->queue[i].vq.event_idx = virtio_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX);
		vdev->queue[i].vq.indirect = virtio_has_feature(vdev, VIRTIO_RING_F_INDIRECT_DESC);
		if (virtq_enable(&vdev->queue[i].vq, vdev->mem) != 0)
			return -1;
	}
	vdev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
	return vdev->ops->activate ? vdev->ops->activate(vdev) : 0;
}

/* The driver's way to DRIVER_OK: queues 0 to nqueues - 1 laid out with qsize entries
 * each, then fake_activate. 0, or -1 if the device refused. */
static inline int fake_start(struct fake_driver *d, struct virtio_device *vdev, unsigned nqueues,
			     uint16_t qsize, uint64_t features)
{
	for (unsigned i = 0; i < nqueues; i++)
		fake_queue_setup(d, vdev, i, qsize);
	return fake_activate(d, vdev, features);
}

/* A device reset as the transport does it (virtio_pci.c): the device's reset, then every
 * queue forgotten on both sides (the driver's rings cleared, data buffers kept). Then
 * fake_start begins anew. */
static inline void fake_reset(struct fake_driver *d, struct virtio_device *vdev)
{
	vdev->ops->reset(vdev);
	vdev->status = 0;
	vdev->acked = 0;
	for (unsigned i = 0; i < vdev->nqueues; i++) {
		virtq_reset(&vdev->queue[i].vq);
		vdev->queue[i].enabled = 0;
		eventfd_read(vdev->queue[i].kick_fd, &(eventfd_t){0});
	}
	memset(d->q, 0, sizeof(d->q));
	memset(d->ram, 0, 1 << 20);
}

/* Put a chain of n buffers on queue qi and publish it; returns the head descriptor. */
static inline uint16_t fake_queue_add(struct fake_driver *d, unsigned qi, const struct fake_buf *b,
				      unsigned n)
{
	struct fake_queue *fq = &d->q[qi];
	struct virtq_desc *desc = fake_ptr(d, fq->desc);
	uint16_t *avail = fake_ptr(d, fq->avail);
	uint16_t head = fq->next_desc;

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (head + i) % fq->size;
		desc[idx].addr = b[i].gpa;
		desc[idx].len = b[i].len;
		desc[idx].flags = (b[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
				  (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		desc[idx].next = (idx + 1) % fq->size;
	}
	fq->next_desc = (head + n) % fq->size;
	avail[2 + fq->avail_idx % fq->size] = head;
	__atomic_store_n(&avail[1], (uint16_t)(fq->avail_idx + 1), __ATOMIC_RELEASE);
	fq->avail_idx++;
	return head;
}

static inline void fake_kick(struct virtio_device *vdev, unsigned qi)
{
	eventfd_write(vdev->queue[qi].kick_fd, 1);
}

/* Wait up to timeout_ms for the next used entry of queue qi; returns 0 (filling id and len) or -1. */
static inline int fake_wait_used(struct fake_driver *d, unsigned qi, uint32_t *id, uint32_t *len,
				 int timeout_ms)
{
	struct fake_queue *fq = &d->q[qi];
	uint16_t *used_idx = (uint16_t *)fake_ptr(d, fq->used + 2);
	struct virtq_used_elem *ring = fake_ptr(d, fq->used + 4);

	for (int waited = 0; waited <= timeout_ms; waited++) {
		if (__atomic_load_n(used_idx, __ATOMIC_ACQUIRE) != fq->used_seen) {
			struct virtq_used_elem e = ring[fq->used_seen % fq->size];
			fq->used_seen++;
			if (id)
				*id = e.id;
			if (len)
				*len = e.len;
			return 0;
		}
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	return -1;
}

#endif
/* Submit a chain of n buffers on queue qi, kick, and wait up to timeout_ms for it: its used
 * length, -1 on timeout, -2 if another chain came back first. */
static inline long fake_submit(struct fake_driver *d, struct virtio_device *vdev, unsigned qi,
			       const struct fake_buf *b, unsigned n, int timeout_ms)
{
	uint16_t head = fake_queue_add(d, qi, b, n);
	uint32_t id, len;

	fake_kick(vdev, qi);
	if (fake_wait_used(d, qi, &id, &len, timeout_ms) != 0)
		return -1;
	return id == head ? (long)len : -2;
}

