/*
 * The PIIX3's PCI-to-ISA bridge at 00:01.0. OVMF's BDS puts the serial port and the PS/2
 * keyboard on the console only behind a PCI device of class ISA bridge, and its SioBusDxe
 * makes COM1 a child of that device once its I/O and memory decoding are on; so the bridge
 * is mostly an identity. Its PIRQ route registers hold what the guest writes (OVMF sets
 * them to its interrupt lines; a DSDT's link devices may read them back); the routes
 * themselves are the DSDT's business, as the virtio devices use MSI-X.
 */
#include "cd/piix_isa.h"

#include <errno.h>
#include <stdlib.h>

#include "pci/pci.h"
#include "vmm/log.h"

#define PIIX_ISA_VENDOR	 0x8086
#define PIIX_ISA_DEVICE	 0x7000
#define PIIX_ISA_CLASS	 0x060100 /* bridge, ISA */
#define PIIX_PIRQRC_MASK 0x8f	  /* bit 7 off, bits 3:0 the IRQ; 6:4 reserved */

int piix_isa_create(struct vm *vm, unsigned slot)
{
	struct pci_device *dev = calloc(1, sizeof(*dev));
	int ret;

	if (!dev) {
		log_error("piix-isa: out of memory");
		return -ENOMEM;
	}
	pci_device_init(dev, PIIX_ISA_VENDOR, PIIX_ISA_DEVICE, PIIX_ISA_CLASS, 0, 0);
	/* The PM function and the others of this chip sit behind it. */
	dev->cfg[PCI_HEADER_TYPE] = PCI_HEADER_MULTI_FUNCTION;
	/* The chip decodes from reset (the datasheet's PCICMD default 0007h); a guest may
	 * still turn the bits off and on. */
	dev->cfg[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	for (unsigned i = 0; i < 4; i++) {
		dev->cfg[PIIX_PIRQRC + i] = PIIX_PIRQRC_OFF;
		dev->wmask[PIIX_PIRQRC + i] = PIIX_PIRQRC_MASK;
	}
	ret = pci_device_register_at(vm, dev, slot, 0);
	if (ret)
		free(dev);
	return ret;
}
