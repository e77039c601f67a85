/*
 * PCI configuration space by bus/device/function, as a guest reaches it: through ports
 * 0xCF8/0xCFC and through ECAM. Functions other than 0 answer only behind a multi-function
 * function 0; absent functions read all-ones and drop writes. Without the ports (the
 * direct-kernel machine's default) only ECAM answers, and 0xCF9 still resets.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "pci/pci.h"
#include "vmm/vm.h"
#include "unit.h"

static struct vm vm;

/* The host is one allocation; nothing else is freed by smolvm, which exits instead. */
static void machine_free(void)
{
	free(vm.pci);
	free(vm.pio.ranges);
	free(vm.mmio.ranges);
}

static void machine_init_ports(bool config_ports)
{
	machine_free();
	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = vm.stop_fd = -1;
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	CHECK_EQ(pci_host_create(&vm, config_ports), 0);
}

/* The firmware machine's configuration paths: ports and ECAM. */
static void machine_init(void)
{
	machine_init_ports(true);
}

/* A guest's configuration read through 0xCF8/0xCFC (bus 0). */
static uint32_t cf8_read(unsigned devfn, unsigned offset, unsigned size)
{
	uint64_t v = 0;

	bus_write(&vm.pio, PORT_PCI_CONFIG, 4, 0x80000000u | devfn << 8 | (offset & 0xfc));
	bus_read(&vm.pio, PORT_PCI_CONFIG + 4 + (offset & 3), size, &v);
	return v;
}

static void cf8_write(unsigned devfn, unsigned offset, unsigned size, uint32_t value)
{
	bus_write(&vm.pio, PORT_PCI_CONFIG, 4, 0x80000000u | devfn << 8 | (offset & 0xfc));
	bus_write(&vm.pio, PORT_PCI_CONFIG + 4 + (offset & 3), size, value);
}

static uint32_t ecam_read(unsigned devfn, unsigned offset, unsigned size)
{
	uint64_t v = 0;

	bus_read(&vm.mmio, LAYOUT_PCI_ECAM + ((uint64_t)devfn << 12) + offset, size, &v);
	return v;
}

static void ecam_write(unsigned devfn, unsigned offset, unsigned size, uint32_t value)
{
	bus_write(&vm.mmio, LAYOUT_PCI_ECAM + ((uint64_t)devfn << 12) + offset, size, value);
}

#define DEVFN(slot, fn) ((slot) << 3 | (fn))

static struct pci_device isa, pm, other, plain;

/* 00:01.0 multi-function (the header type says so), 00:01.3 beside it. */
static void add_multifunction(void)
{
	pci_device_init(&isa, 0x8086, 0x7000, 0x060100, 0, 0);
	isa.cfg[PCI_HEADER_TYPE] = PCI_HEADER_MULTI_FUNCTION;
	pci_device_init(&pm, 0x8086, 0x7113, 0x068000, 0, 0);
	CHECK_EQ(pci_device_register_at(&vm, &isa, 1, 0), 0);
	CHECK_EQ(pci_device_register_at(&vm, &pm, 1, 3), 0);
	CHECK_EQ(isa.slot, 1);
	CHECK_EQ(pm.function, 3);
}

