/*
 * Kernel loaders: synthetic bzImages and PVH vmlinux files built here byte by byte, parsed
 * (every refusal with its reason) and loaded into a fake guest RAM whose boot structures are
 * then read back: the zero page through <asm/bootparam.h>, the PVH start info from the offsets
 * of Xen's ABI. Nothing is downloaded and no KVM is needed.
 *
 * `test_kernel --write-seeds DIR` writes the valid images as the fuzzer's seed corpus.
 */
#include <asm/bootparam.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "boot/kernel.h"
#include "unit.h"

#define RAM_SIZE (64 * MiB)
#define RSDP	 LAYOUT_ACPI

/* ---- little-endian field access, independent of the loaders' own structs ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- a fake guest RAM at gpa 0 ---- */

static struct guest_mem ram;

static uint8_t *ram_new(uint64_t size)
{
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		abort();
	}
	/* Not zero: bss and the zero page must be cleared by the loader. */
	memset(p, 0xcc, size);
	ram = (struct guest_mem){.nregions = 1, .region[0] = {.gpa = 0, .size = size, .host = p}};
	return p;
}

static void ram_free(void)
{
	munmap(ram.region[0].host, ram.region[0].size);
}

/* ---- a synthetic bzImage: boot sector, setup header, real-mode setup, then the kernel ---- */

#define BZ_SETUP_SECTS	4
#define BZ_SETUP_SIZE	((BZ_SETUP_SECTS + 1) * 512)
#define BZ_PAYLOAD_SIZE 0x600 /* a multiple of 16: syssize is exact */
#define BZ_SIZE		(BZ_SETUP_SIZE + BZ_PAYLOAD_SIZE)
#define BZ_INIT_SIZE	(2 * MiB)
#define BZ_INITRD_MAX	0x7fffffffu
#define BZ_CMDLINE_SIZE 2047u
#define BZ_HDR_END	0x26c /* end of the 2.15 setup header (after kernel_info_offset) */

/* Offsets of the setup header in the file (Documentation/arch/x86/boot.rst). */
enum {
	HDR_SETUP_SECTS = 0x1f1,
	HDR_SYSSIZE = 0x1f4,
	HDR_BOOT_FLAG = 0x1fe,
	HDR_JUMP = 0x200,
	HDR_HEADER = 0x202,
	HDR_VERSION = 0x206,
	HDR_LOADFLAGS = 0x211,
	HDR_INITRD_ADDR_MAX = 0x22c,
	HDR_KERNEL_ALIGNMENT = 0x230,
	HDR_RELOCATABLE = 0x234,
	HDR_XLOADFLAGS = 0x236,
	HDR_CMDLINE_SIZE = 0x238,
	HDR_PREF_ADDRESS = 0x258,
	HDR_INIT_SIZE = 0x260,
};

static uint8_t bz[BZ_SIZE + 4096];

static uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static void bz_build(void)
{
	memset(bz, 0, sizeof(bz));
	/* Real bzImages start with "MZ": the EFI stub's PE header shares the boot sector. */
	bz[0] = 'M';
	bz[1] = 'Z';
	bz[HDR_SETUP_SECTS] = BZ_SETUP_SECTS;
	put32(bz + HDR_SYSSIZE, BZ_PAYLOAD_SIZE / 16);
	put16(bz + HDR_BOOT_FLAG, 0xaa55);
	bz[HDR_JUMP] = 0xeb;
	bz[HDR_JUMP + 1] = BZ_HDR_END - 0x202;
	memcpy(bz + HDR_HEADER, "HdrS", 4);
	put16(bz + HDR_VERSION, 0x020f);
	bz[HDR_LOADFLAGS] = LOADED_HIGH;
	put32(bz + HDR_INITRD_ADDR_MAX, BZ_INITRD_MAX);
	put32(bz + HDR_KERNEL_ALIGNMENT, 2 * MiB);
	bz[HDR_RELOCATABLE] = 1;
	put16(bz + HDR_XLOADFLAGS, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	put32(bz + HDR_CMDLINE_SIZE, BZ_CMDLINE_SIZE);
	put64(bz + HDR_PREF_ADDRESS, 16 * MiB);
	put32(bz + HDR_INIT_SIZE, BZ_INIT_SIZE);
	for (size_t i = 0; i < BZ_PAYLOAD_SIZE; i++)
		bz[BZ_SETUP_SIZE + i] = payload_byte(i);
	memcpy(bz + BZ_SETUP_SIZE, "startup_32", 10);
	memcpy(bz + BZ_SETUP_SIZE + 0x200, "startup_64", 10);
}

/* ---- a synthetic ELF vmlinux: a PT_NOTE with a GNU and a Xen note, two PT_LOADs ---- */

#define ELF_NOTE_OFF  0x180
#define SEG_A_OFF     0x400
#define SEG_A_FILESZ  0x800
#define SEG_A_MEMSZ   0x3000 /* the rest is bss */
#define SEG_A_PADDR   (16 * MiB)
#define SEG_B_OFF     0xc00
#define SEG_B_SIZE    0x200
#define SEG_B_PADDR   (20 * MiB)
#define ELF_SIZE      0xe00
#define PVH_ENTRY     (SEG_A_PADDR + 0x40)
#define GNU_NOTE_SIZE (12 + 4 + 20)

enum { PH_NOTE, PH_LOAD_A, PH_LOAD_B, ELF_NPHDR };

static uint8_t elf[ELF_SIZE + 4096] __attribute__((aligned(8)));
static size_t elf_size;

static Elf64_Ehdr *eh(void)
{
	return (Elf64_Ehdr *)elf;
}

static Elf64_Phdr *ph(unsigned i)
{
	return (Elf64_Phdr *)(elf + sizeof(Elf64_Ehdr)) + i;
}

/* Append one note at off; returns its padded size. */
static size_t note_put(size_t off, const char *name, uint32_t type, const void *desc,
		       uint32_t descsz)
{
	uint32_t namesz = strlen(name) + 1;
	uint8_t *p = elf + off;

	put32(p, namesz);
	put32(p + 4, descsz);
	put32(p + 8, type);
	memcpy(p + 12, name, namesz);
	memcpy(p + 12 + ((namesz + 3) & ~3u), desc, descsz);
	return 12 + ((namesz + 3) & ~3u) + ((descsz + 3) & ~3u);
}

static uint8_t seg_byte(size_t i)
{
	return (uint8_t)(i * 13 + 5);
}

/* desc_size: 8 as Linux writes the PHYS32_ENTRY address, or 4. */
static void elf_build(unsigned desc_size)
{
	static const uint8_t build_id[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	uint64_t entry = PVH_ENTRY;
	size_t notes;

	memset(elf, 0, sizeof(elf));
	memcpy(eh()->e_ident, ELFMAG, SELFMAG);
	eh()->e_ident[EI_CLASS] = ELFCLASS64;
	eh()->e_ident[EI_DATA] = ELFDATA2LSB;
	eh()->e_ident[EI_VERSION] = EV_CURRENT;
	eh()->e_type = ET_EXEC;
	eh()->e_machine = EM_X86_64;
	eh()->e_version = EV_CURRENT;
	eh()->e_entry = 0xffffffff81000000ULL;
	eh()->e_phoff = sizeof(Elf64_Ehdr);
	eh()->e_ehsize = sizeof(Elf64_Ehdr);
	eh()->e_phentsize = sizeof(Elf64_Phdr);
	eh()->e_phnum = ELF_NPHDR;

	notes = note_put(ELF_NOTE_OFF, "GNU", NT_GNU_BUILD_ID, build_id, sizeof(build_id));
	notes += note_put(ELF_NOTE_OFF + notes, "Xen", 18, &entry, desc_size);
	*ph(PH_NOTE) = (Elf64_Phdr){.p_type = PT_NOTE,
				    .p_offset = ELF_NOTE_OFF,
				    .p_filesz = notes,
				    .p_memsz = notes,
				    .p_align = 4};
	*ph(PH_LOAD_A) = (Elf64_Phdr){.p_type = PT_LOAD,
				      .p_flags = PF_R | PF_X,
				      .p_offset = SEG_A_OFF,
				      .p_vaddr = 0xffffffff80000000ULL + SEG_A_PADDR,
				      .p_paddr = SEG_A_PADDR,
				      .p_filesz = SEG_A_FILESZ,
				      .p_memsz = SEG_A_MEMSZ,
				      .p_align = 0x200};
	*ph(PH_LOAD_B) = (Elf64_Phdr){.p_type = PT_LOAD,
				      .p_flags = PF_R | PF_W,
				      .p_offset = SEG_B_OFF,
				      .p_vaddr = 0xffffffff80000000ULL + SEG_B_PADDR,
				      .p_paddr = SEG_B_PADDR,
				      .p_filesz = SEG_B_SIZE,
				      .p_memsz = SEG_B_SIZE,
				      .p_align = 0x200};
	for (size_t i = SEG_A_OFF; i < SEG_B_OFF + SEG_B_SIZE; i++)
		elf[i] = seg_byte(i);
	elf_size = ELF_SIZE;
}

/* ---- parse helpers ---- */

static struct kernel_image img;
static const char *why;

/* The image is refused and the reason contains text. */
static void check_refused(const uint8_t *data, size_t size, const char *text)
{
	why = NULL;
	CHECK_EQ(kernel_parse(data, size, &img, &why), -EINVAL);
	CHECK(why != NULL);
	if (why && !strstr(why, text)) {
		fprintf(stderr, "size %zu: reason \"%s\" lacks \"%s\"\n", size, why, text);
		CHECK(strstr(why, text) != NULL);
	}
}

static void test_parse_not_a_kernel(void)
{
	static const uint8_t gzip[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 3};
	uint8_t junk[0x300];

	check_refused(NULL, 0, "empty file");
	check_refused((const uint8_t *)"", 0, "empty file");
	check_refused(gzip, sizeof(gzip), "gzip-compressed");
	check_refused(gzip, 2, "gzip-compressed");
	check_refused(gzip, 1, "not a kernel image");

	/* A PE image (say, a UKI) without the Linux header. */
	memset(junk, 0, sizeof(junk));
	junk[0] = 'M';
	junk[1] = 'Z';
	check_refused(junk, sizeof(junk), "PE/EFI image without a Linux boot header");
	check_refused(junk, 2, "PE/EFI");

	memset(junk, 0x90, sizeof(junk));
	check_refused(junk, sizeof(junk), "not a kernel image");
	check_refused(junk, 1, "not a kernel image");
	check_refused((const uint8_t *)"\177EL", 3, "not a kernel image");
	/* Every refusal says what would have been accepted. */
	CHECK(strstr(why, "bzImage") && strstr(why, "PVH"));
}

/* ---- bzImage parse ---- */

static void test_bzimage_parse_ok(void)
{
	bz_build();
	why = NULL;
	CHECK_EQ(kernel_parse(bz, BZ_SIZE, &img, &why), 0);
	CHECK(why == NULL);
	CHECK_EQ(img.format, KERNEL_BZIMAGE);
	CHECK(img.data == bz);
	CHECK_EQ(img.size, BZ_SIZE);
	CHECK_EQ(img.setup_size, BZ_SETUP_SIZE);
	CHECK_EQ(img.version, 0x020f);
	CHECK_EQ(img.init_size, BZ_INIT_SIZE);
	CHECK_EQ(img.initrd_addr_max, BZ_INITRD_MAX);
	CHECK_EQ(img.cmdline_max, BZ_CMDLINE_SIZE);

	/* setup_sects 0 means 4, for ancient compatibility. */
	bz[HDR_SETUP_SECTS] = 0;
	CHECK_EQ(kernel_parse(bz, BZ_SIZE, &img, &why), 0);
	CHECK_EQ(img.setup_size, 5 * 512);

	/* More setup sectors: the kernel starts later. */
	bz_build();
	bz[HDR_SETUP_SECTS] = 6;
	put32(bz + HDR_SYSSIZE, (BZ_SIZE - 7 * 512) / 16);
	CHECK_EQ(kernel_parse(bz, BZ_SIZE, &img, &why), 0);
	CHECK_EQ(img.setup_size, 7 * 512);

	/* Trailing bytes after the kernel (signatures, padding) are allowed. */
	bz_build();
	CHECK_EQ(kernel_parse(bz, sizeof(bz), &img, &why), 0);
	CHECK_EQ(img.size, sizeof(bz));

	/* The oldest protocol with a 64-bit entry point, and no "MZ" stub. */
	bz_build();
	put16(bz + HDR_VERSION, 0x020c);
	bz[0] = bz[1] = 0;
	CHECK_EQ(kernel_parse(bz, BZ_SIZE, &img, &why), 0);
	CHECK_EQ(img.version, 0x020c);
}

static void test_bzimage_parse_truncated(void)
{
	/* Cut at every interesting length: the checks must never read past the end (ASan). */
	static const size_t cuts[] = {0x1fe,
				      0x1ff,
				      0x200,
				      0x202,
				      0x205,
				      0x206,
				      0x236,
				      0x26f,
				      0x270,
				      0x300,
				      BZ_SETUP_SIZE - 1,
				      BZ_SETUP_SIZE,
				      BZ_SETUP_SIZE + 1,
				      BZ_SETUP_SIZE + 16,
				      BZ_SIZE - 16,
				      BZ_SIZE - 1};

	bz_build();
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		size_t n = cuts[i];
		/* An exact-size heap copy, so that ASan sees any read past n. */
		uint8_t *copy = malloc(n);
		const char *expect;

		memcpy(copy, bz, n);
		if (n < 0x200)
			expect = "PE/EFI"; /* the boot signature is cut off: only MZ is left */
		else if (n < 0x270)
			expect = "truncated bzImage: the file ends inside the setup header";
		else if (n <= BZ_SETUP_SIZE)
			expect = "truncated bzImage: the file ends inside the real-mode setup code";
		else
			expect = "truncated bzImage: the kernel is shorter than its header says";
		check_refused(copy, n, expect);
		free(copy);
	}

	/* Without the MZ stub, a file cut inside the header is still recognised by 0xAA55. */
	bz[0] = bz[1] = 0;
	check_refused(bz, 0x200, "truncated bzImage");
	check_refused(bz, 0x205, "truncated bzImage");
	check_refused(bz, 0x1ff, "not a kernel image");
}

static void test_bzimage_parse_refusals(void)
{
	bz_build();
	put16(bz + HDR_BOOT_FLAG, 0x55aa);
	check_refused(bz, BZ_SIZE, "without the 0xAA55 boot signature");

	bz_build();
	put16(bz + HDR_VERSION, 0x020b);
	check_refused(bz, BZ_SIZE, "older than 2.12");
	put16(bz + HDR_VERSION, 0x0200);
	check_refused(bz, BZ_SIZE, "older than 2.12");
	put16(bz + HDR_VERSION, 0x0000);
	check_refused(bz, BZ_SIZE, "older than 2.12");

	bz_build();
	put16(bz + HDR_XLOADFLAGS, XLF_CAN_BE_LOADED_ABOVE_4G | XLF_EFI_HANDOVER_32);
	check_refused(bz, BZ_SIZE, "XLF_KERNEL_64");

	/* syssize one paragraph too large, and absurdly large (no overflow in the check). */
	bz_build();
	put32(bz + HDR_SYSSIZE, BZ_PAYLOAD_SIZE / 16 + 1);
	check_refused(bz, BZ_SIZE, "shorter than its header says");
	put32(bz + HDR_SYSSIZE, 0xffffffff);
	check_refused(bz, BZ_SIZE, "shorter than its header says");

	/* The setup code claims to be longer than the file. */
	bz_build();
	bz[HDR_SETUP_SECTS] = 0xff;
	check_refused(bz, BZ_SIZE, "ends inside the real-mode setup code");

	/* HdrS at the wrong place: not recognised as a bzImage at all. */
	bz_build();
	memcpy(bz + HDR_HEADER, "HdrZ", 4);
	check_refused(bz, BZ_SIZE, "PE/EFI");
}

/* ---- ELF parse ---- */

static void test_elf_parse_ok(void)
{
	elf_build(8);
	why = NULL;
	CHECK_EQ(kernel_parse(elf, elf_size, &img, &why), 0);
	CHECK(why == NULL);
	CHECK_EQ(img.format, KERNEL_ELF_PVH);
	CHECK(img.data == elf);
	CHECK_EQ(img.size, elf_size);
	CHECK_EQ(img.pvh_entry, PVH_ENTRY);
	CHECK_EQ(img.initrd_addr_max, 0xffffffffu);
	CHECK_EQ(img.cmdline_max, LAYOUT_CMDLINE_MAX - 1);

	elf_build(4);
	CHECK_EQ(kernel_parse(elf, elf_size, &img, &why), 0);
	CHECK_EQ(img.pvh_entry, PVH_ENTRY);

	/* The Xen note alone in a second PT_NOTE segment. */
	elf_build(8);
	ph(PH_NOTE)->p_filesz = GNU_NOTE_SIZE;
	eh()->e_phnum = ELF_NPHDR + 1;
	*ph(ELF_NPHDR) = (Elf64_Phdr){
	    .p_type = PT_NOTE, .p_offset = ELF_NOTE_OFF + GNU_NOTE_SIZE, .p_filesz = 24};
	/* The extra program header overwrites nothing: the notes start after it. */
	CHECK(sizeof(Elf64_Ehdr) + (ELF_NPHDR + 1) * sizeof(Elf64_Phdr) <= ELF_NOTE_OFF);
	CHECK_EQ(kernel_parse(elf, elf_size, &img, &why), 0);
	CHECK_EQ(img.pvh_entry, PVH_ENTRY);

	/* Other notes with the same type but another name are skipped. */
	elf_build(8);
	{
		uint64_t fake = 0x1234;
		size_t n = note_put(ELF_NOTE_OFF, "Xe", 18, &fake, 8);
		uint64_t entry = PVH_ENTRY;
		n += note_put(ELF_NOTE_OFF + n, "Xen", 18, &entry, 8);
		ph(PH_NOTE)->p_filesz = n;
	}
	CHECK_EQ(kernel_parse(elf, elf_size, &img, &why), 0);
	CHECK_EQ(img.pvh_entry, PVH_ENTRY);

	/* The image need not be aligned in memory (UBSan checks the accesses). */
	elf_build(8);
	{
		uint8_t *copy = malloc(elf_size + 1);
		struct boot_entry entry;
		struct boot_args args = {.cmdline = "", .initrd_fd = -1};

		memcpy(copy + 1, elf, elf_size);
		CHECK_EQ(kernel_parse(copy + 1, elf_size, &img, &why), 0);
		CHECK_EQ(img.pvh_entry, PVH_ENTRY);
		ram_new(RAM_SIZE);
		CHECK_EQ(kernel_load(&img, &ram, &args, &entry, &why), 0);
		CHECK(memcmp(ram.region[0].host + SEG_B_PADDR, elf + SEG_B_OFF, SEG_B_SIZE) == 0);
		ram_free();
		free(copy);
	}

	/* A zero-size PT_LOAD at the very end of the file is harmless. */
	elf_build(8);
	ph(PH_LOAD_B)->p_offset = elf_size;
	ph(PH_LOAD_B)->p_filesz = 0;
	CHECK_EQ(kernel_parse(elf, elf_size, &img, &why), 0);
}

static void test_elf_parse_header_refusals(void)
{
	elf_build(8);
	check_refused(elf, sizeof(Elf64_Ehdr) - 1, "not a 64-bit x86 image");
	check_refused(elf, 4, "not a 64-bit x86 image");

	elf[EI_CLASS] = ELFCLASS32;
	check_refused(elf, elf_size, "not a 64-bit x86 image");

	elf_build(8);
	elf[EI_DATA] = ELFDATA2MSB;
	check_refused(elf, elf_size, "not a 64-bit x86 image");

	elf_build(8);
	eh()->e_machine = EM_386;
	check_refused(elf, elf_size, "not a 64-bit x86 image");
	eh()->e_machine = EM_AARCH64;
	check_refused(elf, elf_size, "not a 64-bit x86 image");

	elf_build(8);
	eh()->e_type = ET_DYN;
	check_refused(elf, elf_size, "without valid program headers");
	eh()->e_type = ET_REL;
	check_refused(elf, elf_size, "without valid program headers");

	elf_build(8);
	eh()->e_phnum = 0;
	check_refused(elf, elf_size, "without valid program headers");

	elf_build(8);
	eh()->e_phentsize = sizeof(Elf32_Phdr);
	check_refused(elf, elf_size, "without valid program headers");

	/* Program headers past the end of the file, partly and wholly, and with overflow. */
	elf_build(8);
	eh()->e_phoff = elf_size - sizeof(Elf64_Phdr) * ELF_NPHDR + 1;
	check_refused(elf, elf_size, "without valid program headers");
	eh()->e_phoff = elf_size + 1;
	check_refused(elf, elf_size, "without valid program headers");
	eh()->e_phoff = UINT64_MAX - 8;
	check_refused(elf, elf_size, "without valid program headers");
	elf_build(8);
	eh()->e_phnum = 0xffff;
	check_refused(elf, elf_size, "without valid program headers");
	/* The headers fit exactly at the very end: accepted. */
	elf_build(8);
	memcpy(elf + elf_size - 3 * sizeof(Elf64_Phdr), ph(0), 3 * sizeof(Elf64_Phdr));
	eh()->e_phoff = elf_size - 3 * sizeof(Elf64_Phdr);
	CHECK_EQ(kernel_parse(elf, elf_size, &img, &why), 0);
	/* The file cut one byte short of them: refused, and read in bounds. */
	{
		uint8_t *copy = malloc(elf_size - 1);
		memcpy(copy, elf, elf_size - 1);
		check_refused(copy, elf_size - 1, "without valid program headers");
		free(copy);
	}
}

static void test_elf_parse_segment_refusals(void)
{
	elf_build(8);
	ph(PH_LOAD_B)->p_filesz = SEG_B_SIZE + 1;
	ph(PH_LOAD_B)->p_memsz = SEG_B_SIZE + 1;
	check_refused(elf, elf_size, "a segment lies past the end of the file");

	elf_build(8);
	ph(PH_LOAD_A)->p_offset = elf_size + 1;
	ph(PH_LOAD_A)->p_filesz = 0;
	check_refused(elf, elf_size, "past the end of the file");

	/* offset + filesz wraps around. */
	elf_build(8);
	ph(PH_LOAD_A)->p_offset = 0x10;
	ph(PH_LOAD_A)->p_filesz = UINT64_MAX - 8;
	ph(PH_LOAD_A)->p_memsz = UINT64_MAX - 8;
	check_refused(elf, elf_size, "past the end of the file");

	/* A PT_NOTE past the end is refused too: its notes would be read from there. */
	elf_build(8);
	ph(PH_NOTE)->p_offset = elf_size - 8;
	check_refused(elf, elf_size, "past the end of the file");

	elf_build(8);
	ph(PH_LOAD_A)->p_paddr = MiB - 1;
	check_refused(elf, elf_size, "impossible load address or size");
	ph(PH_LOAD_A)->p_paddr = 0;
	check_refused(elf, elf_size, "impossible load address or size");

	elf_build(8);
	ph(PH_LOAD_A)->p_memsz = SEG_A_FILESZ - 1;
	check_refused(elf, elf_size, "impossible load address or size");

	elf_build(8);
	ph(PH_LOAD_B)->p_paddr = UINT64_MAX - 0x100;
	check_refused(elf, elf_size, "impossible load address or size");

	/* No PT_LOAD at all. */
	elf_build(8);
	ph(PH_LOAD_A)->p_type = PT_NULL;
	ph(PH_LOAD_B)->p_type = PT_GNU_STACK;
	check_refused(elf, elf_size, "without loadable segments");
}

static void test_elf_parse_note_refusals(void)
{
	uint64_t entry = PVH_ENTRY;

	/* No PT_NOTE. */
	elf_build(8);
	ph(PH_NOTE)->p_type = PT_NULL;
	check_refused(elf, elf_size, "without a PVH entry note");

	/* Notes, but not the one. */
	elf_build(8);
	ph(PH_NOTE)->p_filesz = GNU_NOTE_SIZE;
	check_refused(elf, elf_size, "without a PVH entry note");
	CHECK(strstr(why, "CONFIG_PVH") != NULL);

	elf_build(8);
	note_put(ELF_NOTE_OFF + GNU_NOTE_SIZE, "Xen", 17, &entry, 8);
	check_refused(elf, elf_size, "without a PVH entry note");

	elf_build(8);
	note_put(ELF_NOTE_OFF + GNU_NOTE_SIZE, "XEN", 18, &entry, 8);
	check_refused(elf, elf_size, "without a PVH entry note");

	/* Bad sizes: a descriptor too small for an address. */
	elf_build(8);
	note_put(ELF_NOTE_OFF + GNU_NOTE_SIZE, "Xen", 18, &entry, 2);
	check_refused(elf, elf_size, "without a PVH entry note");
	elf_build(8);
	note_put(ELF_NOTE_OFF + GNU_NOTE_SIZE, "Xen", 18, &entry, 0);
	check_refused(elf, elf_size, "without a PVH entry note");

	/* Name size that is not 4 ("Xen" without its NUL, or with extra bytes). */
	elf_build(8);
	put32(elf + ELF_NOTE_OFF + GNU_NOTE_SIZE, 3);
	check_refused(elf, elf_size, "without a PVH entry note");
	elf_build(8);
	put32(elf + ELF_NOTE_OFF + GNU_NOTE_SIZE, 8);
	check_refused(elf, elf_size, "without a PVH entry note");

	/* Sizes past the segment, up to 2^32 - 1: the walk must stop, not wrap. */
	elf_build(8);
	put32(elf + ELF_NOTE_OFF + GNU_NOTE_SIZE + 4, 0xffffffff);
	check_refused(elf, elf_size, "without a PVH entry note");
	elf_build(8);
	put32(elf + ELF_NOTE_OFF + GNU_NOTE_SIZE, 0xffffffff);
	check_refused(elf, elf_size, "without a PVH entry note");
	elf_build(8);
	put32(elf + ELF_NOTE_OFF + 4, 0xfffffffd); /* the GNU note hides the Xen one */
	check_refused(elf, elf_size, "without a PVH entry note");

	/* The segment ends inside the note: its descriptor, its name, its header. */
	for (unsigned cut = 1; cut <= 24; cut++) {
		elf_build(8);
		ph(PH_NOTE)->p_filesz = GNU_NOTE_SIZE + 24 - cut;
		check_refused(elf, elf_size, "without a PVH entry note");
	}

	/* The file ends inside the note segment (exact-size copy for ASan). */
	elf_build(8);
	{
		size_t n = ELF_NOTE_OFF + GNU_NOTE_SIZE + 20;
		uint8_t *copy = malloc(n);

		memcpy(copy, elf, n);
		check_refused(copy, n, "past the end of the file");
		free(copy);
	}
}

/* ---- loading into a fake guest RAM ---- */

static const struct e820_entry test_e820[] = {
    {0, LAYOUT_EBDA, E820_RAM},
    {LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA, E820_RESERVED},
    {LAYOUT_HIGH_MEM, RAM_SIZE - LAYOUT_HIGH_MEM, E820_RAM},
    {LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE, E820_RESERVED},
};
#define TEST_E820_COUNT (sizeof(test_e820) / sizeof(test_e820[0]))

#define INITRD_SIZE 100003 /* not page-aligned */

static uint8_t initrd_byte(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 9));
}

