/*
 * Publishing several used buffers at once. A packet spread over mergeable receive buffers
 * must reach the driver whole: Linux reads num_buffers from the first buffer and takes
 * the rest from the used ring right away, dropping the packet if they are not there yet.
 * virtq_push() publishes each buffer as it goes, so this one writes all the entries first
 * and moves used.idx once.
 *
 * It belongs in virtio/virtq.c (it uses the queue's private fields); it lives here until
 * it moves there.
 */
#ifndef SMOLVM_NET_VIRTQ_H
#define SMOLVM_NET_VIRTQ_H

#include "virtio/virtq.h"

/* Return n popped chains to the driver, e[i].len bytes written into each, as one update. */
void net_virtq_push_batch(struct virtq *q, const struct virtq_used_elem *e, unsigned n);

#endif
