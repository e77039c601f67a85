/*
 * virtio_poke: drive a virtio-pci device's common configuration by hand, as a hostile or
 * buggy driver would, for tests/integration/test_virtio_hostile.py. Busybox cannot map a
 * BAR. Static, no dependencies; run as root on a device no driver is bound to.
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
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Device status bits (2.1). */
#define ACKNOWLEDGE 0x01
#define DRIVER	    0x02
#define DRIVER_OK   0x04
#define FEATURES_OK 0x08

#define RING_SIZE  16
#define RING_SLOT  512 /* per queue in the page: 16 descriptors, avail and used rings */
#define MAX_QUEUES 8   /* 8 slots of 512 bytes: one page */
#define CYCLES	   20

/* The common configuration structure (4.1.4.3). */
struct common_cfg {
	uint32_t device_feature_select, device_feature;
	uint32_t driver_feature_select, driver_feature;
	uint16_t config_msix_vector, num_queues;
	uint8_t device_status, config_generation;
	uint16_t queue_select, queue_size, queue_msix_vector, queue_enable, queue_notify_off;
	uint32_t queue_desc_lo, queue_desc_hi, queue_driver_lo, queue_driver_hi;
	uint32_t queue_device_lo, queue_device_hi;
};
_Static_assert(sizeof(struct common_cfg) == 0x38, "the layout of 4.1.4.3");

static volatile struct common_cfg *cc;
static volatile uint8_t *isr;
static volatile uint8_t *notify_base;
static uint32_t notify_mult;
static uint64_t ring_pa; /* guest-physical address of the page holding the rings */
static uint16_t ring_size[MAX_QUEUES];
static unsigned nqueues;

static void die(const char *what)
{
	fprintf(stderr, "virtio_poke: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

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
	for (unsigned q = 0; q < nqueues; q++) {
		cc->queue_select = q;
		*(volatile uint16_t *)(notify_base + cc->queue_notify_off * notify_mult) = q;
	}
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
	status_set(ACKNOWLEDGE, "acknowledge");
	status_set(ACKNOWLEDGE | DRIVER, "driver");
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
	status_set(ACKNOWLEDGE | DRIVER | FEATURES_OK, step);
	queues_setup();
	snprintf(step, sizeof(step), "%s-driver-ok", what);
	status_set(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, step);
}

/* The virtio vendor capabilities in PCI configuration space (4.1.4): which BAR, and where
 * in it, the common configuration, notify area and ISR are. */
static int find_caps(const uint8_t *cfg, size_t len, uint64_t off[4], int *bar)
{
	int found = 0;

	if (!(cfg[6] & 0x10)) /* status: no capabilities list */
		return -1;
	for (unsigned p = cfg[0x34] & ~3u, hops = 0; p && p + 20 <= len && hops < 48;
	     p = cfg[p + 1] & ~3u, hops++) {
		uint8_t type = cfg[p + 3];
		uint32_t o;
		if (cfg[p] != 0x09 || type < 1 || type > 3) /* vendor: common, notify, ISR */
			continue;
		memcpy(&o, cfg + p + 8, 4);
		off[type] = o;
		if (type == 2)
			memcpy(&notify_mult, cfg + p + 16, 4);
		/* One mapping is enough for smolvm, which puts them all in one BAR. */
		if (found && *bar != cfg[p + 4])
			return -1;
		*bar = cfg[p + 4];
		found |= 1 << type;
	}
	return found == 0xe ? 0 : -1;
}

/* The guest-physical address of a locked page of ours: /proc/self/pagemap (needs root). */
static uint64_t phys_addr(void *p)
{
	uint64_t entry;
	long page = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || pread(fd, &entry, 8, (uintptr_t)p / page * 8) != 8)
		die("/proc/self/pagemap");
	close(fd);
	if (!(entry & 1ULL << 63) || !(entry & ((1ULL << 55) - 1)))
		die("no physical address in /proc/self/pagemap (not root?)");
	return (entry & ((1ULL << 55) - 1)) * page;
}

