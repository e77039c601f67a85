/* The PIIX4's power-management function (8086:7113): PMBA and the ACPI PM block. */
#ifndef SMOLVM_CD_PIIX4_PM_H
#define SMOLVM_CD_PIIX4_PM_H

#include <stdint.h>

struct vm;
struct piix4_pm;

/* Config space registers (PIIX4 datasheet, function 3). */
#define PIIX4_PMBA	       0x40 /* bits 15:6 the PM block's port, bit 0 reads 1 */
#define PIIX4_PMBA_MASK	       0xffc0
#define PIIX4_PMREGMISC	       0x80
#define PIIX4_PMREGMISC_PMIOSE 0x01 /* the PM block decodes */

/* PM block offsets and bits (ACPI 6.x, 4.8.3). */
#define PIIX4_PM1_STS 0x00
#define PIIX4_PM1_EN  0x02
#define PIIX4_PM1_CNT 0x04
#define PIIX4_PM_TMR  0x08
#define PIIX4_PM_LEN  64

#define PM1_TMR_STS    (1u << 0)
#define PM1_PWRBTN_STS (1u << 8)
#define PM1_WAK_STS    (1u << 15)
#define PM1_SCI_EN     (1u << 0)
#define PM1_SLP_EN     (1u << 13)
#define PM1_SLP_TYP(v) (((v) >> 10) & 7)

#define PM_TIMER_HZ 3579545 /* the ACPI PM timer's fixed rate */

/* Create the function and register it at 00:slot.function (the PM block stays off until
 * the guest sets PMBA and PMIOSE). s5_slp_typ is the SLP_TYP that powers off; sci_irq the
 * ISA line of the SCI. NULL after one logged line. */
struct piix4_pm *piix4_pm_create(struct vm *vm, unsigned slot, unsigned function,
				 unsigned s5_slp_typ, unsigned sci_irq);
void piix4_pm_press_power_button(struct piix4_pm *pm);

#endif
