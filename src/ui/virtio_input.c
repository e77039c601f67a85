/*
 * virtio-input (virtio 1.2, 5.8): the window's keyboard and tablet.
 *
 * Threads: the window's thread queues reports (virtio_input_send) and wakes the device's
 * worker through an eventfd; the worker alone moves them into the guest's eventq buffers
 * and drains the statusq. vCPU threads read and write the configuration space. One mutex
 * guards the pending events, another the configuration: neither is ever held while
 * waiting for the guest.
 */
#include "ui/virtio_input.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ui/display_geometry.h"
#include "ui/keymap.h"
#include "virtio/virtio.h"
#include "virtio/virtio_worker.h"
#include "vmm/log.h"

#define INPUT_QUEUE_SIZE 64
#define INPUT_EVENTQ	 0
#define INPUT_STATUSQ	 1

/* The select values of the configuration space (5.8.2). */
#define INPUT_CFG_UNSET	    0x00
#define INPUT_CFG_ID_NAME   0x01
#define INPUT_CFG_ID_SERIAL 0x02
#define INPUT_CFG_ID_DEVIDS 0x03
#define INPUT_CFG_PROP_BITS 0x10
#define INPUT_CFG_EV_BITS   0x11
#define INPUT_CFG_ABS_INFO  0x12

#define INPUT_BUS_VIRTUAL 0x06	 /* Linux's BUS_VIRTUAL */
#define INPUT_VENDOR	  0x1af4 /* the virtio vendor id, as a PCI virtio device has */
#define INPUT_LED_MASK	  0x07	 /* num, caps, scroll lock */
#define INPUT_REP_MASK	  0x03	 /* REP_DELAY, REP_PERIOD */

struct virtio_input_config {
	uint8_t select;
	uint8_t subsel;
	uint8_t size;
	uint8_t reserved[5];
	uint8_t u[128]; /* string, bitmap, absinfo or devids, by select */
};

struct virtio_input {
	struct virtio_device vdev;
	struct virtio_worker worker;
	struct virtq_chain chain;
	enum virtio_input_kind kind;
	int wake_fd; /* eventfd: reports are pending */

	pthread_mutex_t pending_lock;
	struct virtio_input_event pending[VIRTIO_INPUT_PENDING_MAX];
	unsigned head, count; /* a ring */
	unsigned long dropped;

	pthread_mutex_t config_lock;
	struct virtio_input_config config;
};

static void bitmap_set(uint8_t *map, unsigned bit)
{
	map[bit / 8] |= 1u << (bit % 8);
}

/* The bitmap of EV_BITS for event type subsel. */
static void input_ev_bits(const struct virtio_input *in, uint8_t subsel, uint8_t *map)
{
	if (in->kind == VIRTIO_INPUT_KEYBOARD) {
		switch (subsel) {
		case INPUT_EV_KEY:
			for (uint32_t usage = 0; usage < 0x100; usage++) {
				uint16_t code = keymap_linux_from_hid(usage);
				if (code)
					bitmap_set(map, code);
			}
			break;
		case INPUT_EV_REP: /* the guest repeats held keys itself, at its own rate */
			map[0] = INPUT_REP_MASK;
			break;
		case INPUT_EV_LED: /* accepted on the statusq, and ignored */
			map[0] = INPUT_LED_MASK;
			break;
		}
		return;
	}
	switch (subsel) {
	case INPUT_EV_KEY:
		bitmap_set(map, INPUT_BTN_LEFT);
		bitmap_set(map, INPUT_BTN_RIGHT);
		bitmap_set(map, INPUT_BTN_MIDDLE);
		break;
	case INPUT_EV_ABS:
		bitmap_set(map, INPUT_ABS_X);
		bitmap_set(map, INPUT_ABS_Y);
		break;
	case INPUT_EV_REL:
		bitmap_set(map, INPUT_REL_WHEEL);
		break;
	}
}

static unsigned input_string(uint8_t *u, const char *s)
{
	size_t n = strlen(s);

	memcpy(u, s, n); /* not terminated: size says where it ends */
	return (unsigned)n;
}

