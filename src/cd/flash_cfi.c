#include "cd/flash_cfi.h"

#include <string.h>

void flash_cfi_init(struct flash_cfi *f, uint8_t *array, size_t size)
{
	*f = (struct flash_cfi){.array = array, .size = size, .read_array = true};
}

/* The second cycle of a program: the data, written as given (as QEMU does: OVMF erases
 * before it rewrites). */
static void flash_cfi_program(struct flash_cfi *f, uint64_t offset, unsigned size, uint64_t value)
{
	for (unsigned i = 0; i < size; i++)
		if (offset < f->size && i < f->size - offset)
			f->array[offset + i] = value >> (8 * i);
	if (offset < f->size) {
		f->changed_start = offset;
		f->changed_len = f->size - offset < size ? f->size - offset : size;
	}
	f->status |= FLASH_STATUS_READY;
}

static void flash_cfi_erase(struct flash_cfi *f, uint64_t offset)
{
	uint64_t block = offset & ~(uint64_t)(FLASH_CFI_BLOCK_SIZE - 1);

	if (block < f->size) {
		f->changed_start = block;
		f->changed_len =
		    f->size - block < FLASH_CFI_BLOCK_SIZE ? f->size - block : FLASH_CFI_BLOCK_SIZE;
		memset(f->array + block, 0xff, f->changed_len);
	}
	f->status |= FLASH_STATUS_READY;
}

/* As QEMU's pflash_cfi01 does, which OVMF was written against: after a program or an erase
 * the status register stays readable until 0xFF; a bad second cycle is an error in it. */
void flash_cfi_write(struct flash_cfi *f, uint64_t offset, unsigned size, uint64_t value)
{
	uint8_t cmd = value;

	f->changed_len = 0;
	if (size < 1 || size > 8)
		return;
	switch (f->pending) {
	case FLASH_CMD_PROGRAM:
		f->pending = 0;
		flash_cfi_program(f, offset, size, value);
		return;
	case FLASH_CMD_ERASE:
		f->pending = 0;
		if (cmd == FLASH_CMD_ERASE_CONFIRM)
			flash_cfi_erase(f, offset);
		else if (cmd == FLASH_CMD_READ_ARRAY)
			f->read_array = true;
		else
			f->status |= FLASH_STATUS_ERASE_ERR | FLASH_STATUS_PROGRAM_ERR;
		return;
	}
	switch (cmd) {
	case FLASH_CMD_PROGRAM:
	case FLASH_CMD_PROGRAM_ALT:
		f->pending = FLASH_CMD_PROGRAM;
		f->read_array = false;
		break;
	case FLASH_CMD_ERASE:
		f->pending = FLASH_CMD_ERASE;
		f->read_array = false;
		break;
	case FLASH_CMD_CLEAR_STATUS:
		f->status = 0;
		f->read_array = true;
		break;
	case FLASH_CMD_READ_STATUS:
		f->read_array = false;
		break;
	default: /* 0xFF, and commands this flash does not have (ids, CFI query, locks) */
		f->read_array = true;
		break;
	}
}

uint64_t flash_cfi_read(const struct flash_cfi *f, uint64_t offset, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size && i < 8; i++) {
		uint8_t b = f->status;
		if (f->read_array)
			b = offset < f->size && i < f->size - offset ? f->array[offset + i] : 0xff;
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}
