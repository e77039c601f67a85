/*
 * The virtio-net device model with the fake driver and a stub backend: configuration space
 * and features, transmitted chains (split headers, every malformed layout a driver can
 * send), receive into mergeable and single buffers, the bounded wait list when the driver
 * gives no buffers, and the network thread's kicks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_virtio.h"
#include "net/virtio_net.h"
#include "unit.h"

#define RAM_SIZE (32u << 20)
#define QSIZE	 256
#define RXQ	 VIRTIO_NET_RXQ
#define TXQ	 VIRTIO_NET_TXQ
#define F(bit)	 (1ULL << (bit))
#define HDR	 sizeof(struct virtio_net_hdr)
#define WAIT_MS	 5000

/* A backend that keeps the last frame sent, and in echo mode sends it straight back. */
struct stub_backend {
	struct net_backend be;
	unsigned sent;
	bool echo;
	struct virtio_net_hdr hdr;
	size_t len;
	uint8_t frame[NET_FRAME_MAX];
	uint64_t acked;
};

static struct fake_driver drv;
static struct virtio_device *dev;
static struct stub_backend *stub;
static uint64_t rx_gpa[QSIZE];

static void stub_poll_fill(struct net_backend *be, struct net_poll *np, bool rx_room,
			   int *timeout_ms)
{
}

static void stub_poll_done(struct net_backend *be, struct net_poll *np)
{
}

