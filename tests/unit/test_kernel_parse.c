/*
 * Kernel loaders, parsing: synthetic bzImages and PVH vmlinux files (kernel_images.h) are
 * accepted, or refused with the right reason when cut short or corrupted field by field.
 * No KVM is needed.
 *
 * `test_kernel_parse --write-seeds DIR` writes the valid images as the fuzzer's seed corpus.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel_images.h"

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
	return UNIT_RESULT();
}
