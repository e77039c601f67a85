/*
 * virtio-net (virtio 1.2, 5.1): one receive and one transmit queue, served by one network
 * thread per device that also runs the backend (net/net_backend.h): libslirp's user-mode
 * network by default, or a TAP device. The vCPUs only kick; the thread sleeps in poll() on
 * the kicks, the backend's descriptors and a stop eventfd.
 *
 * Transmit: each chain is a virtio-net header and a frame; the header is copied once and
 * checked (net/virtio_net_hdr.c) before the backend sees it, and a malformed chain is
 * dropped. Receive: frames go into the driver's buffers (net/net_rx.c), mergeable when
 * negotiated; when the driver gives none they wait in a bounded list, then are dropped.
 */
#include <assert.h>
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio_devices.h"
#include "net/virtio_net.h"
#include "sandbox/sandbox.h"
#include "virtio/virtio.h"
#include "vmm/log.h"

#define NET_TX_BUDGET	 128	      /* chains per round, so receive and the backend get turns */
#define NET_THREAD_STACK (512 * 1024) /* libslirp keeps a 64 KiB frame on its stack */

/* Configuration space (5.1.4): mac, status, max_virtqueue_pairs, mtu. */
#define NET_CONFIG_SIZE 12

struct virtio_net {
	struct virtio_device vdev;
	struct net_backend *be;
	uint8_t config[NET_CONFIG_SIZE];
	struct net_rx rx;
	struct virtq_chain *txchain;
	struct iovec txiov[NET_QUEUE_SIZE];
	bool tx_more; /* the budget ran out with chains left: come back without sleeping */
	uint64_t tx_frames, tx_dropped;
	uint64_t trimmed_at; /* frames moved when the heap was last trimmed */
	struct net_poll np;
	pthread_t thread;
	int stop_fd;
	bool running;
};

int virtio_net_tx_chain(struct virtio_device *vdev, const struct virtq_chain *c)
{
	struct virtio_net *n = vdev->priv;
	struct virtio_net_hdr hdr;
	size_t len, skip = sizeof(hdr);
	unsigned cnt = 0;

	/* Only device-readable buffers, holding at least a header and an Ethernet header. */
	if (c->nin || c->nout > NET_QUEUE_SIZE || c->out_len < sizeof(hdr))
		return -EINVAL;
	len = c->out_len - sizeof(hdr);
	if (len < NET_ETH_HLEN || len > NET_FRAME_MAX)
		return -EINVAL;
	virtq_chain_read(c, 0, &hdr, sizeof(hdr));
	if (virtio_net_hdr_check_tx(&hdr, vdev->acked, len) != 0)
		return -EINVAL;
	for (unsigned i = 0; i < c->nout; i++) {
		size_t l = c->iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		n->txiov[cnt++] = (struct iovec){(uint8_t *)c->iov[i].iov_base + skip, l - skip};
		skip = 0;
	}
	return n->be->ops->send(n->be, &hdr, n->txiov, cnt, len) == 0 ? 0 : -EINVAL;
}

/* Serve the transmit queue, at most NET_TX_BUDGET chains. */
static void virtio_net_tx(struct virtio_net *n)
{
	struct virtq *vq = &n->vdev.queue[VIRTIO_NET_TXQ].vq;
	unsigned budget = NET_TX_BUDGET;
	int r = 0;

	n->tx_more = false;
	do {
		virtq_set_notify(vq, false);
		while (budget && (r = virtq_pop(vq, n->txchain)) > 0) {
			budget--;
			if (virtio_net_tx_chain(&n->vdev, n->txchain) == 0)
				n->tx_frames++;
			else
				n->tx_dropped++;
			virtq_push(vq, n->txchain->head, 0);
		}
		virtio_queue_notify(&n->vdev, VIRTIO_NET_TXQ);
		if (r < 0) {
			virtio_device_broken(&n->vdev, "bad transmit descriptor chain");
			return;
		}
		if (!budget) {
			n->tx_more = true; /* kicks stay off: we come back anyway */
			return;
		}
	} while (virtq_set_notify(vq, true));
}