static int stub_send(struct net_backend *be, const struct virtio_net_hdr *hdr,
		     const struct iovec *iov, unsigned iovcnt, size_t len)
{
	struct stub_backend *s = (struct stub_backend *)be;
	size_t off = 0;

	for (unsigned i = 0; i < iovcnt; i++) {
		memcpy(s->frame + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	CHECK_EQ(off, len);
	s->hdr = *hdr;
	s->len = len;
	s->sent++;
	if (s->echo)
		s->be.receive(s->be.receive_opaque, &(struct virtio_net_hdr){0}, s->frame, len);
	return 0;
}

static void stub_set_features(struct net_backend *be, uint64_t acked)
{
	((struct stub_backend *)be)->acked = acked;
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

/* A device on the stub, both queues laid out; activated with `features` (plus VERSION_1),
 * with its network thread (threaded) or served by virtio_net_run_once() here. */
static void dev_start_cfg(const struct net_config *cfg, uint64_t features, bool threaded)
{
	fake_driver_init(&drv, RAM_SIZE);
	stub = calloc(1, sizeof(*stub));
	stub->be = (struct net_backend){
	    .ops = &stub_ops,
	    .features = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM),
	};
	dev = virtio_net_new(cfg, &stub->be);
	if (!dev)
		abort();
	fake_queue_setup(&drv, dev, RXQ, QSIZE);
	fake_queue_setup(&drv, dev, TXQ, QSIZE);
	if (threaded) {
		CHECK_EQ(fake_activate(&drv, dev, features), 0);
		return;
	}
	dev->mem = &drv.mem;
	dev->acked = features | F(VIRTIO_F_VERSION_1);
	for (unsigned i = 0; i < 2; i++)
		CHECK_EQ(virtq_enable(&dev->queue[i].vq, dev->mem), 0);
	virtio_net_start_inline(dev);
}

static void dev_start(uint64_t features, bool threaded)
{
	struct net_config cfg = {0};

	dev_start_cfg(&cfg, features, threaded);
}

static void dev_stop(void)
{
	virtio_net_free(dev);
	fake_driver_destroy(&drv);
}

static struct virtio_net_stats stats(void)
{
	struct virtio_net_stats st;

	virtio_net_get_stats(dev, &st);
	return st;
}

static uint64_t put(const void *data, size_t len)
{
	return fake_put(&drv, data, len);
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

/* Transmit a chain and serve the queue inline; returns what the device did with it
 * (0 sent, 1 dropped) and checks the chain came back. */
static int tx_inline(const struct fake_buf *b, unsigned n)
{
	struct virtio_net_stats before = stats(), after;
	uint32_t id, len = 1;
	uint16_t head = fake_queue_add(&drv, TXQ, b, n);

	virtio_net_run_once(dev);
	CHECK_EQ(fake_wait_used(&drv, TXQ, &id, &len, 0), 0);
	CHECK_EQ(id, head);
	CHECK_EQ(len, 0);
	after = stats();
	CHECK_EQ(after.tx_frames + after.tx_dropped, before.tx_frames + before.tx_dropped + 1);
	return after.tx_dropped > before.tx_dropped;
}

/* A header and a frame of len pattern bytes, as one chain of two buffers. */
static int tx_frame(const struct virtio_net_hdr *hdr, size_t len)
{
	uint8_t *frame = malloc(len);
	int r;

	pattern(frame, len, 1);
	r = tx_inline((struct fake_buf[]){{put(hdr, HDR), HDR, 0}, {put(frame, len), len, 0}}, 2);
	free(frame);
	return r;
}

static void rx_post(unsigned n, uint32_t size)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = fake_alloc(&drv, size);
		uint16_t head = fake_queue_add(&drv, RXQ, &(struct fake_buf){gpa, size, 1}, 1);
		rx_gpa[head] = gpa;
	}
}

static bool rx_deliver(const struct virtio_net_hdr *hdr, const void *frame, size_t len)
{
	return stub->be.receive(stub->be.receive_opaque, hdr, frame, len);
}

/* The next packet from the used ring, its buffers joined: header into *hdr, frame into
 * buf; returns the frame's length, or -1 if none came within timeout_ms. */
static long rx_take(struct virtio_net_hdr *hdr, uint8_t *buf, size_t cap, int timeout_ms,
		    uint32_t *lens)
{
	uint8_t *all = malloc(HDR + NET_FRAME_MAX + 4096);
	size_t total = 0;
	unsigned nbuf = 1;
	bool parsed = false;
	uint32_t id, len;
	long r = -1;

	/* A driver that gave tiny buffers gets even the header split: read until it is whole. */
	for (unsigned i = 0; i < nbuf || !parsed; i++) {
		if (fake_wait_used(&drv, RXQ, &id, &len, i ? 0 : timeout_ms) != 0)
			goto out;
		if (lens)
			lens[i] = len;
		memcpy(all + total, fake_ptr(&drv, rx_gpa[id]), len);
		total += len;
		if (!parsed && total >= HDR) {
			memcpy(hdr, all, HDR);
			nbuf = hdr->num_buffers;
			parsed = true;
		}
	}
	if (total < HDR || total - HDR > cap)
		goto out;
	memcpy(buf, all + HDR, total - HDR);
	r = total - HDR;
out:
	free(all);
	return r;
}

static void test_config_space(void)
{
	uint8_t cfg[12];
	uint16_t status, mtu;
	struct net_config nc = {.mac = {0x02, 0, 0, 0, 0, 9}, .mac_set = true};

	dev_start(0, false);
	CHECK_EQ(dev->device_id, VIRTIO_ID_NET);
	CHECK_EQ(dev->nqueues, 2);
	CHECK_EQ(dev->config_size, 12);
	dev->ops->config_read(dev, 0, cfg, sizeof(cfg));
	CHECK(memcmp(cfg, "\x52\x54\x00\x12\x34\x56", 6) == 0);
	memcpy(&status, cfg + 6, 2);
	memcpy(&mtu, cfg + 10, 2);
	CHECK_EQ(status, VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(mtu, 0);
	CHECK(dev->features & F(VIRTIO_NET_F_MAC));
	CHECK(dev->features & F(VIRTIO_NET_F_STATUS));
	CHECK(dev->features & F(VIRTIO_NET_F_MRG_RXBUF));
	CHECK(dev->features & F(VIRTIO_NET_F_CSUM));
	CHECK(!(dev->features & F(VIRTIO_NET_F_MTU)));
	CHECK(!(dev->features & F(VIRTIO_NET_F_HOST_TSO4)));
	/* The MAC cannot be written without CTRL_MAC_ADDR. */
	dev->ops->config_write(dev, 0, "\x02\x02\x02\x02", 4);
	dev->ops->config_read(dev, 0, cfg, 6);
	CHECK(memcmp(cfg, "\x52\x54\x00\x12\x34\x56", 6) == 0);
	/* The backend learns the accepted features at activation. */
	CHECK_EQ(stub->acked, F(VIRTIO_F_VERSION_1));
	dev_stop();

	dev_start_cfg(&nc, 0, false);
	dev->ops->config_read(dev, 0, cfg, 6);
	CHECK(memcmp(cfg, nc.mac, 6) == 0);
	dev_stop();
}

static void test_tx_split_header_and_frame(void)
{
	struct virtio_net_hdr hdr = {.flags =
					 VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID,
				     .csum_start = 34,
				     .csum_offset = 6,
				     .num_buffers = 9};
	uint8_t frame[100];

	dev_start(F(VIRTIO_NET_F_CSUM), false);
	pattern(frame, sizeof(frame), 3);
	/* The header in two pieces, the frame in three, one sharing the header's buffer. */
	uint8_t first[5 + 7 + 10];
	memcpy(first, &hdr, 5);
	uint64_t a = put(first, 5);
	memcpy(first, (uint8_t *)&hdr + 5, 7);
	memcpy(first + 7, frame, 10);
	struct fake_buf b[] = {
	    {a, 5, 0},
	    {put(first, 17), 17, 0},
	    {put(frame + 10, 60), 60, 0},
	    {put(frame + 70, 30), 30, 0},
	};
	CHECK_EQ(tx_inline(b, 4), 0);
	CHECK_EQ(stub->sent, 1);
	CHECK_EQ(stub->len, sizeof(frame));
	CHECK(memcmp(stub->frame, frame, sizeof(frame)) == 0);
	/* What the backend sees is the checked copy: receive-only fields cleared. */
	CHECK_EQ(stub->hdr.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CHECK_EQ(stub->hdr.csum_start, 34);
	CHECK_EQ(stub->hdr.num_buffers, 0);
	dev_stop();
}

static void test_tx_malformed_chains_are_dropped(void)
{
	struct virtio_net_hdr hdr = {0};
	uint8_t small[64] = {0};

	dev_start(0, false);
	/* A header cut short, a header with no frame, a frame shorter than Ethernet's header. */
	CHECK_EQ(tx_inline((struct fake_buf[]){{put(small, 8), 8, 0}}, 1), 1);
	CHECK_EQ(tx_inline((struct fake_buf[]){{put(small, HDR), HDR, 0}}, 1), 1);
	CHECK_EQ(tx_frame(&hdr, NET_ETH_HLEN - 1), 1);
	CHECK_EQ(tx_frame(&hdr, NET_ETH_HLEN), 0);
	/* A device-writable buffer has no place in a transmitted chain. */
	CHECK_EQ(tx_inline((struct fake_buf[]){{put(&hdr, HDR), HDR, 0},
					       {put(small, 60), 60, 0},
					       {fake_alloc(&drv, 100), 100, 1}},
			   3),
		 1);
	/* Offloads nobody negotiated. */
	hdr = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 14};
	CHECK_EQ(tx_frame(&hdr, 60), 1);
	hdr = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000};
	CHECK_EQ(tx_frame(&hdr, 60), 1);
	CHECK_EQ(stub->sent, 1);
	CHECK_EQ(stats().tx_dropped, 6);
	CHECK(!(dev->status & VIRTIO_STATUS_NEEDS_RESET)); /* dropped, not broken */
	dev_stop();
}

static void test_tx_frame_size_limit(void)
{
	struct virtio_net_hdr hdr = {0};

	dev_start(0, false);
	CHECK_EQ(tx_frame(&hdr, NET_FRAME_MAX), 0);
	CHECK_EQ(stub->len, NET_FRAME_MAX);
	CHECK_EQ(tx_frame(&hdr, NET_FRAME_MAX + 1), 1);
	CHECK_EQ(tx_frame(&hdr, 1 << 20), 1);
	CHECK_EQ(stub->sent, 1);
	dev_stop();
}

static void test_tx_broken_ring_needs_reset(void)
{
	struct virtio_net_hdr hdr = {0};
	struct virtq_desc *desc;
	uint16_t head;

	dev_start(0, false);
	head = fake_queue_add(&drv, TXQ, (struct fake_buf[]){{put(&hdr, HDR), HDR, 0}}, 1);
	desc = fake_ptr(&drv, drv.q[TXQ].desc);
	desc[head].flags |= VIRTQ_DESC_F_NEXT;
	desc[head].next = QSIZE + 5;
	virtio_net_run_once(dev);
	CHECK(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(stub->sent, 0);
	dev_stop();
}

static void test_tx_budget_leaves_room_for_others(void)
{
	uint8_t chain[HDR + 60] = {0};
	uint64_t c;

	dev_start(0, false);
	c = put(chain, sizeof(chain));
	for (unsigned i = 0; i < 200; i++)
		fake_queue_add(&drv, TXQ, (struct fake_buf[]){{c, sizeof(chain), 0}}, 1);
	/* One round serves at most the budget (128 chains); the rest come next round. */
	virtio_net_run_once(dev);
	CHECK_EQ(stub->sent, 128);
	virtio_net_run_once(dev);
	CHECK_EQ(stub->sent, 200);
	dev_stop();
}

static void test_rx_mergeable_spans_buffers(void)
{
	struct virtio_net_hdr hdr = {.flags = VIRTIO_NET_HDR_F_DATA_VALID}, got;
	static uint8_t frame[3000], buf[NET_FRAME_MAX];
	uint32_t lens[8];

	dev_start(F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM), false);
	pattern(frame, sizeof(frame), 5);
	rx_post(8, 1024);
	virtio_net_run_once(dev);
	CHECK(rx_deliver(&hdr, frame, sizeof(frame)));
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, lens), sizeof(frame));
	CHECK_EQ(got.num_buffers, 3);
	CHECK_EQ(lens[0], 1024);
	CHECK_EQ(lens[1], 1024);
	CHECK_EQ(lens[2], HDR + 3000 - 2048);
	CHECK_EQ(got.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	CHECK(memcmp(buf, frame, sizeof(frame)) == 0);
	/* The next frame starts in the next buffer. */
	CHECK(rx_deliver(&hdr, frame, 100));
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, NULL), 100);
	CHECK_EQ(got.num_buffers, 1);
	CHECK_EQ(stats().rx.frames, 2);
	dev_stop();
}

