/*
 * User-mode networking: libslirp's TCP/IP stack behind the NIC. It answers DHCP (the
 * guest gets SLIRP_GUEST), forwards DNS sent to SLIRP_DNS to the host's resolver (the first
 * nameserver of /etc/resolv.conf), maps the gateway address to the host's loopback, and
 * carries the guest's connections over ordinary host sockets: no privileges needed.
 *
 * libslirp is not thread-safe: after slirp_backend_new() every call into it happens on
 * the device's network thread, through poll_fill / poll_done / send.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/net_backend.h"
#include "net/net_csum.h"
#include "net/slirp_api.h"
#include "vmm/log.h"

struct slirp_backend_timer {
	struct slirp_backend_timer *next;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms; /* -1: not armed */
};

struct slirp_backend {
	struct net_backend be;
	Slirp *slirp;
	struct net_poll *np; /* the set being filled or read, for libslirp's callbacks */
	bool rx_room;
	struct slirp_backend_timer *timers;
	uint8_t *frame; /* a transmitted frame made contiguous for slirp_input */
};

static int64_t slirp_backend_clock_ns(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t slirp_backend_now_ms(void)
{
	return slirp_backend_clock_ns(NULL) / 1000000;
}

/* libslirp's output: a frame for the guest. Its checksums are complete and correct (it
 * made the packet), which DATA_VALID tells a driver that accepts checksum hints. */
static ssize_t slirp_backend_output(const void *buf, size_t len, void *opaque)
{
	struct slirp_backend *sb = opaque;
	struct virtio_net_hdr hdr = {.flags = VIRTIO_NET_HDR_F_DATA_VALID};

	if (sb->be.receive)
		sb->be.receive(sb->be.receive_opaque, &hdr, buf, len);
	return len;
}

static void slirp_backend_guest_error(const char *msg, void *opaque)
{
	log_debug("user network: the guest sent %s", msg);
}

static void *slirp_backend_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_backend *sb = opaque;
	struct slirp_backend_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	*t = (struct slirp_backend_timer){sb->timers, cb, cb_opaque, -1};
	sb->timers = t;
	return t;
}

static void slirp_backend_timer_free(void *timer, void *opaque)
{
	struct slirp_backend *sb = opaque;

	for (struct slirp_backend_timer **p = &sb->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = (*p)->next;
			free(timer);
			return;
		}
	}
}

static void slirp_backend_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	if (timer)
		((struct slirp_backend_timer *)timer)->expire_ms = expire_ms;
}

/* Every descriptor is polled afresh each round through pollfds_fill; nothing to keep. */
static void slirp_backend_poll_fd(int fd, void *opaque)
{
}

/* libslirp calls this from inside its own processing, on our thread: the next round's
 * pollfds_fill sees whatever changed. */
static void slirp_backend_notify(void *opaque)
{
}

static int slirp_backend_add_poll(int fd, int events, void *opaque)
{
	struct slirp_backend *sb = opaque;
	short ev = 0;

	/* While the guest has no room, host input stays in the host's socket buffers, which
	 * pushes back on the peer instead of growing ours. Errors and hangups still show. */
	if ((events & SLIRP_POLL_IN) && sb->rx_room)
		ev |= POLLIN;
	if ((events & SLIRP_POLL_PRI) && sb->rx_room)
		ev |= POLLPRI;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	return net_poll_add(sb->np, fd, ev);
}

static int slirp_backend_get_revents(int idx, void *opaque)
{
	struct slirp_backend *sb = opaque;
	short r = net_poll_revents(sb->np, idx);
	int ev = 0;

	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & (POLLERR | POLLNVAL))
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

static const SlirpCb slirp_backend_callbacks = {
    .send_packet = slirp_backend_output,
    .guest_error = slirp_backend_guest_error,
    .clock_get_ns = slirp_backend_clock_ns,
    .timer_new = slirp_backend_timer_new,
    .timer_free = slirp_backend_timer_free,
    .timer_mod = slirp_backend_timer_mod,
    .register_poll_fd = slirp_backend_poll_fd,
    .unregister_poll_fd = slirp_backend_poll_fd,
    .notify = slirp_backend_notify,
};

static void slirp_backend_poll_fill(struct net_backend *be, struct net_poll *np, bool rx_room,
				    int *timeout_ms)
{
	struct slirp_backend *sb = (struct slirp_backend *)be;
	uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
	int64_t now = slirp_backend_now_ms();

	sb->np = np;
	sb->rx_room = rx_room;
	libslirp.pollfds_fill(sb->slirp, &t, slirp_backend_add_poll, sb);
	for (struct slirp_backend_timer *tm = sb->timers; tm; tm = tm->next) {
		if (tm->expire_ms < 0)
			continue;
		if (tm->expire_ms <= now)
			t = 0;
		else if ((uint64_t)(tm->expire_ms - now) < t)
			t = tm->expire_ms - now;
	}
	*timeout_ms = t > INT_MAX ? -1 : (int)t;
}

/* Run the timers that are due; a callback may re-arm or free timers, so rescan. */
static void slirp_backend_run_timers(struct slirp_backend *sb)
{
	int64_t now = slirp_backend_now_ms();
	struct slirp_backend_timer *t;

	do {
		for (t = sb->timers; t; t = t->next)
			if (t->expire_ms >= 0 && t->expire_ms <= now)
				break;
		if (t) {
			t->expire_ms = -1;
			t->cb(t->cb_opaque);
		}
	} while (t);
}

static void slirp_backend_poll_done(struct net_backend *be, struct net_poll *np)
{
	struct slirp_backend *sb = (struct slirp_backend *)be;

	sb->np = np;
	libslirp.pollfds_poll(sb->slirp, 0, slirp_backend_get_revents, sb);
	slirp_backend_run_timers(sb);
}

