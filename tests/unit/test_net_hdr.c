/*
 * virtio-net's packet header checks and the Internet checksum: what a driver may ask of the
 * device on transmit, what reaches the driver on receive, and checksums against known
 * answers (RFC 1071's example, a real IPv4 header, odd lengths, the UDP zero rule).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "net/net_csum.h"
#include "net/virtio_net_hdr.h"
#include "unit.h"

#define F(bit) (1ULL << (bit))

static void test_csum_known_answers(void)
{
	/* RFC 1071, 3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
	const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	/* An IPv4 header whose checksum field (b861) makes the whole sum 0xffff. */
	const uint8_t ip[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			      0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	uint16_t sum = net_csum_fold(net_csum_add(0, rfc, sizeof(rfc)));
	uint8_t be[2];

	memcpy(be, &sum, 2); /* the sum is in memory order: its bytes read as network order */
	CHECK_EQ(be[0], 0xdd);
	CHECK_EQ(be[1], 0xf2);
	CHECK_EQ(net_csum_fold(net_csum_add(0, ip, sizeof(ip))), 0xffff);
}

static void test_csum_odd_length_and_split(void)
{
	uint8_t data[1001];
	uint64_t whole, parts;

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = i * 37 + 11;
	whole = net_csum_fold(net_csum_add(0, data, sizeof(data)));
	/* Splitting at even offsets gives the same sum. */
	parts = net_csum_add(net_csum_add(net_csum_add(0, data, 100), data + 100, 502), data + 602,
			     399);
	CHECK_EQ(net_csum_fold(parts), whole);
	/* An odd last byte counts as the high byte of a zero-padded word. */
	CHECK_EQ(net_csum_fold(net_csum_add(0, (const uint8_t[]){0xab}, 1)),
		 net_csum_fold(net_csum_add(0, (const uint8_t[]){0xab, 0}, 2)));
}

static void test_csum_complete(void)
{
	uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
			  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
	uint8_t zero[6] = {0};

	CHECK_EQ(net_csum_complete(ip, sizeof(ip), 0, 10), 0);
	CHECK_EQ(ip[10], 0xb8);
	CHECK_EQ(ip[11], 0x61);
	/* A sum of zero is stored as 0xffff (UDP's "no checksum" is 0). */
	CHECK_EQ(net_csum_complete(zero, sizeof(zero), 0, 4), 0);
	CHECK_EQ(zero[4], 0xff);
	CHECK_EQ(zero[5], 0xff);
	/* The field must lie inside the frame. */
	CHECK_EQ(net_csum_complete(ip, sizeof(ip), 0, 19), -EINVAL);
	CHECK_EQ(net_csum_complete(ip, sizeof(ip), 21, 0), -EINVAL);
	CHECK_EQ(net_csum_complete(ip, sizeof(ip), 18, 0), 0);
	CHECK_EQ(net_csum_complete(ip, sizeof(ip), 19, 0), -EINVAL);
	CHECK_EQ(net_csum_complete(ip, sizeof(ip), (size_t)-1, 2), -EINVAL);
}

static void test_hdr_tx_checksum_request(void)
{
	struct virtio_net_hdr h = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};

	/* Only with VIRTIO_NET_F_CSUM negotiated. */
	CHECK_EQ(virtio_net_hdr_check_tx(&h, 0, 100), -EINVAL);
	CHECK_EQ(virtio_net_hdr_check_tx(&h, F(VIRTIO_NET_F_CSUM), 100), 0);
	/* The field ends exactly at the frame's end, or the request is refused. */
	CHECK_EQ(virtio_net_hdr_check_tx(&h, F(VIRTIO_NET_F_CSUM), 52), 0);
	CHECK_EQ(virtio_net_hdr_check_tx(&h, F(VIRTIO_NET_F_CSUM), 51), -EINVAL);
	h.csum_start = 0xffff;
	h.csum_offset = 0xffff;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, F(VIRTIO_NET_F_CSUM), 65550), -EINVAL);
}

static void test_hdr_tx_clears_receive_fields(void)
{
	struct virtio_net_hdr h = {
	    .flags = VIRTIO_NET_HDR_F_DATA_VALID | 0x70, .gso_size = 1400, .num_buffers = 7};

	CHECK_EQ(virtio_net_hdr_check_tx(&h, 0, 60), 0);
	CHECK_EQ(h.flags, 0);
	CHECK_EQ(h.num_buffers, 0);
	CHECK_EQ(h.gso_size, 0);
	h.hdr_len = 61;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, 0, 60), -EINVAL);
}

static void test_hdr_tx_segmentation(void)
{
	uint64_t tso = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6);
	struct virtio_net_hdr ok = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				    .hdr_len = 66,
				    .gso_size = 1448,
				    .csum_start = 34,
				    .csum_offset = 16};
	struct virtio_net_hdr h;

	h = ok;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso, 65000), 0);
	h = ok;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, F(VIRTIO_NET_F_CSUM), 65000), -EINVAL);
	h = ok;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso, 65000), 0);
	/* UFO was never offered; unknown types never exist. */
	h = ok;
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso, 65000), -EINVAL);
	h = ok;
	h.gso_type = 2;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso, 65000), -EINVAL);
	/* ECN needs HOST_ECN; segmenting needs a size and the checksum offsets. */
	h = ok;
	h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso, 65000), -EINVAL);
	h = ok;
	h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso | F(VIRTIO_NET_F_HOST_ECN), 65000), 0);
	h = ok;
	h.gso_size = 0;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso, 65000), -EINVAL);
	h = ok;
	h.flags = 0;
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso, 65000), -EINVAL);
	/* ECN alone, with no segmentation type, is nonsense. */
	h = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_ECN};
	CHECK_EQ(virtio_net_hdr_check_tx(&h, tso | F(VIRTIO_NET_F_HOST_ECN), 100), -EINVAL);
}

static void test_hdr_rx_follows_the_driver(void)
{
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_DATA_VALID, .num_buffers = 3};

	/* Without GUEST_CSUM the flags go; a partial checksum cannot go to such a driver. */
	CHECK_EQ(virtio_net_hdr_check_rx(&h, 0), 0);
	CHECK_EQ(h.flags, 0);
	CHECK_EQ(h.num_buffers, 0);
	h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM};
	CHECK_EQ(virtio_net_hdr_check_rx(&h, 0), -EINVAL);
	CHECK_EQ(virtio_net_hdr_check_rx(&h, F(VIRTIO_NET_F_GUEST_CSUM)), 0);
	CHECK_EQ(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	/* Super-packets only of the kinds the driver accepted. */
	h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				    .gso_size = 1448};
	CHECK_EQ(virtio_net_hdr_check_rx(&h, F(VIRTIO_NET_F_GUEST_CSUM)), -EINVAL);
	CHECK_EQ(
	    virtio_net_hdr_check_rx(&h, F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4)),
	    0);
	h.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	CHECK_EQ(
	    virtio_net_hdr_check_rx(&h, F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4)),
	    -EINVAL);
}

int main(void)
{
	RUN(test_csum_known_answers);
	RUN(test_csum_odd_length_and_split);
	RUN(test_csum_complete);
	RUN(test_hdr_tx_checksum_request);
	RUN(test_hdr_tx_clears_receive_fields);
	RUN(test_hdr_tx_segmentation);
	RUN(test_hdr_rx_follows_the_driver);
	return UNIT_RESULT();
}
