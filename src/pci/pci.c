#include "pci/pci.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "vmm/coalesced.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* Red Hat's id for a generic host bridge: no Linux quirks attach to it. */
#define HOST_BRIDGE_VENDOR 0x1b36
#define HOST_BRIDGE_DEVICE 0x0008
#define CLASS_HOST_BRIDGE  0x060000

#define CF9_RESET_CPU 0x04 /* reset control register at 0xCF9, for reboot=pci */

struct pci_host {
	struct vm *vm;
	pthread_mutex_t lock;
	uint32_t cf8;
	struct pci_device *dev[PCI_MAX_DEVICES][PCI_MAX_FUNCTIONS];
	struct pci_device bridge;
	uint64_t next_mmio32, next_mmio64, next_io;
};

static void cfg_put(uint8_t *p, unsigned off, uint32_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		p[off + i] = v >> (8 * i);
}

static uint32_t cfg_get(const uint8_t *p, unsigned off, unsigned size)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)p[off + i] << (8 * i);
	return v;
}

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(dev, 0, sizeof(*dev));
	cfg_put(dev->cfg, PCI_VENDOR_ID, vendor, 2);
	cfg_put(dev->cfg, PCI_DEVICE_ID, device, 2);
	cfg_put(dev->cfg, PCI_REVISION, class_code << 8 | 0x01, 4);
	cfg_put(dev->cfg, PCI_SUBSYS_VENDOR, subsys_vendor, 2);
	cfg_put(dev->cfg, PCI_SUBSYS_ID, subsys_id, 2);
	cfg_put(dev->wmask, PCI_COMMAND,
		PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE,
		2);
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->cap_end = 0x40;
}