static int initrd_file(size_t size)
{
	FILE *f = tmpfile();
	int fd;

	if (!f)
		abort();
	for (size_t i = 0; i < size; i++)
		fputc(initrd_byte(i), f);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	return fd;
}

static bool initrd_matches(const uint8_t *p, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (p[i] != initrd_byte(i))
			return false;
	return true;
}

static struct boot_args args_default(int initrd_fd, uint64_t initrd_size)
{
	return (struct boot_args){.cmdline = "console=ttyS0 root=/dev/vda rw",
				  .initrd_fd = initrd_fd,
				  .initrd_size = initrd_size,
				  .e820 = test_e820,
				  .e820_count = TEST_E820_COUNT,
				  .rsdp = RSDP};
}

static int load(const uint8_t *data, size_t size, const struct boot_args *args,
		struct boot_entry *entry)
{
	int ret = kernel_parse(data, size, &img, &why);

	CHECK_EQ(ret, 0);
	if (ret)
		return ret;
	why = NULL;
	ret = kernel_load(&img, &ram, args, entry, &why);
	if (ret == 0)
		CHECK(why == NULL);
	else
		CHECK(why != NULL);
	return ret;
}

static void test_bzimage_load(void)
{
	uint8_t *m = ram_new(RAM_SIZE);
	int fd = initrd_file(INITRD_SIZE);
	struct boot_args args = args_default(fd, INITRD_SIZE);
	struct boot_entry entry = {0};
	const struct boot_params *bp = (const void *)(m + LAYOUT_ZERO_PAGE);
	uint64_t initrd;

	bz_build();
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
	CHECK(!entry.pvh);
	CHECK_EQ(entry.rip, LAYOUT_HIGH_MEM + 0x200);
	CHECK_EQ(entry.boot_info, LAYOUT_ZERO_PAGE);

	/* The protected-mode kernel at 1 MiB, without the setup code. */
	CHECK(memcmp(m + LAYOUT_HIGH_MEM, bz + BZ_SETUP_SIZE, BZ_PAYLOAD_SIZE) == 0);
	CHECK(memcmp(m + LAYOUT_HIGH_MEM + 0x200, "startup_64", 10) == 0);
	CHECK_EQ(m[LAYOUT_HIGH_MEM - 1], 0xcc);

	/* The setup header, copied from the file... */
	CHECK_EQ(bp->hdr.setup_sects, BZ_SETUP_SECTS);
	CHECK_EQ(bp->hdr.syssize, BZ_PAYLOAD_SIZE / 16);
	CHECK_EQ(bp->hdr.boot_flag, 0xaa55);
	CHECK_EQ(bp->hdr.header, 0x53726448); /* "HdrS" */
	CHECK_EQ(bp->hdr.version, 0x020f);
	CHECK_EQ(bp->hdr.initrd_addr_max, BZ_INITRD_MAX);
	CHECK_EQ(bp->hdr.kernel_alignment, 2 * MiB);
	CHECK_EQ(bp->hdr.relocatable_kernel, 1);
	CHECK_EQ(bp->hdr.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	CHECK_EQ(bp->hdr.cmdline_size, BZ_CMDLINE_SIZE);
	CHECK_EQ(bp->hdr.pref_address, 16 * MiB);
	CHECK_EQ(bp->hdr.init_size, BZ_INIT_SIZE);
	/* ...and the loader's fields filled in. */
	CHECK_EQ(bp->hdr.type_of_loader, 0xff);
	CHECK_EQ(bp->hdr.vid_mode, 0xffff);
	CHECK(bp->hdr.loadflags & LOADED_HIGH);
	CHECK(bp->hdr.loadflags & CAN_USE_HEAP);
	CHECK_EQ(bp->hdr.code32_start, LAYOUT_HIGH_MEM);
	CHECK_EQ(bp->hdr.setup_data, 0);

	/* The command line, NUL-terminated, below 1 MiB. */
	CHECK_EQ(bp->hdr.cmd_line_ptr, LAYOUT_CMDLINE);
	CHECK_EQ(bp->ext_cmd_line_ptr, 0);
	CHECK_STR((const char *)m + bp->hdr.cmd_line_ptr, args.cmdline);

	/* The initramfs: page-aligned, above the kernel's init_size, below initrd_addr_max. */
	initrd = bp->hdr.ramdisk_image | (uint64_t)bp->ext_ramdisk_image << 32;
	CHECK_EQ(bp->hdr.ramdisk_size, INITRD_SIZE);
	CHECK_EQ(bp->ext_ramdisk_size, 0);
	CHECK_EQ(initrd & 0xfff, 0);
	CHECK(initrd >= LAYOUT_HIGH_MEM + BZ_INIT_SIZE);
	CHECK(initrd + INITRD_SIZE <= RAM_SIZE);
	/* As high as possible. */
	CHECK(initrd + INITRD_SIZE + 4096 > RAM_SIZE);
	if (initrd + INITRD_SIZE <= RAM_SIZE)
		CHECK(initrd_matches(m + initrd, INITRD_SIZE));

	/* The memory map and the RSDP. */
	CHECK_EQ(bp->e820_entries, TEST_E820_COUNT);
	for (unsigned i = 0; i < TEST_E820_COUNT; i++) {
		CHECK_EQ(bp->e820_table[i].addr, test_e820[i].addr);
		CHECK_EQ(bp->e820_table[i].size, test_e820[i].size);
		CHECK_EQ(bp->e820_table[i].type, test_e820[i].type);
	}
	CHECK_EQ(bp->acpi_rsdp_addr, RSDP);

	/* Everything else in the zero page is zero, not what RAM held before. */
	CHECK_EQ(bp->screen_info.orig_video_isVGA, 0);
	CHECK_EQ(bp->e820_table[TEST_E820_COUNT].size, 0);
	CHECK_EQ(bp->sentinel, 0);

	close(fd);
	ram_free();
}

static void test_bzimage_load_variants(void)
{
	uint8_t *m = ram_new(RAM_SIZE);
	const struct boot_params *bp = (const void *)(m + LAYOUT_ZERO_PAGE);
	int fd = initrd_file(INITRD_SIZE);
	struct boot_args args = args_default(-1, 0);
	struct boot_entry entry;
	uint64_t initrd;

	/* No initramfs: nothing to point at. */
	bz_build();
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
	CHECK_EQ(bp->hdr.ramdisk_image, 0);
	CHECK_EQ(bp->hdr.ramdisk_size, 0);
	CHECK_EQ(bp->e820_entries, TEST_E820_COUNT);

	/* An empty initramfs file: nothing to load, and no error. */
	{
		int empty = initrd_file(0);
		args = args_default(empty, 0);
		CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
		CHECK_EQ(bp->hdr.ramdisk_image, 0);
		CHECK_EQ(bp->hdr.ramdisk_size, 0);
		close(empty);
	}

	/* initrd_addr_max below the end of RAM: the initramfs stays under it. */
	bz_build();
	put32(bz + HDR_INITRD_ADDR_MAX, 32 * MiB - 1);
	args = args_default(fd, INITRD_SIZE);
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
	initrd = bp->hdr.ramdisk_image;
	CHECK(initrd + INITRD_SIZE <= 32 * MiB);
	CHECK(initrd + INITRD_SIZE + 4096 > 32 * MiB);
	CHECK(initrd_matches(m + initrd, INITRD_SIZE));

	/* More e820 entries than the zero page holds: cut at 128. */
	{
		static struct e820_entry many[E820_MAX_ENTRIES_ZEROPAGE + 5];
		for (unsigned i = 0; i < sizeof(many) / sizeof(many[0]); i++)
			many[i] = (struct e820_entry){i * MiB, MiB, E820_RAM};
		args.e820 = many;
		args.e820_count = sizeof(many) / sizeof(many[0]);
		bz_build();
		CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
		CHECK_EQ(bp->e820_entries, E820_MAX_ENTRIES_ZEROPAGE);
		CHECK_EQ(bp->e820_table[E820_MAX_ENTRIES_ZEROPAGE - 1].addr,
			 (E820_MAX_ENTRIES_ZEROPAGE - 1) * MiB);
	}

	/* A short header (jump offset before init_size): copied only as far as it goes. */
	bz_build();
	bz[HDR_JUMP + 1] = 0x250 - 0x202;
	args = args_default(-1, 0);
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
	CHECK_EQ(bp->hdr.version, 0x020f);
	CHECK_EQ(bp->hdr.init_size, 0); /* past the header's end: not copied */

	close(fd);
	ram_free();
}

static void test_bzimage_load_cmdline(void)
{
	static char line[LAYOUT_CMDLINE_MAX + 2];
	uint8_t *m = ram_new(RAM_SIZE);
	struct boot_args args = args_default(-1, 0);
	struct boot_entry entry;

	/* cmdline_size counts the characters, without the NUL. */
	bz_build();
	put32(bz + HDR_CMDLINE_SIZE, 10);
	args.cmdline = "0123456789";
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
	CHECK_STR((const char *)m + LAYOUT_CMDLINE, "0123456789");
	args.cmdline = "0123456789a";
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -E2BIG);
	CHECK(why && strstr(why, "-append") && strstr(why, "command line is longer"));

	/* cmdline_size 0: the protocol's old limit of 255. */
	memset(line, 'x', sizeof(line) - 1);
	put32(bz + HDR_CMDLINE_SIZE, 0);
	line[255] = '\0';
	args.cmdline = line;
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
	CHECK_EQ(strlen((const char *)m + LAYOUT_CMDLINE), 255);
	line[255] = 'x';
	line[256] = '\0';
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -E2BIG);

	/* A huge cmdline_size is capped by the room at LAYOUT_CMDLINE. */
	put32(bz + HDR_CMDLINE_SIZE, 0xffffffff);
	memset(line, 'y', sizeof(line) - 1);
	line[LAYOUT_CMDLINE_MAX - 1] = '\0';
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), 0);
	CHECK_EQ(strlen((const char *)m + LAYOUT_CMDLINE), LAYOUT_CMDLINE_MAX - 1);
	line[LAYOUT_CMDLINE_MAX - 1] = 'y';
	line[LAYOUT_CMDLINE_MAX] = '\0';
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -E2BIG);

	ram_free();
}

