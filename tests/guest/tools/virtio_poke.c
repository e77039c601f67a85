/*
 * virtio_poke: drive a virtio-pci device's common configuration by hand, as a hostile or
 * buggy driver would, for tests/integration/test_virtio_hostile.py, with the user-space
 * driver of vq_driver.h. Static; run as root on a device no driver is bound to.
 *
 * Usage: virtio_poke /sys/bus/pci/devices/0000:00:0N.0
 *
 * The program is the device's only driver while it runs: it finds the common configuration,
 * notify area and ISR through the virtio vendor capabilities (virtio 1.2, 4.1.4), maps the
 * BAR through sysfs, and gives its queues (up to 8) real rings in a locked page of its own:
 * all zeros, hence empty, so the device finds nothing to do. Every queue, so that a device
 * starts all its threads (virtio-fs's request workers come only with queue 1). Then it does,
 * each after a reset:
 *   1. a proper start (ACKNOWLEDGE, DRIVER, VERSION_1, FEATURES_OK, the queues, DRIVER_OK)
 *      with out-of-order writes in between: queue registers before FEATURES_OK, after the
 *      queue is enabled and after DRIVER_OK, driver features after FEATURES_OK; then status
 *      0x0B and 0x0F twenty times with queue notifications after each (issue 9: each
 *      0x0B -> 0x0F started the device's threads once more);
 *   2. DRIVER_OK without FEATURES_OK;
 *   3. clearing FEATURES_OK on a live device, then DRIVER_OK again;
 *   4. clearing ACKNOWLEDGE on a live device;
 * and finally a reset, which must read back 0 before the page of rings goes away.
 * It judges nothing else: it prints what it reads back, one line per step,
 *   STATUS step=NAME value=0xNN    QUEUE step=NAME size=N enable=N desc=0xADDR
 *   FEATURES step=NAME lo=0xN hi=0xN    ISR step=NAME value=0xN
 * then POKE-DONE. Exit status 0, or 1 with a message when it cannot do its work (or the
 * final reset does not read back 0).
 */
#include <stdint.h>
#include <stdio.h>

#include "vq_driver.h"

#define RING_SLOT 512 /* per queue in page 0: 16 descriptors, avail and used rings */
#define CYCLES	  20

/* The device's registers and our rings, as vq_open() found and made them. */
static volatile struct vq_common *cc;
static volatile uint8_t *isr;
static uint64_t ring_pa; /* guest-physical address of the page holding the rings */
static uint16_t ring_size[VQ_MAX_QUEUES];
static unsigned nqueues;

static uint8_t status_show(const char *step)
{
	uint8_t s = cc->device_status;
	printf("STATUS step=%s value=0x%02x\n", step, s);
	return s;
}

static void status_set(uint8_t s, const char *step)
{
	cc->device_status = s;
	status_show(step);
}

static void queue_show(const char *step)
{
	uint64_t desc;

	cc->queue_select = 0;
	desc = (uint64_t)cc->queue_desc_hi << 32 | cc->queue_desc_lo;
	printf("QUEUE step=%s size=%u enable=%u desc=0x%llx\n", step, cc->queue_size,
	       cc->queue_enable, (unsigned long long)desc);
}

static void features_show(const char *step)
{
	uint32_t lo, hi;
	cc->driver_feature_select = 0;
	lo = cc->driver_feature;
	cc->driver_feature_select = 1;
	hi = cc->driver_feature;
	printf("FEATURES step=%s lo=0x%x hi=0x%x\n", step, lo, hi);
}

static void queues_notify(void)
{
	for (unsigned q = 0; q < nqueues; q++)
		vq_notify(q);
}

/* Status 0, then wait for the device to read back 0: it may finish in-flight work first
 * (4.1.4.3.2). */
static int reset(const char *step)
{
	cc->device_status = 0;
	for (int i = 0; i < 1000 && cc->device_status != 0; i++)
		usleep(1000);
	return status_show(step);
}

/* ACKNOWLEDGE and DRIVER, and driver features VERSION_1 (bit 32) alone. */
static void negotiate(void)
{
	status_set(VQ_ACKNOWLEDGE, "acknowledge");
	status_set(VQ_ACKNOWLEDGE | VQ_DRIVER, "driver");
	cc->driver_feature_select = 0;
	cc->driver_feature = 0;
	cc->driver_feature_select = 1;
	cc->driver_feature = 1;
}

/* Each queue on its slot of our page: descriptors at 0, available ring at 256, used ring
 * at 296 (16 entries fit, with the alignments of 2.7). All zeros: nothing for the device. */
