/*
 * The fw_cfg device through its ports, as OVMF drives it: signature and interface id, the file
 * directory, byte reads past an item's end, DMA read/skip/select/write, hostile descriptors,
 * and the ACPI tables placed by running etc/table-loader the way OVMF's AcpiPlatformDxe does.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "acpi/acpi.h"
#include "arch/x86/e820.h"
#include "cd/fw_cfg.h"
#include "fw_cfg_guest.h"
#include "bytes.h"
#include "unit.h"

#define RAM_SIZE (16u << 20)
#define DESC	 0x1000ULL /* where the tests put DMA descriptors */
#define BUF	 0x2000ULL /* and DMA buffers */

static struct fw_cfg_guest g;

static void fresh(void)
{
	fw_cfg_destroy(g.fw);
	memset(g.ram, 0, g.ram_size);
	g.fw = fw_cfg_create(&g.vm);
	CHECK(g.fw != NULL);
	if (!g.fw)
		abort();
}

static uint64_t read_item(uint16_t key, unsigned n)
{
	uint8_t b[8] = {0};

	fw_cfg_guest_select(&g, key);
	fw_cfg_guest_read(&g, b, n);
	return le(b, n);
}

/* QemuFwCfgFindFile: walk the directory through the data port. */
static int find_file(const char *name, uint16_t *key, uint32_t *size)
{
	uint8_t b[4];
	uint32_t count;

	fw_cfg_guest_select(&g, FW_CFG_FILE_DIR);
	fw_cfg_guest_read(&g, b, 4);
	count = (uint32_t)be(b, 4);
	for (uint32_t i = 0; i < count; i++) {
		uint8_t e[64];

		fw_cfg_guest_read(&g, e, sizeof(e));
		if (strncmp((char *)e + 8, name, FW_CFG_NAME_SIZE) == 0) {
			*size = (uint32_t)be(e, 4);
			*key = (uint16_t)be(e + 4, 2);
			return 0;
		}
	}
	return -ENOENT;
}

static void test_signature_and_id(void)
{
	uint64_t v;

	fresh();
	CHECK_EQ(read_item(FW_CFG_SIGNATURE, 4), 0x554d4551); /* SIGNATURE_32('Q','E','M','U') */
	CHECK_EQ(read_item(FW_CFG_ID, 4), 3);		      /* traditional and DMA */
	CHECK_EQ(read_item(FW_CFG_NB_CPUS, 2), 2);
	CHECK_EQ(read_item(FW_CFG_MAX_CPUS, 2), 2);
	CHECK_EQ(read_item(FW_CFG_RAM_SIZE, 8), RAM_SIZE);
	CHECK_EQ(read_item(FW_CFG_FILE_DIR, 4), 0); /* no files yet */

	/* The DMA port reads "QEMU CFG" in address order, whatever the access size. */
	bus_read(&g.vm.pio, FW_CFG_PORT_DMA, 4, &v);
	CHECK_EQ(v, 0x554d4551);
	bus_read(&g.vm.pio, FW_CFG_PORT_DMA + 4, 4, &v);
	CHECK_EQ(v, 0x47464320); /* " CFG" */
	bus_read(&g.vm.pio, FW_CFG_PORT_DMA + 7, 1, &v);
	CHECK_EQ(v, 'G');
	bus_read(&g.vm.pio, FW_CFG_PORT_DMA, 8, &v);
	CHECK_EQ(v, 0x47464320554d4551ULL);
	/* Nothing claims the two ports between data and DMA. */
	CHECK(!bus_read(&g.vm.pio, FW_CFG_PORT_DATA + 1, 1, &v));
}

