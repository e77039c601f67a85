/*
 * The virtio-net device on the user-mode (libslirp) backend, driven by the fake driver
 * through the device's real network thread: DHCP hands out 192.168.64.15 in mergeable
 * buffers, ARP for the gateway is answered, a TCP SYN with a partial checksum (completed
 * by the device) reaches a listener on the host's loopback through the gateway address,
 * and hostfwd rules fail with a message naming the port when the port is taken.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fake_virtio.h"
#include "net/net_csum.h"
#include "net/virtio_net.h"
#include "unit.h"

#define RAM_SIZE (16u << 20)
#define QSIZE	 256
#define RXQ	 VIRTIO_NET_RXQ
#define TXQ	 VIRTIO_NET_TXQ
#define F(bit)	 (1ULL << (bit))
#define HDR	 sizeof(struct virtio_net_hdr)
#define WAIT_MS	 5000
#define FEATURES                                                                                   \
	(F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |           \
	 F(VIRTIO_NET_F_MAC) | F(VIRTIO_RING_F_EVENT_IDX))

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static struct fake_driver drv;
static struct virtio_device *dev;
static uint64_t rx_gpa[QSIZE];

static uint32_t ip(const char *s)
{
	return inet_addr(s);
}

static void dev_start(const struct net_config *cfg)
{
	struct net_backend *be = slirp_backend_new(cfg);

	fake_driver_init(&drv, RAM_SIZE);
	if (!be || !(dev = virtio_net_new(cfg, be)))
		abort();
	CHECK_EQ(fake_start(&drv, dev, 2, QSIZE, FEATURES), 0); /* rx, tx */
}

static void dev_stop(void)
{
	virtio_net_free(dev);
	fake_driver_destroy(&drv);
}

static void rx_post(unsigned n, uint32_t size)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = fake_alloc(&drv, size);
		uint16_t head = fake_queue_add(&drv, RXQ, &(struct fake_buf){gpa, size, 1}, 1);
		rx_gpa[head] = gpa;
	}
	fake_kick(dev, RXQ);
}

/* Transmit one frame, with hdr (checked against FEATURES) in front. */
static void tx(const struct virtio_net_hdr *hdr, const uint8_t *frame, size_t len)
{
	uint64_t gpa = fake_alloc(&drv, HDR + len);

	memcpy(fake_ptr(&drv, gpa), hdr, HDR);
	memcpy(fake_ptr(&drv, gpa + HDR), frame, len);
	fake_queue_add(&drv, TXQ, &(struct fake_buf){gpa, HDR + len, 0}, 1);
	fake_kick(dev, TXQ);
}

/* The next received packet, its buffers joined (frame into buf); its length, or -1. */
static long rx_take(struct virtio_net_hdr *hdr, uint8_t *buf, size_t cap)
{
	size_t total = 0;
	unsigned nbuf = 1;
	uint32_t id, len;

	for (unsigned i = 0; i < nbuf; i++) {
		if (fake_wait_used(&drv, RXQ, &id, &len, i ? 0 : WAIT_MS) != 0)
			return -1;
		if (total + len > cap + HDR)
			return -1;
		if (i == 0) {
			if (len < HDR)
				return -1;
			memcpy(hdr, fake_ptr(&drv, rx_gpa[id]), HDR);
			nbuf = hdr->num_buffers;
			memcpy(buf, (uint8_t *)fake_ptr(&drv, rx_gpa[id]) + HDR, len - HDR);
		} else {
			memcpy(buf + total - HDR, fake_ptr(&drv, rx_gpa[id]), len);
		}
		total += len;
	}
	return total - HDR;
}

static size_t put_eth(uint8_t *p, const uint8_t dst[6], uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, guest_mac, 6);
	p[12] = type >> 8;
	p[13] = type;
	return 14;
}

