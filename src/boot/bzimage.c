/* bzImage through the Linux x86 boot protocol (Documentation/arch/x86/boot.rst). */
#include <asm/bootparam.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "boot/kernel.h"

/* Boot protocol 2.12 added xloadflags and with it the 64-bit entry point we use. */
#define BOOT_PROTOCOL_MIN 0x020c
#define SETUP_HDR_OFFSET  0x1f1

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

int bzimage_parse(const uint8_t *data, size_t size, struct kernel_image *k, const char **why)
{
	size_t hdr_end, setup_sects;

	if (size < 0x270) {
		*why = "truncated bzImage: the file ends inside the setup header";
		return -EINVAL;
	}
	if (le16(data + 0x1fe) != 0xaa55) {
		*why = "bzImage without the 0xAA55 boot signature";
		return -EINVAL;
	}
	k->version = le16(data + 0x206);
	if (k->version < BOOT_PROTOCOL_MIN) {
		*why = "bzImage uses boot protocol older than 2.12 (no 64-bit entry point)";
		return -EINVAL;
	}
	if (!(le16(data + 0x236) & XLF_KERNEL_64)) {
		*why = "bzImage has no 64-bit entry point (xloadflags lacks XLF_KERNEL_64)";
		return -EINVAL;
	}
	hdr_end = 0x202 + data[0x201];
	setup_sects = data[0x1f1] ? data[0x1f1] : 4;
	k->setup_size = (setup_sects + 1) * 512;
	if (hdr_end > size || k->setup_size >= size) {
		*why = "truncated bzImage: the file ends inside the real-mode setup code";
		return -EINVAL;
	}
	/* syssize counts the protected-mode kernel in 16-byte units. */
	if ((uint64_t)le32(data + 0x1f4) * 16 > size - k->setup_size) {
		*why = "truncated bzImage: the kernel is shorter than its header says";
		return -EINVAL;
	}
	k->format = KERNEL_BZIMAGE;
	k->data = data;
	k->size = size;
	k->initrd_addr_max = le32(data + 0x22c);
	k->cmdline_max = le32(data + 0x238);
	k->init_size = le32(data + 0x260);
	return 0;
}

static void bzimage_fill_e820(struct boot_params *bp, const struct boot_args *args)
{
	unsigned n = args->e820_count;

	if (n > E820_MAX_ENTRIES_ZEROPAGE)
		n = E820_MAX_ENTRIES_ZEROPAGE;
	for (unsigned i = 0; i < n; i++) {
		bp->e820_table[i].addr = args->e820[i].addr;
		bp->e820_table[i].size = args->e820[i].size;
		bp->e820_table[i].type = args->e820[i].type;
	}
	bp->e820_entries = n;
}

int bzimage_load(const struct kernel_image *k, const struct guest_mem *mem,
		 const struct boot_args *args, struct boot_entry *entry, const char **why)
{
	size_t kernel_size = k->size - k->setup_size;
	size_t hdr_len = 0x202 + k->data[0x201] - SETUP_HDR_OFFSET;
	uint64_t need = kernel_size > k->init_size ? kernel_size : k->init_size;
	uint64_t initrd_gpa;
	struct boot_params *bp;
	int ret;

	/* The kernel decompresses itself within init_size bytes of where it is loaded. */
	if (guest_mem_write(mem, LAYOUT_HIGH_MEM, k->data + k->setup_size, kernel_size) != 0 ||
	    !guest_mem_ptr(mem, LAYOUT_HIGH_MEM, need)) {
		*why = "-m: guest RAM is too small for this kernel";
		return -ENOMEM;
	}
	bp = guest_mem_ptr(mem, LAYOUT_ZERO_PAGE, sizeof(*bp));
	if (!bp) {
		*why = "no guest RAM for the zero page";
		return -EFAULT;
	}
	memset(bp, 0, sizeof(*bp));
	if (hdr_len > sizeof(bp->hdr))
		hdr_len = sizeof(bp->hdr);
	memcpy(&bp->hdr, k->data + SETUP_HDR_OFFSET, hdr_len);

	ret = boot_put_cmdline(mem, args->cmdline, k->cmdline_max ? k->cmdline_max : 255, why);
	if (ret)
		return ret;
	ret = boot_put_initrd(mem, args, LAYOUT_HIGH_MEM + need,
			      (uint64_t)k->initrd_addr_max + 1, &initrd_gpa, why);
	if (ret)
		return ret;

	bp->hdr.vid_mode = 0xffff; /* "normal": no video mode prompt */
	bp->hdr.type_of_loader = 0xff; /* undefined boot loader */
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.cmd_line_ptr = LAYOUT_CMDLINE;
	bp->hdr.ramdisk_image = (uint32_t)initrd_gpa;
	bp->hdr.ramdisk_size = (uint32_t)args->initrd_size;
	bp->ext_ramdisk_size = (uint32_t)(args->initrd_size >> 32);
	bp->hdr.code32_start = LAYOUT_HIGH_MEM;
	bp->acpi_rsdp_addr = args->rsdp;
	bzimage_fill_e820(bp, args);

	entry->pvh = false;
	entry->rip = LAYOUT_HIGH_MEM + 0x200; /* startup_64 */
	entry->boot_info = LAYOUT_ZERO_PAGE;
	return 0;
}