static void test_file_directory(void)
{
	static const char *names[] = {"etc/b", "bootorder", "etc/a", "opt/x"};
	char longname[FW_CFG_NAME_SIZE + 1];
	uint8_t dir[4 + 4 * 64];
	uint16_t key;
	uint32_t size;

	fresh();
	for (unsigned i = 0; i < 4; i++) {
		char content[16] = {0};

		strcpy(content, names[i]);
		CHECK_EQ(fw_cfg_add_file(g.fw, names[i], content, (uint32_t)strlen(names[i]) + i),
			 0);
	}
	/* Sorted by name, keys from 0x20 in that order, as QEMU lists them. */
	fw_cfg_guest_select(&g, FW_CFG_FILE_DIR);
	fw_cfg_guest_read(&g, dir, sizeof(dir));
	CHECK_EQ(be(dir, 4), 4);
	const char *sorted[] = {"bootorder", "etc/a", "etc/b", "opt/x"};
	const unsigned extra[] = {1, 2, 0, 3};
	for (unsigned i = 0; i < 4; i++) {
		const uint8_t *e = dir + 4 + 64 * i;

		CHECK_STR((const char *)e + 8, sorted[i]);
		CHECK_EQ(be(e, 4), strlen(sorted[i]) + extra[i]);
		CHECK_EQ(be(e + 4, 2), FW_CFG_FILE_FIRST + i);
		CHECK_EQ(be(e + 6, 2), 0);
		CHECK_EQ(e[8 + strlen(sorted[i])], 0);
	}
	CHECK_EQ(find_file("etc/a", &key, &size), 0);
	CHECK_EQ(key, FW_CFG_FILE_FIRST + 1);
	char b[8] = {0};
	fw_cfg_guest_select(&g, key);
	fw_cfg_guest_read(&g, b, 7);
	CHECK(memcmp(b, "etc/a\0\0", 7) == 0); /* 5 bytes of name + 2 of the NUL and past it */
	CHECK_EQ(find_file("etc/c", &key, &size), -ENOENT);

	/* The write-channel bit selects the same item. */
	CHECK_EQ(read_item(FW_CFG_WRITE_CHANNEL | FW_CFG_SIGNATURE, 4), 0x554d4551);

	/* Refused names and keys. */
	CHECK_EQ(fw_cfg_add_file(g.fw, "etc/a", "x", 1), -EEXIST);
	CHECK_EQ(fw_cfg_add_file(g.fw, "", "x", 1), -EINVAL);
	CHECK_EQ(fw_cfg_add_file(g.fw, NULL, "x", 1), -EINVAL);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[FW_CFG_NAME_SIZE] = 0;
	CHECK_EQ(fw_cfg_add_file(g.fw, longname, "x", 1), -EINVAL); /* 56: no room for the NUL */
	longname[FW_CFG_NAME_SIZE - 1] = 0;
	CHECK_EQ(fw_cfg_add_file(g.fw, longname, "x", 1), 0); /* 55 */
	CHECK_EQ(fw_cfg_add_file(g.fw, "etc/null", NULL, 0), 0);
	CHECK_EQ(fw_cfg_add_item(g.fw, FW_CFG_FILE_DIR, "x", 1), -EINVAL);
	CHECK_EQ(fw_cfg_add_item(g.fw, FW_CFG_FILE_FIRST, "x", 1), -EINVAL);
	CHECK_EQ(fw_cfg_add_item(g.fw, 0x3fff, "x", 1), -EINVAL);
	CHECK_EQ(fw_cfg_add_item(g.fw, FW_CFG_WRITE_CHANNEL | 2, "x", 1), -EINVAL);
	CHECK_EQ(fw_cfg_add_item(g.fw, 0x8003, "arch", 4), 0); /* arch-local keys are items */
	CHECK_EQ(read_item(0x8003, 4), le((const uint8_t *)"arch", 4));
	/* Replacing a numbered item. */
	CHECK_EQ(fw_cfg_add_item(g.fw, FW_CFG_NB_CPUS, "\x07\x00", 2), 0);
	CHECK_EQ(read_item(FW_CFG_NB_CPUS, 2), 7);

	/* The table is full at FW_CFG_FILE_MAX files. */
	int ret = 0;
	unsigned added = 0;
	for (unsigned i = 0; i < FW_CFG_FILE_MAX + 1 && !ret; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f/%03u", i);
		ret = fw_cfg_add_file(g.fw, name, name, 5);
		added += ret == 0;
	}
	CHECK_EQ(ret, -ENOSPC);
	CHECK_EQ(added, FW_CFG_FILE_MAX - 6);
	CHECK_EQ(read_item(FW_CFG_FILE_DIR, 4), __builtin_bswap32(FW_CFG_FILE_MAX));
}

