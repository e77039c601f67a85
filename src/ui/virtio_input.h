/*
 * virtio-input (virtio 1.2, 5.8): a keyboard or an absolute tablet fed by the window.
 * Events wait in a bounded queue until the guest's driver has buffers for them; when the
 * guest does not read, new events are dropped (whole reports), never piled up.
 */
#ifndef SMOLVM_VIRTIO_INPUT_H
#define SMOLVM_VIRTIO_INPUT_H

#include <stdint.h>

struct vm;
struct virtio_device;
struct virtio_input;

enum virtio_input_kind {
	VIRTIO_INPUT_KEYBOARD, /* EV_KEY (every key ui/keymap.c knows), EV_REP, EV_LED */
	VIRTIO_INPUT_TABLET,   /* EV_ABS X/Y 0..32767, EV_KEY left/right/middle, EV_REL wheel */
};

/* Linux's event types and codes (input-event-codes.h) the devices use. */
#define INPUT_EV_SYN	  0x00
#define INPUT_EV_KEY	  0x01
#define INPUT_EV_REL	  0x02
#define INPUT_EV_ABS	  0x03
#define INPUT_EV_LED	  0x11
#define INPUT_EV_REP	  0x14
#define INPUT_SYN_REPORT  0
#define INPUT_ABS_X	  0x00
#define INPUT_ABS_Y	  0x01
#define INPUT_REL_WHEEL	  0x08
#define INPUT_BTN_LEFT	  0x110
#define INPUT_BTN_RIGHT	  0x111
#define INPUT_BTN_MIDDLE  0x112

/* Events the queue holds while the guest reads none. */
#define VIRTIO_INPUT_PENDING_MAX 256

/* The event as the guest's buffers get it (5.8.6), host-endian here (x86: little). */
struct virtio_input_event {
	uint16_t type;
	uint16_t code;
	uint32_t value;
};

/* The device as a PCI function of vm; NULL after one line naming the problem. */
struct virtio_input *virtio_input_create(struct vm *vm, enum virtio_input_kind kind);

/* The device without its PCI function, for unit tests. */
struct virtio_input *virtio_input_new(enum virtio_input_kind kind);
struct virtio_device *virtio_input_vdev(struct virtio_input *in);
void virtio_input_free(struct virtio_input *in);

/* Queue one report: n events, the last of which should be EV_SYN/SYN_REPORT. Safe from any
 * thread, never blocks on the guest. 0, or -ENOSPC when the report was dropped whole (the
 * guest is not reading) or -EINVAL (n == 0 or above VIRTIO_INPUT_PENDING_MAX). */
int virtio_input_send(struct virtio_input *in, const struct virtio_input_event *ev, unsigned n);

/* What the device's worker does when queue q (0: eventq, 1: statusq) is kicked; fuzzers
 * call it directly, on a device whose worker is not running. */
void virtio_input_serve_queue(struct virtio_input *in, unsigned q);

#endif
