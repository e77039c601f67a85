/* virtio-net receive: frames into the driver's buffers, mergeable or one per buffer. */
#include "net/net_rx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_virtq.h"
#include "virtio/virtio.h"

struct net_rx_frame {
	struct net_rx_frame *next;
	struct virtio_net_hdr hdr;
	size_t len;
	uint8_t data[];
};

int net_rx_init(struct net_rx *rx, struct virtio_device *vdev, unsigned q)
{
	memset(rx, 0, sizeof(*rx));
	rx->vdev = vdev;
	rx->q = q;
	rx->tail = &rx->head;
	rx->chain = malloc(sizeof(*rx->chain));
	return rx->chain ? 0 : -ENOMEM;
}

static struct virtq *net_rx_vq(struct net_rx *rx)
{
	return &rx->vdev->queue[rx->q].vq;
}

static void net_rx_drop_waiting(struct net_rx *rx)
{
	struct net_rx_frame *f, *next;

	for (f = rx->head; f; f = next) {
		next = f->next;
		free(f);
		rx->stats.dropped++;
	}
	rx->head = NULL;
	rx->tail = &rx->head;
	rx->stats.pending = 0;
	rx->stats.pending_bytes = 0;
}

void net_rx_stop(struct net_rx *rx)
{
	net_rx_drop_waiting(rx);
	rx->nslots = rx->niov = 0;
	rx->cap = 0;
	rx->need_notify = false;
	rx->broken = false;
}

void net_rx_start(struct net_rx *rx, uint64_t acked)
{
	net_rx_stop(rx);
	rx->acked = acked;
	rx->mergeable = acked & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	/* A fresh queue asks for kicks; the first round that finds buffers turns them off. */
	rx->starved = true;
}

void net_rx_free(struct net_rx *rx)
{
	net_rx_drop_waiting(rx);
	free(rx->chain);
	rx->chain = NULL;
}

/* Take the next chain from the ring and hold it. 1: taken (or a useless empty one given
 * back), 0: the ring is empty, -ENOSPC: no room to hold it, -EIO: the driver broke the
 * queue (the device now needs a reset). */
static int net_rx_take(struct net_rx *rx)
{
	struct virtq *vq = net_rx_vq(rx);
	struct virtq_chain *c = rx->chain;
	struct net_rx_slot *s;
	int r;

	if (rx->nslots == NET_RX_MAX_SLOTS)
		return -ENOSPC;
	r = virtq_pop(vq, c);
	if (r == 0)
		return 0;
	if (r < 0 || c->nout) {
		rx->broken = true;
		virtio_device_broken(rx->vdev, r < 0 ? "bad receive descriptor chain"
						     : "receive buffer the device cannot write");
		return -EIO;
	}
	if (c->in_len == 0) {
		/* Only zero-length buffers: nothing fits; back it goes, unused. */
		virtq_push(vq, c->head, 0);
		rx->need_notify = true;
		return 1;
	}
	if (c->nin > NET_RX_MAX_IOVS - rx->niov) {
		virtq_unpop(vq);
		return -ENOSPC;
	}
	s = &rx->slot[rx->nslots++];
	*s = (struct net_rx_slot){
	    .head = c->head, .iov = rx->niov, .niov = c->nin, .cap = c->in_len};
	memcpy(&rx->iov[rx->niov], &c->iov[c->nout], c->nin * sizeof(struct iovec));
	rx->niov += c->nin;
	rx->cap += c->in_len;
	return 1;
}

/* Copy len bytes into the buffers iov[0..n), starting off bytes in. */
static void net_rx_write(const struct iovec *iov, unsigned n, size_t off, const void *src,
			 size_t len)
{
	for (unsigned i = 0; i < n && len; i++) {
		size_t l = iov[i].iov_len, k;
		if (off >= l) {
			off -= l;
			continue;
		}
		k = l - off < len ? l - off : len;
		memcpy((uint8_t *)iov[i].iov_base + off, src, k);
		src = (const uint8_t *)src + k;
		len -= k;
		off = 0;
	}
}

/* Forget the first k held chains (used now); the rest move to the front. */
static void net_rx_release(struct net_rx *rx, unsigned k)
{
	unsigned first = k < rx->nslots ? rx->slot[k].iov : rx->niov;

	for (unsigned i = 0; i < k; i++)
		rx->cap -= rx->slot[i].cap;
	memmove(rx->slot, rx->slot + k, (rx->nslots - k) * sizeof(rx->slot[0]));
	rx->nslots -= k;
	memmove(rx->iov, rx->iov + first, (rx->niov - first) * sizeof(rx->iov[0]));
	rx->niov -= first;
	for (unsigned i = 0; i < rx->nslots; i++)
		rx->slot[i].iov -= first;
}

/* Write header and frame into the first held chains, which hold enough, and publish them
 * as one packet. */