static void test_byte_reads(void)
{
	uint64_t v;

	fresh();
	CHECK_EQ(fw_cfg_add_file(g.fw, "three", "abc", 3), 0);
	fw_cfg_guest_select(&g, FW_CFG_FILE_FIRST);
	uint8_t b[6];
	fw_cfg_guest_read(&g, b, 6);
	CHECK(memcmp(b, "abc\0\0\0", 6) == 0); /* zeros past the end, the offset stays */

	/* A new selection starts at offset 0; an unknown key reads zeros. */
	fw_cfg_guest_select(&g, FW_CFG_FILE_FIRST);
	CHECK_EQ(fw_cfg_guest_read8(&g), 'a');
	fw_cfg_guest_select(&g, 0x1234);
	CHECK_EQ(fw_cfg_guest_read8(&g), 0);
	fw_cfg_guest_select(&g, FW_CFG_FILE_FIRST + 1); /* past the last file */
	CHECK_EQ(fw_cfg_guest_read8(&g), 0);

	/* Byte reads at the selector port read data too (QEMU's x86 port); data writes are
	 * dropped; other sizes are not decoded. */
	fw_cfg_guest_select(&g, FW_CFG_FILE_FIRST);
	bus_read(&g.vm.pio, FW_CFG_PORT_SELECTOR, 1, &v);
	CHECK_EQ(v, 'a');
	bus_write(&g.vm.pio, FW_CFG_PORT_DATA, 1, 'z');
	CHECK_EQ(fw_cfg_guest_read8(&g), 'b');
	bus_read(&g.vm.pio, FW_CFG_PORT_DATA, 2, &v);
	CHECK_EQ(v, 0xffff);
	bus_read(&g.vm.pio, FW_CFG_PORT_SELECTOR, 4, &v);
	CHECK_EQ(v, 0xffffffff);
	bus_write(&g.vm.pio, FW_CFG_PORT_SELECTOR, 4, FW_CFG_SIGNATURE); /* not a selection */
	CHECK_EQ(fw_cfg_guest_read8(&g), 'c');
}

