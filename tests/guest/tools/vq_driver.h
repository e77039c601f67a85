/*
 * vq_driver.h: a minimal virtio-pci driver in user space, for the hostile-guest tools
 * (virtio_rings.c, virtio_fuse.c). Busybox cannot map a BAR or place a ring; these can.
 * Header-only (static inline functions): each tool is one static binary built from one .c file.
 *
 * The tool is the device's only driver while it runs (the test unbinds Linux's first). It
 * finds the common configuration, notify area and ISR through the virtio vendor capabilities
 * (virtio 1.2, 4.1.4), maps the BAR through sysfs, and keeps its rings and buffers in locked
 * pages of its own whose guest-physical addresses /proc/self/pagemap gives to root.
 *
 * Layout: page 0 holds the rings of every queue but the one under test (16 entries each, all
 * zeros: the device finds nothing to do there); page 1 holds the rings of the queue under
 * test (up to 64 entries); pages 2.. are request buffers and indirect tables.
 */
#ifndef VQ_DRIVER_H
#define VQ_DRIVER_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Device status bits (2.1). */
#define VQ_ACKNOWLEDGE 0x01
#define VQ_DRIVER      0x02
#define VQ_DRIVER_OK   0x04
#define VQ_FEATURES_OK 0x08
#define VQ_NEEDS_RESET 0x40
#define VQ_LIVE	       (VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK | VQ_DRIVER_OK)

#define VQ_F_NEXT     1
#define VQ_F_WRITE    2
#define VQ_F_INDIRECT 4

#define VQ_FEATURE_INDIRECT (1ULL << 28)
#define VQ_FEATURE_VERSION1 (1ULL << 32)

#define VQ_PAGES      12
#define VQ_SIZE_OTHER 16 /* rings of the queues not under test, 512 bytes each in page 0 */
#define VQ_SIZE_MAX   64 /* the queue under test: its rings fill page 1 */
#define VQ_MAX_QUEUES 8
#define VQ_NO_VECTOR  0xffff

/* The common configuration structure (4.1.4.3). */
struct vq_common {
	uint32_t device_feature_select, device_feature;
	uint32_t driver_feature_select, driver_feature;
	uint16_t config_msix_vector, num_queues;
	uint8_t device_status, config_generation;
	uint16_t queue_select, queue_size, queue_msix_vector, queue_enable, queue_notify_off;
	uint32_t queue_desc_lo, queue_desc_hi, queue_driver_lo, queue_driver_hi;
	uint32_t queue_device_lo, queue_device_hi;
};
_Static_assert(sizeof(struct vq_common) == 0x38, "the layout of 4.1.4.3");

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

/* The queue under test, as the driver sees it. */
struct vq {
	unsigned index;
	uint16_t size;
	volatile struct vq_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint32_t *used;  /* flags|idx, then (id, len) pairs */
	uint64_t desc_pa, avail_pa, used_pa;
	uint16_t avail_idx; /* what we published */
	uint16_t used_seen;
};

static struct {
	const char *dev;
	volatile struct vq_common *cc;
	volatile uint8_t *isr, *notify_base, *bar;
	uint32_t notify_mult;
	uint64_t bar_pa, bar_size; /* where the BAR sits in guest-physical memory */
	unsigned msix_cap;	   /* offset in configuration space, 0 if none */
	unsigned nqueues;
	uint16_t max_size[VQ_MAX_QUEUES];
	uint8_t *page[VQ_PAGES];
	uint64_t pa[VQ_PAGES];
	uint64_t ram_end; /* first address above the highest System RAM */
	struct vq q;
	/* Called by vq_start_at() with the queue under test selected, just before its enable:
	 * the last moment its registers (MSI-X vector, size) are writable. */
	void (*before_enable)(void);
} vqd;

