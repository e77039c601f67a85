/*
 * Fuzz the i440FX pieces (cd/chipset.h) as a hostile guest drives them: configuration
 * reads and writes of any function of slots 0-2 through 0xCF8/0xCFC and ECAM, at any size
 * and offset, and port accesses in and around the PM block wherever PMBA has put it. After
 * each input the PM block must be exactly where PMBA and PMIOSE say (a stale or doubled
 * mapping shows), and the identities OVMF switches on must be unchanged.
 *
 * Input: operations, each an opcode byte (low 2 bits the operation, bits 2-3 the access
 * size) and its operands.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "cd/chipset.h"
#include "cd/piix4_pm.h"
#include "pci/pci.h"
#include "vmm/vm.h"
#include "fuzz.h"

static struct vm vm;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	vm.kvm_fd = vm.vm_fd = vm.stop_fd = -1;
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	if (pci_host_create(&vm, true) != 0 || chipset_create(&vm) != 0)
		abort();
	return 0;
}

static const unsigned sizes[4] = {1, 2, 4, 8};

enum op { OP_CF8, OP_ECAM, OP_PM_IO, OP_PORT };

static uint32_t config_read(unsigned devfn, unsigned offset, unsigned size)
{
	uint64_t v = 0;

	bus_write(&vm.pio, PORT_PCI_CONFIG, 4, 0x80000000u | devfn << 8 | (offset & 0xfc));
	bus_read(&vm.pio, PORT_PCI_CONFIG + 4 + (offset & 3), size, &v);
	return v;
}

/* The PM block's current base as the guest programmed it, or 0 when it is off. */
static uint16_t pm_base(void)
{
	uint16_t base = config_read(1 << 3 | 3, PIIX4_PMBA, 2) & PIIX4_PMBA_MASK;

	return (config_read(1 << 3 | 3, PIIX4_PMREGMISC, 1) & PIIX4_PMREGMISC_PMIOSE) ? base : 0;
}

/* A port write, less SCI_EN: raising the SCI needs KVM, which this machine has not. */
static void port_write(uint64_t port, unsigned size, uint64_t v, uint16_t base)
{
	if (base && port <= base + PIIX4_PM1_CNT && port + size > base + PIIX4_PM1_CNT)
		v &= ~((uint64_t)PM1_SCI_EN << (8 * (base + PIIX4_PM1_CNT - port)));
	bus_write(&vm.pio, port, size, v);
}

static void run_op(struct fuzz_input *in)
{
	uint8_t op = fuzz_take(in, 1);
	unsigned size = sizes[(op >> 2) & 3];
	unsigned devfn = fuzz_take(in, 1) % (3 * 8); /* slots 0-2, every function */
	uint64_t v, addr;
	uint16_t base;

	switch ((enum op)(op & 3)) {
	case OP_CF8:
		/* The address register as the guest likes it, then a data access. */
		v = fuzz_take(in, 2);
		bus_write(&vm.pio, PORT_PCI_CONFIG, 4, 0x80000000u | devfn << 8 | (v & 0xff));
		addr = PORT_PCI_CONFIG + 4 + ((v >> 8) & 3);
		if (v & 0x8000)
			bus_write(&vm.pio, addr, size > 4 ? 4 : size, fuzz_take(in, 4));
		else
			bus_read(&vm.pio, addr, size > 4 ? 4 : size, &v);
		break;
	case OP_ECAM:
		addr = LAYOUT_PCI_ECAM + ((uint64_t)devfn << 12) + fuzz_take(in, 2) % 0x1000;
		if (op & 0x80)
			bus_write(&vm.mmio, addr, size, fuzz_take(in, size));
		else
			bus_read(&vm.mmio, addr, size, &v);
		break;
	case OP_PM_IO:
		/* In and just around the PM block, wherever it is. */
		base = pm_base();
		addr = (uint64_t)(base ? base : CHIPSET_PM_BASE) + fuzz_take(in, 1) % 72 - 4;
		if (op & 0x80)
			port_write(addr, size, fuzz_take(in, size), base);
		else
			bus_read(&vm.pio, addr, size, &v);
		break;
	case OP_PORT:
		addr = fuzz_take(in, 2);
		if (op & 0x80)
			port_write(addr, size, fuzz_take(in, size), pm_base());
		else
			bus_read(&vm.pio, addr, size, &v);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	unsigned ops = 0;
	uint16_t base;
	uint64_t tmr = 0;

	while (in.left && ops++ < 256)
		run_op(&in);
	atomic_store(&vm.stop_reason, VM_STOP_NONE);
	/* The block answers where PMBA says while on (unless that overlaps the config ports,
	 * where it cannot be), and is nowhere else. */
	base = pm_base();
	if (base && !(base <= PORT_PCI_CONFIG + 7 && PORT_PCI_CONFIG < base + PIIX4_PM_LEN)) {
		bus_read(&vm.pio, base + PIIX4_PM_TMR, 4, &tmr);
		if (tmr >> 24)
			__builtin_trap();
	}
	if (base != CHIPSET_PM_BASE) {
		bus_read(&vm.pio, CHIPSET_PM_BASE + PIIX4_PM_TMR, 4, &tmr);
		if (tmr != 0xffffffffu)
			__builtin_trap();
	}
	if (config_read(0, PCI_VENDOR_ID, 4) != 0x12378086 ||
	    config_read(1 << 3, PCI_VENDOR_ID, 4) != 0x70008086 ||
	    config_read(1 << 3 | 3, PCI_VENDOR_ID, 4) != 0x71138086 ||
	    config_read(1 << 3 | 1, PCI_VENDOR_ID, 4) != 0xffffffffu)
		__builtin_trap();
	return 0;
}
