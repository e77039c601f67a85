/*
 * Fuzz the virtio-pci transport with a hostile driver: arbitrary sequences of common
 * configuration, ISR, notify, device configuration and MSI-X accesses, PCI configuration
 * writes and ring contents, against each of smolvm's virtio devices running its real
 * threads (tests/unit/fake_machine.h: a machine without KVM). Between inputs the device is
 * reset, which joins its threads: a thread or descriptor left behind, a second start of a
 * running device, or two threads on one ring show up as a crash, a leak or a failed check.
 *
 * Input: the device (byte 0), then operations, each an opcode byte and its operands. The
 * opcode's low nibble is the operation, bits 4-5 the access size (1, 2, 4, 8 bytes), bit 6
 * places OP_RAM near the device's rings. OP_PCI_HEADER moves or unmaps BAR 0 (onto RAM, onto
 * another device's BAR, onto the ECAM window, past the end of the address space); every
 * device's header is put back before the final reset, so the next input finds the devices
 * where fake_machine_init left them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_machine.h"

static uint32_t header[FAKE_NDEVS][3]; /* command, BAR 0 low and high, as set up */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_machine_init();
	for (unsigned d = 0; d < FAKE_NDEVS; d++) {
		header[d][0] = pci_config_read(&machine.vm, machine.devfn[d], PCI_COMMAND, 2);
		header[d][1] = pci_config_read(&machine.vm, machine.devfn[d], PCI_BAR0, 4);
		header[d][2] = pci_config_read(&machine.vm, machine.devfn[d], PCI_BAR0 + 4, 4);
	}
	return 0;
}

static const unsigned sizes[4] = {1, 2, 4, 8};

enum op {
	OP_COMMON_WRITE, /* offset, size, value: any common configuration field */
	OP_STATUS,	 /* value: the status register, the state machine under test */
	OP_BAR_READ,	 /* offset, size: anywhere in BAR 0 (reading ISR acknowledges) */
	OP_BAR_WRITE,	 /* offset, size, value: anywhere in BAR 0 */
	OP_NOTIFY,	 /* queue: a kick, also of queues the device does not have */
	OP_RAM,		 /* offset, length, bytes: ring contents and buffers */
	OP_PCI_CONFIG,	 /* offset, size, value: capabilities (MSI-X control, PCI_CFG window) */
	OP_DRIVER_START, /* size: a whole driver start, to reach live states quickly (the
			  * first FUZZ_STARTS of an input: each starts and joins threads) */
	OP_WAIT,	 /* let the device's threads run */
	OP_PCI_HEADER,	 /* offset, size, value: command, BARs and the rest of the header */
	OP_COUNT,
};

/* Whole driver starts an input may ask for: a start and the reset before it create and join
 * the device's threads, most of an input's time; more starts reach no new state. */
#define FUZZ_STARTS 4
static unsigned starts;

