/*
 * Fuzz the kernel image parsers and loaders: a kernel file is untrusted input. The input is
 * the whole file; whatever it holds, kernel_parse() must accept it or refuse it with a reason,
 * reading only inside it (ASan watches libFuzzer's exact-size copy), and an accepted image must
 * load into a small guest RAM or fail with a reason, writing only inside that RAM.
 *
 * Seeds (tests/fuzz/corpus/fuzz_kernel) come from `build/tests/test_kernel_parse --write-seeds DIR`.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "arch/x86/layout.h"
#include "boot/kernel.h"
#include "fuzz.h"

/* Small enough to clear quickly, large enough that the seeds load. */
#define RAM_SIZE (32 * MiB)

static const struct e820_entry fuzz_e820[] = {
    {0, LAYOUT_EBDA, E820_RAM},
    {LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA, E820_RESERVED},
    {LAYOUT_HIGH_MEM, RAM_SIZE - LAYOUT_HIGH_MEM, E820_RAM},
};

static uint8_t *fuzz_ram(void)
{
	static uint8_t *ram;

	/* One mapping for the whole run; its contents do not matter between inputs. */
	if (!ram) {
		ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			   0);
		if (ram == MAP_FAILED)
			abort();
	}
	return ram;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem = {.nregions = 1,
				.region[0] = {.gpa = 0, .size = RAM_SIZE, .host = fuzz_ram()}};
	struct boot_args args = {
	    .cmdline = "console=ttyS0 panic=-1",
	    .initrd_fd = -1,
	    .e820 = fuzz_e820,
	    .e820_count = sizeof(fuzz_e820) / sizeof(fuzz_e820[0]),
	    .rsdp = LAYOUT_ACPI,
	};
	struct kernel_image k;
	struct boot_entry entry;
	const char *why = NULL;
	int ret;

	ret = kernel_parse(data, size, &k, &why);
	fuzz_assert(ret == 0 || ret == -EINVAL);
	if (ret) {
		fuzz_assert(why && *why);
		return 0;
	}
	fuzz_assert(k.data == data && k.size == size);
	fuzz_assert(k.format == KERNEL_BZIMAGE || k.format == KERNEL_ELF_PVH);
	if (k.format == KERNEL_BZIMAGE)
		fuzz_assert(k.setup_size < size);

	why = NULL;
	memset(&entry, 0, sizeof(entry));
	ret = kernel_load(&k, &mem, &args, &entry, &why);
	fuzz_assert(ret == 0 || ret == -ENOMEM || ret == -EFAULT || ret == -E2BIG);
	if (ret) {
		fuzz_assert(why && *why);
		return 0;
	}
	fuzz_assert(entry.pvh == (k.format == KERNEL_ELF_PVH));
	fuzz_assert(entry.boot_info == (entry.pvh ? LAYOUT_PVH_INFO : LAYOUT_ZERO_PAGE));
	fuzz_assert(strcmp((const char *)mem.region[0].host + LAYOUT_CMDLINE, args.cmdline) == 0);
	return 0;
}