static inline void vq_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static inline void vq_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* The guest-physical address of a locked page of ours (needs root). */
static inline uint64_t vq_phys(void *p)
{
	uint64_t entry;
	long page = sysconf(_SC_PAGESIZE);
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0 || pread(fd, &entry, 8, (uintptr_t)p / page * 8) != 8)
		vq_die("/proc/self/pagemap");
	close(fd);
	if (!(entry & 1ULL << 63) || !(entry & ((1ULL << 55) - 1)))
		vq_die("no physical address in /proc/self/pagemap (not root?)");
	return (entry & ((1ULL << 55) - 1)) * page;
}

/* The end of RAM: the highest top-level "System RAM" range of /proc/iomem. */
static inline uint64_t vq_ram_end(void)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	unsigned long long lo, hi, end = 0;

	if (!f)
		vq_die("/proc/iomem");
	while (fgets(line, sizeof(line), f))
		if (line[0] != ' ' && sscanf(line, "%llx-%llx", &lo, &hi) == 2 &&
		    strstr(line, "System RAM") && hi + 1 > end)
			end = hi + 1;
	fclose(f);
	if (!end)
		vq_die("no System RAM in /proc/iomem");
	return end;
}

/* The virtio vendor capabilities and MSI-X in PCI configuration space (4.1.4). */
static inline int vq_find_caps(const uint8_t *cfg, size_t len, uint64_t off[4], int *bar)
{
	int found = 0;

	if (!(cfg[6] & 0x10))
		return -1;
	for (unsigned p = cfg[0x34] & ~3u, hops = 0; p && p + 20 <= len && hops < 48;
	     p = cfg[p + 1] & ~3u, hops++) {
		uint8_t type = cfg[p + 3];
		uint32_t o;
		if (cfg[p] == 0x11)
			vqd.msix_cap = p;
		if (cfg[p] != 0x09 || type < 1 || type > 3) /* vendor: common, notify, ISR */
			continue;
		memcpy(&o, cfg + p + 8, 4);
		off[type] = o;
		if (type == 2)
			memcpy(&vqd.notify_mult, cfg + p + 16, 4);
		if (found && *bar != cfg[p + 4]) /* smolvm puts them all in one BAR */
			return -1;
		*bar = cfg[p + 4];
		found |= 1 << type;
	}
	return found == 0xe ? 0 : -1;
}

/* Read or write PCI configuration space through sysfs. */
static inline void vq_config(int write, unsigned off, void *buf, size_t len)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/config", vqd.dev);
	fd = open(path, O_RDWR);
	if (fd < 0 ||
	    (write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off)) != (ssize_t)len)
		vq_die(path);
	close(fd);
}

/* The BAR's guest-physical start, from the sysfs resource table. */
static inline uint64_t vq_bar_address(int bar)
{
	char path[512], line[128];
	unsigned long long start = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/resource", vqd.dev);
	f = fopen(path, "r");
	for (int i = 0; f && fgets(line, sizeof(line), f); i++)
		if (i == bar)
			sscanf(line, "%llx", &start);
	if (f)
		fclose(f);
	return start;
}

/* Map the device, lock our pages, learn the end of RAM. */
static inline void vq_open(const char *dev)
{
	char path[512];
	uint8_t cfg[256] = {0};
	uint64_t off[4] = {0};
	int fd, bar = -1;
	uint16_t cmd;
	struct stat st;

	vqd.dev = dev;
	vq_config(0, 0, cfg, sizeof(cfg));
	if (vq_find_caps(cfg, sizeof(cfg), off, &bar) != 0) {
		fprintf(stderr, "%s: no virtio common/notify/ISR capabilities\n", dev);
		exit(1);
	}
	/* Unbinding the driver cleared bus mastering; the BAR must decode memory too. */
	cmd = (cfg[4] | cfg[5] << 8) | 0x06;
	vq_config(1, 4, &cmd, 2);
	snprintf(path, sizeof(path), "%s/resource%d", dev, bar);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0)
		vq_die(path);
	vqd.bar_size = st.st_size;
	vqd.bar = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (vqd.bar == MAP_FAILED)
		vq_die(path);
	close(fd);
	if (off[1] + sizeof(struct vq_common) > vqd.bar_size || off[2] >= vqd.bar_size ||
	    off[3] >= vqd.bar_size) {
		fprintf(stderr, "%s: capabilities outside BAR %d\n", dev, bar);
		exit(1);
	}
	vqd.bar_pa = vq_bar_address(bar);
	vqd.cc = (volatile struct vq_common *)(vqd.bar + off[1]);
	vqd.notify_base = vqd.bar + off[2];
	vqd.isr = vqd.bar + off[3];
	for (int i = 0; i < VQ_PAGES; i++) {
		vqd.page[i] =
		    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (vqd.page[i] == MAP_FAILED || mlock(vqd.page[i], 4096) != 0)
			vq_die("locked pages for the rings");
		memset(vqd.page[i], 0, 4096); /* our own page, not the shared zero page */
		vqd.pa[i] = vq_phys(vqd.page[i]);
	}
	vqd.ram_end = vq_ram_end();
}

