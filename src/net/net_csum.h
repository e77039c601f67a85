/*
 * The Internet checksum (RFC 1071), for completing the partial checksums a driver leaves
 * when it negotiated VIRTIO_NET_F_CSUM and the backend needs whole packets (libslirp).
 */
#ifndef SMOLVM_NET_CSUM_H
#define SMOLVM_NET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Add len bytes at data to a running one's-complement sum (start with 0). data starts at
 * an even offset of the summed range; the sum is in memory byte order. */
uint64_t net_csum_add(uint64_t sum, const void *data, size_t len);

/* Fold a running sum to 16 bits (not inverted). */
uint16_t net_csum_fold(uint64_t sum);

/* Complete a partial checksum in frame[0..len): sum from start to the end, and store the
 * inverted result at start + offset, whose 16 bits already hold the pseudo-header sum the
 * driver put there. A zero result is stored as 0xffff, as UDP requires (and TCP does not
 * mind). 0, or -EINVAL when the field lies outside the frame. */
int net_csum_complete(uint8_t *frame, size_t len, size_t start, size_t offset);

#endif