static bool virtio_net_receive(void *opaque, const struct virtio_net_hdr *hdr, const void *frame,
			       size_t len)
{
	struct virtio_net *n = opaque;

	return net_rx_frame(&n->rx, hdr, frame, len);
}

static void virtio_net_drain(int fd)
{
	eventfd_t v;

	eventfd_read(fd, &v);
}

/* A burst of connections leaves libslirp's freed buffers (two 128 KiB ones per TCP
 * connection, 64 KiB packets) scattered in the heap; once traffic pauses, give their pages
 * back so a past burst does not stay resident. */
static void virtio_net_idle(struct virtio_net *n)
{
	uint64_t moved = n->tx_frames + n->rx.stats.frames;

	if (moved == n->trimmed_at)
		return;
	n->trimmed_at = moved;
	malloc_trim(0);
}

static void *virtio_net_thread(void *arg)
{
	struct virtio_net *n = arg;
	int rx_kick = n->vdev.queue[VIRTIO_NET_RXQ].kick_fd;
	int tx_kick = n->vdev.queue[VIRTIO_NET_TXQ].kick_fd;
	sigset_t pipe;

	/* Named from inside: naming another thread writes its /proc comm file, which the
	 * sandbox closes. */
	pthread_setname_np(pthread_self(), "virtio-net");
	/* A host peer that went away must cost a socket error, not the process (the main
	 * thread ignores SIGPIPE too; unit tests have no main thread). */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, NULL);
	sandbox_enter(SANDBOX_NET);
	for (;;) {
		int timeout = n->tx_more ? 0 : -1, stop, rxk, txk, ready;
		bool room = net_rx_room(&n->rx);

		net_rx_notify(&n->rx);
		/* The first three never fail: virtio_net_new made room for them. */
		net_poll_clear(&n->np);
		stop = net_poll_add(&n->np, n->stop_fd, POLLIN);
		rxk = net_poll_add(&n->np, rx_kick, POLLIN);
		txk = net_poll_add(&n->np, tx_kick, POLLIN);
		n->be->ops->poll_fill(n->be, &n->np, room, &timeout);
		ready = poll(n->np.fds, n->np.n, timeout);
		if (ready < 0 && errno != EINTR) {
			log_error("virtio-net: poll: %s", strerror(errno));
			break;
		}
		if (ready == 0)
			virtio_net_idle(n);
		if (net_poll_revents(&n->np, stop))
			break;
		if (net_poll_revents(&n->np, rxk))
			virtio_net_drain(rx_kick); /* net_rx_room() takes the new buffers */
		if (net_poll_revents(&n->np, txk))
			virtio_net_drain(tx_kick);
		if (net_poll_revents(&n->np, txk) || n->tx_more)
			virtio_net_tx(n);
		n->be->ops->poll_done(n->be, &n->np);
		net_rx_notify(&n->rx);
	}
	return NULL;
}

static void virtio_net_configure(struct virtio_net *n)
{
	net_rx_start(&n->rx, n->vdev.acked);
	n->tx_more = false;
	n->be->ops->set_features(n->be, n->vdev.acked);
}

static void virtio_net_reset(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->priv;

	if (n->running) {
		eventfd_write(n->stop_fd, 1);
		pthread_join(n->thread, NULL);
		virtio_net_drain(n->stop_fd);
		n->running = false;
	}
	net_rx_stop(&n->rx);
	n->tx_more = false;
	n->be->ops->set_features(n->be, 0);
}

static int virtio_net_activate(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->priv;
	pthread_attr_t attr;
	int ret;

	/* One thread per device: the transport starts a device at most once between resets. */
	assert(!n->running);
	if (n->running)
		return -EBUSY;
	virtio_net_configure(n);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, NET_THREAD_STACK);
	ret = pthread_create(&n->thread, &attr, virtio_net_thread, n);
	pthread_attr_destroy(&attr);
	if (ret) {
		log_error("virtio-net: cannot start the network thread: %s", strerror(ret));
		return -ret;
	}
	n->running = true;
	return 0;
}