int pci_device_add_bar(struct pci_device *dev, unsigned idx, enum pci_bar_type type, uint64_t size,
		       const struct bus_ops *ops, void *opaque)
{
	unsigned off = PCI_BAR0 + 4 * idx;
	uint64_t mask;

	if (idx >= PCI_NUM_BARS || (type == PCI_BAR_MEM64 && idx + 1 >= PCI_NUM_BARS) ||
	    size < 16 || (size & (size - 1)))
		return -EINVAL;
	dev->bar[idx] = (struct pci_bar){.type = type, .size = size, .ops = ops, .opaque = opaque};
	mask = ~(size - 1);
	switch (type) {
	case PCI_BAR_IO:
		cfg_put(dev->cfg, off, 0x1, 4);
		cfg_put(dev->wmask, off, (uint32_t)mask & ~0x3u, 4);
		break;
	case PCI_BAR_MEM32:
		cfg_put(dev->wmask, off, (uint32_t)mask & ~0xfu, 4);
		break;
	case PCI_BAR_MEM64:
		cfg_put(dev->cfg, off, 0x4, 4); /* 64-bit, non-prefetchable */
		cfg_put(dev->wmask, off, (uint32_t)mask & ~0xfu, 4);
		cfg_put(dev->wmask, off + 4, (uint32_t)(mask >> 32), 4);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

unsigned pci_device_add_cap(struct pci_device *dev, const void *cap, unsigned len,
			    const void *wmask)
{
	unsigned off = (dev->cap_end + 3) & ~3u, prev;

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return 0;
	memcpy(dev->cfg + off, cap, len);
	if (wmask)
		memcpy(dev->wmask + off, wmask, len);
	dev->cfg[off + 1] = 0;
	/* Chain it: the header's pointer, or the last capability's next field. */
	if (!dev->cfg[PCI_CAP_PTR]) {
		dev->cfg[PCI_CAP_PTR] = off;
		dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	} else {
		for (prev = dev->cfg[PCI_CAP_PTR]; dev->cfg[prev + 1]; prev = dev->cfg[prev + 1])
			;
		dev->cfg[prev + 1] = off;
	}
	dev->cap_end = off + len;
	return off;
}

static uint64_t pci_bar_addr(const struct pci_device *dev, unsigned idx)
{
	const struct pci_bar *b = &dev->bar[idx];
	uint64_t v = cfg_get(dev->cfg, PCI_BAR0 + 4 * idx, 4);

	if (b->type == PCI_BAR_IO)
		return v & ~0x3ULL;
	if (b->type == PCI_BAR_MEM64)
		v |= (uint64_t)cfg_get(dev->cfg, PCI_BAR0 + 4 * idx + 4, 4) << 32;
	return v & ~0xfULL;
}

/* Map each BAR where the guest put it, when its decoding is on; unmap otherwise. */
static void pci_update_bars(struct pci_device *dev)
{
	uint16_t cmd = cfg_get(dev->cfg, PCI_COMMAND, 2);

	for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &dev->bar[i];
		struct bus *bus = b->type == PCI_BAR_IO ? &dev->vm->pio : &dev->vm->mmio;
		uint64_t addr = pci_bar_addr(dev, i), limit;
		bool on;

		if (b->type == PCI_BAR_NONE)
			continue;
		limit = b->type == PCI_BAR_IO ? 0x10000 : b->type == PCI_BAR_MEM32 ? 1ULL << 32 : ~0ULL;
		on = (cmd & (b->type == PCI_BAR_IO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)) &&
		     addr != 0 && addr < limit && b->size <= limit - addr;
		if (b->mapped && (!on || addr != b->addr)) {
			bus_unregister(bus, b->addr, b->opaque);
			b->mapped = false;
			if (dev->ops && dev->ops->bar_moved)
				dev->ops->bar_moved(dev, i, b->addr, false);
		}
		if (on && !b->mapped) {
			if (bus_register(bus, addr, b->size, b->ops, b->opaque) != 0) {
				log_debug("pci %02x.%u: BAR%u at 0x%llx overlaps another range",
					  dev->slot, dev->function, i, (unsigned long long)addr);
				continue;
			}
			b->addr = addr;
			b->mapped = true;
			if (dev->ops && dev->ops->bar_moved)
				dev->ops->bar_moved(dev, i, addr, true);
		}
	}
}

static struct pci_device *pci_lookup(struct pci_host *h, unsigned devfn)
{
	unsigned slot = devfn >> 3, function = devfn & 7;
	struct pci_device *f0;

	if (slot >= PCI_MAX_DEVICES)
		return NULL;
	f0 = h->dev[slot][0];
	if (function == 0)
		return f0;
	/* Software probes functions 1-7 only of a multi-function device; a single-function
	 * device may decode them all as its own, so no other function may answer there. */
	if (!f0 || !(f0->cfg[PCI_HEADER_TYPE] & PCI_HEADER_MULTI_FUNCTION))
		return NULL;
	return h->dev[slot][function];
}

uint32_t pci_config_read(struct vm *vm, unsigned devfn, unsigned offset, unsigned size)
{
	struct pci_host *h = vm->pci;
	struct pci_device *dev;
	uint32_t v;

	if (size != 1 && size != 2 && size != 4)
		return ~0u;
	pthread_mutex_lock(&h->lock);
	dev = pci_lookup(h, devfn);
	if (!dev)
		v = size == 4 ? ~0u : (1u << (8 * size)) - 1;
	else if (offset + size > PCI_CFG_SIZE) /* extended space: no extended capabilities */
		v = 0;
	else {
		if (dev->ops && dev->ops->config_reading)
			dev->ops->config_reading(dev, offset, size);
		v = cfg_get(dev->cfg, offset, size);
	}
	pthread_mutex_unlock(&h->lock);
	return v;
}

void pci_config_write(struct vm *vm, unsigned devfn, unsigned offset, unsigned size,
		      uint32_t value)
{
	struct pci_host *h = vm->pci;
	struct pci_device *dev;

	if (size != 1 && size != 2 && size != 4)
		return;
	pthread_mutex_lock(&h->lock);
	dev = pci_lookup(h, devfn);
	if (dev && offset + size <= PCI_CFG_SIZE) {
		for (unsigned i = 0; i < size; i++) {
			uint8_t m = dev->wmask[offset + i];
			uint8_t b = value >> (8 * i);
			dev->cfg[offset + i] = (dev->cfg[offset + i] & ~m) | (b & m);
		}
		if (offset < PCI_BAR0 + 4 * PCI_NUM_BARS && offset + size > PCI_COMMAND)
			pci_update_bars(dev);
		if (dev->ops && dev->ops->config_written)
			dev->ops->config_written(dev, offset, size);
	}
	pthread_mutex_unlock(&h->lock);
}

/* Ports 0xCF8 (address), 0xCF9 (reset control, byte access) and 0xCFC-0xCFF (data). */
static uint64_t pci_port_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *h = opaque;
	uint32_t addr = h->cf8;

	if (offset == 0 && size == 4)
		return h->cf8;
	if (offset < 4 || !(addr & 0x80000000u) || ((addr >> 16) & 0xff) != 0)
		return size == 4 ? ~0u : (1u << (8 * size)) - 1;
	return pci_config_read(h->vm, (addr >> 8) & 0xff, (addr & 0xfc) + (offset - 4), size);
}

