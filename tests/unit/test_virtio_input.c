/*
 * virtio-input through its real worker thread, driven by the fake driver: the
 * configuration queries Linux's driver makes at probe (name, serial, ids, property and
 * event bitmaps, axis ranges), reports reaching eventq buffers in order, the bounded queue
 * dropping whole reports while the guest reads nothing, the statusq drained, a reset
 * forgetting what was pending; the PCI function; and the window's arithmetic it depends on
 * (the keymap, the letterbox, the pointer over the shown picture).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fake_machine.h"
#include "fake_virtio.h"
#include "ui/display_geometry.h"
#include "ui/keymap.h"
#include "ui/virtio_input.h"
#include "unit.h"

#define QSIZE	 64
#define RAM_SIZE (4u << 20)
#define WAIT_MS	 5000
#define EVENTQ	 0
#define STATUSQ	 1

/* Config space offsets (5.8.4). */
#define CFG_SELECT 0
#define CFG_SUBSEL 1
#define CFG_SIZE   2
#define CFG_U	   8

struct tdev {
	struct fake_driver d;
	struct virtio_input *in;
	struct virtio_device *vdev;
};

static void tdev_open(struct tdev *t, enum virtio_input_kind kind)
{
	t->in = virtio_input_new(kind);
	if (!t->in)
		abort();
	t->vdev = virtio_input_vdev(t->in);
	fake_driver_init(&t->d, RAM_SIZE);
	CHECK_EQ(fake_start(&t->d, t->vdev, 2, QSIZE, 0), 0);
}

static void tdev_close(struct tdev *t)
{
	virtio_input_free(t->in);
	fake_driver_destroy(&t->d);
}

/* The driver's query: select/subsel written, size and the union read back. */
static unsigned query(struct tdev *t, uint8_t select, uint8_t subsel, uint8_t *u)
{
	uint8_t size;

	t->vdev->ops->config_write(t->vdev, CFG_SELECT, &select, 1);
	t->vdev->ops->config_write(t->vdev, CFG_SUBSEL, &subsel, 1);
	t->vdev->ops->config_read(t->vdev, CFG_SIZE, &size, 1);
	memset(u, 0, 128);
	t->vdev->ops->config_read(t->vdev, CFG_U, u, 128);
	return size;
}

static bool bit(const uint8_t *map, unsigned b)
{
	return map[b / 8] & (1u << (b % 8));
}

/* n event buffers of len bytes each, on the eventq; returns the first one's address. */
static uint64_t give_buffers(struct tdev *t, unsigned n, uint32_t len)
{
	uint64_t first = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = fake_alloc(&t->d, len);
		struct fake_buf b = {gpa, len, 1};
		memset(fake_ptr(&t->d, gpa), 0xee, len);
		fake_queue_add(&t->d, EVENTQ, &b, 1);
		if (i == 0)
			first = gpa;
	}
	fake_kick(t->vdev, EVENTQ);
	return first;
}

/* The next used event buffer: its contents, the used length. */
static long next_event(struct tdev *t, struct virtio_input_event *ev, const uint64_t *gpas)
{
	uint32_t id, len;

	if (fake_wait_used(&t->d, EVENTQ, &id, &len, WAIT_MS) != 0)
		return -1;
	memcpy(ev, fake_ptr(&t->d, gpas[id]), sizeof(*ev));
	return len;
}