static void test_dma(void)
{
	uint8_t *buf = g.ram + BUF;
	uint8_t data[300];

	fresh();
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	CHECK_EQ(fw_cfg_add_file(g.fw, "data", data, sizeof(data)), 0);

	/* Select and read in one descriptor; the control word comes back 0. */
	memset(buf, 0xaa, 512);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC,
				  FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ,
				  100, BUF),
		 0);
	CHECK(memcmp(buf, data, 100) == 0);
	CHECK_EQ(buf[100], 0xaa);
	/* Skip 50, read on from 150. */
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_DMA_SKIP, 50, 0), 0);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_DMA_READ, 10, BUF), 0);
	CHECK(memcmp(buf, data + 150, 10) == 0);
	/* A read past the end: the rest of the item, then zeros. */
	memset(buf, 0xaa, 512);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_DMA_READ, 200, BUF), 0);
	CHECK(memcmp(buf, data + 160, 140) == 0);
	for (unsigned i = 140; i < 200; i++)
		CHECK_EQ(buf[i], 0);
	CHECK_EQ(buf[200], 0xaa);
	/* Skip past the end is harmless; reads stay zeros. */
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_DMA_SKIP, 0xffffffff, 0), 0);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_DMA_READ, 1, BUF), 0);
	CHECK_EQ(buf[0], 0);
	/* The byte path and DMA share the offset. */
	fw_cfg_guest_select(&g, FW_CFG_FILE_FIRST);
	CHECK_EQ(fw_cfg_guest_read8(&g), data[0]);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_DMA_READ, 2, BUF), 0);
	CHECK(memcmp(buf, data + 1, 2) == 0);
	CHECK_EQ(fw_cfg_guest_read8(&g), data[3]);
	/* A select alone, and no operation at all. */
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_SELECT, 99, BUF),
		 0);
	CHECK_EQ(fw_cfg_guest_read8(&g), 'Q');
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, 0, 1000, BUF), 0);
	/* Writes are refused with the error bit, and change nothing. */
	memcpy(buf, "XXXX", 4);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC,
				  FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 4,
				  BUF),
		 FW_CFG_DMA_ERROR);
	CHECK_EQ(read_item(FW_CFG_FILE_FIRST, 1), data[0]);
	/* A write of nothing is no error (QEMU's loop never runs). */
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_DMA_WRITE, 0, BUF), 0);

	/* An 8-byte write of the address (the MMIO form) starts a transfer too. */
	uint32_t c = htobe32(FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ);
	uint32_t l = htobe32(4);
	uint64_t a = htobe64(BUF + 64);
	memcpy(g.ram + DESC, &c, 4);
	memcpy(g.ram + DESC + 4, &l, 4);
	memcpy(g.ram + DESC + 8, &a, 8);
	bus_write(&g.vm.pio, FW_CFG_PORT_DMA, 8, __builtin_bswap64(DESC));
	CHECK_EQ(le(g.ram + DESC, 4), 0);
	CHECK(memcmp(buf + 64, data, 4) == 0);
	/* The high half alone starts nothing; the low half then uses it. */
	memcpy(g.ram + DESC, &c, 4);
	bus_write(&g.vm.pio, FW_CFG_PORT_DMA, 4, __builtin_bswap32(1)); /* 4 GiB: not RAM */
	bus_write(&g.vm.pio, FW_CFG_PORT_DMA + 4, 4, __builtin_bswap32((uint32_t)DESC));
	CHECK_EQ(be(g.ram + DESC, 4),
		 FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ); /* untouched */
	/* ... and is forgotten after a transfer. */
	bus_write(&g.vm.pio, FW_CFG_PORT_DMA + 4, 4, __builtin_bswap32((uint32_t)DESC));
	CHECK_EQ(le(g.ram + DESC, 4), 0);
}

static void test_dma_bad_addresses(void)
{
	uint8_t before[64];

	fresh();
	CHECK_EQ(fw_cfg_add_file(g.fw, "data", "0123456789", 10), 0);
	const uint32_t rd = FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ;

	/* Data outside RAM, straddling its end, or wrapping around: the error bit. */
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, rd, 10, RAM_SIZE), FW_CFG_DMA_ERROR);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, rd, 10, RAM_SIZE - 5), FW_CFG_DMA_ERROR);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, rd, 10, UINT64_MAX - 3), FW_CFG_DMA_ERROR);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, rd, 0xffffffff, BUF), FW_CFG_DMA_ERROR);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, rd, 0xffffffff, UINT64_MAX), FW_CFG_DMA_ERROR);
	/* The item's bytes fit, the zeros after them do not. */
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, rd, 20, RAM_SIZE - 12), FW_CFG_DMA_ERROR);
	CHECK(memcmp(g.ram + RAM_SIZE - 12, "0123456789", 10) == 0);
	/* Past the item, zero-filling outside RAM fails the same way. */
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, FW_CFG_DMA_READ, 4, RAM_SIZE + 4096), FW_CFG_DMA_ERROR);

	/* A descriptor outside RAM (or straddling its end) is ignored: nothing to report to. */
	memcpy(before, g.ram + RAM_SIZE - 64, 64);
	fw_cfg_guest_dma(&g, RAM_SIZE - 8, rd, 10, BUF);
	fw_cfg_guest_dma(&g, RAM_SIZE, rd, 10, BUF);
	fw_cfg_guest_dma(&g, UINT64_MAX - 7, rd, 10, BUF);
	CHECK(memcmp(before, g.ram + RAM_SIZE - 64, 64) == 0);

	/* A descriptor whose data overwrites it: the control word is written last. */
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC, rd, 10, DESC), 0);
	CHECK(memcmp(g.ram + DESC + 4, "456789", 6) == 0);
	/* The device still works. */
	CHECK_EQ(read_item(FW_CFG_SIGNATURE, 4), 0x554d4551);
}

