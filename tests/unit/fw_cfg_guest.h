/*
 * A guest of the fw_cfg device without KVM, for its unit test and fuzzer: guest RAM in a
 * buffer, the real port bus, and the accesses OVMF's QemuFwCfgLib makes.
 */
#ifndef SMOLVM_FW_CFG_GUEST_H
#define SMOLVM_FW_CFG_GUEST_H

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "cd/fw_cfg.h"
#include "vmm/vm.h"

struct fw_cfg_guest {
	struct vm vm;
	struct vm_config cfg;
	uint8_t *ram;
	uint64_t ram_size;
	struct fw_cfg *fw;
};

/* The bus is set up once per process: its range array lives as long as the process. */
static inline void fw_cfg_guest_init(struct fw_cfg_guest *g, uint64_t ram_size, unsigned ncpus)
{
	memset(g, 0, sizeof(*g));
	g->ram = calloc(1, ram_size);
	if (!g->ram)
		abort();
	g->ram_size = ram_size;
	g->cfg.mem_size = ram_size;
	g->cfg.ncpus = ncpus;
	g->vm.cfg = &g->cfg;
	g->vm.ncpus = ncpus;
	g->vm.kvm_fd = g->vm.vm_fd = -1;
	g->vm.mem.region[0] = (struct guest_mem_region){0, ram_size, g->ram};
	g->vm.mem.nregions = 1;
	bus_init(&g->vm.pio, "pio");
	bus_init(&g->vm.mmio, "mmio");
}

static inline void fw_cfg_guest_select(struct fw_cfg_guest *g, uint16_t key)
{
	bus_write(&g->vm.pio, FW_CFG_PORT_SELECTOR, 2, key);
}

static inline uint8_t fw_cfg_guest_read8(struct fw_cfg_guest *g)
{
	uint64_t v = 0;

	bus_read(&g->vm.pio, FW_CFG_PORT_DATA, 1, &v);
	return (uint8_t)v;
}

/* n bytes through the data port (IoReadFifo8). */
static inline void fw_cfg_guest_read(struct fw_cfg_guest *g, void *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)buf)[i] = fw_cfg_guest_read8(g);
}

/* Write a descriptor at guest address desc and start it as OVMF does: both halves of the
 * address byte-swapped, the high half first. Returns the control word the device left. */
static inline uint32_t fw_cfg_guest_dma(struct fw_cfg_guest *g, uint64_t desc, uint32_t control,
					uint32_t len, uint64_t addr)
{
	uint32_t c = htobe32(control), l = htobe32(len), out = 0xdeadbeef;
	uint64_t a = htobe64(addr);

	if (desc <= g->ram_size && g->ram_size - desc >= 16) {
		memcpy(g->ram + desc, &c, 4);
		memcpy(g->ram + desc + 4, &l, 4);
		memcpy(g->ram + desc + 8, &a, 8);
	}
	bus_write(&g->vm.pio, FW_CFG_PORT_DMA, 4, __builtin_bswap32((uint32_t)(desc >> 32)));
	bus_write(&g->vm.pio, FW_CFG_PORT_DMA + 4, 4, __builtin_bswap32((uint32_t)desc));
	if (desc <= g->ram_size && g->ram_size - desc >= 16) {
		memcpy(&out, g->ram + desc, 4);
		out = be32toh(out);
	}
	return out;
}

#endif
