#include "vmm/guest_mem.h"

#include <errno.h>
#include <string.h>

void *guest_mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->region[i];
		uint64_t off, end;
		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		if (off >= r->size)
			continue;
		if (__builtin_add_overflow(off, len, &end) || end > r->size)
			return NULL;
		return r->host + off;
	}
	return NULL;
}

int guest_mem_read(const struct guest_mem *mem, uint64_t gpa, void *dst, size_t len)
{
	const void *p = guest_mem_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int guest_mem_write(const struct guest_mem *mem, uint64_t gpa, const void *src, size_t len)
{
	void *p = guest_mem_ptr(mem, gpa, len);
	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t guest_mem_end(const struct guest_mem *mem)
{
	uint64_t end = 0;
	for (unsigned i = 0; i < mem->nregions; i++)
		if (mem->region[i].gpa + mem->region[i].size > end)
			end = mem->region[i].gpa + mem->region[i].size;
	return end;
}