static void test_config_keyboard(void)
{
	struct tdev t;
	uint8_t u[128];
	unsigned size;

	tdev_open(&t, VIRTIO_INPUT_KEYBOARD);
	size = query(&t, 0x01, 0, u);
	CHECK_EQ(size, strlen("smolvm keyboard"));
	CHECK(memcmp(u, "smolvm keyboard", size) == 0);
	CHECK(query(&t, 0x02, 0, u) > 0);
	CHECK_EQ(query(&t, 0x03, 0, u), 8);
	CHECK_EQ(u[0] | u[1] << 8, 0x06); /* BUS_VIRTUAL */
	CHECK_EQ(query(&t, 0x10, 0, u), 0);
	/* EV_KEY: letters, Enter, the modifiers, F12; nothing past what the keymap knows. */
	size = query(&t, 0x11, INPUT_EV_KEY, u);
	CHECK(size > 0 && size <= 32);
	CHECK(bit(u, 30) && bit(u, 28) && bit(u, 29) && bit(u, 100) && bit(u, 88));
	CHECK(!bit(u, 0));
	CHECK_EQ(query(&t, 0x11, INPUT_EV_REP, u), 1);
	CHECK_EQ(query(&t, 0x11, INPUT_EV_LED, u), 1);
	CHECK_EQ(u[0], 0x07);
	CHECK_EQ(query(&t, 0x11, INPUT_EV_ABS, u), 0);
	CHECK_EQ(query(&t, 0x11, INPUT_EV_REL, u), 0);
	CHECK_EQ(query(&t, 0x12, INPUT_ABS_X, u), 0);
	/* Unknown selects and subsels: size 0, an all-zero union. */
	CHECK_EQ(query(&t, 0x00, 0, u), 0);
	CHECK_EQ(query(&t, 0x7f, 3, u), 0);
	CHECK_EQ(query(&t, 0x03, 1, u), 0);
	for (unsigned i = 0; i < 128; i++)
		CHECK_EQ(u[i], 0);
	tdev_close(&t);
}

static void test_config_tablet(void)
{
	struct tdev t;
	uint8_t u[128], junk[136], size, cfg[136];
	uint32_t abs[5];

	tdev_open(&t, VIRTIO_INPUT_TABLET);
	CHECK_EQ(query(&t, 0x01, 0, u), strlen("smolvm tablet"));
	CHECK(query(&t, 0x11, INPUT_EV_KEY, u) > 0);
	CHECK(bit(u, INPUT_BTN_LEFT) && bit(u, INPUT_BTN_RIGHT) && bit(u, INPUT_BTN_MIDDLE));
	CHECK(!bit(u, 30)); /* no keyboard keys */
	CHECK_EQ(query(&t, 0x11, INPUT_EV_ABS, u), 1);
	CHECK_EQ(u[0], 0x03);
	CHECK_EQ(query(&t, 0x11, INPUT_EV_REL, u), 2);
	CHECK(bit(u, INPUT_REL_WHEEL));
	CHECK_EQ(query(&t, 0x11, INPUT_EV_REP, u), 0);
	CHECK_EQ(query(&t, 0x12, INPUT_ABS_Y, u), 20);
	memcpy(abs, u, sizeof(abs));
	CHECK_EQ(abs[0], 0);
	CHECK_EQ(abs[1], DISPLAY_ABS_MAX);
	CHECK_EQ(query(&t, 0x12, 2, u), 0); /* ABS_Z: not ours */
	/* Writes to the read-only bytes (size, reserved, the union) change nothing. */
	query(&t, 0x12, INPUT_ABS_X, u);
	t.vdev->ops->config_read(t.vdev, 0, cfg, sizeof(cfg));
	memset(junk, 0x5a, sizeof(junk));
	t.vdev->ops->config_write(t.vdev, CFG_SIZE, junk, sizeof(junk) - CFG_SIZE);
	t.vdev->ops->config_read(t.vdev, 0, junk, sizeof(junk));
	CHECK(memcmp(cfg, junk, sizeof(cfg)) == 0);
	/* Select and subsel written in one two-byte access. */
	t.vdev->ops->config_write(t.vdev, CFG_SELECT, (uint8_t[]){0x11, INPUT_EV_ABS}, 2);
	t.vdev->ops->config_read(t.vdev, CFG_SIZE, &size, 1);
	CHECK_EQ(size, 1);
	tdev_close(&t);
}

