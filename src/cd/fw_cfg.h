/*
 * QEMU's firmware configuration interface (fw_cfg), the way OVMF reads it: numbered items and
 * named files the firmware selects by a 16-bit key, then reads byte by byte from the data port
 * or in one go through the DMA interface. The machine fills it before the guest runs: the CPU
 * count, the memory map (etc/e820), the ACPI tables with their loader script, the boot order.
 * QEMU's docs/specs/fw_cfg.txt describes the interface; OvmfPkg/Library/QemuFwCfgLib uses it.
 */
#ifndef SMOLVM_FW_CFG_H
#define SMOLVM_FW_CFG_H

#include <stdint.h>

struct vm;
struct e820_entry;
struct acpi_config;

/* The I/O ports (x86): the selector (16-bit writes), the data byte and the DMA address. */
#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA     0x511
#define FW_CFG_PORT_DMA	     0x514 /* the address's high half here, the low half at +4 */

/* Keys. Files take FW_CFG_FILE_FIRST onwards, in the order of their names. */
#define FW_CFG_SIGNATURE     0x0000 /* "QEMU" */
#define FW_CFG_ID	     0x0001 /* FW_CFG_VERSION_* bits, 32-bit little-endian */
#define FW_CFG_RAM_SIZE	     0x0003 /* 64-bit little-endian */
#define FW_CFG_NB_CPUS	     0x0005 /* 16-bit: the CPUs started at boot */
#define FW_CFG_MAX_CPUS	     0x000f /* 16-bit */
#define FW_CFG_FILE_DIR	     0x0019
#define FW_CFG_FILE_FIRST    0x0020
#define FW_CFG_FILE_MAX	     64	    /* files we hold; QEMU's default is 32 */
#define FW_CFG_WRITE_CHANNEL 0x4000 /* a selector bit that names no other item */

#define FW_CFG_VERSION_TRADITIONAL 0x1
#define FW_CFG_VERSION_DMA	   0x2

#define FW_CFG_NAME_SIZE 56 /* a file's name with its NUL */

/* The DMA descriptor's control word (big-endian in guest memory, as every field there). */
#define FW_CFG_DMA_ERROR     0x01
#define FW_CFG_DMA_READ	     0x02
#define FW_CFG_DMA_SKIP	     0x04
#define FW_CFG_DMA_SELECT    0x08		   /* the key in bits 31:16 */
#define FW_CFG_DMA_WRITE     0x10		   /* refused: no item is writable */
#define FW_CFG_DMA_SIGNATURE 0x51454d5520434647ULL /* "QEMU CFG", read at FW_CFG_PORT_DMA */

/*
 * The device on vm->pio, answering with vm->mem as guest memory, with the signature, the
 * interface id, the CPU counts (vm->ncpus), the RAM size (vm->cfg->mem_size, when cfg is set)
 * and the (empty) file directory. NULL after one line naming the problem.
 */
struct fw_cfg *fw_cfg_create(struct vm *vm);
/* Unregisters the ports and frees everything; NULL is fine. No vCPU may be running. */
void fw_cfg_destroy(struct fw_cfg *fw);

/*
 * Adds (or replaces) the numbered item key with a copy of data. Keys the device manages
 * (the file directory, the files' range) and keys with FW_CFG_WRITE_CHANNEL are refused.
 * 0, -EINVAL or -ENOMEM. Items are added before the guest runs: an addition also forgets
 * the guest's current selection.
 */
int fw_cfg_add_item(struct fw_cfg *fw, uint16_t key, const void *data, uint32_t len);
/* Adds the file name (1 to FW_CFG_NAME_SIZE - 1 bytes) with a copy of data, and lists it in the
 * directory. 0, -EINVAL (bad name), -EEXIST, -ENOSPC (FW_CFG_FILE_MAX files) or -ENOMEM. */
int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, uint32_t len);

/* "etc/e820": the n entries as QEMU gives them (20 bytes each: address, length, type,
 * little-endian). OVMF counts the RAM entries (type 1) for its memory below and above 4 GiB. */
int fw_cfg_add_e820(struct fw_cfg *fw, const struct e820_entry *e, unsigned n);
/* "etc/acpi/tables", "etc/acpi/rsdp" and the "etc/table-loader" script that places them,
 * links them and computes their checksums (acpi/acpi.h: acpi_build_blob). 0 or -errno. */
int fw_cfg_add_acpi(struct fw_cfg *fw, const struct acpi_config *acfg);

/* The loader script's commands (QEMU's hw/acpi/bios-linker-loader.c, OVMF's QemuLoader.h):
 * 128-byte entries, a 32-bit type then its fields, little-endian. */
#define FW_CFG_LOADER_ENTRY_SIZE 128
enum {
	FW_CFG_LOADER_ALLOCATE = 1,    /* file[56], align u32, zone u8 */
	FW_CFG_LOADER_ADD_POINTER = 2, /* pointer file[56], pointee file[56], offset u32, size u8 */
	FW_CFG_LOADER_ADD_CHECKSUM = 3, /* file[56], result offset u32, start u32, length u32 */
};
enum { FW_CFG_LOADER_ZONE_HIGH = 1, FW_CFG_LOADER_ZONE_FSEG = 2 };

#endif
