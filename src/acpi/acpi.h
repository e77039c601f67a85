/*
 * The ACPI tables a guest kernel reads to find its CPUs, interrupt controllers, PCI root bridge
 * and the power-off and reset registers: RSDP, XSDT, FADT, MADT, MCFG and DSDT. The platform is
 * hardware-reduced ACPI (no PM1 blocks, SCI or FACS); ports and fixed addresses come from
 * arch/x86/layout.h, the PCI windows from the caller.
 */
#ifndef SMOLVM_ACPI_H
#define SMOLVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* xAPIC ids are 8 bits, 0xff is broadcast and the I/O APIC takes id ncpus. */
#define ACPI_MAX_CPUS 254

struct acpi_config {
	unsigned ncpus;		/* LAPIC ids 0..ncpus-1 */
	uint64_t pci_ecam_base; /* bus 0 only */
	uint64_t pci_mmio32_base, pci_mmio32_size;
	uint64_t pci_mmio64_base, pci_mmio64_size; /* size 0: no 64-bit window */
	uint16_t pci_io_base, pci_io_size;
};

/*
 * Writes the RSDP at offset 0 of buf (which the guest sees at guest physical address gpa), then
 * the other tables after it, each 16-byte aligned. Returns the bytes used, -ENOSPC if size is
 * too small, or -EINVAL for a configuration the tables cannot describe (no CPUs or more than
 * ACPI_MAX_CPUS, a window past its address width, gpa not 16-byte aligned as the RSDP must be).
 */
int acpi_build(void *buf, size_t size, uint64_t gpa, const struct acpi_config *cfg);

#endif