static void test_events_in_order(void)
{
	struct virtio_input_event r[] = {{INPUT_EV_ABS, INPUT_ABS_X, 100},
					 {INPUT_EV_ABS, INPUT_ABS_Y, 32767},
					 {INPUT_EV_SYN, INPUT_SYN_REPORT, 0}};
	struct virtio_input_event ev;
	uint64_t gpas[QSIZE];
	struct tdev t;

	tdev_open(&t, VIRTIO_INPUT_TABLET);
	/* Sent before the guest has buffers: they wait, then arrive in order. */
	CHECK_EQ(virtio_input_send(t.in, r, 3), 0);
	for (unsigned i = 0; i < 4; i++)
		gpas[i] = give_buffers(&t, 1, 8);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(next_event(&t, &ev, gpas), 8);
		CHECK_EQ(ev.type, r[i].type);
		CHECK_EQ(ev.code, r[i].code);
		CHECK_EQ(ev.value, r[i].value);
	}
	/* One buffer left: the next event goes into it at once. */
	CHECK_EQ(virtio_input_send(t.in, &r[2], 1), 0);
	CHECK_EQ(next_event(&t, &ev, gpas), 8);
	CHECK_EQ(ev.type, INPUT_EV_SYN);
	/* A buffer too small for an event comes back empty; the event waits for the next. */
	CHECK_EQ(virtio_input_send(t.in, r, 1), 0);
	gpas[4] = give_buffers(&t, 1, 7);
	CHECK_EQ(next_event(&t, &ev, gpas), 0);
	gpas[5] = give_buffers(&t, 1, 64);
	CHECK_EQ(next_event(&t, &ev, gpas), 8);
	CHECK_EQ(ev.value, 100);
	CHECK_EQ(virtio_input_send(t.in, r, 0), -EINVAL);
	tdev_close(&t);
}

static void test_bounded_queue_and_reset(void)
{
	struct virtio_input_event r[] = {{INPUT_EV_KEY, 30, 1}, {INPUT_EV_SYN, 0, 0}};
	struct virtio_input_event ev;
	uint64_t gpas[QSIZE];
	unsigned sent = 0;
	struct tdev t;

	tdev_open(&t, VIRTIO_INPUT_KEYBOARD);
	/* The guest reads nothing: the queue fills up, then whole reports are dropped. */
	for (unsigned i = 0; i < 10 * VIRTIO_INPUT_PENDING_MAX; i++) {
		r[0].value = i;
		if (virtio_input_send(t.in, r, 2) == 0)
			sent++;
		else
			CHECK_EQ(virtio_input_send(t.in, r, 2), -ENOSPC);
	}
	CHECK_EQ(sent, VIRTIO_INPUT_PENDING_MAX / 2);
	/* The oldest are delivered first, whole. */
	for (unsigned i = 0; i < 4; i++)
		gpas[i] = give_buffers(&t, 1, 8);
	CHECK_EQ(next_event(&t, &ev, gpas), 8);
	CHECK_EQ(ev.value, 0);
	CHECK_EQ(next_event(&t, &ev, gpas), 8);
	CHECK_EQ(ev.type, INPUT_EV_SYN);
	CHECK_EQ(next_event(&t, &ev, gpas), 8);
	CHECK_EQ(ev.value, 1);
	CHECK_EQ(next_event(&t, &ev, gpas), 8);
	/* A reset forgets the rest: after it, only what is sent afterwards arrives. */
	fake_reset(&t.d, t.vdev);
	CHECK_EQ(fake_start(&t.d, t.vdev, 2, QSIZE, 0), 0);
	gpas[0] = give_buffers(&t, 1, 8);
	CHECK_EQ(fake_wait_used(&t.d, EVENTQ, NULL, NULL, 200), -1); /* nothing pending */
	r[0].value = 777;
	CHECK_EQ(virtio_input_send(t.in, r, 2), 0);
	CHECK_EQ(next_event(&t, &ev, gpas), 8);
	CHECK_EQ(ev.value, 777);
	tdev_close(&t);
}

static void test_statusq_drained(void)
{
	struct virtio_input_event led = {INPUT_EV_LED, 1, 1};
	struct tdev t;
	uint32_t id, len;

	tdev_open(&t, VIRTIO_INPUT_KEYBOARD);
	/* LED states, garbage, and a device-writable buffer: each given back, unused. */
	for (unsigned i = 0; i < 3; i++) {
		uint64_t gpa = fake_alloc(&t.d, 64);
		struct fake_buf b = {gpa, i == 1 ? 3 : 8, i == 2};
		memcpy(fake_ptr(&t.d, gpa), &led, sizeof(led));
		fake_queue_add(&t.d, STATUSQ, &b, 1);
	}
	fake_kick(t.vdev, STATUSQ);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(fake_wait_used(&t.d, STATUSQ, &id, &len, WAIT_MS), 0);
		CHECK_EQ(len, 0);
	}
	CHECK(!(t.vdev->status & VIRTIO_STATUS_NEEDS_RESET));
	tdev_close(&t);
}

