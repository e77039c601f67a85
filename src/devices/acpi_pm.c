/*
 * Hardware-reduced ACPI power registers (ACPI 6.x, 4.8.3.7 and 4.8.3.6): the sleep control
 * register takes SLP_TYP/SLP_EN (S5 = power off) and the reset register reboots.
 */
#include "arch/x86/layout.h"
#include "devices/legacy.h"
#include "vmm/vm.h"

#define SLP_EN           (1u << 5)
#define SLP_TYP(v)       (((v) >> 2) & 7)

static uint64_t acpi_pm_read(void *opaque, uint64_t offset, unsigned size)
{
	return 0; /* sleep status: never woken from a sleep state */
}

static void acpi_pm_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct vm *vm = opaque;

	switch (offset + PORT_ACPI_SLEEP_CTL) {
	case PORT_ACPI_SLEEP_CTL:
		if ((value & SLP_EN) && SLP_TYP(value) == ACPI_S5_SLP_TYP)
			vm_request_stop(vm, VM_STOP_POWEROFF, 0);
		break;
	case PORT_ACPI_RESET:
		if ((value & 0xff) == ACPI_RESET_VALUE)
			vm_request_stop(vm, VM_STOP_REBOOT, 0);
		break;
	}
}

static const struct bus_ops acpi_pm_ops = {
	.read = acpi_pm_read,
	.write = acpi_pm_write,
	.name = "acpi-pm",
};

int acpi_pm_create(struct vm *vm)
{
	return bus_register(&vm->pio, PORT_ACPI_SLEEP_CTL, PORT_ACPI_RESET - PORT_ACPI_SLEEP_CTL + 1,
			    &acpi_pm_ops, vm);
}
