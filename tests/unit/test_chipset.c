/*
 * The i440FX pieces as OVMF 2022-11 meets them (cd/chipset.h): the host bridge id it switches
 * on, the ISA bridge and the PM function by bus/device/function through 0xCF8 and ECAM, the
 * PMBA programming of its AcpiTimerLib and PlatformInitLib, the PM timer's rate, SCI_EN and
 * the S5 power-off in PM1a_CNT, PMBA moving, and the PIRQ routes its BDS writes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arch/x86/layout.h"
#include "cd/chipset.h"
#include "cd/piix4_pm.h"
#include "pci/pci.h"
#include "vmm/vm.h"
#include "unit.h"

static struct vm vm;

#define DEVFN(slot, fn) ((slot) << 3 | (fn))
#define ISA		DEVFN(1, 0)
#define PM		DEVFN(1, 3)

/* Each test's machine stays reachable (smolvm frees none of it: it exits instead). */
static void *kept[64];
static unsigned nkept;

static void machine_init(void)
{
	if (vm.pci && nkept + 3 <= sizeof(kept) / sizeof(kept[0])) {
		kept[nkept++] = vm.pci;
		kept[nkept++] = vm.pio.ranges;
		kept[nkept++] = vm.mmio.ranges;
	}
	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = vm.stop_fd = -1;
	bus_init(&vm.pio, "pio");
	bus_init(&vm.mmio, "mmio");
	CHECK_EQ(pci_host_create(&vm, true), 0);
}

static uint32_t pio_read(uint16_t port, unsigned size)
{
	uint64_t v = 0;

	bus_read(&vm.pio, port, size, &v);
	return v;
}

static void pio_write(uint16_t port, unsigned size, uint32_t value)
{
	bus_write(&vm.pio, port, size, value);
}

/* OVMF's PciRead/PciWrite on i440FX: ports 0xCF8/0xCFC. */
static uint32_t cfg_read(unsigned devfn, unsigned offset, unsigned size)
{
	pio_write(PORT_PCI_CONFIG, 4, 0x80000000u | devfn << 8 | (offset & 0xfc));
	return pio_read(PORT_PCI_CONFIG + 4 + (offset & 3), size);
}

static void cfg_write(unsigned devfn, unsigned offset, unsigned size, uint32_t value)
{
	pio_write(PORT_PCI_CONFIG, 4, 0x80000000u | devfn << 8 | (offset & 0xfc));
	pio_write(PORT_PCI_CONFIG + 4 + (offset & 3), size, value);
}

static uint32_t ecam_read(unsigned devfn, unsigned offset, unsigned size)
{
	uint64_t v = 0;

	bus_read(&vm.mmio, LAYOUT_PCI_ECAM + ((uint64_t)devfn << 12) + offset, size, &v);
	return v;
}

/* What AcpiTimerLibConstructor and PlatformMiscInitialization do, in their order. */
static void ovmf_enable_pm(uint16_t base)
{
	if ((cfg_read(PM, PIIX4_PMREGMISC, 1) & PIIX4_PMREGMISC_PMIOSE) == 0) {
		uint32_t pmba = cfg_read(PM, PIIX4_PMBA, 4);

		cfg_write(PM, PIIX4_PMBA, 4, (pmba & ~(uint32_t)PIIX4_PMBA_MASK) | base);
		cfg_write(PM, PCI_COMMAND, 1, cfg_read(PM, PCI_COMMAND, 1) | PCI_COMMAND_IO);
		cfg_write(PM, PIIX4_PMREGMISC, 1,
			  cfg_read(PM, PIIX4_PMREGMISC, 1) | PIIX4_PMREGMISC_PMIOSE);
	}
}

/* InternalAcpiGetTimerTick: the timer found through PMBA. */
static uint32_t ovmf_timer(void)
{
	return pio_read((cfg_read(PM, PIIX4_PMBA, 4) & ~1u) + PIIX4_PM_TMR, 4);
}