static void queues_setup(void)
{
	for (unsigned q = 0; q < nqueues; q++) {
		uint64_t desc = ring_pa + q * RING_SLOT, avail = desc + 256, used = desc + 296;
		cc->queue_select = q;
		cc->queue_size = ring_size[q];
		cc->queue_desc_lo = (uint32_t)desc;
		cc->queue_desc_hi = desc >> 32;
		cc->queue_driver_lo = (uint32_t)avail;
		cc->queue_driver_hi = avail >> 32;
		cc->queue_device_lo = (uint32_t)used;
		cc->queue_device_hi = used >> 32;
		cc->queue_enable = 1;
	}
}

/* A live device the proper way: negotiate, FEATURES_OK, the queues, DRIVER_OK. */
static void start(const char *what)
{
	char step[64];

	negotiate();
	snprintf(step, sizeof(step), "%s-features-ok", what);
	status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK, step);
	queues_setup();
	snprintf(step, sizeof(step), "%s-driver-ok", what);
	status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK | VQ_DRIVER_OK, step);
}

int main(int argc, char **argv)
{
	char step[32];

	if (argc != 2) {
		fprintf(stderr, "usage: virtio_poke /sys/bus/pci/devices/DDDD:BB:DD.F\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Rings the device may read and write: page 0, locked until the final reset. */
	vq_open(argv[1]);
	cc = vqd.cc;
	isr = vqd.isr;
	ring_pa = vqd.pa[0];

	/* 1. A proper start with out-of-order writes in between, then the issue 9 cycles. */
	reset("reset");
	queue_show("reset"); /* the size reads back the device's maximum */
	nqueues = cc->num_queues < VQ_MAX_QUEUES ? cc->num_queues : VQ_MAX_QUEUES;
	for (unsigned q = 0; q < nqueues; q++) {
		cc->queue_select = q;
		ring_size[q] = cc->queue_size < VQ_SIZE_OTHER ? cc->queue_size : VQ_SIZE_OTHER;
		if (ring_size[q] == 0) {
			fprintf(stderr, "virtio_poke: queue %u has size 0\n", q);
			return 1;
		}
	}
	printf("QUEUES n=%u\n", nqueues);
	negotiate();
	cc->queue_select = 0;
	cc->queue_size = ring_size[0] / 2; /* before FEATURES_OK: ignored */
	queue_show("before-features-ok");
	status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK, "features-ok");
	cc->driver_feature_select = 0; /* after FEATURES_OK: ignored */
	cc->driver_feature = 0xffffffff;
	cc->driver_feature_select = 1;
	cc->driver_feature = 0xffffffff;
	features_show("after-features-ok");
	queues_setup();
	queue_show("enabled");
	cc->queue_select = 0;
	cc->queue_size = ring_size[0] / 2; /* the queue is enabled: ignored */
	queue_show("after-enable");
	status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK | VQ_DRIVER_OK, "driver-ok");
	cc->queue_select = 0;
	cc->queue_size = ring_size[0] / 2; /* the device is live: all three ignored */
	cc->queue_desc_lo = 0;
	cc->queue_enable = 0;
	queue_show("after-driver-ok");
	status_show("live");
	(void)*isr; /* reading acknowledges: start the cycles with a clear ISR */
	for (int i = 1; i <= CYCLES; i++) {
		snprintf(step, sizeof(step), "clear-%d", i);
		status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK, step);
		if (i == 1)
			printf("ISR step=%s value=0x%x\n", step, *isr);
		queues_notify();
		snprintf(step, sizeof(step), "set-%d", i);
		status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK | VQ_DRIVER_OK, step);
		queues_notify();
	}

	/* 2. DRIVER_OK without FEATURES_OK. */
	reset("reset-2");
	negotiate();
	status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_DRIVER_OK, "driver-ok-without-features-ok");

	/* 3. FEATURES_OK cleared on a live device, then DRIVER_OK once more. */
	reset("reset-3");
	start("3");
	status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_DRIVER_OK, "clear-features-ok");
	status_set(VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK | VQ_DRIVER_OK, "set-again");
	queues_notify();

	/* 4. ACKNOWLEDGE cleared on a live device. */
	reset("reset-4");
	start("4");
	status_set(VQ_DRIVER | VQ_FEATURES_OK | VQ_DRIVER_OK, "clear-acknowledge");

	/* The device must let go of our rings before we free them. */
	if (reset("final") != 0) {
		fprintf(stderr, "virtio_poke: the final reset does not read back 0\n");
		return 1;
	}
	printf("POKE-DONE\n");
	return 0;
}