static void test_rx_header_split_across_tiny_buffers(void)
{
	struct virtio_net_hdr hdr = {0}, got;
	uint8_t frame[10], buf[64];

	dev_start(F(VIRTIO_NET_F_MRG_RXBUF), false);
	pattern(frame, sizeof(frame), 9);
	rx_post(4, 8);
	CHECK(rx_deliver(&hdr, frame, sizeof(frame)));
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, NULL), sizeof(frame));
	CHECK_EQ(got.num_buffers, 3);
	CHECK(memcmp(buf, frame, sizeof(frame)) == 0);
	dev_stop();
}

static void test_rx_single_buffers_without_mergeable(void)
{
	struct virtio_net_hdr hdr = {.flags = VIRTIO_NET_HDR_F_DATA_VALID}, got;
	static uint8_t frame[3000], buf[NET_FRAME_MAX];

	dev_start(0, false);
	pattern(frame, sizeof(frame), 2);
	rx_post(2, 2000);
	/* Too big for one buffer: dropped, and the buffer waits for a frame that fits. */
	CHECK(rx_deliver(&hdr, frame, sizeof(frame)));
	CHECK_EQ(stats().rx.dropped, 1);
	CHECK(rx_deliver(&hdr, frame, 1000));
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, NULL), 1000);
	CHECK_EQ(got.num_buffers, 1);
	CHECK_EQ(got.flags, 0); /* no GUEST_CSUM: no checksum hints */
	CHECK(memcmp(buf, frame, 1000) == 0);
	dev_stop();
}

