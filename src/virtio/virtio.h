/*
 * A virtio device as the transport sees it (virtio 1.2). The device supplies its type,
 * features, queues and configuration space and an ops table; the transport (virtio_pci.c)
 * moves feature bits, status, queue registers and configuration bytes, and raises
 * interrupts. The transport knows nothing of what a device's configuration means.
 */
#ifndef SMOLVM_VIRTIO_H
#define SMOLVM_VIRTIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

struct vm;
struct virtio_pci;

/* Device types (virtio 1.2, 5). */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_GPU     16
#define VIRTIO_ID_INPUT   18
#define VIRTIO_ID_FS      26

/* Reserved feature bits (6). */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Device status (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

#define VIRTIO_NO_VECTOR 0xffff

struct virtio_device;

struct virtio_device_ops {
	/* Device configuration space; the transport has checked offset + len <= config_size.
	 * Both are called only when config_size > 0; config_write NULL: nothing is writable. */
	void (*config_read)(struct virtio_device *vdev, unsigned offset, void *buf, unsigned len);
	void (*config_write)(struct virtio_device *vdev, unsigned offset, const void *buf,
			     unsigned len);
	/* DRIVER_OK: the enabled queues are validated; start serving them. 0 or -errno. */
	int (*activate)(struct virtio_device *vdev);
	/* The driver reset the device. When this returns no thread of the device may touch
	 * guest memory or its queues any more. */
	void (*reset)(struct virtio_device *vdev);
};

struct virtio_queue {
	struct virtq vq;
	int kick_fd;          /* eventfd: the driver notified this queue */
	uint16_t max_size;
	uint16_t msix_vector;
	bool enabled;         /* the driver wrote queue_enable = 1 */
};

struct virtio_device {
	const char *name;
	const struct virtio_device_ops *ops;
	void *priv;
	uint16_t device_id;
	uint64_t features;    /* device-specific features offered */
	uint64_t acked;       /* what the driver accepted; valid once activated */
	unsigned nqueues;
	struct virtio_queue *queue;
	unsigned config_size;
	const struct guest_mem *mem;
	struct virtio_pci *transport;
	_Atomic uint8_t status;
	_Atomic unsigned broken_reports; /* how often the driver broke it: logged a few times */
};

#define VIRTIO_BROKEN_REPORTS 10

/* Prepare vdev's queues (each with max_size entries), then make it a PCI function. On
 * failure init has released what it made. */
int virtio_device_init(struct virtio_device *vdev, unsigned nqueues, uint16_t max_size);
/* Undo virtio_device_init: close the kick eventfds, free the queues. For a device freed
 * without a transport (unit tests, a failed setup); harmless after a failed init. */
void virtio_device_release(struct virtio_device *vdev);
int virtio_pci_add(struct vm *vm, struct virtio_device *vdev);

static inline bool virtio_has_feature(const struct virtio_device *vdev, unsigned bit)
{
	return vdev->acked & (1ULL << bit);
}

/* After pushing used buffers on queue q: interrupt the driver if it asked for it. */
void virtio_queue_notify(struct virtio_device *vdev, unsigned q);
/* The device configuration changed: bump the generation and interrupt. */
void virtio_config_changed(struct virtio_device *vdev);
/* The driver broke a queue: DEVICE_NEEDS_RESET and a configuration interrupt (2.1.2). */
void virtio_device_broken(struct virtio_device *vdev, const char *why);

#endif
