/* The few legacy PC devices Linux needs: CMOS RTC, the i8042 reset line, ACPI power
 * registers and the POST port. Each registers its ports on the VM's PIO bus. */
#ifndef SMOLVM_LEGACY_H
#define SMOLVM_LEGACY_H

struct vm;

int rtc_create(struct vm *vm);
int i8042_create(struct vm *vm);
int acpi_pm_create(struct vm *vm);
int post_port_create(struct vm *vm);

#endif
