/*
 * A machine without KVM, for tests of the virtio-pci transport: guest RAM in a buffer, the
 * real PCI host on the real buses, and every virtio device smolvm has, each a PCI function
 * reached through its BAR as a guest driver reaches it.
 *
 * Include it in exactly one file of a test binary: its irq_msi_alloc() and irq_msi_route()
 * take the place of vmm/irq.c at link time (the static library's irq.o is then never
 * pulled in), so MSI-X vectors are plain eventfds and routing updates are counted.
 */
#ifndef SMOLVM_FAKE_MACHINE_H
#define SMOLVM_FAKE_MACHINE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/virtio_devices.h"
#include "net/virtio_net.h"
#include "pci/pci.h"
#include "virtio/virtio.h"
#include "vmm/irq.h"
#include "vmm/vm.h"

#define FAKE_RAM_SIZE (4u << 20)
#define FAKE_IRQ_GSIS 1024

/* The devices in the order fake_machine_init adds them. */
enum fake_dev { FAKE_CONSOLE, FAKE_RNG, FAKE_BLK, FAKE_NET, FAKE_FS, FAKE_NDEVS };

struct fake_machine {
	struct vm vm;
	struct vm_config cfg;
	uint8_t *ram;
	char dir[64];		       /* scratch directory: the disk image and the share */
	unsigned devfn[FAKE_NDEVS];    /* PCI device/function of each device */
	uint64_t bar[FAKE_NDEVS];      /* guest address of each device's BAR 0 */
	struct virtio_console *console; /* for its sink: keyboard input */
	int console_out;	       /* where the console writes (/dev/null; dup2 over it) */
};

/* The routes "KVM" holds, and how often a change reached it. */
static struct {
	struct { uint64_t addr; uint32_t data; bool valid; } msi[FAKE_IRQ_GSIS];
	unsigned next_gsi;
	atomic_uint route_calls, route_changes;
} fake_irq = {.next_gsi = 24};

int irq_msi_alloc(struct vm *vm, int *fd)
{
	if (fake_irq.next_gsi >= FAKE_IRQ_GSIS)
		return -ENOSPC;
	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return *fd < 0 ? -errno : (int)fake_irq.next_gsi++;
}

int irq_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data, bool valid)
{
	if (gsi >= FAKE_IRQ_GSIS)
		return -EINVAL;
	atomic_fetch_add(&fake_irq.route_calls, 1);
	if (fake_irq.msi[gsi].valid != valid || fake_irq.msi[gsi].addr != addr ||
	    fake_irq.msi[gsi].data != data) {
		fake_irq.msi[gsi].addr = addr;
		fake_irq.msi[gsi].data = data;
		fake_irq.msi[gsi].valid = valid;
		atomic_fetch_add(&fake_irq.route_changes, 1);
	}
	return 0;
}

/* A network backend that drops what the guest sends and never receives. */
static void fake_net_poll_fill(struct net_backend *be, struct net_poll *np, bool rx_room,
			       int *timeout_ms)
{
}
static void fake_net_poll_done(struct net_backend *be, struct net_poll *np)
{
}
static int fake_net_send(struct net_backend *be, const struct virtio_net_hdr *hdr,
			 const struct iovec *iov, unsigned iovcnt, size_t len)
{
	return 0;
}
static void fake_net_set_features(struct net_backend *be, uint64_t acked)
{
}
static void fake_net_destroy(struct net_backend *be)
{
	free(be);
}
static const struct net_backend_ops fake_net_ops = {
    .poll_fill = fake_net_poll_fill,
    .poll_done = fake_net_poll_done,
    .send = fake_net_send,
    .set_features = fake_net_set_features,
    .destroy = fake_net_destroy,
};

static inline int fake_net_add(struct vm *vm)
{
	struct net_backend *be = calloc(1, sizeof(*be));
	struct virtio_device *vdev;

	if (!be)
		return -ENOMEM;
	be->ops = &fake_net_ops;
	vdev = virtio_net_new(&vm->cfg->net, be);
	return vdev ? virtio_pci_add(vm, vdev) : -ENOMEM;
}

static inline void fake_machine_die(const char *what)
{
	fprintf(stderr, "fake machine: %s\n", what);
	abort();
}

