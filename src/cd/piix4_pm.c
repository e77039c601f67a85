/*
 * The PIIX4's power-management function at 00:01.3: the guest places its ACPI PM block
 * with PMBA and turns it on with PMREGMISC.PMIOSE, as OVMF does before its first delay.
 * The block holds PM1 status/enable/control and the ACPI PM timer, a free-running 24-bit
 * counter at 3.579545 MHz that OVMF and Linux time their delays with. SLP_EN with the S5
 * SLP_TYP powers the machine off. Not modelled: the timer's overflow interrupt (TMR_STS is
 * set when read after bit 23 flips, no SCI), the GPE block, SMBus, device monitors.
 */
#include "cd/piix4_pm.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pci/pci.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define PIIX4_PM_VENDOR 0x8086
#define PIIX4_PM_DEVICE 0x7113
#define PIIX4_PM_CLASS	0x068000 /* bridge, other */
#define PIIX4_PM_REV	0x03

/* The status and enable bits this block has; others read 0. */
#define PM1_STS_BITS (PM1_TMR_STS | PM1_PWRBTN_STS | PM1_WAK_STS)
#define PM1_EN_BITS  (PM1_TMR_STS | PM1_PWRBTN_STS)

struct piix4_pm {
	struct pci_device pci;
	struct vm *vm;
	unsigned s5_slp_typ, sci_irq;
	/* Where the block is on the port bus; changed under the PCI host's lock only. */
	uint16_t io_base;
	bool io_mapped;

	pthread_mutex_t lock; /* the registers below, reached from any vCPU */
	uint16_t sts, en, cnt;
	bool sci_level;
	uint64_t tmr_half;     /* the timer's bit 23 epoch when last read */
	struct timespec start; /* the timer counts from here */
};

/* Ticks of the 3.579545 MHz timer since the device was created (64 bits: never wraps). */
static uint64_t piix4_pm_ticks(const struct piix4_pm *pm)
{
	struct timespec now;
	int64_t sec, nsec;

	clock_gettime(CLOCK_MONOTONIC, &now);
	sec = now.tv_sec - pm->start.tv_sec;
	nsec = now.tv_nsec - pm->start.tv_nsec;
	if (nsec < 0) {
		nsec += 1000000000;
		sec--;
	}
	return (uint64_t)sec * PM_TIMER_HZ + (uint64_t)nsec * PM_TIMER_HZ / 1000000000;
}

/* The SCI follows enabled status bits while the guest has SCI_EN set; caller holds lock. */
static void piix4_pm_update_sci(struct piix4_pm *pm)
{
	bool level = (pm->cnt & PM1_SCI_EN) && (pm->sts & pm->en & PM1_EN_BITS);

	if (level != pm->sci_level) {
		pm->sci_level = level;
		vm_irq_line(pm->vm, pm->sci_irq, level);
	}
}

static uint64_t piix4_pm_io_read(void *opaque, uint64_t offset, unsigned size)
{
	struct piix4_pm *pm = opaque;
	uint8_t regs[PIIX4_PM_TMR + 4] = {0};
	uint64_t ticks, v = 0;

	pthread_mutex_lock(&pm->lock);
	ticks = piix4_pm_ticks(pm);
	if (ticks >> 23 != pm->tmr_half) {
		pm->tmr_half = ticks >> 23;
		pm->sts |= PM1_TMR_STS;
	}
	for (unsigned i = 0; i < 2; i++) {
		regs[PIIX4_PM1_STS + i] = pm->sts >> (8 * i);
		regs[PIIX4_PM1_EN + i] = pm->en >> (8 * i);
		regs[PIIX4_PM1_CNT + i] = pm->cnt >> (8 * i);
	}
	pthread_mutex_unlock(&pm->lock);
	for (unsigned i = 0; i < 3; i++) /* bits 31:24 read 0 */
		regs[PIIX4_PM_TMR + i] = ticks >> (8 * i);
	/* Byte by byte: an access may straddle registers, or run past the ones there are. */
	for (unsigned i = 0; i < size; i++)
		if (offset + i < sizeof(regs))
			v |= (uint64_t)regs[offset + i] << (8 * i);
	return v;
}