static void test_keymap(void)
{
	CHECK_EQ(keymap_linux_from_hid(0x04), 30);  /* a: KEY_A */
	CHECK_EQ(keymap_linux_from_hid(0x1d), 44);  /* z: KEY_Z */
	CHECK_EQ(keymap_linux_from_hid(0x27), 11);  /* 0: KEY_0 */
	CHECK_EQ(keymap_linux_from_hid(0x28), 28);  /* Enter */
	CHECK_EQ(keymap_linux_from_hid(0x4c), 111); /* Delete */
	CHECK_EQ(keymap_linux_from_hid(0xe0), 29);  /* left Ctrl */
	CHECK_EQ(keymap_linux_from_hid(0xe6), 100); /* right Alt */
	CHECK_EQ(keymap_linux_from_hid(0x00), 0);
	CHECK_EQ(keymap_linux_from_hid(0xe8), 0);
	CHECK_EQ(keymap_linux_from_hid(0xffffffff), 0);
	for (uint32_t u = 0; u < 0x100; u++)
		CHECK(keymap_linux_from_hid(u) <= KEYMAP_LINUX_MAX);
}

static void test_geometry(void)
{
	struct display_rect r;
	uint32_t x, y;

	/* 1:1, wider (pillarbox), taller (letterbox), HiDPI doubled. */
	r = display_letterbox(800, 600, 800, 600);
	CHECK(r.x == 0 && r.y == 0 && r.w == 800 && r.h == 600);
	r = display_letterbox(800, 600, 1000, 600);
	CHECK(r.x == 100 && r.y == 0 && r.w == 800 && r.h == 600);
	r = display_letterbox(800, 600, 800, 700);
	CHECK(r.x == 0 && r.y == 50 && r.w == 800 && r.h == 600);
	r = display_letterbox(800, 600, 1600, 1200);
	CHECK(r.w == 1600 && r.h == 1200);
	r = display_letterbox(0, 600, 800, 600);
	CHECK(r.w == 0 && r.h == 0);
	r = display_letterbox(16384, 1, 1, 16384);
	CHECK(r.w == 1 && r.h == 1);
	/* The pointer over the shown picture, not the window: the bars clamp to its edge. */
	r = display_letterbox(800, 600, 1000, 600);
	CHECK(display_point_to_abs(&r, 100, 0, &x, &y));
	CHECK(x == 0 && y == 0);
	CHECK(display_point_to_abs(&r, 899, 599, &x, &y));
	CHECK(x == DISPLAY_ABS_MAX && y == DISPLAY_ABS_MAX);
	CHECK(display_point_to_abs(&r, 500, 300, &x, &y));
	CHECK(x >= 16390 && x <= 16420 && y >= 16390 && y <= 16420);
	CHECK(display_point_to_abs(&r, 5, -40, &x, &y));
	CHECK(x == 0 && y == 0);
	CHECK(display_point_to_abs(&r, 990, 9999, &x, &y));
	CHECK(x == DISPLAY_ABS_MAX && y == DISPLAY_ABS_MAX);
	r.w = 0;
	CHECK(!display_point_to_abs(&r, 1, 1, &x, &y));
}

/* What the window adds: two PCI functions with virtio-input's ids and class. */
static void test_pci_function(void)
{
	static struct fake_machine m;
	unsigned devfn = (FAKE_NDEVS + 1) << 3;

	fake_machine_init(&m);
	CHECK(virtio_input_create(&m.vm, VIRTIO_INPUT_KEYBOARD) != NULL);
	CHECK(virtio_input_create(&m.vm, VIRTIO_INPUT_TABLET) != NULL);
	CHECK_EQ(pci_config_read(&m.vm, devfn, 0, 4), (0x1040u + 18) << 16 | 0x1af4);
	CHECK_EQ(pci_config_read(&m.vm, devfn, 8, 4) >> 8, 0x098000);
	CHECK_EQ(pci_config_read(&m.vm, devfn + 8, 0, 4), (0x1040u + 18) << 16 | 0x1af4);
	fake_machine_remove_files(&m);
}

int main(void)
{
	RUN(test_config_keyboard);
	RUN(test_config_tablet);
	RUN(test_events_in_order);
	RUN(test_bounded_queue_and_reset);
	RUN(test_statusq_drained);
	RUN(test_keymap);
	RUN(test_geometry);
	RUN(test_pci_function);
	return UNIT_RESULT();
}