/* Chains of several buffers each: the classic layout of a header buffer, then data. */
static void test_rx_chains_of_several_buffers(void)
{
	struct virtio_net_hdr hdr = {0}, got;
	static uint8_t frame[2500];
	uint64_t a[4];
	uint32_t id, len;
	uint16_t head[2];

	dev_start(F(VIRTIO_NET_F_MRG_RXBUF), false);
	pattern(frame, sizeof(frame), 6);
	for (int c = 0; c < 2; c++) {
		a[2 * c] = fake_alloc(&drv, HDR);
		a[2 * c + 1] = fake_alloc(&drv, 1000);
		head[c] = fake_queue_add(
		    &drv, RXQ, (struct fake_buf[]){{a[2 * c], HDR, 1}, {a[2 * c + 1], 1000, 1}}, 2);
	}
	/* 2512 bytes do not fit two chains of 1012: the frame waits for a third. */
	CHECK(!rx_deliver(&hdr, frame, sizeof(frame)));
	CHECK_EQ(fake_wait_used(&drv, RXQ, &id, &len, 0), -1);
	rx_post(1, 1024);
	virtio_net_run_once(dev);
	CHECK_EQ(fake_wait_used(&drv, RXQ, &id, &len, 0), 0);
	CHECK_EQ(id, head[0]);
	CHECK_EQ(len, HDR + 1000);
	memcpy(&got, fake_ptr(&drv, a[0]), HDR);
	CHECK_EQ(got.num_buffers, 3);
	CHECK(memcmp(fake_ptr(&drv, a[1]), frame, 1000) == 0);
	CHECK_EQ(fake_wait_used(&drv, RXQ, &id, &len, 0), 0);
	CHECK_EQ(id, head[1]);
	CHECK_EQ(len, HDR + 1000);
	CHECK(memcmp(fake_ptr(&drv, a[2]), frame + 1000, HDR) == 0);
	CHECK(memcmp(fake_ptr(&drv, a[3]), frame + 1000 + HDR, 1000) == 0);
	CHECK_EQ(fake_wait_used(&drv, RXQ, &id, &len, 0), 0);
	CHECK_EQ(len, 2512 - 2 * (HDR + 1000));
	dev_stop();
}