/* Status 0, then wait for the device to read back 0 (4.1.4.3.2). Returns what it read. */
static inline uint8_t vq_reset(void)
{
	vqd.cc->device_status = 0;
	for (int i = 0; i < 2000 && vqd.cc->device_status != 0; i++)
		vq_sleep_ms(1);
	return vqd.cc->device_status;
}

static inline uint8_t vq_status(void)
{
	return vqd.cc->device_status;
}

/* Reset, then ACKNOWLEDGE, DRIVER, the features and FEATURES_OK. Learns the queues. */
static inline void vq_negotiate(uint64_t features)
{
	if (vq_reset() != 0) {
		fprintf(stderr, "%s: the reset does not read back 0\n", vqd.dev);
		exit(1);
	}
	vqd.nqueues = vqd.cc->num_queues < VQ_MAX_QUEUES ? vqd.cc->num_queues : VQ_MAX_QUEUES;
	for (unsigned q = 0; q < vqd.nqueues; q++) {
		vqd.cc->queue_select = q;
		vqd.max_size[q] = vqd.cc->queue_size;
	}
	vqd.cc->device_status = VQ_ACKNOWLEDGE;
	vqd.cc->device_status = VQ_ACKNOWLEDGE | VQ_DRIVER;
	vqd.cc->driver_feature_select = 0;
	vqd.cc->driver_feature = (uint32_t)features;
	vqd.cc->driver_feature_select = 1;
	vqd.cc->driver_feature = features >> 32;
	vqd.cc->device_status = VQ_ACKNOWLEDGE | VQ_DRIVER | VQ_FEATURES_OK;
}

static inline void vq_set_queue(unsigned q, uint16_t size, uint64_t desc, uint64_t avail,
				uint64_t used)
{
	vqd.cc->queue_select = q;
	vqd.cc->queue_size = size;
	vqd.cc->queue_desc_lo = (uint32_t)desc;
	vqd.cc->queue_desc_hi = desc >> 32;
	vqd.cc->queue_driver_lo = (uint32_t)avail;
	vqd.cc->queue_driver_hi = avail >> 32;
	vqd.cc->queue_device_lo = (uint32_t)used;
	vqd.cc->queue_device_hi = used >> 32;
}

/* Every queue on zeroed rings, the one under test (index) on page 1 with the given ring
 * addresses (0: the usual place) and size (negative: the usual one), all enabled, then
 * DRIVER_OK. */
