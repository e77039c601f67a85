/*
 * The command set of an Intel/Sharp CFI flash (QEMU's pflash_cfi01, one byte wide), as OVMF
 * drives its variable store: 0x10/0x40 program, 0x20 then 0xD0 erase a block, 0x50 clear the
 * status, 0x70 read the status, 0xFF (and anything unknown) back to reading the array.
 * OVMF probes for it (QemuFlashDetected) by writing 0x50 and 0x70 and programming one byte back
 * to its own value; plain RAM or ROM there makes it fall back to variables in memory.
 *
 * Pure logic over the array: the guest's writes arrive here, and the caller maps the array
 * into the guest only while read_array is true (reads then never leave KVM).
 */
#ifndef SMOLVM_CD_FLASH_CFI_H
#define SMOLVM_CD_FLASH_CFI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLASH_CFI_BLOCK_SIZE 4096 /* QEMU's sector size for the PC flash, OVMF's block size */

#define FLASH_CMD_PROGRAM	0x10
#define FLASH_CMD_PROGRAM_ALT	0x40
#define FLASH_CMD_ERASE		0x20
#define FLASH_CMD_CLEAR_STATUS	0x50
#define FLASH_CMD_READ_STATUS	0x70
#define FLASH_CMD_ERASE_CONFIRM 0xd0
#define FLASH_CMD_READ_ARRAY	0xff

#define FLASH_STATUS_READY	 0x80
#define FLASH_STATUS_ERASE_ERR	 0x20
#define FLASH_STATUS_PROGRAM_ERR 0x10

struct flash_cfi {
	uint8_t *array;
	size_t size;
	uint8_t pending; /* the first cycle of a two-cycle command (program, erase), or 0 */
	uint8_t status;
	bool read_array; /* reads return the array; otherwise the status register */
	/* The bytes of the array the last write changed (len 0: none), for a copy to follow. */
	uint64_t changed_start, changed_len;
};

void flash_cfi_init(struct flash_cfi *f, uint8_t *array, size_t size);

/* The guest wrote size bytes (1..8) of value at offset. Out-of-range parts are ignored.
 * Sets changed_start/changed_len. */
void flash_cfi_write(struct flash_cfi *f, uint64_t offset, unsigned size, uint64_t value);

/* The guest reads size bytes (1..8) at offset: the array, or the status in each byte. */
uint64_t flash_cfi_read(const struct flash_cfi *f, uint64_t offset, unsigned size);

#endif