static void test_rx_offloads_the_driver_refused(void)
{
	struct virtio_net_hdr partial = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM},
			      tso = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				     .gso_size = 1448},
			      got;
	uint8_t frame[100] = {0}, buf[200];

	dev_start(F(VIRTIO_NET_F_MRG_RXBUF), false);
	rx_post(4, 2048);
	CHECK(rx_deliver(&partial, frame, sizeof(frame)));
	CHECK(rx_deliver(&tso, frame, sizeof(frame)));
	CHECK_EQ(stats().rx.dropped, 2);
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, NULL), -1);
	dev_stop();
}

static void test_rx_without_buffers_is_bounded(void)
{
	struct virtio_net_hdr hdr = {0}, got;
	static uint8_t frame[60000], buf[NET_FRAME_MAX];
	struct virtio_net_stats st;

	dev_start(F(VIRTIO_NET_F_MRG_RXBUF), false);
	/* A flood with no buffers: a few frames wait, the rest are dropped. */
	for (unsigned i = 0; i < 20000; i++) {
		frame[0] = i;
		frame[1] = i >> 8;
		rx_deliver(&hdr, frame, i % 2 ? 1500 : 200);
	}
	st = stats();
	CHECK_EQ(st.rx.pending, NET_RX_PENDING_FRAMES);
	CHECK(st.rx.pending_bytes <= NET_RX_PENDING_BYTES);
	CHECK_EQ(st.rx.dropped, 20000 - NET_RX_PENDING_FRAMES);
	CHECK_EQ(st.rx.frames, 0);
	/* Big frames hit the byte bound first. */
	for (unsigned i = 0; i < 1000; i++)
		rx_deliver(&hdr, frame, sizeof(frame));
	st = stats();
	CHECK(st.rx.pending_bytes <= NET_RX_PENDING_BYTES);
	CHECK_EQ(st.rx.pending, NET_RX_PENDING_FRAMES);
	/* Buffers come: the waiting frames go first, oldest first. */
	rx_post(QSIZE, 4096);
	virtio_net_run_once(dev);
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, NULL), 200);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, NULL), 1500);
	CHECK_EQ(buf[0], 1);
	st = stats();
	CHECK_EQ(st.rx.frames, NET_RX_PENDING_FRAMES);
	CHECK_EQ(st.rx.pending, 0);
	CHECK_EQ(st.rx.pending_bytes, 0);
	dev_stop();
}

