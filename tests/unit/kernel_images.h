/*
 * Synthetic kernels for the loader tests, built byte by byte: a bzImage (boot sector, setup
 * header, real-mode setup, payload) and a PVH vmlinux (a GNU and a Xen note, two PT_LOADs),
 * plus a fake guest RAM at gpa 0. One copy per test program (all static).
 */
#ifndef KERNEL_IMAGES_H
#define KERNEL_IMAGES_H

#include <asm/bootparam.h>
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "arch/x86/layout.h"
#include "boot/kernel.h"
#include "bytes.h"
#include "unit.h"

#define RAM_SIZE (64 * MiB)
#define RSDP	 LAYOUT_ACPI

/* ---- little-endian field access, independent of the loaders' own structs ---- */

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, v);
	put32(p + 4, v >> 32);
}

/* ---- a fake guest RAM at gpa 0 ---- */

static struct guest_mem ram;

static inline uint8_t *ram_new(uint64_t size)
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

static inline void ram_free(void)
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

static inline uint8_t payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static inline void bz_build(void)
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

static inline Elf64_Ehdr *eh(void)
{
	return (Elf64_Ehdr *)elf;
}

static inline Elf64_Phdr *ph(unsigned i)
{
	return (Elf64_Phdr *)(elf + sizeof(Elf64_Ehdr)) + i;
}

/* Append one note at off; returns its padded size. */
static inline size_t note_put(size_t off, const char *name, uint32_t type, const void *desc,
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

static inline uint8_t seg_byte(size_t i)
{
	return (uint8_t)(i * 13 + 5);
}

/* desc_size: 8 as Linux writes the PHYS32_ENTRY address, or 4. */
static inline void elf_build(unsigned desc_size)
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


static inline void write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* The last parse or load: its result and its reason for a refusal. */
static struct kernel_image img;
static const char *why;

#endif
