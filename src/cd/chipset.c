/* The i440FX pieces of the firmware machine (cd/chipset.h): host bridge identity, PIIX3 ISA
 * bridge at 00:01.0, PIIX4 power management at 00:01.3. */
#include "cd/chipset.h"

#include <errno.h>

#include "cd/piix4_pm.h"
#include "cd/piix_isa.h"
#include "pci/pci.h"
#include "vmm/log.h"

#define I440FX_VENDOR 0x8086
#define I440FX_DEVICE 0x1237
#define I440FX_CLASS  0x060000 /* bridge, host */

#define CHIPSET_SLOT	    1 /* where a PC has its PIIX: OVMF looks at 00:01.x */
#define CHIPSET_PM_FUNCTION 3

/* The PM function of this process's one machine, for its power button. */
static struct piix4_pm *chipset_pm;

int chipset_create(struct vm *vm)
{
	int ret;

	pci_host_set_bridge_id(vm, I440FX_VENDOR, I440FX_DEVICE, I440FX_CLASS);
	ret = piix_isa_create(vm, CHIPSET_SLOT);
	if (ret == 0) {
		chipset_pm = piix4_pm_create(vm, CHIPSET_SLOT, CHIPSET_PM_FUNCTION,
					     CHIPSET_S5_SLP_TYP, CHIPSET_SCI_IRQ);
		if (!chipset_pm)
			ret = -ENODEV;
	}
	if (ret)
		log_error("cannot create the i440FX chipset for the firmware");
	return ret;
}

void chipset_press_power_button(struct vm *vm)
{
	if (chipset_pm)
		piix4_pm_press_power_button(chipset_pm);
}