static void test_bzimage_load_no_room(void)
{
	int fd = initrd_file(INITRD_SIZE);
	struct boot_args args = args_default(fd, INITRD_SIZE);
	struct boot_entry entry;

	/* An initramfs larger than RAM, or than what is left above the kernel. */
	ram_new(RAM_SIZE);
	bz_build();
	args.initrd_size = 1ULL << 30;
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -ENOMEM);
	CHECK(why && strstr(why, "-initramfs") && strstr(why, "does not fit"));
	args.initrd_size = RAM_SIZE - LAYOUT_HIGH_MEM - BZ_INIT_SIZE + 1;
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -ENOMEM);
	args.initrd_size = UINT64_MAX;
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -ENOMEM);

	/* An initrd_addr_max too low for it: below the kernel. */
	put32(bz + HDR_INITRD_ADDR_MAX, LAYOUT_HIGH_MEM + BZ_INIT_SIZE);
	args.initrd_size = INITRD_SIZE;
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -ENOMEM);
	put32(bz + HDR_INITRD_ADDR_MAX, 0);
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -ENOMEM);

	/* The file is shorter than its size said (it changed since it was opened). */
	bz_build();
	args.initrd_size = INITRD_SIZE + 1;
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -EIO);
	CHECK(why && strstr(why, "-initramfs"));
	ram_free();

	/* init_size larger than RAM. */
	ram_new(RAM_SIZE);
	bz_build();
	put32(bz + HDR_INIT_SIZE, RAM_SIZE);
	args = args_default(-1, 0);
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -ENOMEM);
	CHECK(why && strstr(why, "-m: guest RAM is too small"));
	ram_free();

	/* RAM that ends inside the kernel itself. */
	ram_new(LAYOUT_HIGH_MEM + BZ_PAYLOAD_SIZE / 2);
	bz_build();
	put32(bz + HDR_INIT_SIZE, 0);
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -ENOMEM);
	CHECK(why && strstr(why, "-m"));
	ram_free();

	/* Room for the kernel but not for the initramfs above it. */
	ram_new(LAYOUT_HIGH_MEM + BZ_INIT_SIZE + INITRD_SIZE - 1);
	bz_build();
	args = args_default(fd, INITRD_SIZE);
	CHECK_EQ(load(bz, BZ_SIZE, &args, &entry), -ENOMEM);
	ram_free();

	close(fd);
}

