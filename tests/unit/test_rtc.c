/*
 * CMOS as a firmware reads it through ports 0x70/0x71: the memory size bytes of a PC
 * (OVMF's PlatformInitLib reads 0x34/0x35 and 0x5b-0x5d), a valid RAM (register D bit 7),
 * no update in progress, and a shutdown status byte that reads back what was written.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "devices/legacy.h"
#include "vmm/vm.h"
#include "unit.h"

static struct vm vm;

static uint8_t cmos_read(uint8_t index)
{
	uint64_t v = 0;

	bus_write(&vm.pio, PORT_RTC, 1, index);
	bus_read(&vm.pio, PORT_RTC + 1, 1, &v);
	return v;
}

static void cmos_write(uint8_t index, uint8_t value)
{
	bus_write(&vm.pio, PORT_RTC, 1, index);
	bus_write(&vm.pio, PORT_RTC + 1, 1, value);
}

static unsigned cmos_read16(uint8_t index)
{
	return cmos_read(index) | cmos_read(index + 1) << 8;
}

/* What OVMF computes from CMOS (MemDetect.c), in bytes. */
static uint64_t ovmf_below_4g(void)
{
	return ((uint64_t)cmos_read16(0x34) << 16) + 16 * MiB;
}

static uint64_t ovmf_above_4g(void)
{
	uint64_t size = 0;

	for (unsigned i = 0x5d; i >= 0x5b; i--)
		size = size << 8 | cmos_read(i);
	return size << 16;
}

static void test_memory_size_3g_plus_1g(void)
{
	rtc_set_memory_size(&vm, 3 * GiB, 1 * GiB);
	CHECK_EQ(cmos_read(0x34), 0x00);
	CHECK_EQ(cmos_read(0x35), 0xbf); /* (3 GiB - 16 MiB) / 64 KiB = 0xbf00 */
	CHECK_EQ(cmos_read(0x5b), 0x00);
	CHECK_EQ(cmos_read(0x5c), 0x40); /* 1 GiB / 64 KiB = 0x4000 */
	CHECK_EQ(cmos_read(0x5d), 0x00);
	CHECK_EQ(ovmf_below_4g(), 3 * GiB);
	CHECK_EQ(ovmf_above_4g(), 1 * GiB);
	CHECK_EQ(cmos_read16(0x15), 640);
	CHECK_EQ(cmos_read16(0x17), 0xffff); /* capped */
	CHECK_EQ(cmos_read16(0x30), 0xffff);
}

static void test_memory_size_small(void)
{
	rtc_set_memory_size(&vm, 512 * MiB, 0);
	CHECK_EQ(ovmf_below_4g(), 512 * MiB);
	CHECK_EQ(ovmf_above_4g(), 0);
	rtc_set_memory_size(&vm, 8 * MiB, 0);
	CHECK_EQ(cmos_read16(0x34), 0);
	CHECK_EQ(cmos_read16(0x17), 7 * 1024);
	CHECK_EQ(cmos_read16(0x30), 7 * 1024);
	CHECK_EQ(cmos_read16(0x15), 640);
}

static void test_memory_size_large(void)
{
	/* 1 TiB above 4 GiB is the most 24 bits of 64 KiB can say, less one unit. */
	rtc_set_memory_size(&vm, 3 * GiB, 64 * GiB);
	CHECK_EQ(ovmf_above_4g(), 64 * GiB);
	rtc_set_memory_size(&vm, 3 * GiB, 2048 * GiB);
	CHECK_EQ(ovmf_above_4g(), 0xffffffULL << 16);
}

static void test_status_registers(void)
{
	CHECK_EQ(cmos_read(0x0d) & 0x80, 0x80); /* RAM and time valid */
	cmos_write(0x0d, 0);
	CHECK_EQ(cmos_read(0x0d) & 0x80, 0x80);
	CHECK_EQ(cmos_read(0x0a) & 0x80, 0); /* no update in progress */
	cmos_write(0x0a, 0xa6);
	CHECK_EQ(cmos_read(0x0a) & 0x80, 0);
	CHECK_EQ(cmos_read(0x0f), 0); /* shutdown status: a normal boot, not an S3 resume */
	cmos_write(0x0f, 0xfe);
	CHECK_EQ(cmos_read(0x0f), 0xfe);
	cmos_write(0x0f, 0);
	CHECK_EQ(cmos_read(0x0f), 0);
	/* The index port has 7 bits: 0x80 | 0x34 is 0x34 (bit 7 masks NMIs). */
	rtc_set_memory_size(&vm, 3 * GiB, 0);
	CHECK_EQ(cmos_read(0x80 | 0x35), 0xbf);
}

int main(void)
{
	bus_init(&vm.pio, "pio");
	CHECK_EQ(rtc_create(&vm), 0);
	RUN(test_status_registers);
	RUN(test_memory_size_3g_plus_1g);
	RUN(test_memory_size_small);
	RUN(test_memory_size_large);
	free(vm.rtc);
	free(vm.pio.ranges);
	return UNIT_RESULT();
}