static void test_e820(void)
{
	const struct e820_entry e[] = {
	    {0, 0x9fc00, E820_RAM},
	    {0x100000, 0x7ff00000, E820_RAM},
	    {0x100000000ULL, 0x40000000, E820_RAM},
	    {0xfeffc000, 0x4000, E820_RESERVED},
	};
	uint16_t key;
	uint32_t size;
	uint8_t b[80];

	fresh();
	CHECK_EQ(fw_cfg_add_e820(g.fw, e, 4), 0);
	CHECK_EQ(find_file("etc/e820", &key, &size), 0);
	CHECK_EQ(size, 80);
	fw_cfg_guest_select(&g, key);
	fw_cfg_guest_read(&g, b, sizeof(b));
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(le(b + 20 * i, 8), e[i].addr);
		CHECK_EQ(le(b + 20 * i + 8, 8), e[i].size);
		CHECK_EQ(le(b + 20 * i + 16, 4), e[i].type);
	}
	CHECK_EQ(fw_cfg_add_e820(g.fw, e, E820_MAX + 1), -EINVAL);
}

/* Two vCPUs, each selecting its own file and reading it by DMA: a select-and-read descriptor
 * is one step under the lock, so each always reads its own file. */
struct racer {
	uint16_t key;
	uint64_t desc, buf;
	char want;
	int bad;
};

static void *race(void *opaque)
{
	struct racer *r = opaque;

	for (int i = 0; i < 2000; i++) {
		uint32_t st = fw_cfg_guest_dma(
		    &g, r->desc, (uint32_t)r->key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 64,
		    r->buf);
		for (unsigned j = 0; j < 64; j++)
			r->bad += g.ram[r->buf + j] != (uint8_t)r->want;
		r->bad += st != 0;
		fw_cfg_guest_select(&g, r->key ^ 1); /* and disturb the other one's byte reads */
	}
	return NULL;
}

