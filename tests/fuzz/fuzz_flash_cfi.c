/*
 * Fuzz the CFI flash of -efivars with the guest's accesses: each record of the input is one
 * read or write (offset, size, value) against a 16 KiB array, as MMIO exits deliver them.
 * Whatever the sequence, the flash must stay inside its array (ASan watches the exact-size
 * buffer) and a read must answer either the array or the status register.
 *
 * Input: records of 12 bytes: a kind byte (bit 0: write; bits 1-3: size - 1), a byte of
 * offset slack (past the end when bit 0 is set), a little-endian u16 offset, and a u64 value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cd/flash_cfi.h"

#define SIZE (4 * FLASH_CFI_BLOCK_SIZE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t *array = malloc(SIZE);
	struct flash_cfi f;

	if (!array)
		return 0;
	memset(array, 0x5a, SIZE);
	flash_cfi_init(&f, array, SIZE);
	for (; len >= 12; data += 12, len -= 12) {
		unsigned size = ((data[0] >> 1) & 7) + 1;
		uint64_t offset = data[2] | (uint64_t)data[3] << 8, value;
		memcpy(&value, data + 4, 8);
		if (data[1] & 1)
			offset += SIZE - 8 + (data[1] >> 1);
		if (data[1] == 0xff)
			offset = UINT64_MAX - data[2];
		if (data[0] & 1) {
			flash_cfi_write(&f, offset, size, value);
		} else {
			uint64_t v = flash_cfi_read(&f, offset, size);
			if (!f.read_array)
				for (unsigned i = 0; i < size; i++)
					if ((uint8_t)(v >> (8 * i)) != f.status)
						abort();
		}
	}
	free(array);
	return 0;
}