/* hvm_start_info and its entries, read at the offsets of Xen's public/arch-x86/hvm/start_info.h */
static void test_elf_load(void)
{
	uint8_t *m = ram_new(RAM_SIZE);
	int fd = initrd_file(INITRD_SIZE);
	struct boot_args args = args_default(fd, INITRD_SIZE);
	struct boot_entry entry = {0};
	const uint8_t *si = m + LAYOUT_PVH_INFO;
	uint64_t modlist, memmap, initrd;

	elf_build(8);
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK(entry.pvh);
	CHECK_EQ(entry.rip, PVH_ENTRY);
	CHECK_EQ(entry.boot_info, LAYOUT_PVH_INFO);

	/* Segments at their physical addresses; bss cleared; nothing around them touched. */
	CHECK(memcmp(m + SEG_A_PADDR, elf + SEG_A_OFF, SEG_A_FILESZ) == 0);
	for (size_t i = SEG_A_FILESZ; i < SEG_A_MEMSZ; i++)
		if (m[SEG_A_PADDR + i] != 0) {
			CHECK_EQ(m[SEG_A_PADDR + i], 0);
			break;
		}
	CHECK_EQ(m[SEG_A_PADDR + SEG_A_MEMSZ], 0xcc);
	CHECK_EQ(m[SEG_A_PADDR - 1], 0xcc);
	CHECK(memcmp(m + SEG_B_PADDR, elf + SEG_B_OFF, SEG_B_SIZE) == 0);
	CHECK_EQ(m[SEG_B_PADDR + SEG_B_SIZE], 0xcc);
	/* The ELF headers and notes are not loaded anywhere. */
	CHECK_EQ(m[LAYOUT_HIGH_MEM], 0xcc);

	CHECK_EQ(get(si + 0, 4), 0x336ec578);
	CHECK_EQ(get(si + 4, 4), 1);
	CHECK_EQ(get(si + 8, 4), 0);
	CHECK_EQ(get(si + 12, 4), 1);
	modlist = get(si + 16, 8);
	CHECK_EQ(get(si + 24, 8), LAYOUT_CMDLINE);
	CHECK_STR((const char *)m + LAYOUT_CMDLINE, args.cmdline);
	CHECK_EQ(get(si + 32, 8), RSDP);
	memmap = get(si + 40, 8);
	CHECK_EQ(get(si + 48, 4), TEST_E820_COUNT);

	/* The module list: one entry, the initramfs, above the kernel and page-aligned. */
	CHECK(modlist > 0 && modlist + 32 <= LAYOUT_ZERO_PAGE);
	initrd = get(m + modlist, 8);
	CHECK_EQ(get(m + modlist + 8, 8), INITRD_SIZE);
	CHECK_EQ(get(m + modlist + 16, 8), 0);
	CHECK_EQ(initrd & 0xfff, 0);
	CHECK(initrd >= SEG_B_PADDR + SEG_B_SIZE);
	CHECK(initrd + INITRD_SIZE <= RAM_SIZE);
	if (initrd + INITRD_SIZE <= RAM_SIZE)
		CHECK(initrd_matches(m + initrd, INITRD_SIZE));

	/* The memory map: the e820 passed in, 24 bytes per entry, not overlapping the rest. */
	CHECK(memmap >= LAYOUT_PVH_INFO + 56 && memmap + TEST_E820_COUNT * 24 <= LAYOUT_ZERO_PAGE);
	CHECK(memmap >= modlist + 32 || memmap + TEST_E820_COUNT * 24 <= modlist);
	for (unsigned i = 0; i < TEST_E820_COUNT; i++) {
		const uint8_t *e = m + memmap + i * 24;
		CHECK_EQ(get(e, 8), test_e820[i].addr);
		CHECK_EQ(get(e + 8, 8), test_e820[i].size);
		CHECK_EQ(get(e + 16, 4), test_e820[i].type);
		CHECK_EQ(get(e + 20, 4), 0);
	}

	close(fd);
	ram_free();
}