static void test_concurrent_vcpus(void)
{
	char a[64], b[64];
	pthread_t t[2];
	struct racer r[2] = {
	    {FW_CFG_FILE_FIRST, DESC, BUF, 'a', 0},
	    {FW_CFG_FILE_FIRST + 1, DESC + 0x100, BUF + 0x1000, 'b', 0},
	};

	fresh();
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	CHECK_EQ(fw_cfg_add_file(g.fw, "a", a, sizeof(a)), 0);
	CHECK_EQ(fw_cfg_add_file(g.fw, "b", b, sizeof(b)), 0);
	/* Both descriptors lie below 4 GiB: whichever thread's high half (0) lands, each low
	 * half starts that thread's own descriptor. */
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, race, &r[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(r[0].bad, 0);
	CHECK_EQ(r[1].bad, 0);
}

/* OVMF's AcpiPlatformDxe, in short: the blobs it allocated, where, and how big. */
struct loaded {
	char name[FW_CFG_NAME_SIZE];
	uint64_t gpa;
	uint32_t size;
};

static struct loaded loaded[4];
static unsigned nloaded;

static struct loaded *loaded_find(const uint8_t *name)
{
	CHECK_EQ(name[FW_CFG_NAME_SIZE - 1], 0);
	for (unsigned i = 0; i < nloaded; i++)
		if (strcmp(loaded[i].name, (const char *)name) == 0)
			return &loaded[i];
	CHECK(!"a command names a blob not allocated before");
	return NULL;
}

/* ALLOCATE: whole pages (OVMF allocates pages), read by DMA as QemuFwCfgReadBytes does. */
static void loader_allocate(const uint8_t *c, uint64_t *next_high, uint64_t *next_fseg)
{
	uint32_t align = (uint32_t)le(c + 56, 4);
	uint8_t zone = c[60];
	uint16_t key;
	uint32_t size;
	struct loaded *l = &loaded[nloaded];

	CHECK_EQ(c[FW_CFG_NAME_SIZE - 1], 0);
	CHECK(align && align <= 4096 && (align & (align - 1)) == 0);
	CHECK(zone == FW_CFG_LOADER_ZONE_HIGH || zone == FW_CFG_LOADER_ZONE_FSEG);
	CHECK(nloaded < 4);
	if (nloaded >= 4 || find_file((const char *)c, &key, &size) != 0) {
		CHECK(!"ALLOCATE of an existing file");
		return;
	}
	for (unsigned i = 0; i < nloaded; i++)
		CHECK(strcmp(loaded[i].name, (const char *)c) != 0);
	uint64_t *next = zone == FW_CFG_LOADER_ZONE_FSEG ? next_fseg : next_high;
	memcpy(l->name, c, FW_CFG_NAME_SIZE);
	l->gpa = *next;
	l->size = size;
	*next += (size + 4095) & ~4095u;
	memset(g.ram + l->gpa, 0xee, (size + 4095) & ~4095u);
	CHECK_EQ(fw_cfg_guest_dma(&g, DESC,
				  (uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, size,
				  l->gpa),
		 0);
	memset(g.ram + l->gpa + size, 0, ((size + 4095) & ~4095u) - size);
	nloaded++;
}

/* ADD_POINTER with OVMF's checks: the field lies in its blob, its value in the pointee. */
static void loader_add_pointer(const uint8_t *c)
{
	struct loaded *from = loaded_find(c), *to = loaded_find(c + 56);
	uint32_t off = (uint32_t)le(c + 112, 4);
	uint8_t width = c[116];
	uint64_t v;

	if (!from || !to)
		return;
	CHECK(width == 1 || width == 2 || width == 4 || width == 8);
	CHECK(from->size >= width && off <= from->size - width);
	if (from->size < width || off > from->size - width)
		return;
	v = le(g.ram + from->gpa + off, width);
	CHECK(v < to->size);
	v += to->gpa;
	CHECK(width == 8 || v >> (8 * width) == 0);
	for (unsigned i = 0; i < width; i++)
		g.ram[from->gpa + off + i] = (uint8_t)(v >> (8 * i));
}

static void loader_add_checksum(const uint8_t *c)
{
	struct loaded *l = loaded_find(c);
	uint32_t result = (uint32_t)le(c + 56, 4), start = (uint32_t)le(c + 60, 4);
	uint32_t len = (uint32_t)le(c + 64, 4);

	if (!l)
		return;
	CHECK(result < l->size && len <= l->size && start <= l->size - len);
	if (result >= l->size || len > l->size || start > l->size - len)
		return;
	/* The byte is part of the range, as in QEMU's tables: it must still be 0. */
	CHECK(result < start || result >= start + len || g.ram[l->gpa + result] == 0);
	g.ram[l->gpa + result] = (uint8_t)-sum8(g.ram + l->gpa + start, len);
}

/* Runs etc/table-loader; then, as OVMF's second pass, finds the tables every ADD_POINTER
 * targets and "installs" each one that has a valid header and is not the RSDT or XSDT.
 * Returns the installed signatures, 4 bytes each, in *sigs. */
static unsigned loader_run(char sigs[][5], uint64_t *addr, unsigned max)
{
	uint64_t next_high = 0x800000, next_fseg = 0xf0000;
	uint16_t key;
	uint32_t size;
	uint8_t *script;
	unsigned ninstalled = 0;

	nloaded = 0;
	CHECK_EQ(find_file("etc/table-loader", &key, &size), 0);
	CHECK(size > 0 && size % FW_CFG_LOADER_ENTRY_SIZE == 0);
	script = calloc(1, size);
	fw_cfg_guest_select(&g, key);
	fw_cfg_guest_read(&g, script, size);
	for (uint32_t off = 0; off + FW_CFG_LOADER_ENTRY_SIZE <= size;
	     off += FW_CFG_LOADER_ENTRY_SIZE) {
		const uint8_t *c = script + off + 4;

		switch (le(script + off, 4)) {
		case FW_CFG_LOADER_ALLOCATE:
			loader_allocate(c, &next_high, &next_fseg);
			break;
		case FW_CFG_LOADER_ADD_POINTER:
			loader_add_pointer(c);
			break;
		case FW_CFG_LOADER_ADD_CHECKSUM:
			loader_add_checksum(c);
			break;
		default:
			CHECK(!"a command we do not emit");
		}
	}
	for (uint32_t off = 0; off + FW_CFG_LOADER_ENTRY_SIZE <= size;
	     off += FW_CFG_LOADER_ENTRY_SIZE) {
		const uint8_t *c = script + off + 4;
		struct loaded *from, *to;
		uint64_t v;
		bool seen = false;

		if (le(script + off, 4) != FW_CFG_LOADER_ADD_POINTER)
			continue;
		from = loaded_find(c);
		to = loaded_find(c + 56);
		if (!from || !to)
			continue;
		v = le(g.ram + from->gpa + le(c + 112, 4), c[116]);
		CHECK(v >= to->gpa && v < to->gpa + to->size);
		const uint8_t *t = g.ram + v;
		uint64_t remaining = to->gpa + to->size - v;
		uint32_t len = (uint32_t)le(t + 4, 4);
		for (unsigned i = 0; i < ninstalled; i++)
			seen |= addr[i] == v;
		if (seen || remaining < 36 || len < 36 || len > remaining || sum8(t, len) != 0 ||
		    !memcmp(t, "XSDT", 4) || !memcmp(t, "RSDT", 4))
			continue;
		CHECK(ninstalled < max);
		if (ninstalled >= max)
			break;
		memcpy(sigs[ninstalled], t, 4);
		sigs[ninstalled][4] = 0;
		addr[ninstalled++] = v;
	}
	free(script);
	return ninstalled;
}

static uint64_t installed(char sigs[][5], const uint64_t *addr, unsigned n, const char *sig)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(sigs[i], sig))
			return addr[i];
	return 0;
}