static void run_op(struct fuzz_input *in, enum fake_dev d)
{
	struct fake_machine *m = &machine;
	uint8_t op = fuzz_take(in, 1);
	unsigned size = sizes[(op >> 4) & 3];
	uint64_t off, v;

	switch ((op & 0x0f) % OP_COUNT) {
	case OP_COMMON_WRITE:
		off = fuzz_take(in, 1) % 0x40;
		fake_bar_write(m, d, FAKE_BAR_COMMON + off, size, fuzz_take(in, size));
		break;
	case OP_STATUS:
		fake_set_status(m, d, fuzz_take(in, 1));
		break;
	case OP_BAR_READ:
		fake_bar_read(m, d, fuzz_take(in, 2) % FAKE_BAR_SIZE, size);
		break;
	case OP_BAR_WRITE:
		off = fuzz_take(in, 2) % FAKE_BAR_SIZE;
		fake_bar_write(m, d, off, size, fuzz_take(in, size));
		break;
	case OP_NOTIFY:
		fake_notify(m, d, fuzz_take(in, 1) % 16);
		break;
	case OP_RAM: {
		/* Near the device's rings (where OP_DRIVER_START puts them) or anywhere. */
		uint64_t base = (op & 0x40) ? fake_ring_base(d, 0) : 0;
		unsigned len = fuzz_take(in, 1);
		const uint8_t *p;
		size_t got;

		off = (base + fuzz_take(in, 3)) % FAKE_RAM_SIZE;
		if (len > FAKE_RAM_SIZE - off)
			len = FAKE_RAM_SIZE - off;
		p = fuzz_take_bytes(in, len, &got);
		memcpy(m->ram + off, p, got);
		break;
	}
	case OP_PCI_CONFIG:
		/* The header (command, BARs) stays as set up: moving the BAR is pci.c's to test. */
		off = 0x40 + fuzz_take(in, 1) % 0xc0;
		v = fuzz_take(in, 4);
		if (size > 4)
			size = 4;
		if (off + size <= PCI_CFG_SIZE && off % size == 0)
			pci_config_write(&m->vm, m->devfn[d], off, size, v);
		break;
	case OP_DRIVER_START:
		v = fuzz_take(in, 1);
		if (starts++ < FUZZ_STARTS)
			fake_driver_start(m, d, 1u << (v % 11));
		break;
	case OP_WAIT:
		fuzz_machine_pause(fuzz_take(in, 1) % 8);
		break;
	case OP_PCI_HEADER:
		off = fuzz_take(in, 1) % 0x40;
		v = fuzz_take(in, 4);
		if (size > 4)
			size = 4;
		if (off % size == 0) {
			uint64_t lo, hi;

			pci_config_write(&m->vm, m->devfn[d], off, size, v);
			/* Later BAR accesses follow the BAR wherever it went (mapped or not). */
			lo = pci_config_read(&m->vm, m->devfn[d], PCI_BAR0, 4);
			hi = pci_config_read(&m->vm, m->devfn[d], PCI_BAR0 + 4, 4);
			m->bar[d] = (hi << 32) | (lo & ~0xfULL);
		}
		break;
	}
}

/* The headers as fake_machine_init left them: BAR 0 mapped where the next input expects it.
 * Every device's, not only the input's: a BAR moved onto the ECAM window writes any
 * device's header, as a guest may. Decoding goes off everywhere first, so that a device still
 * sitting where another's BAR belongs cannot keep that one from mapping there. */
static void headers_restore(void)
{
	struct fake_machine *m = &machine;

	for (enum fake_dev d = 0; d < FAKE_NDEVS; d++)
		pci_config_write(&m->vm, m->devfn[d], PCI_COMMAND, 2, 0);
	for (enum fake_dev d = 0; d < FAKE_NDEVS; d++) {
		pci_config_write(&m->vm, m->devfn[d], PCI_BAR0, 4, header[d][1]);
		pci_config_write(&m->vm, m->devfn[d], PCI_BAR0 + 4, 4, header[d][2]);
		pci_config_write(&m->vm, m->devfn[d], PCI_COMMAND, 2, header[d][0]);
		m->bar[d] = (uint64_t)header[d][2] << 32 | (header[d][1] & ~0xfULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	enum fake_dev d;
	unsigned ops = 0;

	fuzz_machine_begin();
	starts = 0;

	if (size < 1)
		return 0;
	d = fuzz_take(&in, 1) % FAKE_NDEVS;
	while (in.left && ops++ < 256)
		run_op(&in, d);
	/* The driver resets; the device must be quiet again: no thread, no descriptor left.
	 * Every device: a BAR moved onto another device's hides behind it, and the input then
	 * drives that device instead (a guest may; only a reset of each stops them all). */
	headers_restore();
	for (enum fake_dev e = 0; e < FAKE_NDEVS; e++) {
		fake_set_status(&machine, e, 0);
		fuzz_assert(fake_status(&machine, e) == 0);
	}
	fuzz_machine_check_quiet();
	return 0;
}