static void test_identities(void)
{
	machine_init();
	CHECK_EQ(chipset_create(&vm), 0);
	/* OVMF_HOSTBRIDGE_DID, and the rest of each header, by port and by ECAM. */
	CHECK_EQ(cfg_read(DEVFN(0, 0), PCI_DEVICE_ID, 2), 0x1237);
	CHECK_EQ(cfg_read(DEVFN(0, 0), PCI_VENDOR_ID, 4), 0x12378086);
	CHECK_EQ(cfg_read(DEVFN(0, 0), PCI_REVISION + 2, 2), 0x0600);
	CHECK_EQ(cfg_read(ISA, PCI_VENDOR_ID, 4), 0x70008086);
	CHECK_EQ(cfg_read(ISA, PCI_REVISION, 4) >> 8, 0x060100);
	CHECK_EQ(cfg_read(ISA, PCI_HEADER_TYPE, 1), 0x80);
	/* SioBusDxe binds to the bridge only with I/O and memory decoding on. */
	CHECK_EQ(cfg_read(ISA, PCI_COMMAND, 2) & 3, 3);
	CHECK_EQ(cfg_read(PM, PCI_VENDOR_ID, 4), 0x71138086);
	CHECK_EQ(cfg_read(PM, PCI_REVISION, 4) >> 8, 0x068000);
	CHECK_EQ(cfg_read(PM, PCI_HEADER_TYPE, 1), 0);
	CHECK_EQ(ecam_read(ISA, PCI_VENDOR_ID, 4), 0x70008086);
	CHECK_EQ(ecam_read(PM, PCI_VENDOR_ID, 4), 0x71138086);
	CHECK_EQ(ecam_read(DEVFN(0, 0), PCI_VENDOR_ID, 4), 0x12378086);
	/* The functions of the PIIX that are not there: IDE, USB. */
	CHECK_EQ(cfg_read(DEVFN(1, 1), PCI_VENDOR_ID, 4), 0xffffffffu);
	CHECK_EQ(cfg_read(DEVFN(1, 2), PCI_VENDOR_ID, 2), 0xffff);
	CHECK_EQ(ecam_read(DEVFN(1, 7), PCI_VENDOR_ID, 4), 0xffffffffu);
	/* The PM block is off until the guest turns it on. */
	CHECK_EQ(cfg_read(PM, PIIX4_PMBA, 4), 1);
	CHECK_EQ(cfg_read(PM, PIIX4_PMREGMISC, 1), 0);
	CHECK_EQ(pio_read(CHIPSET_PM_TMR, 4), 0xffffffffu);
	/* Slot 1 is taken now: the next device goes to slot 2. */
	CHECK_EQ(chipset_create(&vm), -EEXIST);
}

static void test_pmba_programming(void)
{
	machine_init();
	CHECK_EQ(chipset_create(&vm), 0);
	ovmf_enable_pm(CHIPSET_PM_BASE);
	CHECK_EQ(cfg_read(PM, PIIX4_PMBA, 4), CHIPSET_PM_BASE | 1);
	CHECK_EQ(cfg_read(PM, PIIX4_PMREGMISC, 1), 1);
	CHECK(ovmf_timer() != 0xffffffffu);
	CHECK_EQ(ovmf_timer() >> 24, 0); /* 24 bits */
	/* Bits 5:1 of PMBA and bit 0 are not the guest's; nor are bits 31:16. */
	cfg_write(PM, PIIX4_PMBA, 4, 0xffffffff);
	CHECK_EQ(cfg_read(PM, PIIX4_PMBA, 4), 0xffc1);
	/* The block moves with PMBA: gone from the old place, there at the new one. */
	cfg_write(PM, PIIX4_PMBA, 2, 0xc000);
	CHECK_EQ(pio_read(CHIPSET_PM_TMR, 4), 0xffffffffu);
	CHECK(pio_read(0xc000 + PIIX4_PM_TMR, 4) != 0xffffffffu);
	CHECK_EQ(ovmf_timer() >> 24, 0);
	/* PMIOSE off: nowhere; on again: back. */
	cfg_write(PM, PIIX4_PMREGMISC, 1, 0);
	CHECK_EQ(pio_read(0xc000 + PIIX4_PM_TMR, 4), 0xffffffffu);
	cfg_write(PM, PIIX4_PMREGMISC, 1, 1);
	CHECK(pio_read(0xc000 + PIIX4_PM_TMR, 4) != 0xffffffffu);
	/* A base on top of another range (the PCI config ports) stays unmapped, harmlessly;
	 * and a base of 0 is no place. */
	cfg_write(PM, PIIX4_PMBA, 2, 0x0cc0);
	CHECK_EQ(cfg_read(PM, PIIX4_PMBA, 2), 0x0cc1);
	cfg_write(PM, PIIX4_PMBA, 2, 0);
	CHECK_EQ(pio_read(PIIX4_PM_TMR, 4), 0xffffffffu);
	cfg_write(PM, PIIX4_PMBA, 2, CHIPSET_PM_BASE);
	CHECK(pio_read(CHIPSET_PM_TMR, 4) != 0xffffffffu);
}

