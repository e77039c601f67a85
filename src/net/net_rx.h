/*
 * virtio-net's receive path: frames from the backend into the driver's receive queue
 * (virtio 1.2, 5.1.6.3-4). With VIRTIO_NET_F_MRG_RXBUF a frame spreads over as many
 * buffers as it needs, published together; without it each frame takes one buffer.
 *
 * When the driver has no buffers, frames wait in a small bounded list and the rest are
 * dropped (TCP resends): a guest that never reads its queue costs us at most
 * NET_RX_PENDING_BYTES. Runs on the device's network thread only.
 */
#ifndef SMOLVM_NET_RX_H
#define SMOLVM_NET_RX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "net/virtio_net_hdr.h"

struct virtio_device;
struct virtq_chain;

#define NET_QUEUE_SIZE	      256 /* entries in each of the device's queues */
#define NET_RX_PENDING_FRAMES 64
#define NET_RX_PENDING_BYTES  (256u * 1024)
/* Chains held while a frame is placed: a 64 KiB frame in the smallest buffers Linux gives
 * (1518 bytes) needs 44. One chain has at most a queue's worth of buffers. */
#define NET_RX_MAX_SLOTS 64
#define NET_RX_MAX_IOVS	 NET_QUEUE_SIZE

struct net_rx_frame;

struct net_rx_stats {
	uint64_t frames;  /* delivered to the driver */
	uint64_t dropped; /* no room, too big for the buffers, or offloads the driver refused */
	unsigned pending; /* frames waiting for buffers now */
	size_t pending_bytes;
};

struct net_rx {
	struct virtio_device *vdev;
	unsigned q;
	uint64_t acked;
	bool mergeable;
	bool starved;		   /* the ring ran dry; kicks are on until buffers come */
	bool broken;		   /* the driver broke the queue: drop everything until reset */
	bool need_notify;	   /* buffers were used since the last interrupt check */
	struct virtq_chain *chain; /* scratch for virtq_pop */

	/* Chains popped for the next frame and not used yet, in ring order. */
	struct net_rx_slot {
		uint16_t head;
		unsigned iov, niov; /* its writable buffers in iov[] */
		size_t cap;
	} slot[NET_RX_MAX_SLOTS];
	unsigned nslots, niov;
	size_t cap;
	struct iovec iov[NET_RX_MAX_IOVS];

	/* Frames waiting for buffers, oldest first. */
	struct net_rx_frame *head, **tail;
	struct net_rx_stats stats;
};

/* Set up for receive queue q of vdev; 0 or -ENOMEM. */
int net_rx_init(struct net_rx *rx, struct virtio_device *vdev, unsigned q);
void net_rx_free(struct net_rx *rx);

/* DRIVER_OK with these features / reset: start afresh, forgetting held chains (the
 * driver's queue is reset with the device) and waiting frames. */
void net_rx_start(struct net_rx *rx, uint64_t acked);
void net_rx_stop(struct net_rx *rx);

/* A frame from the backend: delivered, queued behind earlier ones, or dropped. Returns
 * false once frames wait (the backend should stop reading), true otherwise. */
bool net_rx_frame(struct net_rx *rx, const struct virtio_net_hdr *hdr, const void *frame,
		  size_t len);

/* Before sleeping: deliver waiting frames into new buffers, and tell whether the guest
 * can take more now. When it cannot, asks the driver for a kick when it adds buffers. */
bool net_rx_room(struct net_rx *rx);

/* Interrupt the driver if buffers were used and it wants to know. */
void net_rx_notify(struct net_rx *rx);

#endif