/* Build the machine with its five virtio devices and map every BAR. Aborts on failure. */
static inline void fake_machine_init(struct fake_machine *m)
{
	char path[96];
	int fd, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

	memset(m, 0, sizeof(*m));
	snprintf(m->dir, sizeof(m->dir), "/tmp/smolvm-fake-XXXXXX");
	if (!mkdtemp(m->dir))
		fake_machine_die("mkdtemp");
	snprintf(path, sizeof(path), "%s/disk.img", m->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) != 0)
		fake_machine_die("disk image");
	close(fd);
	m->cfg.drive[0] = (struct drive_config){.path = strdup(path)};
	m->cfg.ndrives = 1;
	snprintf(path, sizeof(path), "%s/share", m->dir);
	if (mkdir(path, 0700) != 0)
		fake_machine_die("share directory");
	m->cfg.share[0] = (struct share_config){.tag = "fake", .path = strdup(path)};
	m->cfg.nshares = 1;
	m->cfg.ncpus = 2;

	m->ram = mmap(NULL, FAKE_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	if (m->ram == MAP_FAILED || devnull < 0)
		fake_machine_die("guest RAM");
	m->vm.cfg = &m->cfg;
	m->vm.kvm_fd = m->vm.vm_fd = -1;
	m->vm.ncpus = m->cfg.ncpus;
	m->vm.mem.region[0] = (struct guest_mem_region){0, FAKE_RAM_SIZE, m->ram};
	m->vm.mem.nregions = 1;
	bus_init(&m->vm.pio, "pio");
	bus_init(&m->vm.mmio, "mmio");
	m->console_out = devnull;
	if (pci_host_create(&m->vm, true) != 0 ||
	    !(m->console = virtio_console_create(&m->vm, devnull)) ||
	    virtio_rng_create(&m->vm) != 0 || virtio_blk_create(&m->vm, &m->cfg.drive[0]) != 0 ||
	    fake_net_add(&m->vm) != 0 || virtio_fs_create(&m->vm, &m->cfg.share[0]) != 0)
		fake_machine_die("devices");
	for (unsigned i = 0; i < FAKE_NDEVS; i++) {
		unsigned devfn = (i + 1) << 3; /* slot 0 is the host bridge */
		uint64_t lo, hi;

		/* Memory decoding on: the BAR appears on the MMIO bus. Without KVM there are no
		 * ioeventfds (vm_fd is -1), so notifications go through the bus. */
		pci_config_write(&m->vm, devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
		lo = pci_config_read(&m->vm, devfn, PCI_BAR0, 4);
		hi = pci_config_read(&m->vm, devfn, PCI_BAR0 + 4, 4);
		m->devfn[i] = devfn;
		m->bar[i] = (hi << 32) | (lo & ~0xfULL);
	}
}

/* Guest accesses to a device's BAR 0. */
static inline void fake_bar_write(struct fake_machine *m, enum fake_dev d, uint64_t off,
				  unsigned size, uint64_t v)
{
	bus_write(&m->vm.mmio, m->bar[d] + off, size, v);
}

static inline uint64_t fake_bar_read(struct fake_machine *m, enum fake_dev d, uint64_t off,
				     unsigned size)
{
	uint64_t v = 0;

	bus_read(&m->vm.mmio, m->bar[d] + off, size, &v);
	return v;
}

/* The layout of BAR 0 that virtio_pci.c announces in its capabilities. */
#define FAKE_BAR_COMMON 0x0000
#define FAKE_BAR_ISR	0x0800
#define FAKE_BAR_DEVICE 0x1000
#define FAKE_BAR_NOTIFY 0x2000
#define FAKE_BAR_MSIX	0x3000
#define FAKE_BAR_PBA	0x3800
#define FAKE_BAR_SIZE	0x4000
#define FAKE_NOTIFY_MULT 4

/* Common configuration offsets (virtio 1.2, 4.1.4.3). */
#define FAKE_CC_DFSELECT 0x00
#define FAKE_CC_GFSELECT 0x08
#define FAKE_CC_GF	 0x0c
#define FAKE_CC_MSIX	 0x10
#define FAKE_CC_NUMQ	 0x12
#define FAKE_CC_STATUS	 0x14
#define FAKE_CC_Q_SELECT 0x16
#define FAKE_CC_Q_SIZE	 0x18
#define FAKE_CC_Q_MSIX	 0x1a
#define FAKE_CC_Q_ENABLE 0x1c
#define FAKE_CC_Q_DESC	 0x20
#define FAKE_CC_Q_AVAIL	 0x28
#define FAKE_CC_Q_USED	 0x30

static inline uint8_t fake_status(struct fake_machine *m, enum fake_dev d)
{
	return fake_bar_read(m, d, FAKE_CC_STATUS, 1);
}

static inline void fake_set_status(struct fake_machine *m, enum fake_dev d, uint8_t status)
{
	fake_bar_write(m, d, FAKE_CC_STATUS, 1, status);
}

/* Where queue q's rings live in guest RAM: 64 KiB per (device, queue), size <= 1024. */
static inline uint64_t fake_ring_base(enum fake_dev d, unsigned q)
{
	return 0x100000 + ((uint64_t)d * 8 + q) * 0x10000;
}

/* Zero the rings of every queue of device d. */
static inline void fake_rings_clear(struct fake_machine *m, enum fake_dev d)
{
	memset(m->ram + fake_ring_base(d, 0), 0, 8 * 0x10000);
}

/* What a driver does from reset to DRIVER_OK: every queue of the device set up with size
 * entries at fake_ring_base() (descriptors, avail at +16 KiB, used at +32 KiB) and enabled.
 * Returns the status read back. */
static inline uint8_t fake_driver_start(struct fake_machine *m, enum fake_dev d, uint16_t size)
{
	unsigned nq;

	fake_set_status(m, d, 0);
	fake_set_status(m, d, VIRTIO_STATUS_ACKNOWLEDGE);
	fake_set_status(m, d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	fake_bar_write(m, d, FAKE_CC_GFSELECT, 4, 1);
	fake_bar_write(m, d, FAKE_CC_GF, 4, 1); /* VERSION_1 */
	fake_set_status(m, d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK);
	nq = fake_bar_read(m, d, FAKE_CC_NUMQ, 2);
	for (unsigned q = 0; q < nq && q < 8; q++) {
		uint64_t base = fake_ring_base(d, q);

		fake_bar_write(m, d, FAKE_CC_Q_SELECT, 2, q);
		fake_bar_write(m, d, FAKE_CC_Q_SIZE, 2, size);
		/* Addresses as Linux writes them: two 32-bit halves, low first. */
		fake_bar_write(m, d, FAKE_CC_Q_DESC, 4, base);
		fake_bar_write(m, d, FAKE_CC_Q_DESC + 4, 4, 0);
		fake_bar_write(m, d, FAKE_CC_Q_AVAIL, 4, base + 0x4000);
		fake_bar_write(m, d, FAKE_CC_Q_AVAIL + 4, 4, 0);
		fake_bar_write(m, d, FAKE_CC_Q_USED, 4, base + 0x8000);
		fake_bar_write(m, d, FAKE_CC_Q_USED + 4, 4, 0);
		fake_bar_write(m, d, FAKE_CC_Q_ENABLE, 2, 1);
	}
	fake_set_status(m, d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	return fake_status(m, d);
}

static int fake_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Remove the scratch directory (the disk image, and whatever the guest made in the share). */
static inline void fake_machine_remove_files(struct fake_machine *m)
{
	nftw(m->dir, fake_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Entries of /proc/self/task or /proc/self/fd, less "." and ".." and pipes (libFuzzer
 * talks to its symbolizer through pipes it opens when it first prints a new function).
 * With want != 0, counts again for up to 200 ms until the count is want: a joined thread
 * leaves /proc a moment after pthread_join returns.
 */
static inline unsigned fake_count_dir(const char *path, unsigned want)
{
	unsigned n = 0;

	for (unsigned tries = 0; tries < 200; tries++) {
		DIR *d = opendir(path);
		struct dirent *e;

		if (!d)
			fake_machine_die("opendir /proc");
		for (n = 0; (e = readdir(d));) {
			char link[64] = "";

			if (e->d_name[0] == '.')
				continue;
			readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
			n += strncmp(link, "pipe:", 5) != 0;
		}
		closedir(d);
		if (!want || n == want)
			break;
		usleep(1000);
	}
	return n;
}

static inline void fake_notify(struct fake_machine *m, enum fake_dev d, unsigned q)
{
	fake_bar_write(m, d, FAKE_BAR_NOTIFY + q * FAKE_NOTIFY_MULT, 2, q);
}

#endif