static void net_rx_fill(struct net_rx *rx, struct virtio_net_hdr *hdr, const uint8_t *frame,
			size_t len)
{
	struct virtq_used_elem used[NET_RX_MAX_SLOTS];
	size_t total = sizeof(*hdr) + len, pos = 0, n, h;
	unsigned k = 0;

	for (size_t sum = 0; sum < total; k++)
		sum += rx->slot[k].cap;
	hdr->num_buffers = k;
	for (unsigned i = 0; i < k; i++) {
		const struct net_rx_slot *s = &rx->slot[i];
		const struct iovec *iov = &rx->iov[s->iov];

		n = s->cap < total - pos ? s->cap : total - pos;
		h = 0;
		if (pos < sizeof(*hdr)) { /* a driver may split even the header */
			h = sizeof(*hdr) - pos < n ? sizeof(*hdr) - pos : n;
			net_rx_write(iov, s->niov, 0, (const uint8_t *)hdr + pos, h);
		}
		if (n > h)
			net_rx_write(iov, s->niov, h, frame + (pos + h - sizeof(*hdr)), n - h);
		used[i] = (struct virtq_used_elem){.id = s->head, .len = n};
		pos += n;
	}
	net_virtq_push_batch(net_rx_vq(rx), used, k);
	net_rx_release(rx, k);
	rx->stats.frames++;
	/* Tell the driver now, not after the batch: it works on this frame while we place the
	 * next (a driver busy polling has interrupts off, so this costs it nothing then). */
	rx->need_notify = true;
	net_rx_notify(rx);
}

/* 1: delivered, 0: the ring ran dry first (the chains taken so far stay held), -1: dropped
 * (offloads the driver refused, more buffers than we hold, a broken queue). */
static int net_rx_place(struct net_rx *rx, const struct virtio_net_hdr *in, const void *frame,
			size_t len)
{
	struct virtio_net_hdr hdr = *in;
	size_t total = sizeof(hdr) + len;
	int r = 1;

	if (rx->broken || len > NET_FRAME_MAX || virtio_net_hdr_check_rx(&hdr, rx->acked) != 0)
		return -1;
	/* Without mergeable buffers the whole packet goes into the one next chain. */
	while (rx->cap < total && (rx->mergeable || rx->nslots == 0)) {
		r = net_rx_take(rx);
		if (r == 0)
			return 0;
		if (r < 0)
			break;
	}
	if (rx->cap < total || (!rx->mergeable && rx->slot[0].cap < total))
		return -1;
	net_rx_fill(rx, &hdr, frame, len);
	return 1;
}

static void net_rx_enqueue(struct net_rx *rx, const struct virtio_net_hdr *hdr, const void *frame,
			   size_t len)
{
	struct net_rx_frame *f;

	if (rx->stats.pending >= NET_RX_PENDING_FRAMES ||
	    len > NET_RX_PENDING_BYTES - rx->stats.pending_bytes ||
	    !(f = malloc(sizeof(*f) + len))) {
		rx->stats.dropped++;
		return;
	}
	f->next = NULL;
	f->hdr = *hdr;
	f->len = len;
	memcpy(f->data, frame, len);
	*rx->tail = f;
	rx->tail = &f->next;
	rx->stats.pending++;
	rx->stats.pending_bytes += len;
}

bool net_rx_frame(struct net_rx *rx, const struct virtio_net_hdr *hdr, const void *frame,
		  size_t len)
{
	if (!rx->head) {
		int r = net_rx_place(rx, hdr, frame, len);
		if (r < 0)
			rx->stats.dropped++;
		if (r != 0)
			return true;
	}
	net_rx_enqueue(rx, hdr, frame, len);
	return false;
}

/* Deliver waiting frames, oldest first, while buffers last. */
static void net_rx_flush(struct net_rx *rx)
{
	struct net_rx_frame *f;
	int r;

	while ((f = rx->head)) {
		r = net_rx_place(rx, &f->hdr, f->data, f->len);
		if (r == 0)
			return;
		if (r < 0)
			rx->stats.dropped++;
		rx->head = f->next;
		if (!rx->head)
			rx->tail = &rx->head;
		rx->stats.pending--;
		rx->stats.pending_bytes -= f->len;
		free(f);
	}
}

bool net_rx_room(struct net_rx *rx)
{
	struct virtq *vq = net_rx_vq(rx);

	for (;;) {
		net_rx_flush(rx);
		if (!rx->head && !rx->broken && (rx->cap || virtq_has_work(vq))) {
			if (rx->starved) {
				virtq_set_notify(vq, false);
				rx->starved = false;
			}
			return true;
		}
		if (rx->starved || rx->broken)
			return false;
		/* Kick us when buffers come; if some came meanwhile, go round again. */
		rx->starved = true;
		if (!virtq_set_notify(vq, true))
			return false;
	}
}

void net_rx_notify(struct net_rx *rx)
{
	if (!rx->need_notify)
		return;
	rx->need_notify = false;
	virtio_queue_notify(rx->vdev, rx->q);
}
