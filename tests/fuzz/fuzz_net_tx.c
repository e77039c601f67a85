/*
 * Fuzz virtio-net's guest-controlled paths with a hostile driver: transmitted chains (their
 * layout, the virtio-net header, the frame handed to the backend) and the receive buffers
 * frames are placed into (mergeable or not). Guest RAM, both rings included, comes from the
 * input; the device runs inline on this thread over a stub backend that checks everything
 * it is handed, completes checksums as the user-mode backend does, and can echo each frame
 * back into the receive queue (as libslirp answers from inside slirp_input).
 *
 * Input: struct fuzz_hdr, then RAM contents from guest address 0.
 */
#include <stdlib.h>
#include <string.h>

#include "net/net_csum.h"
#include "net/virtio_net.h"
#include "virtio/virtio.h"
#include "fuzz.h"

#define RAM_SIZE 0x30000u /* room for a 64 KiB frame beside the rings */
#define TX_DESC	 0x0000u
#define TX_AVAIL 0x1000u
#define TX_USED	 0x2000u
#define RX_DESC	 0x3000u
#define RX_AVAIL 0x4000u
#define RX_USED	 0x5000u
#define F(bit)	 (1ULL << (bit))

struct fuzz_hdr {
	uint8_t features;  /* bit i acks feature_bits[i] */
	uint8_t size_log2; /* both queues have 1 << (size_log2 % 9) entries */
	uint8_t flags;	   /* FUZZ_F_* */
	uint8_t nframes;   /* frames the backend then delivers, up to 4 */
	uint8_t rx_flags;  /* their header flags and gso_type */
	uint8_t rx_gso;
	uint16_t frame_len[4];
} __attribute__((packed));

#define FUZZ_F_EVENT_IDX 1
#define FUZZ_F_INDIRECT	 2
#define FUZZ_F_ECHO	 4

static const unsigned feature_bits[8] = {
    VIRTIO_NET_F_CSUM,	     VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_MRG_RXBUF,
    VIRTIO_NET_F_HOST_TSO4,  VIRTIO_NET_F_HOST_TSO6,  VIRTIO_NET_F_HOST_ECN,
    VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_UFO,
};

static uint8_t linear[NET_FRAME_MAX];
static uint8_t *ram; /* one exact-size allocation for the process, refilled for each input */
static uint64_t acked;
static bool echo;

static void stub_poll_fill(struct net_backend *be, struct net_poll *np, bool rx_room, int *t)
{
}

static void stub_poll_done(struct net_backend *be, struct net_poll *np)
{
}

/* Everything the device promises a backend about a transmitted frame. */
static int stub_send(struct net_backend *be, const struct virtio_net_hdr *hdr,
		     const struct iovec *iov, unsigned iovcnt, size_t len)
{
	uint8_t type = hdr->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	size_t off = 0;

	fuzz_assert(len >= NET_ETH_HLEN && len <= NET_FRAME_MAX);
	for (unsigned i = 0; i < iovcnt; i++) {
		fuzz_assert(iov[i].iov_len <= len - off);
		memcpy(linear + off, iov[i].iov_base, iov[i].iov_len); /* ASan checks the range */
		off += iov[i].iov_len;
	}
	fuzz_assert(off == len);
	fuzz_assert(hdr->num_buffers == 0 && hdr->hdr_len <= len);
	fuzz_assert(!(hdr->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM));
	if (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		fuzz_assert(acked & F(VIRTIO_NET_F_CSUM));
		fuzz_assert(net_csum_complete(linear, len, hdr->csum_start, hdr->csum_offset) == 0);
	}
	if (hdr->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		fuzz_assert(hdr->gso_size && (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM));
		fuzz_assert(type == VIRTIO_NET_HDR_GSO_TCPV4 || type == VIRTIO_NET_HDR_GSO_TCPV6 ||
			    type == VIRTIO_NET_HDR_GSO_UDP);
		fuzz_assert(type != VIRTIO_NET_HDR_GSO_TCPV4 ||
			    (acked & F(VIRTIO_NET_F_HOST_TSO4)));
		fuzz_assert(type != VIRTIO_NET_HDR_GSO_TCPV6 ||
			    (acked & F(VIRTIO_NET_F_HOST_TSO6)));
		fuzz_assert(type != VIRTIO_NET_HDR_GSO_UDP || (acked & F(VIRTIO_NET_F_HOST_UFO)));
		fuzz_assert(!(hdr->gso_type & VIRTIO_NET_HDR_GSO_ECN) ||
			    (acked & F(VIRTIO_NET_F_HOST_ECN)));
	} else {
		fuzz_assert(hdr->gso_size == 0);
	}
	if (echo)
		be->receive(be->receive_opaque, &(struct virtio_net_hdr){0}, linear, len);
	return 0;
}

