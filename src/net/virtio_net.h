/*
 * The virtio-net device (devices/virtio_net.c) without its PCI function: built around any
 * backend, for unit tests that drive it with the fake driver and for fuzzers that run its
 * queue work on their own thread.
 */
#ifndef SMOLVM_VIRTIO_NET_H
#define SMOLVM_VIRTIO_NET_H

#include <stdint.h>

#include "cli/options.h"
#include "net/net_backend.h"
#include "net/net_rx.h"

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1

struct virtio_device;
struct virtq_chain;

struct virtio_net_stats {
	uint64_t tx_frames;  /* handed to the backend */
	uint64_t tx_dropped; /* refused: malformed chain or header, or the backend dropped it */
	struct net_rx_stats rx;
};

/* The device for cfg (its MAC) around be, which it owns from now on (also on failure).
 * Activation (DRIVER_OK) starts its network thread; reset stops it. NULL on failure. */
struct virtio_device *virtio_net_new(const struct net_config *cfg, struct net_backend *be);
void virtio_net_free(struct virtio_device *vdev);

/* For fuzzers, with no network thread: configure for the acked features as activation
 * would, then serve the queues one round at a time on the caller's thread (transmit
 * chains, waiting receive frames; the backend is not polled). */
void virtio_net_start_inline(struct virtio_device *vdev);
void virtio_net_run_once(struct virtio_device *vdev);

/* One transmitted chain: 0 when handed to the backend, -EINVAL when refused. */
int virtio_net_tx_chain(struct virtio_device *vdev, const struct virtq_chain *c);

/* Counters; exact only while no network thread runs (inline, or after a reset). */
void virtio_net_get_stats(struct virtio_device *vdev, struct virtio_net_stats *st);

#endif
