/* The few legacy PC devices Linux needs: CMOS RTC, the i8042 reset line, ACPI power
 * registers and the POST port. Each registers its ports on the VM's PIO bus. */
#ifndef SMOLVM_LEGACY_H
#define SMOLVM_LEGACY_H

struct vm;

#include <stdint.h>

int rtc_create(struct vm *vm);
/* Fill CMOS's memory size bytes as a PC's BIOS leaves them and OVMF reads them: RAM from 0
 * up to the hole below 4 GiB, and RAM from 4 GiB, in bytes. Before the guest runs. */
void rtc_set_memory_size(struct vm *vm, uint64_t below_4g, uint64_t above_4g);
int i8042_create(struct vm *vm);
int acpi_pm_create(struct vm *vm);
int post_port_create(struct vm *vm);

#endif