static void pci_port_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *h = opaque;
	uint32_t addr = h->cf8;

	if (offset == 0 && size == 4) {
		h->cf8 = value;
		return;
	}
	if (offset == 1 && size == 1) {
		if (value & CF9_RESET_CPU)
			vm_request_stop(h->vm, VM_STOP_REBOOT, 0);
		return;
	}
	if (offset < 4 || !(addr & 0x80000000u) || ((addr >> 16) & 0xff) != 0)
		return;
	pci_config_write(h->vm, (addr >> 8) & 0xff, (addr & 0xfc) + (offset - 4), size, value);
}

static const struct bus_ops pci_port_ops = {
	.read = pci_port_read,
	.write = pci_port_write,
	.name = "pci-config",
};

/* 0xCF9 alone, where the type-1 ports are off: reboot=pci still resets. Reads as zero. */
static uint64_t pci_reset_read(void *opaque, uint64_t offset, unsigned size)
{
	(void)opaque, (void)offset, (void)size;
	return 0;
}

static void pci_reset_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	if (offset == 0 && size == 1)
		pci_port_write(opaque, 1, 1, value);
}

static const struct bus_ops pci_reset_ops = {
	.read = pci_reset_read,
	.write = pci_reset_write,
	.name = "pci-reset",
};

/* ECAM: bus 0 only; offset = device/function << 12 | register. */
static uint64_t pci_ecam_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pci_host *h = opaque;

	if (size == 8)
		return pci_ecam_read(opaque, offset, 4) |
		       (uint64_t)pci_ecam_read(opaque, offset + 4, 4) << 32;
	return pci_config_read(h->vm, offset >> 12, offset & 0xfff, size);
}

static void pci_ecam_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pci_host *h = opaque;

	if (size == 8) {
		pci_ecam_write(opaque, offset, 4, (uint32_t)value);
		pci_ecam_write(opaque, offset + 4, 4, value >> 32);
		return;
	}
	pci_config_write(h->vm, offset >> 12, offset & 0xfff, size, value);
}

static const struct bus_ops pci_ecam_ops = {
	.read = pci_ecam_read,
	.write = pci_ecam_write,
	.name = "pci-ecam",
};

uint64_t pci_mmio64_base(const struct vm *vm)
{
	uint64_t end = guest_mem_end(&vm->mem);

	if (end < LAYOUT_RAM_HIGH)
		end = LAYOUT_RAM_HIGH;
	return (end + GiB - 1) & ~(GiB - 1);
}

static int pci_place_bar(struct pci_host *h, struct pci_device *dev, unsigned idx)
{
	struct pci_bar *b = &dev->bar[idx];
	uint64_t *next, limit, addr;

	switch (b->type) {
	case PCI_BAR_IO:
		next = &h->next_io;
		limit = PORT_PCI_IO + PORT_PCI_IO_SIZE;
		break;
	case PCI_BAR_MEM32:
		next = &h->next_mmio32;
		limit = LAYOUT_PCI_MMIO32 + LAYOUT_PCI_MMIO32_SIZE;
		break;
	case PCI_BAR_MEM64:
		next = &h->next_mmio64;
		limit = pci_mmio64_base(h->vm) + LAYOUT_PCI_MMIO64_SIZE;
		break;
	default:
		return 0;
	}
	addr = (*next + b->size - 1) & ~(b->size - 1);
	if (addr + b->size > limit)
		return -ENOSPC;
	*next = addr + b->size;
	cfg_put(dev->cfg, PCI_BAR0 + 4 * idx, (uint32_t)addr | dev->cfg[PCI_BAR0 + 4 * idx], 4);
	if (b->type == PCI_BAR_MEM64)
		cfg_put(dev->cfg, PCI_BAR0 + 4 * idx + 4, addr >> 32, 4);
	return 0;
}