static void virtio_net_config_read(struct virtio_device *vdev, unsigned off, void *buf,
				   unsigned len)
{
	struct virtio_net *n = vdev->priv;

	memcpy(buf, n->config + off, len);
}

/* The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR; nothing else is writable. */
static void virtio_net_config_write(struct virtio_device *vdev, unsigned off, const void *buf,
				    unsigned len)
{
}

static const struct virtio_device_ops virtio_net_ops = {
    .config_read = virtio_net_config_read,
    .config_write = virtio_net_config_write,
    .activate = virtio_net_activate,
    .reset = virtio_net_reset,
};

void virtio_net_start_inline(struct virtio_device *vdev)
{
	virtio_net_configure(vdev->priv);
}

void virtio_net_run_once(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->priv;

	net_rx_room(&n->rx);
	virtio_net_tx(n);
	net_rx_room(&n->rx);
	net_rx_notify(&n->rx);
}

void virtio_net_get_stats(struct virtio_device *vdev, struct virtio_net_stats *st)
{
	struct virtio_net *n = vdev->priv;

	*st = (struct virtio_net_stats){n->tx_frames, n->tx_dropped, n->rx.stats};
}

static void virtio_net_set_config(struct virtio_net *n, const struct net_config *cfg)
{
	static const uint8_t default_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
	uint16_t status = VIRTIO_NET_S_LINK_UP, pairs = 1, mtu = n->be->mtu;

	memcpy(n->config, cfg->mac_set ? cfg->mac : default_mac, 6);
	memcpy(n->config + 6, &status, 2);
	memcpy(n->config + 8, &pairs, 2);
	memcpy(n->config + 10, &mtu, 2);
}

struct virtio_device *virtio_net_new(const struct net_config *cfg, struct net_backend *be)
{
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (!n) {
		be->ops->destroy(be);
		return NULL;
	}
	n->be = be;
	n->stop_fd = -1;
	n->vdev = (struct virtio_device){
	    .name = "virtio-net",
	    .ops = &virtio_net_ops,
	    .priv = n,
	    .device_id = VIRTIO_ID_NET,
	    .features = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |
			1ULL << VIRTIO_NET_F_MRG_RXBUF | be->features |
			(be->mtu ? 1ULL << VIRTIO_NET_F_MTU : 0),
	    .config_size = NET_CONFIG_SIZE,
	};
	virtio_net_set_config(n, cfg);
	be->receive = virtio_net_receive;
	be->receive_opaque = n;
	n->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->txchain = malloc(sizeof(*n->txchain));
	if (n->stop_fd < 0 || !n->txchain || virtio_device_init(&n->vdev, 2, NET_QUEUE_SIZE) ||
	    net_rx_init(&n->rx, &n->vdev, VIRTIO_NET_RXQ) || net_poll_add(&n->np, -1, 0) < 0) {
		virtio_net_free(&n->vdev);
		return NULL;
	}
	return &n->vdev;
}

void virtio_net_free(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->priv;

	virtio_net_reset(vdev);
	n->be->ops->destroy(n->be);
	virtio_device_release(vdev);
	if (n->stop_fd >= 0)
		close(n->stop_fd);
	net_rx_free(&n->rx);
	net_poll_free(&n->np);
	free(n->txchain);
	free(n);
}

int virtio_net_create(struct vm *vm, const struct net_config *cfg)
{
	struct net_backend *be =
	    cfg->mode == NET_TAP ? tap_backend_new(cfg) : slirp_backend_new(cfg);
	struct virtio_device *vdev;
	int ret;

	if (!be)
		return -EINVAL;
	vdev = virtio_net_new(cfg, be);
	if (!vdev) {
		log_error("virtio-net: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = virtio_pci_add(vm, vdev);
	if (ret)
		log_error("virtio-net: cannot add the PCI function: %s", strerror(-ret));
	return ret;
}