/* A 20-byte IPv4 header with its checksum, for a payload of len bytes. */
static size_t put_ipv4(uint8_t *p, uint8_t proto, uint32_t src, uint32_t dst, size_t len)
{
	uint16_t tot = htons(20 + len), csum;

	memset(p, 0, 20);
	p[0] = 0x45;
	memcpy(p + 2, &tot, 2);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	csum = ~net_csum_fold(net_csum_add(0, p, 20));
	memcpy(p + 10, &csum, 2);
	return 20;
}

/* The pseudo-header sum of a TCP/UDP segment (memory order). */
static uint64_t pseudo_sum(const uint8_t *iph, uint8_t proto, size_t len)
{
	uint8_t ph[12];
	uint16_t l = htons(len);

	memcpy(ph, iph + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	memcpy(ph + 10, &l, 2);
	return net_csum_add(0, ph, sizeof(ph));
}

/* Wait for a frame of ethertype type (and, for IPv4, protocol proto), skipping others. */
static long rx_wait_for(uint16_t type, uint8_t proto, struct virtio_net_hdr *hdr, uint8_t *buf,
			size_t cap)
{
	for (int i = 0; i < 16; i++) {
		long n = rx_take(hdr, buf, cap);
		if (n < 0)
			return -1;
		if (n < 14 || ((buf[12] << 8) | buf[13]) != type)
			continue;
		if (type == 0x0800 && (n < 34 || buf[23] != proto))
			continue;
		return n;
	}
	return -1;
}

/* The value of DHCP option code in the options after the magic cookie; -1 if absent. */
static int dhcp_option(const uint8_t *opt, size_t len, uint8_t code, uint8_t *val, size_t vlen)
{
	for (size_t i = 0; i + 1 < len && opt[i] != 255;) {
		if (opt[i] == 0) {
			i++;
			continue;
		}
		if (i + 2 + opt[i + 1] > len)
			return -1;
		if (opt[i] == code && opt[i + 1] >= vlen) {
			memcpy(val, opt + i + 2, vlen);
			return 0;
		}
		i += 2 + opt[i + 1];
	}
	return -1;
}

static void test_dhcp_offers_the_first_address(void)
{
	struct net_config cfg = {0};
	struct virtio_net_hdr hdr = {0}, got;
	static uint8_t frame[1024], buf[NET_FRAME_MAX];
	uint8_t *bootp, v[4];
	uint16_t sport = htons(68), dport = htons(67), ulen = htons(8 + 548);
	size_t off;
	long n;

	dev_start(&cfg);
	/* 256-byte buffers: the offer (~590 bytes) takes three. */
	rx_post(64, 256);
	memset(frame, 0, sizeof(frame));
	off = put_eth(frame, broadcast, 0x0800);
	off += put_ipv4(frame + off, 17, 0, 0xffffffff, 8 + 548);
	memcpy(frame + off, &sport, 2);
	memcpy(frame + off + 2, &dport, 2);
	memcpy(frame + off + 4, &ulen, 2);
	bootp = frame + off + 8;
	bootp[0] = 1; /* BOOTREQUEST, Ethernet, 6-byte addresses, xid */
	bootp[1] = 1;
	bootp[2] = 6;
	memcpy(bootp + 4, "\x12\x34\x56\x78", 4);
	memcpy(bootp + 28, guest_mac, 6);
	memcpy(bootp + 236, "\x63\x82\x53\x63\x35\x01\x01\xff", 8); /* cookie, DISCOVER, end */
	tx(&hdr, frame, off + 8 + 548);

	n = rx_wait_for(0x0800, 17, &got, buf, sizeof(buf));
	CHECK(n > 14 + 20 + 8 + 240);
	if (n <= 14 + 20 + 8 + 240)
		goto out;
	CHECK(got.num_buffers >= 3);
	CHECK_EQ(got.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	CHECK_EQ(net_csum_fold(net_csum_add(0, buf + 14, 20)), 0xffff);
	bootp = buf + 14 + 20 + 8;
	CHECK_EQ(bootp[0], 2); /* BOOTREPLY */
	CHECK(memcmp(bootp + 4, "\x12\x34\x56\x78", 4) == 0);
	CHECK(memcmp(bootp + 16, &(uint32_t){ip("192.168.64.15")}, 4) == 0);
	CHECK(memcmp(bootp + 28, guest_mac, 6) == 0);
	off = n - (14 + 20 + 8 + 240);
	CHECK_EQ(dhcp_option(bootp + 240, off, 53, v, 1), 0);
	CHECK_EQ(v[0], 2); /* DHCPOFFER */
	CHECK_EQ(dhcp_option(bootp + 240, off, 3, v, 4), 0);
	CHECK(memcmp(v, &(uint32_t){ip("192.168.64.1")}, 4) == 0);
	CHECK_EQ(dhcp_option(bootp + 240, off, 6, v, 4), 0);
	CHECK(memcmp(v, &(uint32_t){ip("192.168.64.3")}, 4) == 0);
	CHECK_EQ(dhcp_option(bootp + 240, off, 1, v, 4), 0);
	CHECK(memcmp(v, "\xff\xff\xff\x00", 4) == 0);
out:
	dev_stop();
}

/* Ask who has the gateway; returns the reply's length (frame in buf) or -1. */
static long arp_gateway(uint8_t *buf, size_t cap)
{
	struct virtio_net_hdr hdr = {0}, got;
	uint8_t frame[60] = {0};
	uint32_t me = ip("192.168.64.15"), gw = ip("192.168.64.1");
	size_t off = put_eth(frame, broadcast, 0x0806);

	memcpy(frame + off, "\x00\x01\x08\x00\x06\x04\x00\x01", 8); /* Ethernet/IPv4 request */
	memcpy(frame + off + 8, guest_mac, 6);
	memcpy(frame + off + 14, &me, 4);
	memcpy(frame + off + 24, &gw, 4);
	tx(&hdr, frame, sizeof(frame));
	return rx_wait_for(0x0806, 0, &got, buf, cap);
}

static void test_arp_for_the_gateway_is_answered(void)
{
	struct net_config cfg = {0};
	static uint8_t buf[NET_FRAME_MAX];
	long n;

	dev_start(&cfg);
	rx_post(16, 2048);
	n = arp_gateway(buf, sizeof(buf));
	CHECK(n >= 42);
	if (n >= 42) {
		CHECK(memcmp(buf, guest_mac, 6) == 0);
		CHECK_EQ(buf[14 + 7], 2); /* reply */
		CHECK(memcmp(buf + 14 + 14, &(uint32_t){ip("192.168.64.1")}, 4) == 0);
		CHECK(memcmp(buf + 14 + 18, guest_mac, 6) == 0);
	}
	dev_stop();
}

static void test_tcp_to_the_gateway_reaches_host_loopback(void)
{
	struct net_config cfg = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	struct virtio_net_hdr hdr = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .csum_start = 34,
				     .csum_offset = 16},
			      got;
	static uint8_t frame[54], buf[NET_FRAME_MAX];
	uint16_t sport = htons(40000), psum;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd = -1;
	struct pollfd pfd;
	uint8_t *tcp;
	long n;

	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	      listen(lfd, 1) == 0 && getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	dev_start(&cfg);
	rx_post(32, 2048);
	CHECK(arp_gateway(buf, sizeof(buf)) > 0); /* slirp learns our MAC */

	/* A SYN to the gateway, its checksum left for the device (NEEDS_CSUM). */
	memset(frame, 0, sizeof(frame));
	put_eth(frame, (const uint8_t[]){0x52, 0x55, 0xc0, 0xa8, 0x40, 0x01}, 0x0800);
	put_ipv4(frame + 14, 6, ip("192.168.64.15"), ip("192.168.64.1"), 20);
	tcp = frame + 34;
	memcpy(tcp, &sport, 2);
	memcpy(tcp + 2, &sa.sin_port, 2);
	memcpy(tcp + 4, "\x00\x00\x03\xe8", 4); /* seq 1000 */
	tcp[12] = 5 << 4;
	tcp[13] = 0x02; /* SYN */
	tcp[14] = tcp[15] = 0xff;
	psum = net_csum_fold(pseudo_sum(frame + 14, 6, 20));
	memcpy(tcp + 16, &psum, 2);
	tx(&hdr, frame, sizeof(frame));

	n = rx_wait_for(0x0800, 6, &got, buf, sizeof(buf));
	CHECK(n >= 54);
	if (n >= 54) {
		tcp = buf + 34;
		CHECK_EQ(tcp[13] & 0x12, 0x12); /* SYN+ACK: libslirp took our checksum */
		CHECK(memcmp(tcp + 2, &sport, 2) == 0);
		CHECK(memcmp(tcp + 8, "\x00\x00\x03\xe9", 4) == 0);
		CHECK_EQ(
		    net_csum_fold(pseudo_sum(buf + 14, 6, n - 34) + net_csum_add(0, tcp, n - 34)),
		    0xffff);
	}
	/* And the connection reached the host's loopback. */
	pfd = (struct pollfd){lfd, POLLIN, 0};
	CHECK_EQ(poll(&pfd, 1, WAIT_MS), 1);
	cfd = accept(lfd, NULL, NULL);
	CHECK(cfd >= 0);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	dev_stop();
}

/* Run slirp_backend_new(cfg) with stderr captured into msg. */
static struct net_backend *backend_new_quiet(const struct net_config *cfg, char *msg, size_t cap)
{
	int saved = dup(2), fd = memfd_create("stderr", MFD_CLOEXEC);
	struct net_backend *be;
	ssize_t n;

	fflush(stderr);
	dup2(fd, 2);
	be = slirp_backend_new(cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, msg, cap - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	close(fd);
	return be;
}

static int bound_socket(int type, uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    (type == SOCK_STREAM && listen(fd, 1) != 0) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		abort();
	*port = ntohs(sa.sin_port);
	return fd;
}

static void test_hostfwd_port_in_use_is_named(void)
{
	struct net_config cfg = {.nhostfwd = 1};
	char msg[512], want[32];
	uint16_t port;
	int fd;

	for (int udp = 0; udp < 2; udp++) {
		fd = bound_socket(udp ? SOCK_DGRAM : SOCK_STREAM, &port);
		cfg.hostfwd[0] = (struct hostfwd){
		    .udp = udp, .host_addr = ip("127.0.0.1"), .host_port = port, .guest_port = 22};
		CHECK(backend_new_quiet(&cfg, msg, sizeof(msg)) == NULL);
		snprintf(want, sizeof(want), "host port %u", port);
		CHECK(strstr(msg, want) != NULL);
		CHECK(strstr(msg, strerror(EADDRINUSE)) != NULL);
		close(fd);
	}
}

static void test_hostfwd_listens_on_the_host(void)
{
	struct net_config cfg = {.nhostfwd = 1};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct net_backend *be;
	char msg[512];
	uint16_t port;
	int fd = bound_socket(SOCK_STREAM, &port);

	close(fd); /* a port that was free a moment ago */
	cfg.hostfwd[0] = (struct hostfwd){.host_port = port, .guest_port = 22};
	be = backend_new_quiet(&cfg, msg, sizeof(msg));
	CHECK(be != NULL);
	CHECK_STR(msg, "");
	sa.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	if (be)
		be->ops->destroy(be);
}

static void test_hostfwd_guest_outside_the_network(void)
{
	struct net_config cfg = {.nhostfwd = 1};
	char msg[512];

	cfg.hostfwd[0] = (struct hostfwd){.guest_addr = ip("10.0.2.15"), .guest_port = 22};
	CHECK(backend_new_quiet(&cfg, msg, sizeof(msg)) == NULL);
	CHECK(strstr(msg, "outside the user network") != NULL);
}

int main(void)
{
	RUN(test_dhcp_offers_the_first_address);
	RUN(test_arp_for_the_gateway_is_answered);
	RUN(test_tcp_to_the_gateway_reaches_host_loopback);
	RUN(test_hostfwd_port_in_use_is_named);
	RUN(test_hostfwd_listens_on_the_host);
	RUN(test_hostfwd_guest_outside_the_network);
	return UNIT_RESULT();
}
