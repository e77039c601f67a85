/*
 * The Generic Event Device (ACPI 6.x, 5.6.9), the way a hardware-reduced platform signals
 * events without GPE blocks: one interrupt line (IRQ_GED) and one 32-bit event register at
 * LAYOUT_GED. The DSDT's GED _EVT method (acpi/acpi.c) reads the register, which returns the
 * pending events and clears them, and notifies the device each event bit stands for.
 */
#ifndef SMOLVM_GED_H
#define SMOLVM_GED_H

#include <stdint.h>

/* The register's layout, shared with the AML that reads it. */
#define GED_REG_EVENTS         0 /* offset of the event register; 32-bit reads only */
#define GED_EVENT_POWER_BUTTON (1u << 0) /* notify the PNP0C0C power button with 0x80 */

struct vm;
struct ged;

/* Registers the register on the MMIO bus; NULL (with a message) on failure. */
struct ged *ged_create(struct vm *vm);

/* Press the power button: the event becomes pending and the interrupt line rises until the
 * guest reads the register. Any thread. */
void ged_press_power_button(struct ged *ged);

#endif