static bool pci_slot_free(const struct pci_host *h, unsigned slot)
{
	for (unsigned f = 0; f < PCI_MAX_FUNCTIONS; f++)
		if (h->dev[slot][f])
			return false;
	return true;
}

/* Place the BARs and make the device visible at slot/function; the caller holds the lock. */
static int pci_host_add(struct pci_host *h, struct pci_device *dev, unsigned slot,
			unsigned function)
{
	int ret = 0;

	dev->vm = h->vm;
	dev->slot = slot;
	dev->function = function;
	for (unsigned i = 0; i < PCI_NUM_BARS && ret == 0; i++)
		ret = pci_place_bar(h, dev, i);
	if (ret == 0)
		h->dev[slot][function] = dev;
	return ret;
}

int pci_device_register(struct vm *vm, struct pci_device *dev)
{
	struct pci_host *h = vm->pci;
	unsigned slot;
	int ret = -ENOSPC;

	pthread_mutex_lock(&h->lock);
	for (slot = 0; slot < PCI_MAX_DEVICES && !pci_slot_free(h, slot); slot++)
		;
	if (slot < PCI_MAX_DEVICES)
		ret = pci_host_add(h, dev, slot, 0);
	pthread_mutex_unlock(&h->lock);
	if (ret)
		log_error("no room for another PCI device");
	return ret;
}

int pci_device_register_at(struct vm *vm, struct pci_device *dev, unsigned slot,
			   unsigned function)
{
	struct pci_host *h = vm->pci;
	int ret;

	if (slot >= PCI_MAX_DEVICES || function >= PCI_MAX_FUNCTIONS)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	ret = h->dev[slot][function] ? -EEXIST : pci_host_add(h, dev, slot, function);
	pthread_mutex_unlock(&h->lock);
	if (ret)
		log_error("cannot place a PCI device at 00:%02x.%u: %s", slot, function,
			  strerror(-ret));
	return ret;
}

void pci_host_remove_ecam(struct vm *vm)
{
	bus_unregister(&vm->mmio, LAYOUT_PCI_ECAM, vm->pci);
}

void pci_host_set_bridge_id(struct vm *vm, uint16_t vendor, uint16_t device, uint32_t class_code)
{
	struct pci_host *h = vm->pci;

	pthread_mutex_lock(&h->lock);
	cfg_put(h->bridge.cfg, PCI_VENDOR_ID, vendor, 2);
	cfg_put(h->bridge.cfg, PCI_DEVICE_ID, device, 2);
	cfg_put(h->bridge.cfg, PCI_CLASS_PROG, class_code, 3);
	pthread_mutex_unlock(&h->lock);
}

int pci_host_create(struct vm *vm, bool config_ports)
{
	struct pci_host *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return -ENOMEM;
	h->vm = vm;
	pthread_mutex_init(&h->lock, NULL);
	h->next_mmio32 = LAYOUT_PCI_MMIO32;
	h->next_mmio64 = pci_mmio64_base(vm);
	h->next_io = PORT_PCI_IO;
	vm->pci = h;
	pci_device_init(&h->bridge, HOST_BRIDGE_VENDOR, HOST_BRIDGE_DEVICE, CLASS_HOST_BRIDGE, 0, 0);
	ret = pci_device_register(vm, &h->bridge);
	if (ret == 0)
		ret = config_ports ? bus_register(&vm->pio, PORT_PCI_CONFIG, 8, &pci_port_ops, h)
				   : bus_register(&vm->pio, PORT_PCI_RESET, 1, &pci_reset_ops, h);
	/* The address latch: its writes wait in KVM's ring until the data port's exit. Where
	 * KVM cannot, they exit as before. */
	if (ret == 0 && config_ports)
		coalesced_pio_add(vm, PORT_PCI_CONFIG, 4);
	if (ret == 0)
		ret = bus_register(&vm->mmio, LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, &pci_ecam_ops,
				   h);
	return ret;
}