static void check_table_loader(uint64_t ecam)
{
	const struct acpi_config acfg = {
	    .ncpus = 2,
	    .pci_ecam_base = ecam,
	    .pci_mmio32_base = 0x80000000,
	    .pci_mmio32_size = 0x7c000000,
	    .pci_io_base = 0xc000,
	    .pci_io_size = 0x4000,
	};
	char sigs[8][5];
	uint64_t addr[8];
	uint16_t key;
	uint32_t size;
	uint8_t raw[ACPI_RSDP_SIZE];
	unsigned n;

	fresh();
	CHECK_EQ(fw_cfg_add_acpi(g.fw, &acfg), 0);
	/* The files hold the checksums as 0: only the loader computes them. */
	CHECK_EQ(find_file("etc/acpi/rsdp", &key, &size), 0);
	CHECK_EQ(size, ACPI_RSDP_SIZE);
	fw_cfg_guest_select(&g, key);
	fw_cfg_guest_read(&g, raw, sizeof(raw));
	CHECK(memcmp(raw, "RSD PTR ", 8) == 0);
	CHECK_EQ(raw[8], 0);
	CHECK_EQ(raw[32], 0);
	CHECK_EQ(find_file("etc/acpi/tables", &key, &size), 0);

	n = loader_run(sigs, addr, 8);
	CHECK_EQ(n, ecam ? 4 : 3);
	uint64_t fadt = installed(sigs, addr, n, "FACP"), madt = installed(sigs, addr, n, "APIC");
	uint64_t dsdt = installed(sigs, addr, n, "DSDT"), mcfg = installed(sigs, addr, n, "MCFG");
	CHECK(fadt && madt && dsdt);
	CHECK_EQ(mcfg != 0, ecam != 0);

	/* The chain a kernel would follow: RSDP -> XSDT -> FADT -> DSDT, every checksum. */
	const uint8_t rsdp_name[FW_CFG_NAME_SIZE] = "etc/acpi/rsdp";
	struct loaded *rsdp_blob = loaded_find(rsdp_name);
	CHECK(rsdp_blob && rsdp_blob->gpa >= 0xe0000 && rsdp_blob->gpa < 0x100000);
	if (!rsdp_blob)
		return;
	const uint8_t *rsdp = g.ram + rsdp_blob->gpa;
	CHECK(memcmp(rsdp, "RSD PTR ", 8) == 0);
	CHECK_EQ(sum8(rsdp, 20), 0);
	CHECK_EQ(sum8(rsdp, 36), 0);
	CHECK_EQ(le(rsdp + 16, 4), 0); /* no RSDT */
	uint64_t xsdt_gpa = le(rsdp + 24, 8);
	CHECK(xsdt_gpa >= 0x800000 && xsdt_gpa < RAM_SIZE - 36);
	if (xsdt_gpa < 0x800000 || xsdt_gpa >= RAM_SIZE - 36)
		return;
	const uint8_t *xsdt = g.ram + xsdt_gpa;
	uint32_t xlen = (uint32_t)le(xsdt + 4, 4);
	CHECK(memcmp(xsdt, "XSDT", 4) == 0);
	CHECK_EQ(sum8(xsdt, xlen), 0);
	CHECK_EQ((xlen - 36) / 8, ecam ? 3 : 2);
	CHECK_EQ(le(xsdt + 36, 8), fadt);
	CHECK_EQ(le(xsdt + 44, 8), madt);
	if (ecam)
		CHECK_EQ(le(xsdt + 52, 8), mcfg);
	const uint8_t *f = g.ram + fadt;
	CHECK_EQ(le(f + 140, 8), dsdt); /* X_DSDT */
	CHECK_EQ(le(f + 40, 4), dsdt);	/* DSDT */
	CHECK_EQ(sum8(f, (uint32_t)le(f + 4, 4)), 0);
	const uint8_t *d = g.ram + dsdt;
	uint32_t dlen = (uint32_t)le(d + 4, 4);
	CHECK(memcmp(d, "DSDT", 4) == 0);
	CHECK_EQ(sum8(d, dlen), 0);
	if (mcfg)
		CHECK_EQ(le(g.ram + mcfg + 44, 8), ecam);

	/* The root bridge: plain PCI without an ECAM, and the caller's 32-bit window. */
	const uint8_t pnp0a03[] = {0x0c, 0x41, 0xd0, 0x0a, 0x03};
	const uint8_t pnp0a08[] = {0x0c, 0x41, 0xd0, 0x0a, 0x08};
	CHECK(memmem(d, dlen, pnp0a03, 5));
	CHECK_EQ(memmem(d, dlen, pnp0a08, 5) != NULL, ecam != 0);
	CHECK_EQ(memmem(d, dlen, "MBRD", 4) != NULL, ecam != 0);
	const uint8_t window[] = {0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0,    0,	  0,
				  0,	0x00, 0x00, 0x00, 0x80, 0xff, 0xff, 0xff, 0xfb,
				  0,	0,    0,    0,	  0x00, 0x00, 0x00, 0x7c};
	CHECK(memmem(d, dlen, window, sizeof(window)));
}

static void test_table_loader(void)
{
	check_table_loader(0);
	check_table_loader(0xe0000000);
}

int main(void)
{
	fw_cfg_guest_init(&g, RAM_SIZE, 2);
	RUN(test_signature_and_id);
	RUN(test_file_directory);
	RUN(test_byte_reads);
	RUN(test_dma);
	RUN(test_dma_bad_addresses);
	RUN(test_e820);
	RUN(test_concurrent_vcpus);
	RUN(test_table_loader);
	fw_cfg_destroy(g.fw);
	free(g.ram);
	return UNIT_RESULT();
}
