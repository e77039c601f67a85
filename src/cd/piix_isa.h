/* The PIIX3's PCI-to-ISA bridge (8086:7000), function 0 of a multi-function device. */
#ifndef SMOLVM_CD_PIIX_ISA_H
#define SMOLVM_CD_PIIX_ISA_H

struct vm;

#define PIIX_PIRQRC	0x60 /* PIRQA-D route control, 4 bytes */
#define PIIX_PIRQRC_OFF 0x80 /* bit 7: the PIRQ is not routed to an ISA interrupt */

/* Create the bridge at 00:slot.0. 0, or -errno after one logged line. */
int piix_isa_create(struct vm *vm, unsigned slot);

#endif
