/*
 * The cd feature: the firmware machine, which boots an ISO (-cd) or a disk (-drive alone)
 * through EFI firmware, Debian's OVMF by default. main.c reaches it through the hooks of
 * struct feature (vmm/features.h): the user's files are checked before KVM, the chipset OVMF
 * expects joins the PCI bus after the host bridge, and once every device exists the firmware
 * is mapped below 4 GiB and fw_cfg holds what it reads: the memory map, the CPUs, the ACPI
 * tables. The boot vCPU then starts at the reset vector, in KVM's reset state.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "acpi/acpi.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "cd/boot_media.h"
#include "cd/chipset.h"
#include "cd/flash.h"
#include "cd/fw_cfg.h"
#include "cli/options.h"
#include "devices/legacy.h"
#include "pci/pci.h"
#include "vmm/features.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* Where OVMF puts PCI resources on an i440FX (OvmfPkg/Library/PlatformInitLib): 32-bit BARs
 * from the top of low RAM (at least 2 GiB) to 0xFC000000, I/O BARs in 0xC000-0xFFFF (the I/O
 * window here starts at 0x1000, as the direct machine's, to hold the PM block at 0xB000 that
 * Linux's PIIX4 quirk claims too). Its 64-bit
 * aperture lies above the RAM past 4 GiB: 32 GiB aligned to its size in plain 2022-11, the top
 * eighth of the physical address space in Debian's build (which has the dynamic MMIO window:
 * 0xE0_0000_0000 with 40 address bits). The ACPI tables describe one window over both: from
 * the first GiB past RAM to the end of the address space OVMF uses (at most 47 bits). */
#define OVMF_MMIO32_END	   0xfc000000ULL
#define OVMF_MMIO32_MIN	   (2 * GiB)
#define OVMF_MMIO64_SIZE   (32 * GiB)
#define OVMF_MAX_PHYS_BITS 47

static int cd_firmware_check(const struct vm_config *cfg)
{
	struct flash_files files;

	if (cfg->cd ? boot_media_check_iso("-cd", cfg->cd) != 0
		    : boot_media_check_disk(cfg->drive[0].path) != 0)
		return -1;
	flash_files_from_config(cfg, &files);
	return flash_check(&files);
}

/* An i440FX with its PIIX3/PIIX4 functions, and no ECAM: OVMF puts BARs where it would be. */
static int cd_firmware_add_platform(struct vm *vm)
{
	pci_host_remove_ecam(vm);
	return chipset_create(vm) == 0 ? 0 : -1;
}

/* RAM below 4 GiB (from 0) and above it (from 4 GiB): guest_mem's two regions. */
static void cd_ram_sizes(const struct vm *vm, uint64_t *low, uint64_t *high)
{
	*low = *high = 0;
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		if (vm->mem.region[i].gpa == 0)
			*low = vm->mem.region[i].size;
		else
			*high += vm->mem.region[i].size;
	}
}

/* The guest's physical address width (CPUID 0x80000008 EAX[7:0]), as OVMF reads it. */
static unsigned cd_phys_bits(const struct vm *vm)
{
	for (unsigned i = 0; i < vm->cpuid->nent; i++)
		if (vm->cpuid->entries[i].function == 0x80000008 &&
		    (vm->cpuid->entries[i].eax & 0xff) >= 36)
			return vm->cpuid->entries[i].eax & 0xff;
	return 36;
}

/* The 64-bit window of the ACPI tables: [*base, *base + *size). */
static void cd_mmio64_window(const struct vm *vm, uint64_t top, uint64_t *base, uint64_t *size)
{
	unsigned bits = cd_phys_bits(vm);
	uint64_t end = 1ULL << (bits < OVMF_MAX_PHYS_BITS ? bits : OVMF_MAX_PHYS_BITS);
	uint64_t static_end =
	    ((top + OVMF_MMIO64_SIZE - 1) & ~(OVMF_MMIO64_SIZE - 1)) + OVMF_MMIO64_SIZE;

	*base = (top + GiB - 1) & ~(GiB - 1);
	if (end < static_end)
		end = static_end;
	*size = end - *base;
}

/* The tables OVMF reads through fw_cfg. 0 or -errno. */
static int cd_add_fw_cfg(struct vm *vm, uint64_t low, uint64_t high)
{
	struct fw_cfg *fw = fw_cfg_create(vm);
	struct e820_entry e820[2] = {{0, low, E820_RAM}, {LAYOUT_RAM_HIGH, high, E820_RAM}};
	uint64_t mmio32 = low > OVMF_MMIO32_MIN ? low : OVMF_MMIO32_MIN;
	struct acpi_config acfg = {
	    .ncpus = vm->ncpus,
	    .pci_ecam_base = 0, /* none: configuration through 0xCF8 */
	    .pci_mmio32_base = mmio32,
	    .pci_mmio32_size = OVMF_MMIO32_END - mmio32,
	    .pci_io_base = PORT_PCI_IO,
	    .pci_io_size = PORT_PCI_IO_SIZE,
	};
	int ret;

	if (!fw)
		return -ENOMEM;
	cd_mmio64_window(vm, LAYOUT_RAM_HIGH + high, &acfg.pci_mmio64_base, &acfg.pci_mmio64_size);
	ret = fw_cfg_add_e820(fw, e820, high ? 2 : 1);
	if (ret == 0)
		ret = fw_cfg_add_acpi(fw, &acfg);
	return ret;
}

static int cd_firmware_load(struct vm *vm)
{
	struct flash_files files;
	uint64_t low, high;
	int ret;

	flash_files_from_config(vm->cfg, &files);
	if (flash_create(vm, &files) != 0)
		return -1;
	cd_ram_sizes(vm, &low, &high);
	rtc_set_memory_size(vm, low, high);
	ret = cd_add_fw_cfg(vm, low, high);
	if (ret != 0) {
		log_error("cannot fill fw_cfg for the firmware: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

static const char *cd_firmware_code(const struct vm_config *cfg)
{
	return cfg->bios ? cfg->bios : FLASH_DEFAULT_CODE;
}

const struct feature cd_feature = {
    .name = "cd",
    .firmware_check = cd_firmware_check,
    .firmware_add_platform = cd_firmware_add_platform,
    .firmware_load = cd_firmware_load,
    .firmware_code = cd_firmware_code,
};