static void test_elf_load_variants(void)
{
	uint8_t *m = ram_new(RAM_SIZE);
	const uint8_t *si = m + LAYOUT_PVH_INFO;
	struct boot_args args = args_default(-1, 0);
	struct boot_entry entry;
	static char line[LAYOUT_CMDLINE_MAX + 1];
	int fd;

	/* No initramfs: no modules. */
	elf_build(4);
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK_EQ(entry.rip, PVH_ENTRY);
	CHECK_EQ(get(si + 12, 4), 0);
	CHECK_EQ(get(si + 16, 8), 0);

	/* An empty initramfs file: no module. */
	fd = initrd_file(0);
	args = args_default(fd, 0);
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK_EQ(get(si + 12, 4), 0);
	CHECK_EQ(get(si + 16, 8), 0);
	close(fd);
	args = args_default(-1, 0);

	/* The command line may use all the room at LAYOUT_CMDLINE, and not a byte more. */
	memset(line, 'z', sizeof(line) - 1);
	line[LAYOUT_CMDLINE_MAX - 1] = '\0';
	args.cmdline = line;
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK_EQ(strlen((const char *)m + LAYOUT_CMDLINE), LAYOUT_CMDLINE_MAX - 1);
	line[LAYOUT_CMDLINE_MAX - 1] = 'z';
	CHECK_EQ(load(elf, elf_size, &args, &entry), -E2BIG);
	CHECK(why && strstr(why, "command line"));

	/* An empty command line is still a string. */
	args.cmdline = "";
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK_EQ(m[LAYOUT_CMDLINE], 0);

	/* Overlapping segments: the later one wins; bss of the first is cleared first. */
	elf_build(8);
	ph(PH_LOAD_B)->p_paddr = SEG_A_PADDR + SEG_A_FILESZ;
	args = args_default(-1, 0);
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK(memcmp(m + SEG_A_PADDR + SEG_A_FILESZ, elf + SEG_B_OFF, SEG_B_SIZE) == 0);
	CHECK_EQ(m[SEG_A_PADDR + SEG_A_FILESZ + SEG_B_SIZE], 0);

	/* An initramfs too large for the RAM above the kernel. */
	fd = initrd_file(16);
	elf_build(8);
	args = args_default(fd, RAM_SIZE - (SEG_B_PADDR + SEG_B_SIZE));
	CHECK_EQ(load(elf, elf_size, &args, &entry), -ENOMEM);
	CHECK(why && strstr(why, "-initramfs"));
	args.initrd_size = 1ULL << 40;
	CHECK_EQ(load(elf, elf_size, &args, &entry), -ENOMEM);
	/* Just fits (the file is shorter than that, so the read fails after the placement). */
	args.initrd_size = RAM_SIZE - 4096 - (SEG_B_PADDR + SEG_B_SIZE);
	CHECK_EQ(load(elf, elf_size, &args, &entry), -EIO);
	args.initrd_size = 16;
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK_EQ(get(si + 12, 4), 1);
	close(fd);

	/* A segment past the end of RAM, or straddling it. */
	elf_build(8);
	ph(PH_LOAD_B)->p_paddr = RAM_SIZE;
	args = args_default(-1, 0);
	CHECK_EQ(load(elf, elf_size, &args, &entry), -ENOMEM);
	CHECK(why && strstr(why, "-m: guest RAM is too small"));
	ph(PH_LOAD_B)->p_paddr = RAM_SIZE - SEG_B_SIZE + 1;
	CHECK_EQ(load(elf, elf_size, &args, &entry), -ENOMEM);
	ph(PH_LOAD_B)->p_paddr = RAM_SIZE - SEG_B_SIZE;
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK(memcmp(m + RAM_SIZE - SEG_B_SIZE, elf + SEG_B_OFF, SEG_B_SIZE) == 0);
	/* A huge bss. */
	elf_build(8);
	ph(PH_LOAD_A)->p_memsz = 1ULL << 40;
	CHECK_EQ(load(elf, elf_size, &args, &entry), -ENOMEM);

	ram_free();
}

