/* The virtio-net packet header: what a driver may ask of the device, and what it accepts. */
#include "net/virtio_net_hdr.h"

#include <errno.h>
#include <stdbool.h>

static bool has(uint64_t acked, unsigned bit)
{
	return acked & (1ULL << bit);
}

/* The feature that lets a segmentation type cross in the given direction. */
static int gso_feature(uint8_t type, bool tx)
{
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return tx ? VIRTIO_NET_F_HOST_TSO4 : VIRTIO_NET_F_GUEST_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return tx ? VIRTIO_NET_F_HOST_TSO6 : VIRTIO_NET_F_GUEST_TSO6;
	case VIRTIO_NET_HDR_GSO_UDP:
		return tx ? VIRTIO_NET_F_HOST_UFO : VIRTIO_NET_F_GUEST_UFO;
	default:
		return -1;
	}
}

int virtio_net_hdr_check_tx(struct virtio_net_hdr *hdr, uint64_t acked, size_t frame_len)
{
	uint8_t type = hdr->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	int feature;

	hdr->num_buffers = 0;
	hdr->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM; /* DATA_VALID and RSC mean nothing here */
	if (hdr->hdr_len > frame_len)
		return -EINVAL;
	if (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!has(acked, VIRTIO_NET_F_CSUM))
			return -EINVAL;
		/* The 16-bit checksum field lies inside the frame, after the summed range's start.
		 */
		if ((size_t)hdr->csum_start + hdr->csum_offset + 2 > frame_len)
			return -EINVAL;
	}
	if (hdr->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		hdr->gso_size = 0;
		return 0;
	}
	feature = gso_feature(type, true);
	if (feature < 0 || !has(acked, feature))
		return -EINVAL;
	if ((hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(acked, VIRTIO_NET_F_HOST_ECN))
		return -EINVAL;
	/* Segmenting needs a segment size and the checksum offsets of each segment. */
	if (hdr->gso_size == 0 || !(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return -EINVAL;
	return 0;
}

int virtio_net_hdr_check_rx(struct virtio_net_hdr *hdr, uint64_t acked)
{
	uint8_t type = hdr->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	int feature;

	hdr->num_buffers = 0;
	if (!has(acked, VIRTIO_NET_F_GUEST_CSUM)) {
		/* 5.1.6.4.1: flags zero, and the packet must then carry a full checksum. */
		if (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return -EINVAL;
		hdr->flags = 0;
	}
	hdr->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
	if (hdr->gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		hdr->gso_size = 0;
		return 0;
	}
	feature = gso_feature(type, false);
	if (feature < 0 || !has(acked, feature))
		return -EINVAL;
	if ((hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) && !has(acked, VIRTIO_NET_F_GUEST_ECN))
		return -EINVAL;
	return 0;
}