static void test_functions_by_port_and_ecam(void)
{
	machine_init();
	add_multifunction();
	CHECK_EQ(cf8_read(DEVFN(1, 0), PCI_VENDOR_ID, 4), 0x70008086);
	CHECK_EQ(cf8_read(DEVFN(1, 3), PCI_VENDOR_ID, 4), 0x71138086);
	CHECK_EQ(cf8_read(DEVFN(1, 0), PCI_HEADER_TYPE, 1), 0x80);
	CHECK_EQ(cf8_read(DEVFN(1, 3), PCI_REVISION + 2, 2), 0x0680); /* class, subclass */
	CHECK_EQ(cf8_read(DEVFN(1, 3), PCI_DEVICE_ID, 2), 0x7113);
	CHECK_EQ(ecam_read(DEVFN(1, 0), PCI_VENDOR_ID, 4), 0x70008086);
	CHECK_EQ(ecam_read(DEVFN(1, 3), PCI_VENDOR_ID, 4), 0x71138086);
	CHECK_EQ(ecam_read(DEVFN(1, 3), PCI_REVISION + 1, 2), 0x8000);
	/* The functions nobody registered, on both paths and at every size. */
	for (unsigned fn = 1; fn < 8; fn++) {
		if (fn == 3)
			continue;
		CHECK_EQ(cf8_read(DEVFN(1, fn), PCI_VENDOR_ID, 4), 0xffffffffu);
		CHECK_EQ(cf8_read(DEVFN(1, fn), PCI_VENDOR_ID, 2), 0xffff);
		CHECK_EQ(ecam_read(DEVFN(1, fn), PCI_VENDOR_ID, 4), 0xffffffffu);
		CHECK_EQ(ecam_read(DEVFN(1, fn), PCI_HEADER_TYPE, 1), 0xff);
	}
	/* The host bridge is single-function: 00:00.1 is nobody. */
	CHECK_EQ(cf8_read(DEVFN(0, 1), PCI_VENDOR_ID, 4), 0xffffffffu);
	/* Writes reach the right function: the command register of 00:01.3, not of 00:01.0. */
	cf8_write(DEVFN(1, 3), PCI_COMMAND, 2, PCI_COMMAND_IO);
	CHECK_EQ(cf8_read(DEVFN(1, 3), PCI_COMMAND, 2), PCI_COMMAND_IO);
	CHECK_EQ(cf8_read(DEVFN(1, 0), PCI_COMMAND, 2), 0);
	ecam_write(DEVFN(1, 0), PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	CHECK_EQ(ecam_read(DEVFN(1, 0), PCI_COMMAND, 2), PCI_COMMAND_MEMORY);
	CHECK_EQ(ecam_read(DEVFN(1, 3), PCI_COMMAND, 2), PCI_COMMAND_IO);
	/* A write to an absent function changes nothing anywhere. */
	cf8_write(DEVFN(1, 5), PCI_COMMAND, 2, 0x7);
	CHECK_EQ(cf8_read(DEVFN(1, 3), PCI_COMMAND, 2), PCI_COMMAND_IO);
	CHECK_EQ(cf8_read(DEVFN(1, 5), PCI_COMMAND, 2), 0xffff);
}

/* Without the multi-function bit on function 0, function 3 must not answer. */
static void test_function_hidden_without_multifunction(void)
{
	machine_init();
	add_multifunction();
	isa.cfg[PCI_HEADER_TYPE] = 0;
	CHECK_EQ(cf8_read(DEVFN(1, 3), PCI_VENDOR_ID, 4), 0xffffffffu);
	CHECK_EQ(ecam_read(DEVFN(1, 3), PCI_VENDOR_ID, 4), 0xffffffffu);
	isa.cfg[PCI_HEADER_TYPE] = PCI_HEADER_MULTI_FUNCTION;
	CHECK_EQ(cf8_read(DEVFN(1, 3), PCI_VENDOR_ID, 4), 0x71138086);
	/* The header type is read-only to the guest. */
	cf8_write(DEVFN(1, 0), PCI_HEADER_TYPE, 1, 0);
	CHECK_EQ(cf8_read(DEVFN(1, 0), PCI_HEADER_TYPE, 1), 0x80);
}

/* A function other than 0 alone in its slot is invisible; the slot is still taken. */
static void test_function_without_function0(void)
{
	machine_init();
	pci_device_init(&pm, 0x8086, 0x7113, 0x068000, 0, 0);
	CHECK_EQ(pci_device_register_at(&vm, &pm, 1, 3), 0);
	CHECK_EQ(cf8_read(DEVFN(1, 3), PCI_VENDOR_ID, 4), 0xffffffffu);
	CHECK_EQ(cf8_read(DEVFN(1, 0), PCI_VENDOR_ID, 4), 0xffffffffu);
	pci_device_init(&plain, 0x1af4, 0x1041, 0x020000, 0, 0);
	CHECK_EQ(pci_device_register(&vm, &plain), 0);
	CHECK_EQ(plain.slot, 2);
	CHECK_EQ(plain.function, 0);
}

static void test_register_at_refusals(void)
{
	machine_init();
	add_multifunction();
	pci_device_init(&other, 0x1234, 0x5678, 0xff0000, 0, 0);
	CHECK_EQ(pci_device_register_at(&vm, &other, 1, 3), -EEXIST);
	CHECK_EQ(pci_device_register_at(&vm, &other, 0, 0), -EEXIST); /* the host bridge */
	CHECK_EQ(pci_device_register_at(&vm, &other, 32, 0), -EINVAL);
	CHECK_EQ(pci_device_register_at(&vm, &other, 2, 8), -EINVAL);
	/* The first free slot for an ordinary device is past the multi-function one. */
	CHECK_EQ(pci_device_register(&vm, &other), 0);
	CHECK_EQ(other.slot, 2);
	CHECK_EQ(ecam_read(DEVFN(2, 0), PCI_VENDOR_ID, 4), 0x56781234);
	CHECK_EQ(ecam_read(DEVFN(2, 1), PCI_VENDOR_ID, 4), 0xffffffffu);
}

/* The bus beyond 0 and the disabled address register read all-ones. */
static void test_other_buses(void)
{
	uint64_t v = 0;

	machine_init();
	add_multifunction();
	bus_write(&vm.pio, PORT_PCI_CONFIG, 4, 0x80000000u | 1 << 16 | DEVFN(1, 0) << 8);
	bus_read(&vm.pio, PORT_PCI_CONFIG + 4, 4, &v);
	CHECK_EQ(v, 0xffffffffu);
	bus_write(&vm.pio, PORT_PCI_CONFIG, 4, DEVFN(1, 0) << 8);
	bus_read(&vm.pio, PORT_PCI_CONFIG + 4, 4, &v);
	CHECK_EQ(v, 0xffffffffu);
}

/* The firmware machine's bridge identity; the default one is what the direct-kernel
 * machine keeps. */
static void test_bridge_identity(void)
{
	machine_init();
	CHECK_EQ(cf8_read(DEVFN(0, 0), PCI_VENDOR_ID, 4), 0x00081b36);
	CHECK_EQ(cf8_read(DEVFN(0, 0), PCI_REVISION, 4), 0x06000001);
	pci_host_set_bridge_id(&vm, 0x8086, 0x1237, 0x060000);
	CHECK_EQ(cf8_read(DEVFN(0, 0), PCI_DEVICE_ID, 2), 0x1237);
	CHECK_EQ(ecam_read(DEVFN(0, 0), PCI_VENDOR_ID, 4), 0x12378086);
	CHECK_EQ(cf8_read(DEVFN(0, 0), PCI_REVISION, 4), 0x06000001);
	cf8_write(DEVFN(0, 0), PCI_VENDOR_ID, 4, 0);
	CHECK_EQ(cf8_read(DEVFN(0, 0), PCI_VENDOR_ID, 4), 0x12378086);
}

/* The direct-kernel machine: nothing at 0xCF8/0xCFC, the same devices through ECAM. */
static void test_ecam_only_without_ports(void)
{
	const char *name;
	uint64_t base;

	machine_init_ports(false);
	add_multifunction();
	CHECK_EQ(ecam_read(DEVFN(0, 0), PCI_VENDOR_ID, 4), 0x00081b36);
	CHECK_EQ(ecam_read(DEVFN(1, 3), PCI_VENDOR_ID, 4), 0x71138086);
	CHECK_EQ(cf8_read(DEVFN(0, 0), PCI_VENDOR_ID, 4), 0xffffffffu);
	CHECK_EQ(cf8_read(DEVFN(1, 0), PCI_VENDOR_ID, 2), 0xffff);
	for (unsigned port = PORT_PCI_CONFIG; port < PORT_PCI_CONFIG + 8; port++)
		CHECK_EQ(bus_describe(&vm.pio, port, &name, &base), port == PORT_PCI_RESET);
	/* A type-1 write through the absent ports changes nothing. */
	cf8_write(DEVFN(1, 0), PCI_INTERRUPT_LINE, 1, 0x0a);
	CHECK_EQ(ecam_read(DEVFN(1, 0), PCI_INTERRUPT_LINE, 1), 0);
	ecam_write(DEVFN(1, 0), PCI_INTERRUPT_LINE, 1, 0x0b);
	CHECK_EQ(ecam_read(DEVFN(1, 0), PCI_INTERRUPT_LINE, 1), 0x0b);
}

/* reboot=pci: 0xCF9 bit 2 resets, with the ports or without them. */
static void test_cf9_resets_either_way(void)
{
	for (int ports = 0; ports < 2; ports++) {
		machine_init_ports(ports);
		bus_write(&vm.pio, PORT_PCI_RESET, 1, 0x02); /* no reset bit */
		CHECK_EQ(vm.stop_reason, VM_STOP_NONE);
		bus_write(&vm.pio, PORT_PCI_RESET, 1, 0x06);
		CHECK_EQ(vm.stop_reason, VM_STOP_REBOOT);
	}
}

int main(void)
{
	RUN(test_ecam_only_without_ports);
	RUN(test_cf9_resets_either_way);
	RUN(test_functions_by_port_and_ecam);
	RUN(test_function_hidden_without_multifunction);
	RUN(test_function_without_function0);
	RUN(test_register_at_refusals);
	RUN(test_other_buses);
	RUN(test_bridge_identity);
	machine_free();
	return UNIT_RESULT();
}