static void stub_set_features(struct net_backend *be, uint64_t features)
{
}

static void stub_destroy(struct net_backend *be)
{
	free(be);
}

static const struct net_backend_ops stub_ops = {
    .poll_fill = stub_poll_fill,
    .poll_done = stub_poll_done,
    .send = stub_send,
    .set_features = stub_set_features,
    .destroy = stub_destroy,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ram = malloc(RAM_SIZE);
	if (!ram)
		abort();
	return 0;
}

static void queue_setup(struct virtio_device *vdev, unsigned q, uint16_t size, uint64_t desc,
			uint64_t avail, uint64_t used, uint8_t flags)
{
	struct virtq *vq = &vdev->queue[q].vq;

	vq->size = size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->event_idx = flags & FUZZ_F_EVENT_IDX;
	vq->indirect = flags & FUZZ_F_INDIRECT;
	vdev->queue[q].enabled = true;
	fuzz_assert(virtq_enable(vq, vdev->mem) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[NET_FRAME_MAX + 64];
	struct guest_mem mem = {.nregions = 1};
	struct net_config cfg = {0};
	struct net_backend *be = calloc(1, sizeof(*be));
	struct virtio_device *vdev;
	struct virtio_net_stats st;
	struct fuzz_hdr h;
	uint16_t qsize;
	unsigned nframes;

	if (size < sizeof(h) || !be)
		goto out_be;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	mem.region[0] = (struct guest_mem_region){.gpa = 0, .size = RAM_SIZE, .host = ram};
	if (size > RAM_SIZE)
		size = RAM_SIZE;
	memcpy(ram, data, size);
	memset(ram + size, 0, RAM_SIZE - size);

	*be = (struct net_backend){.ops = &stub_ops, .features = 0};
	vdev = virtio_net_new(&cfg, be);
	fuzz_assert(vdev);
	acked = F(VIRTIO_F_VERSION_1);
	for (unsigned i = 0; i < 8; i++)
		if (h.features & (1u << i))
			acked |= F(feature_bits[i]);
	echo = h.flags & FUZZ_F_ECHO;
	vdev->mem = &mem;
	vdev->acked = acked;
	qsize = 1u << (h.size_log2 % 9);
	queue_setup(vdev, VIRTIO_NET_TXQ, qsize, TX_DESC, TX_AVAIL, TX_USED, h.flags);
	queue_setup(vdev, VIRTIO_NET_RXQ, qsize, RX_DESC, RX_AVAIL, RX_USED, h.flags);
	virtio_net_start_inline(vdev);

	virtio_net_run_once(vdev);
	/* Frames from the network into whatever receive buffers the driver laid out. */
	nframes = h.nframes % 5;
	for (unsigned i = 0; i < nframes; i++) {
		size_t len = h.frame_len[i] % (NET_FRAME_MAX + 64);
		struct virtio_net_hdr rh = {
		    .flags = h.rx_flags, .gso_type = h.rx_gso, .gso_size = 1448, .num_buffers = 77};
		memset(frame, i + 1, len);
		be->receive(be->receive_opaque, &rh, frame, len);
	}
	virtio_net_run_once(vdev);
	virtio_net_get_stats(vdev, &st);
	fuzz_assert(st.rx.pending <= NET_RX_PENDING_FRAMES);
	fuzz_assert(st.rx.pending_bytes <= NET_RX_PENDING_BYTES);
	virtio_net_free(vdev);
	return 0;
out_be:
	free(be);
	return 0;
}