/* ---- files ---- */

static char err_text[4096];

/* Call fn(arg) with stderr captured into err_text. */
static int with_stderr(int (*fn)(const char *, void *), const char *path, void *out)
{
	FILE *tmp = tmpfile();
	int saved, ret;
	size_t n;

	fflush(stderr);
	saved = dup(2);
	dup2(fileno(tmp), 2);
	ret = fn(path, out);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(err_text, 1, sizeof(err_text) - 1, tmp);
	err_text[n] = '\0';
	fclose(tmp);
	return ret;
}

static int open_kernel(const char *path, void *k)
{
	return kernel_open(path, k);
}

struct initrd_out {
	int fd;
	uint64_t size;
};

static int open_initrd(const char *path, void *out)
{
	struct initrd_out *o = out;
	return boot_open_initrd(path, &o->fd, &o->size);
}

static void write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

static void test_files(void)
{
	char dir[] = "/tmp/smolvm-test-kernel-XXXXXX", path[64];
	struct kernel_image k;
	struct initrd_out o;

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}

	CHECK_EQ(with_stderr(open_kernel, "/nonexistent/vmlinuz", &k), -ENOENT);
	CHECK(strstr(err_text, "smolvm: /nonexistent/vmlinuz: cannot open kernel") != NULL);
	CHECK_EQ(with_stderr(open_kernel, dir, &k), -EINVAL);
	CHECK(strstr(err_text, "is a directory") != NULL);

	snprintf(path, sizeof(path), "%s/empty", dir);
	write_file(path, "", 0);
	CHECK_EQ(with_stderr(open_kernel, path, &k), -EINVAL);
	CHECK(strstr(err_text, path) && strstr(err_text, "empty file"));

	snprintf(path, sizeof(path), "%s/initrd.gz", dir);
	write_file(path, "\x1f\x8b\x08\x00", 4);
	CHECK_EQ(with_stderr(open_kernel, path, &k), -EINVAL);
	CHECK(strstr(err_text, path) && strstr(err_text, "gzip"));

	snprintf(path, sizeof(path), "%s/bzImage", dir);
	bz_build();
	write_file(path, bz, BZ_SIZE);
	CHECK_EQ(with_stderr(open_kernel, path, &k), 0);
	CHECK_STR(err_text, "");
	CHECK_EQ(k.format, KERNEL_BZIMAGE);
	CHECK_EQ(k.size, BZ_SIZE);
	CHECK(k.data && memcmp(k.data, bz, BZ_SIZE) == 0);
	kernel_close(&k);
	CHECK(k.data == NULL);
	kernel_close(&k);
	unlink(path);

	snprintf(path, sizeof(path), "%s/vmlinux", dir);
	elf_build(8);
	write_file(path, elf, elf_size);
	CHECK_EQ(with_stderr(open_kernel, path, &k), 0);
	CHECK_EQ(k.format, KERNEL_ELF_PVH);
	CHECK_EQ(k.pvh_entry, PVH_ENTRY);
	kernel_close(&k);

	/* initramfs files. */
	CHECK_EQ(with_stderr(open_initrd, "/nonexistent/initrd", &o), -ENOENT);
	CHECK(strstr(err_text, "/nonexistent/initrd: cannot open initramfs") != NULL);
	CHECK_EQ(with_stderr(open_initrd, dir, &o), -EINVAL);
	CHECK(strstr(err_text, "is a directory") != NULL);
	CHECK_EQ(o.fd, -1);
	o.size = 0;
	CHECK_EQ(with_stderr(open_initrd, path, &o), 0);
	CHECK(o.fd >= 0);
	CHECK_EQ(o.size, elf_size);
	close(o.fd);

	unlink(path);
	snprintf(path, sizeof(path), "%s/initrd.gz", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/empty", dir);
	unlink(path);
	rmdir(dir);
}