/* Fill size and u for the current select/subsel (5.8.4). Config lock held. */
static void input_config_update(struct virtio_input *in)
{
	struct virtio_input_config *c = &in->config;
	bool tablet = in->kind == VIRTIO_INPUT_TABLET;
	unsigned size = 0;

	memset(c->u, 0, sizeof(c->u));
	switch (c->select) {
	case INPUT_CFG_ID_NAME:
		size = input_string(c->u, tablet ? "smolvm tablet" : "smolvm keyboard");
		break;
	case INPUT_CFG_ID_SERIAL:
		size = input_string(c->u, tablet ? "smolvm-tablet-0" : "smolvm-keyboard-0");
		break;
	case INPUT_CFG_ID_DEVIDS:
		if (c->subsel == 0) {
			uint16_t ids[4] = {INPUT_BUS_VIRTUAL, INPUT_VENDOR, tablet ? 2 : 1, 1};
			memcpy(c->u, ids, sizeof(ids));
			size = sizeof(ids);
		}
		break;
	case INPUT_CFG_PROP_BITS:
		break; /* no INPUT_PROP_*: an ordinary keyboard and pointer */
	case INPUT_CFG_EV_BITS:
		input_ev_bits(in, c->subsel, c->u);
		for (unsigned i = 0; i < sizeof(c->u); i++)
			if (c->u[i])
				size = i + 1;
		break;
	case INPUT_CFG_ABS_INFO:
		if (tablet && (c->subsel == INPUT_ABS_X || c->subsel == INPUT_ABS_Y)) {
			/* min, max, fuzz, flat, res */
			uint32_t abs[5] = {0, DISPLAY_ABS_MAX, 0, 0, 0};
			memcpy(c->u, abs, sizeof(abs));
			size = sizeof(abs);
		}
		break;
	}
	c->size = (uint8_t)size;
}

static void input_config_read(struct virtio_device *vdev, unsigned off, void *buf, unsigned len)
{
	struct virtio_input *in = vdev->priv;

	/* The transport checked off + len <= config_size. */
	pthread_mutex_lock(&in->config_lock);
	memcpy(buf, (const uint8_t *)&in->config + off, len);
	pthread_mutex_unlock(&in->config_lock);
}

static void input_config_write(struct virtio_device *vdev, unsigned off, const void *buf,
			       unsigned len)
{
	struct virtio_input *in = vdev->priv;
	const uint8_t *b = buf;
	bool changed = false;

	/* Only select and subsel are the driver's to write; any other byte is ignored. */
	pthread_mutex_lock(&in->config_lock);
	for (unsigned i = 0; i < len; i++) {
		if (off + i == offsetof(struct virtio_input_config, select)) {
			in->config.select = b[i];
			changed = true;
		} else if (off + i == offsetof(struct virtio_input_config, subsel)) {
			in->config.subsel = b[i];
			changed = true;
		}
	}
	if (changed)
		input_config_update(in);
	pthread_mutex_unlock(&in->config_lock);
}

/* Move pending events into the guest's eventq buffers, one event per buffer (5.8.6). */
static void input_deliver(struct virtio_input *in)
{
	struct virtq *vq = &in->vdev.queue[INPUT_EVENTQ].vq;
	bool used = false;
	int r = 0;

	pthread_mutex_lock(&in->pending_lock);
	while (in->count > 0 && (r = virtq_pop(vq, &in->chain)) > 0) {
		const struct virtio_input_event *ev = &in->pending[in->head];

		/* A buffer too small for an event goes back empty; the event waits. */
		if (in->chain.in_len < sizeof(*ev)) {
			virtq_push(vq, in->chain.head, 0);
			used = true;
			continue;
		}
		virtq_push(vq, in->chain.head,
			   (uint32_t)virtq_chain_write(&in->chain, 0, ev, sizeof(*ev)));
		in->head = (in->head + 1) % VIRTIO_INPUT_PENDING_MAX;
		in->count--;
		used = true;
	}
	pthread_mutex_unlock(&in->pending_lock);
	if (used)
		virtio_queue_notify(&in->vdev, INPUT_EVENTQ);
	if (r < 0)
		virtio_device_broken(&in->vdev, "bad descriptor chain on the eventq");
}

/* The guest's LED states and the like: taken, given back, never read. */
static void input_drain_status(struct virtio_input *in)
{
	struct virtq *vq = &in->vdev.queue[INPUT_STATUSQ].vq;
	int r;

	do {
		virtq_set_notify(vq, false);
		while ((r = virtq_pop(vq, &in->chain)) > 0)
			virtq_push(vq, in->chain.head, 0);
		virtio_queue_notify(&in->vdev, INPUT_STATUSQ);
		if (r < 0) {
			virtio_device_broken(&in->vdev, "bad descriptor chain on the statusq");
			return;
		}
	} while (virtq_set_notify(vq, true));
}

