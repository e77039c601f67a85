/*
 * Kernel loaders, loading: synthetic kernels (kernel_images.h) loaded into a fake guest RAM
 * whose boot structures are then read back: the zero page through <asm/bootparam.h>, the PVH
 * start info from the offsets of Xen's ABI; and the files a user names, opened and refused.
 * Nothing is downloaded and no KVM is needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel_images.h"

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

	CHECK_EQ(le(si + 0, 4), 0x336ec578);
	CHECK_EQ(le(si + 4, 4), 1);
	CHECK_EQ(le(si + 8, 4), 0);
	CHECK_EQ(le(si + 12, 4), 1);
	modlist = le(si + 16, 8);
	CHECK_EQ(le(si + 24, 8), LAYOUT_CMDLINE);
	CHECK_STR((const char *)m + LAYOUT_CMDLINE, args.cmdline);
	CHECK_EQ(le(si + 32, 8), RSDP);
	memmap = le(si + 40, 8);
	CHECK_EQ(le(si + 48, 4), TEST_E820_COUNT);

	/* The module list: one entry, the initramfs, above the kernel and page-aligned. */
	CHECK(modlist > 0 && modlist + 32 <= LAYOUT_ZERO_PAGE);
	initrd = le(m + modlist, 8);
	CHECK_EQ(le(m + modlist + 8, 8), INITRD_SIZE);
	CHECK_EQ(le(m + modlist + 16, 8), 0);
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
		CHECK_EQ(le(e, 8), test_e820[i].addr);
		CHECK_EQ(le(e + 8, 8), test_e820[i].size);
		CHECK_EQ(le(e + 16, 4), test_e820[i].type);
		CHECK_EQ(le(e + 20, 4), 0);
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
	CHECK_EQ(le(si + 12, 4), 0);
	CHECK_EQ(le(si + 16, 8), 0);

	/* An empty initramfs file: no module. */
	fd = initrd_file(0);
	args = args_default(fd, 0);
	CHECK_EQ(load(elf, elf_size, &args, &entry), 0);
	CHECK_EQ(le(si + 12, 4), 0);
	CHECK_EQ(le(si + 16, 8), 0);
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
	CHECK_EQ(le(si + 12, 4), 1);
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
int main(void)
{
	RUN(test_bzimage_load);
	RUN(test_bzimage_load_variants);
	RUN(test_bzimage_load_cmdline);
	RUN(test_bzimage_load_no_room);
	RUN(test_elf_load);
	RUN(test_elf_load_variants);
	RUN(test_files);
	return UNIT_RESULT();
}
