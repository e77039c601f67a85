/*
 * The fw_cfg files OVMF builds the guest's memory map and ACPI tables from. OVMF 2022-11 has
 * no tables of its own: its AcpiPlatformDxe runs QEMU's linker/loader script etc/table-loader
 * (OvmfPkg/AcpiPlatformDxe/QemuFwCfgAcpi.c). ALLOCATE copies a file into memory it allocates,
 * ADD_POINTER adds a file's address to a pointer field of another, ADD_CHECKSUM computes a
 * checksum byte. Then it follows every ADD_POINTER target and installs what has a valid ACPI
 * header, except the RSDT and XSDT: its own RSDP, XSDT and FADT.DSDT link what it installed.
 * So every table must be the target of some pointer, which the XSDT entries and FADT.DSDT are.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acpi/acpi.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "cd/fw_cfg.h"

#define FW_CFG_ACPI_TABLES "etc/acpi/tables"
#define FW_CFG_ACPI_RSDP   "etc/acpi/rsdp"
#define FW_CFG_ACPI_LOADER "etc/table-loader"
#define FW_CFG_E820	   "etc/e820"

/* QEMU aligns the tables to 64 bytes; the RSDP must be 16-byte aligned. */
#define FW_CFG_ACPI_TABLES_ALIGN 64
#define FW_CFG_ACPI_RSDP_ALIGN	 16

struct fw_cfg_e820 {
	uint64_t address, length;
	uint32_t type;
} __attribute__((packed));

_Static_assert(sizeof(struct fw_cfg_e820) == 20, "EFI_E820_ENTRY64");

int fw_cfg_add_e820(struct fw_cfg *fw, const struct e820_entry *e, unsigned n)
{
	struct fw_cfg_e820 *table;
	int ret;

	if (n > E820_MAX)
		return -EINVAL;
	table = calloc(n ? n : 1, sizeof(*table));
	if (!table)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		table[i] = (struct fw_cfg_e820){
		    .address = htole64(e[i].addr),
		    .length = htole64(e[i].size),
		    .type = htole32(e[i].type),
		};
	ret = fw_cfg_add_file(fw, FW_CFG_E820, table, n * (uint32_t)sizeof(*table));
	free(table);
	return ret;
}

/* One 128-byte loader command: the fields at their offsets in QEMU's packed layout. */
struct fw_cfg_loader {
	uint8_t *buf;
	unsigned n, cap;
};

static uint8_t *fw_cfg_loader_next(struct fw_cfg_loader *l, uint32_t type)
{
	uint8_t *e;

	if (l->n == l->cap)
		return NULL;
	e = l->buf + (size_t)l->n++ * FW_CFG_LOADER_ENTRY_SIZE;
	type = htole32(type);
	memcpy(e, &type, 4);
	return e + 4;
}

static void fw_cfg_put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static const char *fw_cfg_acpi_file(enum acpi_blob_id id)
{
	return id == ACPI_BLOB_RSDP ? FW_CFG_ACPI_RSDP : FW_CFG_ACPI_TABLES;
}

static void fw_cfg_loader_allocate(struct fw_cfg_loader *l, const char *file, uint32_t align,
				   uint8_t zone)
{
	uint8_t *c = fw_cfg_loader_next(l, FW_CFG_LOADER_ALLOCATE);

	strncpy((char *)c, file, FW_CFG_NAME_SIZE - 1);
	fw_cfg_put32(c + 56, align);
	c[60] = zone;
}

/* Every pointer points into the tables (acpi.h): its field holds an offset there. */
static void fw_cfg_loader_pointer(struct fw_cfg_loader *l, const struct acpi_blob_pointer *p)
{
	uint8_t *c = fw_cfg_loader_next(l, FW_CFG_LOADER_ADD_POINTER);

	strncpy((char *)c, fw_cfg_acpi_file(p->in), FW_CFG_NAME_SIZE - 1);
	strncpy((char *)c + 56, FW_CFG_ACPI_TABLES, FW_CFG_NAME_SIZE - 1);
	fw_cfg_put32(c + 112, p->offset);
	c[116] = p->width;
}

static void fw_cfg_loader_checksum(struct fw_cfg_loader *l, const struct acpi_blob_checksum *s)
{
	uint8_t *c = fw_cfg_loader_next(l, FW_CFG_LOADER_ADD_CHECKSUM);

	strncpy((char *)c, fw_cfg_acpi_file(s->in), FW_CFG_NAME_SIZE - 1);
	fw_cfg_put32(c + 56, s->result);
	fw_cfg_put32(c + 60, s->start);
	fw_cfg_put32(c + 64, s->len);
}

int fw_cfg_add_acpi(struct fw_cfg *fw, const struct acpi_config *acfg)
{
	struct fw_cfg_loader l = {0};
	struct acpi_blob blob;
	uint8_t *tables = malloc(LAYOUT_ACPI_SIZE);
	int ret;

	if (!tables)
		return -ENOMEM;
	ret = acpi_build_blob(tables, LAYOUT_ACPI_SIZE, acfg, &blob);
	if (ret)
		goto out;

	/* Allocations first, then every pointer, then the checksums over the patched bytes. */
	l.cap = 2 + blob.npointers + blob.nchecksums;
	l.buf = calloc(l.cap, FW_CFG_LOADER_ENTRY_SIZE);
	if (!l.buf) {
		ret = -ENOMEM;
		goto out;
	}
	fw_cfg_loader_allocate(&l, FW_CFG_ACPI_RSDP, FW_CFG_ACPI_RSDP_ALIGN,
			       FW_CFG_LOADER_ZONE_FSEG);
	fw_cfg_loader_allocate(&l, FW_CFG_ACPI_TABLES, FW_CFG_ACPI_TABLES_ALIGN,
			       FW_CFG_LOADER_ZONE_HIGH);
	for (unsigned i = 0; i < blob.npointers; i++)
		fw_cfg_loader_pointer(&l, &blob.pointer[i]);
	for (unsigned i = 0; i < blob.nchecksums; i++)
		fw_cfg_loader_checksum(&l, &blob.checksum[i]);

	ret = fw_cfg_add_file(fw, FW_CFG_ACPI_TABLES, tables, (uint32_t)blob.tables_len);
	if (!ret)
		ret = fw_cfg_add_file(fw, FW_CFG_ACPI_RSDP, blob.rsdp, sizeof(blob.rsdp));
	if (!ret)
		ret =
		    fw_cfg_add_file(fw, FW_CFG_ACPI_LOADER, l.buf, l.n * FW_CFG_LOADER_ENTRY_SIZE);
out:
	free(l.buf);
	free(tables);
	return ret;
}