void virtio_input_serve_queue(struct virtio_input *in, unsigned q)
{
	if (q == INPUT_EVENTQ)
		input_deliver(in); /* new buffers: pending events can go */
	else if (q == INPUT_STATUSQ)
		input_drain_status(in);
}

static void input_kick(struct virtio_device *vdev, unsigned q)
{
	virtio_input_serve_queue(vdev->priv, q);
}

static void input_wake(struct virtio_device *vdev, int fd)
{
	struct virtio_input *in = vdev->priv;

	eventfd_read(fd, &(eventfd_t){0});
	input_deliver(in);
}

static int input_activate(struct virtio_device *vdev)
{
	struct virtio_input *in = vdev->priv;

	return virtio_worker_start(&in->worker, "virtio-input");
}

static void input_reset(struct virtio_device *vdev)
{
	struct virtio_input *in = vdev->priv;

	virtio_worker_stop(&in->worker);
	/* What the old driver did not read is no news for the next one. */
	pthread_mutex_lock(&in->pending_lock);
	in->head = in->count = 0;
	pthread_mutex_unlock(&in->pending_lock);
	pthread_mutex_lock(&in->config_lock);
	in->config.select = in->config.subsel = 0;
	input_config_update(in);
	pthread_mutex_unlock(&in->config_lock);
}

static const struct virtio_device_ops input_ops = {
	.config_read = input_config_read,
	.config_write = input_config_write,
	.activate = input_activate,
	.reset = input_reset,
};

int virtio_input_send(struct virtio_input *in, const struct virtio_input_event *ev, unsigned n)
{
	if (n == 0 || n > VIRTIO_INPUT_PENDING_MAX)
		return -EINVAL;
	pthread_mutex_lock(&in->pending_lock);
	/* A report goes whole or not at all: half of one would confuse the guest. */
	if (VIRTIO_INPUT_PENDING_MAX - in->count < n) {
		in->dropped++;
		pthread_mutex_unlock(&in->pending_lock);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < n; i++)
		in->pending[(in->head + in->count + i) % VIRTIO_INPUT_PENDING_MAX] = ev[i];
	in->count += n;
	pthread_mutex_unlock(&in->pending_lock);
	eventfd_write(in->wake_fd, 1);
	return 0;
}

struct virtio_input *virtio_input_new(enum virtio_input_kind kind)
{
	struct virtio_input *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->kind = kind;
	in->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	in->vdev = (struct virtio_device){
		.name = kind == VIRTIO_INPUT_TABLET ? "virtio-input tablet" : "virtio-input keyboard",
		.ops = &input_ops,
		.priv = in,
		.device_id = VIRTIO_ID_INPUT,
		.config_size = sizeof(in->config),
	};
	in->worker = (struct virtio_worker){
		.vdev = &in->vdev,
		.queues = 1u << INPUT_EVENTQ | 1u << INPUT_STATUSQ,
		.on_kick = input_kick,
		.extra_fd = {in->wake_fd},
		.nextra = 1,
		.on_extra = input_wake,
	};
	pthread_mutex_init(&in->pending_lock, NULL);
	pthread_mutex_init(&in->config_lock, NULL);
	input_config_update(in);
	if (in->wake_fd < 0 || virtio_device_init(&in->vdev, 2, INPUT_QUEUE_SIZE) != 0) {
		virtio_input_free(in);
		return NULL;
	}
	return in;
}

struct virtio_device *virtio_input_vdev(struct virtio_input *in)
{
	return &in->vdev;
}

void virtio_input_free(struct virtio_input *in)
{
	virtio_worker_stop(&in->worker);
	pthread_mutex_destroy(&in->pending_lock);
	pthread_mutex_destroy(&in->config_lock);
	virtio_device_release(&in->vdev);
	if (in->wake_fd >= 0)
		close(in->wake_fd);
	free(in);
}

struct virtio_input *virtio_input_create(struct vm *vm, enum virtio_input_kind kind)
{
	struct virtio_input *in = virtio_input_new(kind);
	int err = in ? virtio_pci_add(vm, &in->vdev) : -ENOMEM;

	if (err) {
		log_error("cannot create the virtio-input device: %s", strerror(-err));
		if (in)
			virtio_input_free(in);
		return NULL;
	}
	return in;
}