static inline void vq_start_at(unsigned index, uint64_t desc, uint64_t avail, uint64_t used,
			       int size)
{
	struct vq *q = &vqd.q;

	vq_negotiate(VQ_FEATURE_VERSION1 | VQ_FEATURE_INDIRECT);
	if (index >= vqd.nqueues) {
		fprintf(stderr, "%s: no queue %u\n", vqd.dev, index);
		exit(1);
	}
	memset(vqd.page[0], 0, 4096);
	memset(vqd.page[1], 0, 4096);
	for (unsigned i = 0; i < vqd.nqueues; i++) {
		uint64_t d = vqd.pa[0] + i * 512;
		uint16_t n = vqd.max_size[i] < VQ_SIZE_OTHER ? vqd.max_size[i] : VQ_SIZE_OTHER;
		if (i != index) {
			vq_set_queue(i, n, d, d + 256, d + 296);
			vqd.cc->queue_enable = 1;
		}
	}
	q->index = index;
	q->size = vqd.max_size[index] < VQ_SIZE_MAX ? vqd.max_size[index] : VQ_SIZE_MAX;
	q->desc_pa = vqd.pa[1];
	q->avail_pa = vqd.pa[1] + 16 * VQ_SIZE_MAX;	 /* 1024: 6 + 2 * 64 bytes */
	q->used_pa = vqd.pa[1] + 16 * VQ_SIZE_MAX + 256; /* 1280: 6 + 8 * 64 bytes */
	q->desc = (volatile struct vq_desc *)vqd.page[1];
	q->avail = (volatile uint16_t *)(vqd.page[1] + 1024);
	q->used = (volatile uint32_t *)(vqd.page[1] + 1280);
	q->avail_idx = q->used_seen = 0;
	vq_set_queue(index, size >= 0 ? (uint16_t)size : q->size, desc ? desc : q->desc_pa,
		     avail ? avail : q->avail_pa, used ? used : q->used_pa);
	if (vqd.before_enable)
		vqd.before_enable();
	vqd.cc->queue_enable = 1;
	vqd.cc->device_status = VQ_LIVE;
}

static inline void vq_start(unsigned index)
{
	vq_start_at(index, 0, 0, 0, -1);
}

static inline void vq_notify(unsigned q)
{
	vqd.cc->queue_select = q;
	*(volatile uint16_t *)(vqd.notify_base + vqd.cc->queue_notify_off * vqd.notify_mult) = q;
}

/* Publish head as the next available chain (its descriptors written already) and kick. */
static inline void vq_submit(uint16_t head)
{
	struct vq *q = &vqd.q;

	q->avail[2 + q->avail_idx % q->size] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail[1] = ++q->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq_notify(q->index);
}

static inline uint16_t vq_used_idx(void)
{
	return vqd.q.used[0] >> 16;
}

/*
 * Wait up to ms for a used element or DEVICE_NEEDS_RESET. Returns 1 with the element's
 * length in *len, 0 when the device broke itself, -1 when nothing happened.
 */
static inline int vq_wait(unsigned ms, uint32_t *len)
{
	struct vq *q = &vqd.q;

	for (unsigned i = 0; i < ms; i++) {
		if (vq_used_idx() != q->used_seen) {
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			*len = q->used[2 + 2 * (q->used_seen %
						q->size)]; /* after flags|idx and the id */
			q->used_seen++;
			return 1;
		}
		if (vq_status() & VQ_NEEDS_RESET)
			return 0;
		vq_sleep_ms(1);
	}
	return -1;
}

/* Descriptor i of the queue under test. */
static inline void vq_desc_set(unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
			       uint16_t next)
{
	volatile struct vq_desc *d = &vqd.q.desc[i];
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* An entry of a descriptor table in one of our pages (an indirect table). */
static inline void vq_table_set(unsigned page, unsigned i, uint64_t addr, uint32_t len,
				uint16_t flags, uint16_t next)
{
	struct vq_desc d = {addr, len, flags, next};
	memcpy(vqd.page[page] + i * sizeof(d), &d, sizeof(d));
}

/*
 * With VQ_SAMPLE=PREFIX in the environment: print "SAMPLE PREFIX-name", wait for a line on
 * stdin (the console) and print it back as "ECHO line", so the test can look at smolvm
 * between cases and see the guest's console still answer.
 */
static inline void vq_checkpoint(const char *name)
{
	const char *prefix = getenv("VQ_SAMPLE");
	char line[128];

	if (!prefix)
		return;
	printf("SAMPLE %s-%s\n", prefix, name);
	if (!fgets(line, sizeof(line), stdin))
		vq_die("no answer on the console");
	line[strcspn(line, "\r\n")] = 0;
	printf("ECHO %s\n", line);
}

#endif
