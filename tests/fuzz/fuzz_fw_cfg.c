/*
 * Fuzz fw_cfg's guest side: any sequence of selector writes, data and DMA port accesses of
 * any size, guest RAM contents (DMA descriptors and what they point at) and transfers started
 * on descriptors anywhere, in RAM or not. The device holds the files a firmware machine gives
 * (the ACPI tables and their loader script, the memory map, a boot order). A crash, a sanitizer
 * report, an access outside guest RAM or a hang is a bug.
 *
 * Input: operations (at most 256), each an opcode byte and its operands (little-endian).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acpi/acpi.h"
#include "arch/x86/e820.h"
#include "cd/fw_cfg.h"
#include "fw_cfg_guest.h"
#include "fuzz.h"

#define RAM_SIZE (1u << 20)

static struct fw_cfg_guest g;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fw_cfg_guest_init(&g, RAM_SIZE, 2);
	return 0;
}

/* The device as a firmware machine fills it; a new one per input, so inputs replay alike. */
static void device_create(void)
{
	const struct acpi_config acfg = {
	    .ncpus = 2,
	    .pci_mmio32_base = 0x80000000,
	    .pci_mmio32_size = 0x7c000000,
	    .pci_io_base = 0xc000,
	    .pci_io_size = 0x4000,
	};
	const struct e820_entry e820[] = {{0, RAM_SIZE, E820_RAM}};
	static const char bootorder[] = "/pci@i0cf8/scsi@3/disk@0,0\n";

	g.fw = fw_cfg_create(&g.vm);
	if (!g.fw || fw_cfg_add_acpi(g.fw, &acfg) != 0 || fw_cfg_add_e820(g.fw, e820, 1) != 0 ||
	    fw_cfg_add_file(g.fw, "bootorder", bootorder, sizeof(bootorder)) != 0 ||
	    fw_cfg_add_file(g.fw, "empty", NULL, 0) != 0)
		abort();
}

/* A guest address: mostly inside RAM, sometimes near its end or anywhere. */
static uint64_t take_addr(struct fuzz_input *in)
{
	uint8_t kind = (uint8_t)fuzz_take(in, 1);

	switch (kind & 3) {
	case 0:
		return fuzz_take(in, 8);
	case 1:
		return RAM_SIZE - (fuzz_take(in, 2) & 0xfff);
	default:
		return fuzz_take(in, 3) % RAM_SIZE;
	}
}

static const unsigned sizes[4] = {1, 2, 4, 8};

enum op {
	OP_SELECT,     /* key */
	OP_READ,       /* count: data port byte reads (at most 63) */
	OP_PORT_READ,  /* offset, size: anywhere from the selector to the DMA port's end */
	OP_PORT_WRITE, /* offset, size, value */
	OP_RAM,	       /* offset, length, bytes */
	OP_DMA,	       /* descriptor address, control, length, data address: written, started */
	OP_DMA_RAW,    /* descriptor address: started on whatever RAM holds there */
	OP_COUNT,
};

static void run_op(struct fuzz_input *in)
{
	uint8_t op = (uint8_t)fuzz_take(in, 1);
	unsigned size = sizes[(op >> 4) & 3];
	uint64_t off, desc;
	uint32_t control, len;
	uint64_t v;

	switch ((op & 0x0f) % OP_COUNT) {
	case OP_SELECT:
		fw_cfg_guest_select(&g, (uint16_t)fuzz_take(in, 2));
		break;
	case OP_READ:
		/* At most 63: past the end of the small items; DMA reads the large ones. */
		for (unsigned n = (unsigned)fuzz_take(in, 1) % 64; n; n--)
			fw_cfg_guest_read8(&g);
		break;
	case OP_PORT_READ:
		off = fuzz_take(in, 1) % 12;
		bus_read(&g.vm.pio, FW_CFG_PORT_SELECTOR + off, size, &v);
		break;
	case OP_PORT_WRITE:
		off = fuzz_take(in, 1) % 12;
		bus_write(&g.vm.pio, FW_CFG_PORT_SELECTOR + off, size, fuzz_take(in, size));
		break;
	case OP_RAM:
		off = fuzz_take(in, 3) % RAM_SIZE;
		len = (uint32_t)fuzz_take(in, 1);
		for (uint32_t i = 0; i < len && off + i < RAM_SIZE; i++)
			g.ram[off + i] = (uint8_t)fuzz_take(in, 1);
		break;
	case OP_DMA:
		desc = take_addr(in);
		control = (uint32_t)fuzz_take(in, 4);
		/* Lengths mostly small, so transfers stay quick; any length now and then. */
		len = (uint32_t)fuzz_take(in, 4);
		if (!(control & 0x80))
			len &= 0xffff;
		fw_cfg_guest_dma(&g, desc, control, len, take_addr(in));
		break;
	case OP_DMA_RAW:
		desc = take_addr(in);
		bus_write(&g.vm.pio, FW_CFG_PORT_DMA, 4, __builtin_bswap32((uint32_t)(desc >> 32)));
		bus_write(&g.vm.pio, FW_CFG_PORT_DMA + 4, 4, __builtin_bswap32((uint32_t)desc));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	unsigned ops = 0;

	device_create();
	while (in.left && ops++ < 256)
		run_op(&in);
	fw_cfg_destroy(g.fw);
	g.fw = NULL;
	return 0;
}
