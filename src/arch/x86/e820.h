/* The BIOS-style memory map handed to the kernel (zero page or PVH memmap). */
#ifndef SMOLVM_E820_H
#define SMOLVM_E820_H

#include <stdint.h>

#include "vmm/guest_mem.h"

#define E820_RAM      1
#define E820_RESERVED 2

#define E820_MAX 16

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

/* Describe guest RAM, the reserved low-memory BIOS area and the PCI ECAM window. */
unsigned e820_build(const struct guest_mem *mem, struct e820_entry *out);

#endif
