/*
 * A TAP device as the network: frames go to and from the host kernel, which bridges or
 * routes them as the user set it up (no DHCP of ours). With IFF_VNET_HDR every frame
 * carries the virtio-net header itself, so checksum and segmentation offloads pass
 * through both ways: the guest hands 64 KiB TCP segments to the host kernel, and the host
 * kernel hands them to the guest (TUNSETOFFLOAD, from the features the driver accepted).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/net_backend.h"
#include "net/net_rx.h"
#include "vmm/log.h"

#define TAP_HDR_LEN   ((int)sizeof(struct virtio_net_hdr))
#define TAP_BUF_SIZE  (TAP_HDR_LEN + NET_FRAME_MAX + 1) /* + 1: a longer frame shows */
#define TAP_RX_BUDGET 64				/* frames read per round */
#define TAP_MAX_IOV   (1 + NET_QUEUE_SIZE)		/* header + a chain's buffers */

struct tap_backend {
	struct net_backend be;
	int fd;
	int poll_idx;
	bool gone; /* the device disappeared: said so once, not polled any more */
	uint8_t *buf;
	struct virtio_net_hdr txhdr;
	struct iovec *iov; /* TAP_MAX_IOV */
	char ifname[IFNAMSIZ];
};

static void tap_backend_poll_fill(struct net_backend *be, struct net_poll *np, bool rx_room,
				  int *timeout_ms)
{
	struct tap_backend *tb = (struct tap_backend *)be;

	/* Without room, frames wait in the host kernel's queue, which drops beyond its length. */
	tb->poll_idx = !tb->gone && rx_room ? net_poll_add(np, tb->fd, POLLIN) : -1;
}

static void tap_backend_lost(struct tap_backend *tb, int err)
{
	if (!tb->gone)
		log_warn("-net tap: %s: %s; the guest's network is down", tb->ifname,
			 strerror(err));
	tb->gone = true;
}

static void tap_backend_poll_done(struct net_backend *be, struct net_poll *np)
{
	struct tap_backend *tb = (struct tap_backend *)be;
	short revents = net_poll_revents(np, tb->poll_idx);
	struct virtio_net_hdr hdr;
	ssize_t n;

	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		tap_backend_lost(tb, ENODEV);
		return;
	}
	if (!(revents & POLLIN))
		return;
	for (int i = 0; i < TAP_RX_BUDGET; i++) {
		n = read(tb->fd, tb->buf, TAP_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				tap_backend_lost(tb, errno);
			return;
		}
		if (n < TAP_HDR_LEN + NET_ETH_HLEN || n > TAP_HDR_LEN + NET_FRAME_MAX)
			continue;
		memcpy(&hdr, tb->buf, sizeof(hdr));
		if (!tb->be.receive(tb->be.receive_opaque, &hdr, tb->buf + TAP_HDR_LEN,
				    n - TAP_HDR_LEN))
			return;
	}
}

static int tap_backend_send(struct net_backend *be, const struct virtio_net_hdr *hdr,
			    const struct iovec *iov, unsigned iovcnt, size_t len)
{
	struct tap_backend *tb = (struct tap_backend *)be;
	ssize_t n;

	if (iovcnt > TAP_MAX_IOV - 1)
		return -EINVAL;
	/* The guest's buffers go to the kernel as they are; only the checked header is ours. */
	tb->txhdr = *hdr;
	tb->iov[0] = (struct iovec){&tb->txhdr, sizeof(tb->txhdr)};
	memcpy(&tb->iov[1], iov, iovcnt * sizeof(*iov));
	do
		n = writev(tb->fd, tb->iov, iovcnt + 1);
	while (n < 0 && errno == EINTR);
	/* EIO: the interface is down; EAGAIN/ENOBUFS: the host is congested. Dropped. */
	return n < 0 ? -errno : 0;
}

/* The host kernel may give us what the driver accepts: partial checksums with GUEST_CSUM,
 * TCP super-packets with GUEST_TSO4/6 (which need GUEST_CSUM). */
