/*
 * virtio-net's wire format (virtio 1.2, 5.1): feature bits, the per-packet header that
 * precedes every frame on both queues, and the check a transmitted header must pass
 * before a backend sees it.
 */
#ifndef SMOLVM_VIRTIO_NET_HDR_H
#define SMOLVM_VIRTIO_NET_HDR_H

#include <stddef.h>
#include <stdint.h>

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM	0 /* the device completes partial checksums (transmit) */
#define VIRTIO_NET_F_GUEST_CSUM 1 /* the driver accepts partial / validated checksums */
#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN	9
#define VIRTIO_NET_F_GUEST_UFO	10
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13
#define VIRTIO_NET_F_HOST_UFO	14
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

#define VIRTIO_NET_S_LINK_UP 1

/* The header of every packet (5.1.6). With VERSION_1 it always has num_buffers. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len; /* little-endian, as every field below */
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers; /* receive: how many buffers this packet spans */
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio_net_hdr is 12 bytes with VERSION_1");
/* The fields are used as they are in memory: virtio is little-endian, and so is x86-64. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host expected");

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2

#define VIRTIO_NET_HDR_GSO_NONE	 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP	 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN	 0x80

#define NET_ETH_HLEN 14
/* The largest frame either way: a 64 KiB IP packet (or GSO super-packet) behind an
 * Ethernet header and one VLAN tag. */
#define NET_FRAME_MAX (65535 + NET_ETH_HLEN + 4)

/* Check a transmitted header against the negotiated features (acked) and the length of
 * the frame after it, and clear what means nothing on transmit (num_buffers, receive-only
 * flags). 0, or -EINVAL: a checksum or segmentation request the device never offered, or
 * offsets outside the frame. */
int virtio_net_hdr_check_tx(struct virtio_net_hdr *hdr, uint64_t acked, size_t frame_len);

/* Make a header from a backend fit for the driver: checksum flags only with GUEST_CSUM,
 * segmentation only of the kinds the driver accepted. 0, or -EINVAL when the frame cannot
 * be given to this driver as it is. */
int virtio_net_hdr_check_rx(struct virtio_net_hdr *hdr, uint64_t acked);

#endif
