/*
 * The ACPI tables a guest kernel reads to find its CPUs, interrupt controllers, PCI root bridge
 * and the power-off and reset registers: RSDP, XSDT, FADT, MADT, MCFG (with an ECAM) and DSDT.
 * The platform is hardware-reduced ACPI (no PM1 blocks, SCI or FACS); ports and fixed addresses
 * come from arch/x86/layout.h, the PCI windows from the caller.
 */
#ifndef SMOLVM_ACPI_H
#define SMOLVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* xAPIC ids are 8 bits, 0xff is broadcast and the I/O APIC takes id ncpus. */
#define ACPI_MAX_CPUS 254

struct acpi_config {
	unsigned ncpus;		/* LAPIC ids 0..ncpus-1 */
	uint64_t pci_ecam_base; /* bus 0 only; 0: no ECAM (config through 0xcf8 only), no MCFG */
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

/*
 * The same tables for firmware that places them itself (QEMU's linker/loader, which OVMF runs
 * from fw_cfg's etc/table-loader): every table but the RSDP in one blob, as if it sat at
 * address 0, so each pointer between tables holds an offset into that blob; the RSDP apart.
 * The loader adds the blob's address to each listed pointer field, then computes each listed
 * checksum, whose byte is left 0 here.
 */
#define ACPI_RSDP_SIZE	     36
#define ACPI_BLOB_MAX_FIELDS 16

enum acpi_blob_id {
	ACPI_BLOB_TABLES, /* the tables: buf of acpi_build_blob() */
	ACPI_BLOB_RSDP,	  /* acpi_blob.rsdp */
};

/* A pointer field of width bytes at offset in blob `in`, holding an offset into the tables. */
struct acpi_blob_pointer {
	enum acpi_blob_id in;
	uint32_t offset;
	uint8_t width;
};

/* The byte at `result` in blob `in` makes the bytes [start, start + len) sum to zero. */
struct acpi_blob_checksum {
	enum acpi_blob_id in;
	uint32_t result, start, len;
};

struct acpi_blob {
	uint8_t rsdp[ACPI_RSDP_SIZE];
	size_t tables_len; /* bytes used of buf */
	struct acpi_blob_pointer pointer[ACPI_BLOB_MAX_FIELDS];
	unsigned npointers;
	/* In the order the loader must compute them: the RSDP's 20-byte checksum before the
	 * extended one that covers it. */
	struct acpi_blob_checksum checksum[ACPI_BLOB_MAX_FIELDS];
	unsigned nchecksums;
};

/* Writes the tables to buf (size bytes) and fills *out. 0, or acpi_build()'s errors. */
int acpi_build_blob(void *buf, size_t size, const struct acpi_config *cfg, struct acpi_blob *out);

#endif