static double seconds(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

static void test_timer_rate(void)
{
	struct timespec t0, t1, nap = {0, 50 * 1000 * 1000};
	uint32_t a, b, ticks;
	double rate;

	machine_init();
	CHECK_EQ(chipset_create(&vm), 0);
	ovmf_enable_pm(CHIPSET_PM_BASE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a = pio_read(CHIPSET_PM_TMR, 4);
	nanosleep(&nap, NULL);
	b = pio_read(CHIPSET_PM_TMR, 4);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ticks = (b - a) & 0xffffff; /* as a guest counts across a wrap */
	rate = ticks / seconds(&t0, &t1);
	printf("     PM timer: %u ticks in %.4f s = %.0f Hz\n", ticks, seconds(&t0, &t1), rate);
	/* The two reads sit inside the measured interval: a little fewer ticks, never more. */
	CHECK(rate <= PM_TIMER_HZ * 1.001);
	CHECK(rate >= PM_TIMER_HZ * 0.98);
	/* Byte and word reads see the same counter. */
	a = pio_read(CHIPSET_PM_TMR + 2, 1);
	CHECK(a <= 0xff);
	CHECK_EQ(pio_read(CHIPSET_PM_TMR + 3, 1), 0);
	/* Read-only: a write of 0 does not restart it (50 ms ago it was past 179000 ticks
	 * already; it wraps only after 4.7 s). */
	pio_write(CHIPSET_PM_TMR, 4, 0);
	CHECK(pio_read(CHIPSET_PM_TMR, 4) > 150000);
}

static void test_pm1_control(void)
{
	machine_init();
	CHECK_EQ(chipset_create(&vm), 0);
	ovmf_enable_pm(CHIPSET_PM_BASE);
	/* BDS: IoOr16 ((PciRead32 (Pmba) & ~BIT0) + 4, BIT0). */
	pio_write(CHIPSET_PM1_CNT, 2, pio_read(CHIPSET_PM1_CNT, 2) | PM1_SCI_EN);
	CHECK_EQ(pio_read(CHIPSET_PM1_CNT, 2), PM1_SCI_EN);
	/* S3 (SLP_TYP 1) is not supported: nothing happens. */
	pio_write(CHIPSET_PM1_CNT, 2, PM1_SCI_EN | 1 << 10 | PM1_SLP_EN);
	CHECK_EQ(atomic_load(&vm.stop_reason), VM_STOP_NONE);
	CHECK_EQ(pio_read(CHIPSET_PM1_CNT, 2), PM1_SCI_EN | 1 << 10); /* SLP_EN reads 0 */
	/* SLP_TYP with SLP_EN but not S5's: nothing. SLP_TYP 0 without SLP_EN: nothing. */
	pio_write(CHIPSET_PM1_CNT, 2, PM1_SCI_EN | CHIPSET_S5_SLP_TYP << 10);
	CHECK_EQ(atomic_load(&vm.stop_reason), VM_STOP_NONE);
	/* S5: Linux's 16-bit write powers off. */
	pio_write(CHIPSET_PM1_CNT, 2, PM1_SCI_EN | CHIPSET_S5_SLP_TYP << 10 | PM1_SLP_EN);
	CHECK_EQ(atomic_load(&vm.stop_reason), VM_STOP_POWEROFF);
	/* So does a byte write of the high half, where SLP_TYP and SLP_EN both live. */
	atomic_store(&vm.stop_reason, VM_STOP_NONE);
	pio_write(CHIPSET_PM1_CNT + 1, 1, (CHIPSET_S5_SLP_TYP << 10 | PM1_SLP_EN) >> 8);
	CHECK_EQ(atomic_load(&vm.stop_reason), VM_STOP_POWEROFF);
}

static void test_pm1_status_and_button(void)
{
	machine_init();
	CHECK_EQ(chipset_create(&vm), 0);
	ovmf_enable_pm(CHIPSET_PM_BASE);
	pio_write(CHIPSET_PM1_EVT + 2, 2, 0xffff);
	CHECK_EQ(pio_read(CHIPSET_PM1_EVT + 2, 2), PM1_TMR_STS | PM1_PWRBTN_STS);
	pio_write(CHIPSET_PM1_EVT + 2, 2, 0);
	pio_write(CHIPSET_PM1_EVT, 2, 0xffff); /* clear whatever is set */
	CHECK_EQ(pio_read(CHIPSET_PM1_EVT, 2) & PM1_PWRBTN_STS, 0);
	chipset_press_power_button(&vm);
	CHECK_EQ(pio_read(CHIPSET_PM1_EVT, 2) & PM1_PWRBTN_STS, PM1_PWRBTN_STS);
	/* Write 1 to clear: writing 0 leaves it, writing its bit clears it. */
	pio_write(CHIPSET_PM1_EVT, 2, 0);
	CHECK_EQ(pio_read(CHIPSET_PM1_EVT, 2) & PM1_PWRBTN_STS, PM1_PWRBTN_STS);
	pio_write(CHIPSET_PM1_EVT + 1, 1, PM1_PWRBTN_STS >> 8);
	CHECK_EQ(pio_read(CHIPSET_PM1_EVT, 2) & PM1_PWRBTN_STS, 0);
	/* Past the registers, the block reads 0 and ignores writes. */
	pio_write(CHIPSET_PM_BASE + 0x20, 4, 0x12345678);
	CHECK_EQ(pio_read(CHIPSET_PM_BASE + 0x20, 4), 0);
	CHECK_EQ(pio_read(CHIPSET_PM_BASE + CHIPSET_PM_LEN - 1, 1), 0);
}

static void test_pirq_routes(void)
{
	machine_init();
	CHECK_EQ(chipset_create(&vm), 0);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(cfg_read(ISA, 0x60 + i, 1), 0x80); /* not routed */
	/* PciAcpiInitialization's PciHostIrqs: 0x0a, 0x0a, 0x0b, 0x0b. */
	cfg_write(ISA, 0x60, 1, 0x0a);
	cfg_write(ISA, 0x61, 1, 0x0a);
	cfg_write(ISA, 0x62, 1, 0x0b);
	cfg_write(ISA, 0x63, 1, 0x0b);
	CHECK_EQ(cfg_read(ISA, 0x60, 4), 0x0b0b0a0a);
	CHECK_EQ(ecam_read(ISA, 0x60, 4), 0x0b0b0a0a);
	cfg_write(ISA, 0x60, 4, 0xffffffff);
	CHECK_EQ(cfg_read(ISA, 0x60, 4), 0x8f8f8f8f);
	/* Nothing else of the bridge changes: its identity, header type. */
	cfg_write(ISA, 0, 4, 0);
	cfg_write(ISA, PCI_HEADER_TYPE, 1, 0);
	CHECK_EQ(cfg_read(ISA, 0, 4), 0x70008086);
	CHECK_EQ(cfg_read(ISA, PCI_HEADER_TYPE, 1), 0x80);
}

/* A machine whose slot 1 is taken cannot have the chipset: one line, an error. */
static void test_slot_taken(void)
{
	static struct pci_device other;

	machine_init();
	pci_device_init(&other, 0x1af4, 0x1041, 0x020000, 0, 0);
	CHECK_EQ(pci_device_register(&vm, &other), 0);
	CHECK_EQ(other.slot, 1);
	CHECK(chipset_create(&vm) != 0);
}

int main(void)
{
	RUN(test_identities);
	RUN(test_pmba_programming);
	RUN(test_timer_rate);
	RUN(test_pm1_control);
	RUN(test_pm1_status_and_button);
	RUN(test_pirq_routes);
	RUN(test_slot_taken);
	return UNIT_RESULT();
}
