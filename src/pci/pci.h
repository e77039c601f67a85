/*
 * PCI: one host bridge, bus 0, configuration space through ECAM and ports 0xCF8/0xCFC.
 * A device is one function of a slot: most take function 0 of the first free slot, a
 * multi-function device (header type bit 7 on its function 0) places its functions itself.
 * A device fills its 256-byte configuration header and declares its BARs; the bus places
 * the BARs in the MMIO windows and maps them on the VM's buses whenever the guest enables
 * decoding, and moves them when the guest reprograms them.
 */
#ifndef SMOLVM_PCI_H
#define SMOLVM_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"

struct vm;

#define PCI_MAX_DEVICES 32 /* slots of bus 0 */
#define PCI_MAX_FUNCTIONS 8
#define PCI_NUM_BARS    6
#define PCI_CFG_SIZE    256

/* Standard header offsets (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION       0x08
#define PCI_CLASS_PROG     0x09
#define PCI_HEADER_TYPE    0x0e
#define PCI_HEADER_MULTI_FUNCTION 0x80 /* in PCI_HEADER_TYPE of function 0 */
#define PCI_BAR0           0x10
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID      0x2e
#define PCI_CAP_PTR        0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d

#define PCI_COMMAND_IO     0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_CAP_LIST 0x10

enum pci_bar_type {
	PCI_BAR_NONE,
	PCI_BAR_MEM32,
	PCI_BAR_MEM64, /* takes two BAR slots, placed above 4 GiB */
	PCI_BAR_IO,
};

struct pci_device;

/* What a device may want to hear about beyond plain configuration bytes. */
struct pci_device_ops {
	/* A BAR appeared at addr (mapped) or disappeared; e.g. to move ioeventfds. */
	void (*bar_moved)(struct pci_device *dev, unsigned bar, uint64_t addr, bool mapped);
	/* After the guest wrote configuration bytes [offset, offset + size). */
	void (*config_written)(struct pci_device *dev, unsigned offset, unsigned size);
	/* Before the guest reads [offset, offset + size): a chance to refresh cfg[]. */
	void (*config_reading)(struct pci_device *dev, unsigned offset, unsigned size);
};

struct pci_bar {
	enum pci_bar_type type;
	uint64_t size; /* a power of two */
	uint64_t addr; /* where it is mapped while mapped */
	bool mapped;
	const struct bus_ops *ops;
	void *opaque;
};

struct pci_device {
	struct vm *vm;
	const struct pci_device_ops *ops;
	void *opaque;
	unsigned slot, function;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE]; /* bits the guest may change */
	uint8_t cap_end;             /* where the next capability goes */
	struct pci_bar bar[PCI_NUM_BARS];
};

/* Create the host bridge at 00:00.0 and the configuration space access paths: ECAM, and
 * with config_ports the type-1 ports 0xCF8/0xCFC too (-machine pci-ports=off leaves them
 * out), whose address writes KVM buffers where it can (vmm/coalesced.h), so that a type-1
 * access costs one exit, not two. Port 0xCF9 (reset control) is there either way. */
int pci_host_create(struct vm *vm, bool config_ports);
/* Take ECAM off the MMIO bus (configuration then only through 0xCF8/0xCFC): for a firmware
 * that puts its own BARs where ECAM would sit (OVMF on an i440FX has no ECAM). */
void pci_host_remove_ecam(struct vm *vm);
/* Give the host bridge another identity, before the guest runs. The default is a generic
 * bridge no driver quirk attaches to; a firmware tells chipsets apart by this id (OVMF
 * knows an i440FX, 8086:1237, and hangs on anything else). */
void pci_host_set_bridge_id(struct vm *vm, uint16_t vendor, uint16_t device, uint32_t class_code);

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint16_t subsys_vendor, uint16_t subsys_id);
/* Declare BAR idx of the given size (a power of two) answering through ops. */
int pci_device_add_bar(struct pci_device *dev, unsigned idx, enum pci_bar_type type, uint64_t size,
		       const struct bus_ops *ops, void *opaque);
/* Append a capability (cap[0] = id; cap[1] is filled as the next pointer); returns its
 * offset in configuration space, or 0 if there is no room. wmask marks writable bits
 * (may be NULL). */
unsigned pci_device_add_cap(struct pci_device *dev, const void *cap, unsigned len,
			    const void *wmask);
/* Give the device function 0 of the first slot none of whose functions is taken, place its
 * BARs, make it visible. */
int pci_device_register(struct vm *vm, struct pci_device *dev);
/* The same at slot/function: -EINVAL out of range, -EEXIST if taken. A function other than 0
 * answers the guest only while function 0 of its slot is there and multi-function. */
int pci_device_register_at(struct vm *vm, struct pci_device *dev, unsigned slot,
			   unsigned function);

/* Configuration space access, as the guest does it (exposed for unit tests); devfn is
 * slot << 3 | function. Absent functions read all-ones and ignore writes. */
uint32_t pci_config_read(struct vm *vm, unsigned devfn, unsigned offset, unsigned size);
void pci_config_write(struct vm *vm, unsigned devfn, unsigned offset, unsigned size,
		      uint32_t value);

/* Top of guest RAM rounded up: where the 64-bit BAR window starts. */
uint64_t pci_mmio64_base(const struct vm *vm);

#endif