/* One byte written at offset; caller holds lock. */
static void piix4_pm_write_byte(struct piix4_pm *pm, unsigned offset, uint8_t b)
{
	unsigned shift = 8 * (offset & 1);

	switch (offset & ~1u) {
	case PIIX4_PM1_STS: /* write 1 to clear */
		pm->sts &= ~((uint16_t)b << shift);
		break;
	case PIIX4_PM1_EN:
		pm->en = (pm->en & ~(0xffu << shift)) | (((uint16_t)b << shift) & PM1_EN_BITS);
		break;
	case PIIX4_PM1_CNT: {
		uint16_t v = (pm->cnt & ~(0xffu << shift)) | (uint16_t)b << shift;

		/* SLP_EN is write-only: it acts on the SLP_TYP written with it (byte 5 has both).
		 */
		pm->cnt = v & ~PM1_SLP_EN;
		if ((v & PM1_SLP_EN) && PM1_SLP_TYP(v) == pm->s5_slp_typ)
			vm_request_stop(pm->vm, VM_STOP_POWEROFF, 0);
		break;
	}
	default: /* the timer is read-only; the rest of the block is not there */
		break;
	}
}

static void piix4_pm_io_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct piix4_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < size && offset + i < PIIX4_PM_LEN; i++)
		piix4_pm_write_byte(pm, offset + i, value >> (8 * i));
	piix4_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

static const struct bus_ops piix4_pm_io_ops = {
	.read = piix4_pm_io_read,
	.write = piix4_pm_io_write,
	.name = "piix4-pm",
};

/* Put the block where PMBA says while PMIOSE is on (PCI_COMMAND's I/O bit plays no part,
 * as on QEMU's PIIX4); called with the PCI host's lock held. */
static void piix4_pm_update_io(struct piix4_pm *pm)
{
	const uint8_t *cfg = pm->pci.cfg;
	uint16_t base = (cfg[PIIX4_PMBA] | cfg[PIIX4_PMBA + 1] << 8) & PIIX4_PMBA_MASK;
	bool on = (cfg[PIIX4_PMREGMISC] & PIIX4_PMREGMISC_PMIOSE) && base != 0;

	if (pm->io_mapped && (!on || base != pm->io_base)) {
		bus_unregister(&pm->vm->pio, pm->io_base, pm);
		pm->io_mapped = false;
	}
	if (on && !pm->io_mapped) {
		if (bus_register(&pm->vm->pio, base, PIIX4_PM_LEN, &piix4_pm_io_ops, pm) != 0) {
			log_debug("piix4-pm: PM block at 0x%x overlaps another range", base);
			return;
		}
		pm->io_base = base;
		pm->io_mapped = true;
	}
}

static void piix4_pm_config_written(struct pci_device *dev, unsigned offset, unsigned size)
{
	if ((offset < PIIX4_PMBA + 2 && offset + size > PIIX4_PMBA) ||
	    (offset <= PIIX4_PMREGMISC && offset + size > PIIX4_PMREGMISC))
		piix4_pm_update_io(dev->opaque);
}

static const struct pci_device_ops piix4_pm_pci_ops = {.config_written = piix4_pm_config_written};

struct piix4_pm *piix4_pm_create(struct vm *vm, unsigned slot, unsigned function,
				 unsigned s5_slp_typ, unsigned sci_irq)
{
	struct piix4_pm *pm = calloc(1, sizeof(*pm));

	if (!pm) {
		log_error("piix4-pm: out of memory");
		return NULL;
	}
	pm->vm = vm;
	pm->s5_slp_typ = s5_slp_typ;
	pm->sci_irq = sci_irq;
	pthread_mutex_init(&pm->lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &pm->start);
	pci_device_init(&pm->pci, PIIX4_PM_VENDOR, PIIX4_PM_DEVICE, PIIX4_PM_CLASS, 0, 0);
	pm->pci.ops = &piix4_pm_pci_ops;
	pm->pci.opaque = pm;
	pm->pci.cfg[PCI_REVISION] = PIIX4_PM_REV;
	pm->pci.cfg[PCI_INTERRUPT_PIN] = 1; /* INTA#, as QEMU's */
	pm->pci.cfg[PIIX4_PMBA] = 0x01;	    /* resource type: I/O, read-only */
	pm->pci.wmask[PIIX4_PMBA] = PIIX4_PMBA_MASK & 0xff;
	pm->pci.wmask[PIIX4_PMBA + 1] = PIIX4_PMBA_MASK >> 8;
	pm->pci.wmask[PIIX4_PMREGMISC] = PIIX4_PMREGMISC_PMIOSE;
	if (pci_device_register_at(vm, &pm->pci, slot, function) != 0) {
		free(pm);
		return NULL;
	}
	return pm;
}

void piix4_pm_press_power_button(struct piix4_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= PM1_PWRBTN_STS;
	piix4_pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}
