/*
 * The ACPI builder's second placement (acpi_build_blob, for a firmware's table loader) and the
 * machine without an ECAM: the blob lists exactly the pointer fields between tables and the
 * checksums, leaves every checksum byte 0, and matches the fixed placement byte for byte once
 * relocated the same way; without an ECAM there is no MCFG and the DSDT still passes iasl.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "acpi/acpi.h"
#include "arch/x86/layout.h"
#include "bytes.h"
#include "unit.h"

static uint8_t fixed[LAYOUT_ACPI_SIZE], blob_buf[LAYOUT_ACPI_SIZE];

static struct acpi_config firmware_config(uint64_t ecam)
{
	return (struct acpi_config){
	    .ncpus = 3,
	    .pci_ecam_base = ecam,
	    .pci_mmio32_base = 0x80000000,
	    .pci_mmio32_size = 0x7c000000,
	    .pci_io_base = 0xc000,
	    .pci_io_size = 0x4000,
	};
}

/* The loader's work, done here: the tables placed right after the RSDP as acpi_build places
 * them, at LAYOUT_ACPI. The result must be acpi_build's output byte for byte. */
static void check_blob_matches_fixed(uint64_t ecam)
{
	struct acpi_config cfg = firmware_config(ecam);
	struct acpi_blob b;
	uint8_t *buf[2];
	int used;

	memset(blob_buf, 0, sizeof(blob_buf));
	CHECK_EQ(acpi_build_blob(blob_buf, sizeof(blob_buf), &cfg, &b), 0);
	used = acpi_build(fixed, sizeof(fixed), LAYOUT_ACPI, &cfg);
	CHECK(used > 0);
	/* acpi_build puts the RSDP at 0 and the tables at the next 16-byte boundary. */
	const uint64_t tables_gpa = LAYOUT_ACPI + 48;
	CHECK_EQ((size_t)used, 48 + b.tables_len);
	if ((size_t)used != 48 + b.tables_len)
		return;

	/* Every checksum byte is 0 before the loader runs. */
	for (unsigned i = 0; i < b.nchecksums; i++) {
		const struct acpi_blob_checksum *s = &b.checksum[i];
		const uint8_t *base = s->in == ACPI_BLOB_RSDP ? b.rsdp : blob_buf;

		CHECK(s->result >= s->start && s->result < s->start + s->len);
		CHECK_EQ(base[s->result], 0);
	}
	/* Pointers: 1 in the RSDP, 2 or 3 in the XSDT, 2 in the FADT. */
	CHECK_EQ(b.npointers, ecam ? 6 : 5);
	CHECK_EQ(b.nchecksums, ecam ? 7 : 6);

	buf[ACPI_BLOB_TABLES] = blob_buf;
	buf[ACPI_BLOB_RSDP] = b.rsdp;
	for (unsigned i = 0; i < b.npointers; i++) {
		const struct acpi_blob_pointer *p = &b.pointer[i];
		size_t size = p->in == ACPI_BLOB_RSDP ? ACPI_RSDP_SIZE : b.tables_len;
		uint64_t v;

		CHECK(p->width == 4 || p->width == 8);
		CHECK(p->offset + p->width <= size);
		v = le(buf[p->in] + p->offset, p->width);
		CHECK(v < b.tables_len);
		v += tables_gpa;
		for (unsigned k = 0; k < p->width; k++)
			buf[p->in][p->offset + k] = (uint8_t)(v >> (8 * k));
	}
	for (unsigned i = 0; i < b.nchecksums; i++) {
		const struct acpi_blob_checksum *s = &b.checksum[i];

		buf[s->in][s->result] = (uint8_t)-sum8(buf[s->in] + s->start, s->len);
	}
	/* The one difference by design: the blob's FADT also has the 32-bit DSDT pointer. */
	const uint8_t *xsdt = fixed + (le(fixed + 24, 8) - LAYOUT_ACPI);
	const uint8_t *fadt = fixed + (le(xsdt + 36, 8) - LAYOUT_ACPI); /* XSDT entry 0 */
	uint8_t *bfadt = blob_buf + (fadt - fixed - 48);
	CHECK_EQ(le(bfadt + 40, 4), le(fadt + 140, 8));
	memset(bfadt + 40, 0, 4);
	bfadt[9] = 0;
	bfadt[9] = (uint8_t)-sum8(bfadt, 276);

	CHECK(memcmp(fixed, b.rsdp, ACPI_RSDP_SIZE) == 0);
	CHECK(memcmp(fixed + 48, blob_buf, b.tables_len) == 0);
}

static void test_blob_matches_fixed(void)
{
	check_blob_matches_fixed(0);
	check_blob_matches_fixed(LAYOUT_PCI_ECAM);
}

static void test_blob_errors(void)
{
	struct acpi_config cfg = firmware_config(0);
	struct acpi_blob b;

	CHECK_EQ(acpi_build_blob(blob_buf, 100, &cfg, &b), -ENOSPC);
	cfg.ncpus = 0;
	CHECK_EQ(acpi_build_blob(blob_buf, sizeof(blob_buf), &cfg, &b), -EINVAL);
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Without an ECAM: no MCFG in the XSDT, and iasl takes the DSDT (no MBRD, plain PCI root). */
static void test_no_ecam(void)
{
	struct acpi_config cfg = firmware_config(0);
	char dir[] = "/tmp/smolvm-acpi-blob-XXXXXX", cmd[512];
	int used = acpi_build(fixed, sizeof(fixed), LAYOUT_ACPI, &cfg);
	const uint8_t *xsdt, *fadt, *dsdt;
	FILE *f;

	CHECK(used > 0);
	if (used <= 0)
		return;
	xsdt = fixed + (le(fixed + 24, 8) - LAYOUT_ACPI);
	CHECK_EQ(le(xsdt + 4, 4), 36 + 2 * 8);
	CHECK(!memmem(fixed, (size_t)used, "MCFG", 4));
	fadt = fixed + (le(xsdt + 36, 8) - LAYOUT_ACPI);
	dsdt = fixed + (le(fadt + 140, 8) - LAYOUT_ACPI);
	CHECK(memcmp(dsdt, "DSDT", 4) == 0);

	if (!run("command -v iasl >/dev/null 2>&1") || !mkdtemp(dir)) {
		CHECK(!"iasl installed (acpica-tools) and a temp dir");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s/DSDT.aml", dir);
	f = fopen(cmd, "wb");
	CHECK(f && fwrite(dsdt, 1, le(dsdt + 4, 4), f) == le(dsdt + 4, 4));
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -d DSDT.aml >d.log 2>&1 && ! grep -q -E 'Error|Warning' d.log && "
		 "grep -q 'EisaId (\"PNP0A03\")' DSDT.dsl && ! grep -q PNP0A08 DSDT.dsl && "
		 "! grep -q MBRD DSDT.dsl && grep -q '0x80000000' DSDT.dsl && "
		 "iasl -p re DSDT.dsl >re.log 2>&1 && grep -q ' 0 Errors, 0 Warnings' re.log",
		 dir);
	CHECK(run(cmd));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(run(cmd));
}

int main(void)
{
	RUN(test_blob_matches_fixed);
	RUN(test_blob_errors);
	RUN(test_no_ecam);
	return UNIT_RESULT();
}
