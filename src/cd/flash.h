/*
 * The firmware's flash, as guest memory ending at 4 GiB: the code image read-only at the top,
 * the variable store right below it (OVMF's 4 MiB build: VARS at 0xFFC00000, CODE from
 * 0xFFC84000). Guest writes to either leave KVM as MMIO writes. Without -efivars the store is
 * a private copy that drops them, as ROM does, so OVMF keeps its variables in memory; with
 * -efivars FILE it is a CFI flash (cd/flash_cfi.c) whose array is FILE itself.
 */
#ifndef SMOLVM_CD_FLASH_H
#define SMOLVM_CD_FLASH_H

#include <limits.h>

struct vm;
struct vm_config;

#define FLASH_DEFAULT_CODE "/usr/share/OVMF/OVMF_CODE_4M.fd"
#define FLASH_DEFAULT_VARS "/usr/share/OVMF/OVMF_VARS_4M.fd"
#define FLASH_MAX_SIZE	   (16u << 20) /* 0xFF000000 to 4 GiB: above the MMIO devices */

struct flash_files {
	const char *code_opt; /* how the user named it: "-bios", or NULL for the default */
	const char *code;
	const char *vars_template; /* NULL: none (a -bios image with its own store, or none) */
	const char *efivars;	   /* NULL: the store is a private copy of the template */
	char vars_buf[PATH_MAX];
};

/* The files cfg asks for: -bios or OVMF's code, the VARS file beside it (CODE in the name
 * replaced by VARS), -efivars. */
void flash_files_from_config(const struct vm_config *cfg, struct flash_files *f);

/* Whether the files can be used: readable, sizes whole pages that fit below 4 GiB, an
 * -efivars file of the template's size or one that can be made from it. 0, or -1 after one
 * line naming the file (a missing default names Debian's package ovmf). */
int flash_check(const struct flash_files *f);

/* Map the firmware into the VM (creating -efivars FILE from the template if it is missing).
 * 0, or -1 after one line. */
int flash_create(struct vm *vm, const struct flash_files *f);

#endif