static void tap_backend_set_features(struct net_backend *be, uint64_t acked)
{
	struct tap_backend *tb = (struct tap_backend *)be;
	unsigned off = 0;

	if (acked & (1ULL << VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (acked & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (acked & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if ((off & (TUN_F_TSO4 | TUN_F_TSO6)) && (acked & (1ULL << VIRTIO_NET_F_GUEST_ECN)))
			off |= TUN_F_TSO_ECN;
	}
	if (ioctl(tb->fd, TUNSETOFFLOAD, off) < 0)
		log_warn("-net tap: %s: TUNSETOFFLOAD: %s", tb->ifname, strerror(errno));
}

static void tap_backend_destroy(struct net_backend *be)
{
	struct tap_backend *tb = (struct tap_backend *)be;

	if (tb->fd >= 0)
		close(tb->fd);
	free(tb->buf);
	free(tb->iov);
	free(tb);
}

static const struct net_backend_ops tap_backend_ops = {
    .poll_fill = tap_backend_poll_fill,
    .poll_done = tap_backend_poll_done,
    .send = tap_backend_send,
    .set_features = tap_backend_set_features,
    .destroy = tap_backend_destroy,
};

static void tap_backend_attach_error(const char *name, int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		log_error("-net tap: cannot attach to %s: %s (it needs root or CAP_NET_ADMIN, or a "
			  "TAP device made for you: ip tuntap add NAME mode tap user $USER)",
			  name, strerror(err));
		break;
	case EBUSY:
		log_error("-net tap: %s is in use by another program", name);
		break;
	case EINVAL:
		log_error("-net tap: %s exists and is not a single-queue TAP device", name);
		break;
	default:
		log_error("-net tap: cannot attach to %s: %s", name, strerror(err));
	}
}

/* Open /dev/net/tun and attach to (or create) the device, with virtio-net headers. */
static int tap_backend_open(struct tap_backend *tb, const char *ifname)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR};
	int hdr_len = TAP_HDR_LEN;

	tb->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (tb->fd < 0) {
		int err = errno;
		log_error("-net tap: /dev/net/tun: %s%s", strerror(err),
			  err == ENOENT ? " (is the tun module loaded?)" : "");
		return -err;
	}
	if (ifname)
		strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(tb->fd, TUNSETIFF, &ifr) < 0) {
		int err = errno;
		tap_backend_attach_error(ifname ? ifname : "a new TAP device", err);
		return -err;
	}
	memcpy(tb->ifname, ifr.ifr_name, IFNAMSIZ);
	tb->ifname[IFNAMSIZ - 1] = '\0';
	if (ioctl(tb->fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		int err = errno;
		log_error("-net tap: %s: no virtio-net header support: %s", tb->ifname,
			  strerror(err));
		return -err;
	}
	return 0;
}

struct net_backend *tap_backend_new(const struct net_config *cfg)
{
	struct tap_backend *tb = calloc(1, sizeof(*tb));
	unsigned all = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;

	if (tb)
		tb->fd = -1;
	if (!tb || !(tb->buf = malloc(TAP_BUF_SIZE)) ||
	    !(tb->iov = calloc(TAP_MAX_IOV, sizeof(*tb->iov)))) {
		log_error("-net tap: out of memory");
		goto fail;
	}
	tb->poll_idx = -1;
	tb->be = (struct net_backend){
	    .ops = &tap_backend_ops,
	    /* Whatever the guest sends with a vnet header, the host kernel finishes. */
	    .features = 1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_HOST_TSO4 |
			1ULL << VIRTIO_NET_F_HOST_TSO6 | 1ULL << VIRTIO_NET_F_HOST_ECN,
	};
	if (tap_backend_open(tb, cfg->ifname) != 0)
		goto fail;
	/* What it may hand us depends on TUNSETOFFLOAD, which old kernels lack. Nothing
	 * until the driver says what it accepts. */
	if (ioctl(tb->fd, TUNSETOFFLOAD, all) == 0)
		tb->be.features |= 1ULL << VIRTIO_NET_F_GUEST_CSUM |
				   1ULL << VIRTIO_NET_F_GUEST_TSO4 |
				   1ULL << VIRTIO_NET_F_GUEST_TSO6 | 1ULL << VIRTIO_NET_F_GUEST_ECN;
	ioctl(tb->fd, TUNSETOFFLOAD, 0);
	if (!cfg->ifname)
		log_warn("-net tap: no ifname= given: attached to a new device %s, which goes away "
			 "when smolvm exits",
			 tb->ifname);
	return &tb->be;
fail:
	if (tb)
		tap_backend_destroy(&tb->be);
	return NULL;
}
