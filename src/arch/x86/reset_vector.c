/*
 * There is no BIOS, yet Linux may jump to the BIOS reset vector (f000:fff0) to reboot:
 * on hardware-reduced ACPI its default reboot method is EFI, then "BIOS". A few bytes of
 * real-mode code there turn that jump into a write to our ACPI reset register.
 */
#include "arch/x86/cpu.h"
#include "arch/x86/layout.h"

int cpu_install_reset_vector(const struct guest_mem *mem)
{
	static const uint8_t stub[] = {
		0xba, PORT_ACPI_RESET & 0xff, PORT_ACPI_RESET >> 8, /* mov dx, PORT_ACPI_RESET */
		0xb0, ACPI_RESET_VALUE,                         /* mov al, ACPI_RESET_VALUE */
		0xee,                                           /* out dx, al */
		0xf4,                                           /* hlt */
		0xeb, 0xfd,                                     /* jmp back to hlt */
	};

	return guest_mem_write(mem, LAYOUT_RESET_VECTOR, stub, sizeof(stub));
}
