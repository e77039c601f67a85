/*
 * Kernel images: a bzImage entered at its 64-bit entry point with a zero page (the Linux
 * x86 boot protocol), or an ELF vmlinux entered in 32-bit protected mode through its PVH
 * note. kernel_parse() checks everything it will later rely on, so that a bad file is
 * refused before any VM exists.
 */
#ifndef SMOLVM_KERNEL_H
#define SMOLVM_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/e820.h"
#include "vmm/guest_mem.h"

enum kernel_format {
	KERNEL_BZIMAGE,
	KERNEL_ELF_PVH,
};

struct kernel_image {
	enum kernel_format format;
	const uint8_t *data; /* the whole file, mapped read-only */
	size_t size;
	/* bzImage */
	size_t setup_size; /* boot sector + real-mode setup; the 64-bit kernel follows */
	uint16_t version;
	uint32_t init_size;
	uint32_t initrd_addr_max;
	uint32_t cmdline_max;
	/* ELF */
	uint32_t pvh_entry;
};

/* What the loader places beside the kernel. */
struct boot_args {
	const char *cmdline;
	int initrd_fd; /* -1 for none */
	uint64_t initrd_size;
	const struct e820_entry *e820;
	unsigned e820_count;
	uint64_t rsdp;
};

/* Where and how the boot vCPU starts. */
struct boot_entry {
	bool pvh;           /* 32-bit protected mode, ebx = start info; else 64-bit, rsi = zero page */
	uint64_t rip;
	uint64_t boot_info; /* guest address of the zero page or the hvm_start_info */
};

/* Check an in-memory image. Returns 0, or -EINVAL with *why naming what is wrong. */
int kernel_parse(const uint8_t *data, size_t size, struct kernel_image *k, const char **why);
int bzimage_parse(const uint8_t *data, size_t size, struct kernel_image *k, const char **why);
int elf_pvh_parse(const uint8_t *data, size_t size, struct kernel_image *k, const char **why);

/* Open and map a kernel file and parse it; prints one line naming the file on failure. */
int kernel_open(const char *path, struct kernel_image *k);
void kernel_close(struct kernel_image *k);

/* Open an initramfs file for boot_args; prints one line naming the file on failure. */
int boot_open_initrd(const char *path, int *fd, uint64_t *size);

/* Copy the kernel, command line, initramfs and boot structures into guest memory.
 * Returns 0, or -errno with *why set (e.g. the guest RAM is too small). */
int kernel_load(const struct kernel_image *k, const struct guest_mem *mem,
		const struct boot_args *args, struct boot_entry *entry, const char **why);
int bzimage_load(const struct kernel_image *k, const struct guest_mem *mem,
		 const struct boot_args *args, struct boot_entry *entry, const char **why);
int elf_pvh_load(const struct kernel_image *k, const struct guest_mem *mem,
		 const struct boot_args *args, struct boot_entry *entry, const char **why);

/* Shared by both loaders: put the command line at LAYOUT_CMDLINE, and the initramfs as high
 * as possible below max_addr (and below the end of low RAM). */
int boot_put_cmdline(const struct guest_mem *mem, const char *cmdline, size_t max_len,
		     const char **why);
int boot_put_initrd(const struct guest_mem *mem, const struct boot_args *args, uint64_t min_addr,
		    uint64_t max_addr, uint64_t *gpa, const char **why);

#endif