static void map_device(const char *dev)
{
	char path[512];
	uint8_t cfg[256] = {0};
	uint64_t off[4] = {0};
	int fd, bar = -1;
	ssize_t n;
	struct stat st;
	off_t size;
	uint8_t *base;

	snprintf(path, sizeof(path), "%s/config", dev);
	fd = open(path, O_RDWR);
	if (fd < 0 || (n = pread(fd, cfg, sizeof(cfg), 0)) < 64)
		die(path);
	if (find_caps(cfg, n, off, &bar) != 0) {
		fprintf(stderr, "virtio_poke: %s: no virtio common/notify/ISR capabilities\n", dev);
		exit(1);
	}
	/* Unbinding the driver cleared bus mastering; the BAR must decode memory too. */
	if ((cfg[4] & 0x06) != 0x06) {
		uint16_t cmd = (cfg[4] | cfg[5] << 8) | 0x06;
		if (pwrite(fd, &cmd, 2, 4) != 2)
			die("enable memory and bus mastering");
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/resource%d", dev, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st) != 0)
		die(path);
	size = st.st_size; /* the BAR's size */
	base = size > 0 ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (base == MAP_FAILED) {
		fprintf(stderr, "virtio_poke: cannot map %s (%lld bytes): %s\n", path,
			(long long)size, strerror(errno));
		exit(1);
	}
	if (off[1] + sizeof(struct common_cfg) > (uint64_t)size || off[2] >= (uint64_t)size ||
	    off[3] >= (uint64_t)size) {
		fprintf(stderr, "virtio_poke: %s: capabilities outside BAR %d\n", dev, bar);
		exit(1);
	}
	cc = (volatile struct common_cfg *)(base + off[1]);
	notify_base = base + off[2];
	isr = base + off[3];
}

int main(int argc, char **argv)
{
	char step[32];
	void *page;

	if (argc != 2) {
		fprintf(stderr, "usage: virtio_poke /sys/bus/pci/devices/DDDD:BB:DD.F\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	map_device(argv[1]);
	/* Rings the device may read and write: a page that stays put until the final reset. */
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || mlock(page, 4096) != 0)
		die("a locked page for the rings");
	memset(page, 0, 4096); /* our own page, not the shared zero page */
	ring_pa = phys_addr(page);

	/* 1. A proper start with out-of-order writes in between, then the issue 9 cycles. */
	reset("reset");
	queue_show("reset"); /* the size reads back the device's maximum */
	nqueues = cc->num_queues < MAX_QUEUES ? cc->num_queues : MAX_QUEUES;
	for (unsigned q = 0; q < nqueues; q++) {
		cc->queue_select = q;
		ring_size[q] = cc->queue_size < RING_SIZE ? cc->queue_size : RING_SIZE;
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
	status_set(ACKNOWLEDGE | DRIVER | FEATURES_OK, "features-ok");
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
	status_set(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, "driver-ok");
	cc->queue_select = 0;
	cc->queue_size = ring_size[0] / 2; /* the device is live: all three ignored */
	cc->queue_desc_lo = 0;
	cc->queue_enable = 0;
	queue_show("after-driver-ok");
	status_show("live");
	(void)*isr; /* reading acknowledges: start the cycles with a clear ISR */
	for (int i = 1; i <= CYCLES; i++) {
		snprintf(step, sizeof(step), "clear-%d", i);
		status_set(ACKNOWLEDGE | DRIVER | FEATURES_OK, step);
		if (i == 1)
			printf("ISR step=%s value=0x%x\n", step, *isr);
		queues_notify();
		snprintf(step, sizeof(step), "set-%d", i);
		status_set(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, step);
		queues_notify();
	}

	/* 2. DRIVER_OK without FEATURES_OK. */
	reset("reset-2");
	negotiate();
	status_set(ACKNOWLEDGE | DRIVER | DRIVER_OK, "driver-ok-without-features-ok");

	/* 3. FEATURES_OK cleared on a live device, then DRIVER_OK once more. */
	reset("reset-3");
	start("3");
	status_set(ACKNOWLEDGE | DRIVER | DRIVER_OK, "clear-features-ok");
	status_set(ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK, "set-again");
	queues_notify();

	/* 4. ACKNOWLEDGE cleared on a live device. */
	reset("reset-4");
	start("4");
	status_set(DRIVER | FEATURES_OK | DRIVER_OK, "clear-acknowledge");

	/* The device must let go of our rings before we free them. */
	if (reset("final") != 0) {
		fprintf(stderr, "virtio_poke: the final reset does not read back 0\n");
		return 1;
	}
	printf("POKE-DONE\n");
	return 0;
}
