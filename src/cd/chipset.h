/*
 * The pieces of an i440FX PC that OVMF needs besides fw_cfg and its flash (the cd feature's
 * firmware machine): the host bridge's i440FX identity, the PIIX3 ISA bridge at 00:01.0 and
 * the PIIX4 power-management function at 00:01.3 with the ACPI PM timer.
 *
 * What OVMF 2022-11 does with them, and why each is needed:
 *  - it reads 00:00.0's device id to tell i440FX (8086:1237) from Q35; with another id its
 *    ACPI timer library reads nothing and the boot hangs in its first delay;
 *  - it programs PMBA (00:01.3 config 0x40) to CHIPSET_PM_BASE, sets PMREGMISC.PMIOSE
 *    (0x80 bit 0) and from then on reads the ACPI PM timer at PMBA + 8 for every delay;
 *    in BDS it sets SCI_EN in PM1a_CNT (PMBA + 4);
 *  - in BDS it puts the serial port on the console only behind an ISA bridge (class 0601),
 *    and writes the PIRQ routes of 00:01.0 (0x60-0x63).
 */
#ifndef SMOLVM_CD_CHIPSET_H
#define SMOLVM_CD_CHIPSET_H

struct vm;

/* Where OVMF puts the PM block (its PIIX4_PMBA_VALUE): the FADT must say the same. */
#define CHIPSET_PM_BASE 0xb000
#define CHIPSET_PM1_EVT (CHIPSET_PM_BASE + 0) /* PM1a_EVT_BLK: status, enable (2+2) */
#define CHIPSET_PM1_CNT (CHIPSET_PM_BASE + 4) /* PM1a_CNT_BLK (2) */
#define CHIPSET_PM_TMR	(CHIPSET_PM_BASE + 8) /* PM_TMR_BLK (4), 24 bits */
#define CHIPSET_PM_LEN	64
/* The SLP_TYP that powers off when written with SLP_EN to PM1a_CNT: the DSDT's \_S5 must
 * give it (QEMU's PIIX4 uses 0 too). */
#define CHIPSET_S5_SLP_TYP 0
/* The SCI: ISA interrupt 9, level-triggered and active high (MADT override, FADT SCI_INT). */
#define CHIPSET_SCI_IRQ 9

/*
 * Make the machine's PCI bus an i440FX's: give the host bridge the i440FX id and add the ISA
 * bridge at 00:01.0 and the PM function at 00:01.3. 0, or -errno after one line naming it.
 *
 * The caller must:
 *  - call it after pci_host_create() and before any other PCI device exists (slot 1 must be
 *    free; the virtio devices then take slots 2 and up);
 *  - call rtc_set_memory_size() (devices/legacy.h) with the RAM below and above 4 GiB, which
 *    OVMF reads from CMOS when fw_cfg has no etc/e820;
 *  - not register anything at CHIPSET_PM_BASE..+63 on the port bus (the PM block appears
 *    there when OVMF enables it; it moves if the guest reprograms PMBA).
 * The direct-kernel machine calls none of this and keeps its generic host bridge.
 */
int chipset_create(struct vm *vm);

/* Press the power button: PM1_STS.PWRBTN_STS, and the SCI when the guest enabled it
 * (PWRBTN_EN and SCI_EN), as a PC's fixed-feature power button. Nothing if no chipset. */
void chipset_press_power_button(struct vm *vm);

#endif