static void test_rx_frame_waits_for_enough_buffers(void)
{
	struct virtio_net_hdr hdr = {0}, got;
	static uint8_t frame[5000], buf[NET_FRAME_MAX];

	dev_start(F(VIRTIO_NET_F_MRG_RXBUF), false);
	pattern(frame, sizeof(frame), 4);
	/* Two buffers are not enough: they are held, nothing is published half-done. */
	rx_post(2, 2048);
	CHECK(!rx_deliver(&hdr, frame, sizeof(frame)));
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, NULL), -1);
	rx_post(2, 2048);
	virtio_net_run_once(dev);
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 0, NULL), sizeof(frame));
	CHECK_EQ(got.num_buffers, 3);
	CHECK(memcmp(buf, frame, sizeof(frame)) == 0);
	dev_stop();
}

static void test_rx_readable_buffer_breaks_the_device(void)
{
	struct virtio_net_hdr hdr = {0};
	uint8_t frame[100] = {0};

	dev_start(F(VIRTIO_NET_F_MRG_RXBUF), false);
	fake_queue_add(&drv, RXQ, (struct fake_buf[]){{fake_alloc(&drv, 2048), 2048, 0}}, 1);
	rx_deliver(&hdr, frame, sizeof(frame));
	CHECK(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(stats().rx.frames, 0);
	dev_stop();
}

/* The real thread: kicks wake it; frames wait while the driver has no buffers and go out
 * once it adds some and kicks. */
static void test_thread_serves_kicks(void)
{
	struct virtio_net_hdr hdr = {0}, got;
	static uint8_t frame[1500], buf[NET_FRAME_MAX];
	uint32_t id, len;

	dev_start(F(VIRTIO_NET_F_MRG_RXBUF), true);
	stub->echo = true;
	pattern(frame, sizeof(frame), 8);
	rx_post(4, 1024);
	fake_kick(dev, RXQ);
	fake_queue_add(
	    &drv, TXQ,
	    (struct fake_buf[]){{put(&hdr, HDR), HDR, 0}, {put(frame, sizeof(frame)), 1500, 0}}, 2);
	fake_kick(dev, TXQ);
	CHECK_EQ(fake_wait_used(&drv, TXQ, &id, &len, WAIT_MS), 0);
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), WAIT_MS, NULL), sizeof(frame));
	CHECK(memcmp(buf, frame, sizeof(frame)) == 0);
	/* Two more frames need four buffers; only two are left: the second waits. */
	for (int i = 0; i < 2; i++)
		fake_queue_add(&drv, TXQ,
			       (struct fake_buf[]){{put(&hdr, HDR), HDR, 0},
						   {put(frame, sizeof(frame)), 1500, 0}},
			       2);
	fake_kick(dev, TXQ);
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), WAIT_MS, NULL), sizeof(frame));
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), 200, NULL), -1);
	rx_post(2, 1024);
	fake_kick(dev, RXQ);
	CHECK_EQ(rx_take(&got, buf, sizeof(buf), WAIT_MS, NULL), sizeof(frame));
	/* Reset stops the thread; the device starts again on the next DRIVER_OK. */
	dev->ops->reset(dev);
	CHECK_EQ(stats().tx_frames, 3);
	dev_stop();
}

int main(void)
{
	RUN(test_config_space);
	RUN(test_tx_split_header_and_frame);
	RUN(test_tx_malformed_chains_are_dropped);
	RUN(test_tx_frame_size_limit);
	RUN(test_tx_broken_ring_needs_reset);
	RUN(test_tx_budget_leaves_room_for_others);
	RUN(test_rx_mergeable_spans_buffers);
	RUN(test_rx_header_split_across_tiny_buffers);
	RUN(test_rx_single_buffers_without_mergeable);
	RUN(test_rx_chains_of_several_buffers);
	RUN(test_rx_offloads_the_driver_refused);
	RUN(test_rx_without_buffers_is_bounded);
	RUN(test_rx_frame_waits_for_enough_buffers);
	RUN(test_rx_readable_buffer_breaks_the_device);
	RUN(test_thread_serves_kicks);
	return UNIT_RESULT();
}
