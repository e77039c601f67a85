/*
 * The CFI flash of -efivars: OVMF's probe sequence (QemuFlashDetected) must find a writable
 * flash, its program and erase sequences must change the array, and no command, offset or
 * access size may reach outside the array.
 */
#include <stdint.h>
#include <string.h>

#include "cd/flash_cfi.h"
#include "unit.h"

#define SIZE (4 * FLASH_CFI_BLOCK_SIZE)

static uint8_t array[SIZE];

static void setup(struct flash_cfi *f)
{
	for (unsigned i = 0; i < SIZE; i++)
		array[i] = (uint8_t)(i * 7 + 3);
	flash_cfi_init(f, array, SIZE);
}

/* OVMF's QemuFlashDetected, step by step: the verdict it would log. */
static const char *ovmf_probe(struct flash_cfi *f, uint64_t off)
{
	uint8_t orig = flash_cfi_read(f, off, 1), probe;

	flash_cfi_write(f, off, 1, FLASH_CMD_CLEAR_STATUS);
	probe = flash_cfi_read(f, off, 1);
	if (orig != FLASH_CMD_CLEAR_STATUS && probe == FLASH_CMD_CLEAR_STATUS)
		return "RAM";
	flash_cfi_write(f, off, 1, FLASH_CMD_READ_STATUS);
	probe = flash_cfi_read(f, off, 1);
	if (probe == orig)
		return "ROM";
	if (probe == FLASH_CMD_READ_STATUS)
		return "RAM";
	if (probe != 0)
		return "unknown";
	flash_cfi_write(f, off, 1, FLASH_CMD_PROGRAM);
	flash_cfi_write(f, off, 1, orig);
	flash_cfi_write(f, off, 1, FLASH_CMD_READ_STATUS);
	probe = flash_cfi_read(f, off, 1);
	flash_cfi_write(f, off, 1, FLASH_CMD_READ_ARRAY);
	return probe & FLASH_STATUS_PROGRAM_ERR ? "write-protected" : "FLASH";
}

static void test_ovmf_detects_a_writable_flash(void)
{
	struct flash_cfi f;

	setup(&f);
	CHECK_STR(ovmf_probe(&f, 16), "FLASH");
	CHECK(f.read_array);
	CHECK_EQ(array[16], (uint8_t)(16 * 7 + 3)); /* programmed back to itself */
}

static void test_program_and_erase(void)
{
	struct flash_cfi f;

	setup(&f);
	/* OVMF's QemuFlashWrite: 0x10 then the byte, for each byte, then 0xFF. */
	for (unsigned i = 0; i < 4; i++) {
		flash_cfi_write(&f, 100 + i, 1, FLASH_CMD_PROGRAM);
		CHECK(!f.read_array);
		CHECK_EQ(f.changed_len, 0);
		flash_cfi_write(&f, 100 + i, 1, "BOOT"[i]);
		CHECK_EQ(f.changed_start, 100 + i);
		CHECK_EQ(f.changed_len, 1);
	}
	CHECK_EQ(flash_cfi_read(&f, 0, 1), FLASH_STATUS_READY); /* the status until 0xFF */
	flash_cfi_write(&f, 103, 1, FLASH_CMD_READ_ARRAY);
	CHECK(f.read_array);
	CHECK(memcmp(array + 100, "BOOT", 4) == 0);
	CHECK_EQ(flash_cfi_read(&f, 100, 4), 0x544f4f42);

	/* 0x20 then 0xD0 erases the 4 KiB block around the address, and only it. */
	flash_cfi_write(&f, FLASH_CFI_BLOCK_SIZE + 5, 1, FLASH_CMD_ERASE);
	flash_cfi_write(&f, FLASH_CFI_BLOCK_SIZE + 5, 1, FLASH_CMD_ERASE_CONFIRM);
	CHECK_EQ(f.changed_start, FLASH_CFI_BLOCK_SIZE);
	CHECK_EQ(f.changed_len, FLASH_CFI_BLOCK_SIZE);
	flash_cfi_write(&f, 0, 1, FLASH_CMD_READ_ARRAY);
	for (unsigned i = 0; i < FLASH_CFI_BLOCK_SIZE; i++)
		if (array[FLASH_CFI_BLOCK_SIZE + i] != 0xff) {
			CHECK_EQ(array[FLASH_CFI_BLOCK_SIZE + i], 0xff);
			break;
		}
	CHECK_EQ(array[FLASH_CFI_BLOCK_SIZE - 1], (uint8_t)((FLASH_CFI_BLOCK_SIZE - 1) * 7 + 3));
	CHECK_EQ(array[2 * FLASH_CFI_BLOCK_SIZE], (uint8_t)(2 * FLASH_CFI_BLOCK_SIZE * 7 + 3));

	/* A bad erase confirmation erases nothing and sets the error bits; 0x50 clears them. */
	flash_cfi_write(&f, 0, 1, FLASH_CMD_ERASE);
	flash_cfi_write(&f, 0, 1, 0x42);
	CHECK(flash_cfi_read(&f, 0, 1) & FLASH_STATUS_ERASE_ERR);
	CHECK_EQ(array[0], 3);
	flash_cfi_write(&f, 0, 1, FLASH_CMD_CLEAR_STATUS);
	CHECK(f.read_array);
	flash_cfi_write(&f, 0, 1, FLASH_CMD_READ_STATUS);
	CHECK_EQ(flash_cfi_read(&f, 0, 1), 0);
	flash_cfi_write(&f, 0, 1, 0x90); /* a command it lacks: back to the array */
	CHECK(f.read_array);
}

static void test_edges_stay_inside(void)
{
	struct flash_cfi f;

	setup(&f);
	/* An 8-byte program at the last byte writes that byte only. */
	flash_cfi_write(&f, SIZE - 1, 1, FLASH_CMD_PROGRAM);
	flash_cfi_write(&f, SIZE - 1, 8, 0x1122334455667788ULL);
	CHECK_EQ(array[SIZE - 1], 0x88);
	CHECK_EQ(f.changed_start, SIZE - 1);
	CHECK_EQ(f.changed_len, 1);
	flash_cfi_write(&f, 0, 1, FLASH_CMD_READ_ARRAY);
	/* Past the end: writes dropped, reads all-ones. */
	flash_cfi_write(&f, SIZE + 10, 1, FLASH_CMD_PROGRAM);
	flash_cfi_write(&f, SIZE + 10, 4, 0);
	flash_cfi_write(&f, UINT64_MAX, 1, FLASH_CMD_ERASE);
	flash_cfi_write(&f, UINT64_MAX, 1, FLASH_CMD_ERASE_CONFIRM);
	flash_cfi_write(&f, 0, 1, FLASH_CMD_READ_ARRAY);
	CHECK_EQ(flash_cfi_read(&f, SIZE + 10, 2), 0xffff);
	CHECK_EQ(flash_cfi_read(&f, SIZE - 1, 2), 0xff88);
	CHECK_EQ(flash_cfi_read(&f, UINT64_MAX, 8), -1);
	/* Sizes outside 1..8 change nothing. */
	flash_cfi_write(&f, 0, 0, FLASH_CMD_READ_STATUS);
	flash_cfi_write(&f, 0, 9, FLASH_CMD_READ_STATUS);
	CHECK(f.read_array);
}

int main(void)
{
	RUN(test_ovmf_detects_a_writable_flash);
	RUN(test_program_and_erase);
	RUN(test_edges_stay_inside);
	return UNIT_RESULT();
}
