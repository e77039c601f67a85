/*
 * Guest physical memory. Every access the guest can influence goes through
 * guest_mem_ptr(), which checks the whole range [gpa, gpa + len) against one
 * RAM region before a host pointer exists.
 */
#ifndef SMOLVM_GUEST_MEM_H
#define SMOLVM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define GUEST_MEM_MAX_REGIONS 2

struct guest_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	struct guest_mem_region region[GUEST_MEM_MAX_REGIONS];
	unsigned nregions;
};

/* Host address of [gpa, gpa + len) if the range lies inside one region, else NULL.
 * A zero len still requires gpa itself to be inside a region. */
void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy to or from guest memory; 0, or -EFAULT when the range is not guest RAM. */
int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t len);
int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len);

/* Highest guest RAM address + 1. */
uint64_t guest_mem_end(const struct guest_mem *mem);

#endif