/* The fuzzer's seeds: the valid images above, small enough to mutate quickly. */
static int write_seeds(const char *dir)
{
	char path[4096];

	bz_build();
	snprintf(path, sizeof(path), "%s/bzimage", dir);
	write_file(path, bz, BZ_SIZE);
	elf_build(8);
	snprintf(path, sizeof(path), "%s/vmlinux-pvh-note8", dir);
	write_file(path, elf, elf_size);
	elf_build(4);
	snprintf(path, sizeof(path), "%s/vmlinux-pvh-note4", dir);
	write_file(path, elf, elf_size);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);

	RUN(test_parse_not_a_kernel);
	RUN(test_bzimage_parse_ok);
	RUN(test_bzimage_parse_truncated);
	RUN(test_bzimage_parse_refusals);
	RUN(test_elf_parse_ok);
	RUN(test_elf_parse_header_refusals);
	RUN(test_elf_parse_segment_refusals);
	RUN(test_elf_parse_note_refusals);
	RUN(test_bzimage_load);
	RUN(test_bzimage_load_variants);
	RUN(test_bzimage_load_cmdline);
	RUN(test_bzimage_load_no_room);
	RUN(test_elf_load);
	RUN(test_elf_load_variants);
	RUN(test_files);
	return UNIT_RESULT();
}