static int slirp_backend_send(struct net_backend *be, const struct virtio_net_hdr *hdr,
			      const struct iovec *iov, unsigned iovcnt, size_t len)
{
	struct slirp_backend *sb = (struct slirp_backend *)be;
	size_t off = 0;

	/* libslirp takes whole packets: no segmentation was offered, so none can come. */
	if (len > NET_FRAME_MAX || hdr->gso_type != VIRTIO_NET_HDR_GSO_NONE)
		return -EINVAL;
	for (unsigned i = 0; i < iovcnt && off < len; i++) {
		size_t n = iov[i].iov_len < len - off ? iov[i].iov_len : len - off;
		memcpy(sb->frame + off, iov[i].iov_base, n);
		off += n;
	}
	if (off != len)
		return -EINVAL;
	if ((hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    net_csum_complete(sb->frame, len, hdr->csum_start, hdr->csum_offset) != 0)
		return -EINVAL;
	libslirp.input(sb->slirp, sb->frame, (int)len);
	return 0;
}

static void slirp_backend_set_features(struct net_backend *be, uint64_t acked)
{
}

static void slirp_backend_destroy(struct net_backend *be)
{
	struct slirp_backend *sb = (struct slirp_backend *)be;

	if (sb->slirp)
		libslirp.cleanup(sb->slirp);
	while (sb->timers)
		slirp_backend_timer_free(sb->timers, sb);
	free(sb->frame);
	free(sb);
}

static const struct net_backend_ops slirp_backend_ops = {
    .poll_fill = slirp_backend_poll_fill,
    .poll_done = slirp_backend_poll_done,
    .send = slirp_backend_send,
    .set_features = slirp_backend_set_features,
    .destroy = slirp_backend_destroy,
};

static struct in_addr slirp_backend_addr(const char *text)
{
	struct in_addr a;

	inet_pton(AF_INET, text, &a);
	return a;
}

/* One hostfwd rule; the message names the rule's host port, the usual culprit. */
static int slirp_backend_add_fwd(struct slirp_backend *sb, const struct hostfwd *fwd)
{
	struct in_addr net = slirp_backend_addr(SLIRP_NET), mask = slirp_backend_addr(SLIRP_MASK);
	struct in_addr host = {fwd->host_addr}, guest = {fwd->guest_addr};
	const char *proto = fwd->udp ? "udp" : "tcp";
	char hs[INET_ADDRSTRLEN], gs[INET_ADDRSTRLEN];

	if (!guest.s_addr)
		guest = slirp_backend_addr(SLIRP_GUEST);
	inet_ntop(AF_INET, &host, hs, sizeof(hs));
	inet_ntop(AF_INET, &guest, gs, sizeof(gs));
	if ((guest.s_addr & mask.s_addr) != net.s_addr) {
		log_error("-net user: hostfwd %s to %s:%u: the guest address is outside the user "
			  "network %s/24",
			  proto, gs, fwd->guest_port, SLIRP_NET);
		return -EINVAL;
	}
	errno = 0;
	if (libslirp.add_hostfwd(sb->slirp, fwd->udp, host, fwd->host_port, guest,
				 fwd->guest_port) < 0) {
		int err = errno ? errno : EADDRINUSE;
		log_error("-net user: hostfwd %s %s:%u-%s:%u: cannot listen on host port %u: %s",
			  proto, hs, fwd->host_port, gs, fwd->guest_port, fwd->host_port,
			  strerror(err));
		return -err;
	}
	return 0;
}

static int slirp_backend_load(void)
{
	const char *why;

	if (slirp_api_load(SLIRP_API_LIBRARY, &why) == 0)
		return 0;
	log_error("-net user: cannot load libslirp: %s (install libslirp0)", why);
	return -1;
}

int slirp_backend_preload(const struct net_config *cfg)
{
	return cfg->mode == NET_USER ? slirp_backend_load() : 0;
}

struct net_backend *slirp_backend_new(const struct net_config *cfg)
{
	struct slirp_backend *sb = calloc(1, sizeof(*sb));
	SlirpConfig sc = {
	    .version = 4,
	    .in_enabled = true,
	    .vnetwork = slirp_backend_addr(SLIRP_NET),
	    .vnetmask = slirp_backend_addr(SLIRP_MASK),
	    .vhost = slirp_backend_addr(SLIRP_GATEWAY),
	    .vdhcp_start = slirp_backend_addr(SLIRP_GUEST),
	    .vnameserver = slirp_backend_addr(SLIRP_DNS),
	    .if_mtu = SLIRP_MTU,
	    .if_mru = SLIRP_MTU,
	    /* The gateway address reaches the host's 127.0.0.1: how a guest finds a
	     * developer's local services. */
	    .disable_host_loopback = false,
	};

	if (!sb || !(sb->frame = malloc(NET_FRAME_MAX))) {
		log_error("-net user: out of memory");
		goto fail;
	}
	if (slirp_backend_load() != 0)
		goto fail;
	sb->be = (struct net_backend){
	    .ops = &slirp_backend_ops,
	    /* Checksums: we complete the driver's partial ones before libslirp sees them. */
	    .features = 1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM,
	    .mtu = SLIRP_MTU,
	};
	sb->slirp = libslirp.new(&sc, &slirp_backend_callbacks, sb);
	if (!sb->slirp) {
		log_error("-net user: libslirp %s refused the network configuration",
			  libslirp.version_string());
		goto fail;
	}
	for (unsigned i = 0; i < cfg->nhostfwd; i++)
		if (slirp_backend_add_fwd(sb, &cfg->hostfwd[i]) != 0)
			goto fail;
	return &sb->be;
fail:
	if (sb)
		slirp_backend_destroy(&sb->be);
	return NULL;
}
