/*
 * The cd feature: the firmware machine, which boots an ISO (-cd) or a disk (-drive alone)
 * through EFI firmware, Debian's OVMF by default. main.c reaches it through the hooks of
 * struct feature (vmm/features.h).
 */
#include "cli/options.h"
#include "cd/boot_media.h"
#include "cd/flash.h"
#include "vmm/features.h"
#include "vmm/vm.h"

static int cd_firmware_check(const struct vm_config *cfg)
{
	struct flash_files files;

	if (cfg->cd ? boot_media_check_iso("-cd", cfg->cd) != 0
		    : boot_media_check_disk(cfg->drive[0].path) != 0)
		return -1;
	flash_files_from_config(cfg, &files);
	return flash_check(&files);
}

static int cd_firmware_add_platform(struct vm *vm)
{
	return 0;
}

static int cd_firmware_load(struct vm *vm)
{
	struct flash_files files;

	flash_files_from_config(vm->cfg, &files);
	return flash_create(vm, &files);
}

const struct feature cd_feature = {
	.name = "cd",
	.firmware_check = cd_firmware_check,
	.firmware_add_platform = cd_firmware_add_platform,
	.firmware_load = cd_firmware_load,
};
