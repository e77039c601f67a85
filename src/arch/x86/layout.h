/*
 * The guest physical address map and I/O port map, in one place.
 *
 *   0x0000_0000  low RAM (real-mode area, boot structures)
 *   0x000e_0000  ACPI tables (reserved in e820)
 *   0x0010_0000  RAM: kernel, initramfs, ...
 *   0xc000_0000  hole: 32-bit PCI BARs, ECAM, GED, IOAPIC, LAPIC
 *   0x1_0000_0000  RAM above 4 GiB, then the 64-bit PCI BAR window
 */
#ifndef SMOLVM_LAYOUT_H
#define SMOLVM_LAYOUT_H

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* Boot structures in low memory. */
#define LAYOUT_GDT           0x0500ULL
#define LAYOUT_PVH_INFO      0x6000ULL /* hvm_start_info, its memmap and module list */
#define LAYOUT_ZERO_PAGE     0x7000ULL /* struct boot_params */
#define LAYOUT_PAGE_TABLES   0x9000ULL /* PML4, PDPT, 4 PDs: identity map of 4 GiB */
#define LAYOUT_CMDLINE       0x20000ULL
#define LAYOUT_CMDLINE_MAX   0x10000ULL
#define LAYOUT_EBDA          0x9fc00ULL /* first byte no longer usable RAM below 1 MiB */
#define LAYOUT_ACPI          0xe0000ULL /* RSDP here, where legacy scans look */
#define LAYOUT_ACPI_SIZE     0x10000ULL
#define LAYOUT_RESET_VECTOR  0xffff0ULL /* f000:fff0, where a CPU reset starts */
#define LAYOUT_HIGH_MEM      0x100000ULL /* 1 MiB: protected-mode kernel */

/* The hole below 4 GiB. */
#define LAYOUT_MMIO_HOLE     0xc0000000ULL
#define LAYOUT_PCI_MMIO32    0xc0000000ULL
#define LAYOUT_PCI_MMIO32_SIZE 0x20000000ULL /* 512 MiB of 32-bit BARs */
#define LAYOUT_PCI_ECAM      0xe0000000ULL
#define LAYOUT_PCI_ECAM_SIZE 0x100000ULL /* bus 0 only */
#define LAYOUT_GED           0xfeb00000ULL /* the Generic Event Device's register (devices/ged.c) */
#define LAYOUT_GED_SIZE      4
#define LAYOUT_IOAPIC        0xfec00000ULL
#define LAYOUT_LAPIC         0xfee00000ULL
#define LAYOUT_RAM_HIGH      0x100000000ULL

/* 64-bit BARs live above RAM, from the first 1 GiB boundary past it. */
#define LAYOUT_PCI_MMIO64_SIZE (64 * GiB)

/* I/O ports we answer (the in-kernel PIC, PIT and speaker port take their own). */
#define PORT_I8042_DATA      0x60
#define PORT_I8042_CMD       0x64
#define PORT_RTC             0x70 /* index, data at 0x71 */
#define PORT_POST            0x80 /* POST codes: swallowed */
#define PORT_COM1            0x3f8
#define PORT_PCI_CONFIG      0xcf8 /* address at 0xcf8, data at 0xcfc..0xcff */
#define PORT_PCI_RESET       0xcf9 /* reset control, inside the range above */
#define PORT_PCI_IO          0x1000 /* I/O window for PCI BARs, up to 0xffff */
#define PORT_PCI_IO_SIZE     0xf000

/* ACPI hardware-reduced registers: sleep control/status and reset (see acpi/). */
#define PORT_ACPI_SLEEP_CTL  0x600
#define PORT_ACPI_SLEEP_STS  0x601
#define PORT_ACPI_RESET      0x602
#define ACPI_RESET_VALUE     0x01
#define ACPI_S5_SLP_TYP      5 /* the value our DSDT's \_S5 gives, written as SLP_TYP */

/* ISA interrupt lines. */
#define IRQ_COM1             4
#define IRQ_RTC              8

/* The first I/O APIC pin past the ISA lines, which nothing else uses: the GED's interrupt,
 * level-triggered and active high as its _CRS says. */
#define IRQ_GED              16

#endif
