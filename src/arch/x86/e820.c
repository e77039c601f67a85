#include "arch/x86/e820.h"

#include "arch/x86/layout.h"

unsigned e820_build(const struct guest_mem *mem, struct e820_entry *out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < mem->nregions; i++) {
		const struct guest_mem_region *r = &mem->region[i];
		if (r->gpa == 0) {
			/* Below 1 MiB, the EBDA..1 MiB area holds the ACPI tables: keep it reserved. */
			out[n++] = (struct e820_entry){0, LAYOUT_EBDA, E820_RAM};
			out[n++] = (struct e820_entry){LAYOUT_EBDA, LAYOUT_HIGH_MEM - LAYOUT_EBDA,
						       E820_RESERVED};
			out[n++] = (struct e820_entry){LAYOUT_HIGH_MEM, r->size - LAYOUT_HIGH_MEM,
						       E820_RAM};
			/* Linux trusts MMCONFIG only inside reserved ranges. */
			out[n++] = (struct e820_entry){LAYOUT_PCI_ECAM, LAYOUT_PCI_ECAM_SIZE,
						       E820_RESERVED};
		} else {
			out[n++] = (struct e820_entry){r->gpa, r->size, E820_RAM};
		}
	}
	return n;
}
