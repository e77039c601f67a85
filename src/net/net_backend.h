/*
 * The network behind a virtio-net device: user-mode NAT through libslirp, or a TAP device.
 *
 * A backend lives on the device's network thread only (libslirp is not thread-safe): each
 * round the thread asks it which descriptors to poll and how long it may sleep, polls,
 * then lets it do its work. Frames for the guest go to the receive callback the device
 * set, on that same thread; frames from the guest come through send().
 */
#ifndef SMOLVM_NET_BACKEND_H
#define SMOLVM_NET_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "cli/options.h"
#include "net/net_poll.h"
#include "net/virtio_net_hdr.h"

struct net_backend;

/* A frame for the guest, with the backend's checksum and segmentation metadata in hdr.
 * Returns false when the guest has no room for more now: the backend should stop reading
 * its input until a later poll_fill() says there is room again. */
typedef bool (*net_receive_fn)(void *opaque, const struct virtio_net_hdr *hdr, const void *frame,
			       size_t len);

struct net_backend_ops {
	/* Add the descriptors to poll; lower *timeout_ms (-1: no limit) to the next deadline.
	 * Without rx_room the guest cannot take frames: leave input unread for now. */
	void (*poll_fill)(struct net_backend *be, struct net_poll *np, bool rx_room,
			  int *timeout_ms);
	/* After poll() (revents in np, also on a timeout): do the work, deliver frames. */
	void (*poll_done)(struct net_backend *be, struct net_poll *np);
	/* A frame from the guest, iov holding its len bytes (Ethernet header first); hdr
	 * passed virtio_net_hdr_check_tx(). 0, or -errno when the frame was dropped. */
	int (*send)(struct net_backend *be, const struct virtio_net_hdr *hdr,
		    const struct iovec *iov, unsigned iovcnt, size_t len);
	/* The driver's negotiated features, 0 at reset: the offloads it accepts on receive. */
	void (*set_features)(struct net_backend *be, uint64_t acked);
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	uint64_t features; /* VIRTIO_NET_F_* offloads the backend honours */
	uint16_t mtu;	   /* offered with VIRTIO_NET_F_MTU; 0: not offered */
	net_receive_fn receive;
	void *receive_opaque;
};

/* The backends, from the -net option. Each prints one line naming the problem (a busy
 * port, a missing permission) and returns NULL on failure. */
struct net_backend *slirp_backend_new(const struct net_config *cfg);
struct net_backend *tap_backend_new(const struct net_config *cfg);

/* Loads libslirp if cfg asks for a user network, else nothing: called once by main before
 * the VM's process is forked, so each VM process (a reboot's too) finds it mapped and the
 * loading is done once. 0, or -1 after a message. */
int slirp_backend_preload(const struct net_config *cfg);

/* The user network's addresses (network byte order in the backend; here as text too). */
#define SLIRP_NET     "192.168.64.0"
#define SLIRP_MASK    "255.255.255.0"
#define SLIRP_GATEWAY "192.168.64.1"
#define SLIRP_DNS     "192.168.64.3"
#define SLIRP_GUEST   "192.168.64.15"
/* The user network's MTU: libslirp's largest. Big frames mean few packets per byte on a
 * path where every packet costs a copy into libslirp and a guest interrupt. */
#define SLIRP_MTU 65520

#endif
