/*
 * The power button's AML: the DSDT's \_SB.PWRB (PNP0C0C) and \_SB.GED (ACPI0013), checked byte
 * by byte against the encodings of ACPI 6.x (20.2.5 and 6.4.3.6) and against the register
 * contract of devices/ged.h, then by iasl, which must disassemble and recompile them cleanly.
 * Also the AML builder's method, field and operand helpers, and their refusals.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "acpi/acpi.h"
#include "acpi/aml.h"
#include "arch/x86/layout.h"
#include "devices/ged.h"
#include "aml_check.h"
#include "bytes.h"
#include "unit.h"

#define GPA LAYOUT_ACPI

static uint8_t tables[LAYOUT_ACPI_SIZE];

/* The DSDT of a 2-CPU machine, through RSDP -> XSDT -> FADT; its length in *len. */
static const uint8_t *build_dsdt(uint32_t *len)
{
	const struct acpi_config cfg = {
	    .ncpus = 2,
	    .pci_ecam_base = LAYOUT_PCI_ECAM,
	    .pci_mmio32_base = LAYOUT_PCI_MMIO32,
	    .pci_mmio32_size = LAYOUT_PCI_MMIO32_SIZE,
	    .pci_io_base = PORT_PCI_IO,
	    .pci_io_size = PORT_PCI_IO_SIZE,
	};
	int used = acpi_build(tables, sizeof(tables), GPA, &cfg);
	const uint8_t *xsdt, *fadt, *dsdt;

	CHECK(used > 0);
	if (used <= 0)
		return NULL;
	xsdt = tables + (le(tables + 24, 8) - GPA);
	fadt = tables + (le(xsdt + 36, 8) - GPA); /* the FADT is the XSDT's first entry */
	CHECK(memcmp(fadt, "FACP", 4) == 0);
	dsdt = tables + (le(fadt + 140, 8) - GPA);
	CHECK(memcmp(dsdt, "DSDT", 4) == 0);
	*len = (uint32_t)le(dsdt + 4, 4);
	CHECK(dsdt + *len <= tables + used);
	return dsdt;
}

#define CHECK_HAS(d, n, ...)                                                                       \
	do {                                                                                       \
		static const uint8_t _want[] = {__VA_ARGS__};                                      \
		CHECK(memmem(d, n, _want, sizeof(_want)) != NULL);                                 \
	} while (0)

static void test_dsdt_power_button_bytes(void)
{
	uint32_t n = 0;
	const uint8_t *d = build_dsdt(&n);
	const uint32_t reg = (uint32_t)(LAYOUT_GED + GED_REG_EVENTS);

	if (!d)
		return;
	_Static_assert(IRQ_GED > 15 && IRQ_GED < 24, "an I/O APIC pin past the ISA lines");
	_Static_assert(GED_EVENT_POWER_BUTTON == 1, "the AML tests bit 0 as One");
	/* Device (PWRB) { Name (_HID, EisaId ("PNP0C0C")) ... } */
	CHECK_HAS(d, n, 'P', 'W', 'R', 'B', 0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x0c);
	/* Name (_HID, "ACPI0013"): a string, the GED has no EisaId form. */
	CHECK_HAS(d, n, 0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0', '1', '3', 0);
	/* Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive) { IRQ_GED } */
	CHECK_HAS(d, n, 0x89, 0x06, 0x00, 0x01, 0x01, IRQ_GED, 0, 0, 0);
	/* OperationRegion (EREG, SystemMemory, LAYOUT_GED, 4) */
	CHECK_HAS(d, n, 0x5b, 0x80, 'E', 'R', 'E', 'G', 0x00, 0x0c, (uint8_t)reg,
		  (uint8_t)(reg >> 8), (uint8_t)(reg >> 16), (uint8_t)(reg >> 24), 0x0a, 0x04);
	/* Field (EREG, DWordAcc, NoLock, WriteAsZeros) { EVTS, 32 } */
	CHECK_HAS(d, n, 0x5b, 0x81, 0x0b, 'E', 'R', 'E', 'G', 0x43, 'E', 'V', 'T', 'S', 0x20);
	/* Method (_EVT, 1, Serialized) { Local0 = EVTS; If (Local0 & One) {
	 *     Notify (\_SB.PWRB, 0x80) } } */
	CHECK_HAS(d, n, '_', 'E', 'V', 'T', 0x09, 0x70, 'E', 'V', 'T', 'S', 0x60, 0xa0);
	CHECK_HAS(d, n, 0x7b, 0x60, 0x01, 0x00, 0x86, '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'W',
		  'R', 'B', 0x0a, 0x80);
}

/* Runs a shell command; true when it exits 0. */
static bool run(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0) {
		rewind(f);
		s = calloc(1, (size_t)n + 1);
		if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
			free(s);
			s = NULL;
		}
	}
	fclose(f);
	return s;
}

static void test_dsdt_power_button_iasl(void)
{
	char dir[] = "/tmp/smolvm-ged-XXXXXX", cmd[512], path[256];
	uint32_t n = 0;
	const uint8_t *d = build_dsdt(&n);
	char *dsl, *log;
	FILE *f;

	if (!run("command -v iasl >/dev/null 2>&1")) {
		fprintf(stderr, "test_acpi_ged: iasl not found: install acpica-tools (make deps)\n");
		CHECK(!"iasl installed");
		return;
	}
	if (!d || !mkdtemp(dir)) {
		CHECK(!"DSDT built and temp dir made");
		return;
	}
	snprintf(path, sizeof(path), "%s/DSDT.aml", dir);
	f = fopen(path, "wb");
	CHECK(f && fwrite(d, 1, n, f) == n);
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d DSDT.aml >d.log 2>&1 && iasl -p re DSDT.dsl "
				   ">re.log 2>&1", dir);
	CHECK(run(cmd));
	snprintf(path, sizeof(path), "%s/DSDT.dsl", dir);
	dsl = slurp(path);
	snprintf(path, sizeof(path), "%s/re.log", dir);
	log = slurp(path);
	CHECK(dsl && log);
	if (dsl) {
		CHECK(strstr(dsl, "Device (PWRB)"));
		CHECK(strstr(dsl, "EisaId (\"PNP0C0C\")"));
		CHECK(strstr(dsl, "Device (GED)"));
		CHECK(strstr(dsl, "Name (_HID, \"ACPI0013\""));
		CHECK(strstr(dsl, "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )"));
		CHECK(strstr(dsl, "OperationRegion (EREG, SystemMemory, 0xFEB00000, 0x04)"));
		CHECK(strstr(dsl, "Field (EREG, DWordAcc, NoLock, WriteAsZeros)"));
		CHECK(strstr(dsl, "Method (_EVT, 1, Serialized)"));
		CHECK(strstr(dsl, "Local0 = EVTS"));
		CHECK(strstr(dsl, "If ((Local0 & One))"));
		CHECK(strstr(dsl, "Notify (\\_SB.PWRB, 0x80)"));
	}
	CHECK(log && strstr(log, " 0 Errors, 0 Warnings"));
	if (log && !strstr(log, " 0 Errors, 0 Warnings"))
		fprintf(stderr, "iasl compile:\n%s\n", log);
	free(dsl);
	free(log);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(run(cmd));
}

static void test_aml_method_helpers(void)
{
	CHECK_AML(aml_local(&am, 7); aml_arg(&am, 0); aml_arg(&am, 6); aml_null_target(&am),
		  0x67, 0x68, 0x6e, 0x00);
	CHECK_AML(aml_op_store(&am); aml_op_and(&am); aml_op_notify(&am), 0x70, 0x7b, 0x86);
	CHECK_AML(aml_operation_region(&am, "R", AML_REGION_SYSTEM_IO, 0x600, 1), 0x5b, 0x80,
		  'R', '_', '_', '_', 0x01, 0x0b, 0x00, 0x06, 0x01);
	/* An empty method: PkgLength 6 counts itself, the name and the flags. */
	CHECK_AML(size_t m = aml_method_begin(&am, "M", 0, false); aml_pkg_end(&am, m), 0x14,
		  0x06, 'M', '_', '_', '_', 0x00);
	CHECK_AML(size_t m = aml_method_begin(&am, "M", 7, true); aml_pkg_end(&am, m), 0x14, 0x06,
		  'M', '_', '_', '_', 0x0f);
	/* A field unit's PkgLength is its width in bits, the two-byte form past 63. */
	CHECK_AML(size_t f = aml_field_begin(&am, "R", 0x01); aml_field_unit(&am, "A", 8);
		  aml_field_unit(&am, "B", 64); aml_pkg_end(&am, f),
		  0x5b, 0x81, 0x11, 'R', '_', '_', '_', 0x01, 'A', '_', '_', '_', 0x08, 'B', '_',
		  '_', '_', 0x40, 0x04);
	CHECK_AML(size_t i = aml_if_begin(&am); aml_integer(&am, 1); aml_pkg_end(&am, i), 0xa0,
		  0x02, 0x01);
}

static void test_aml_method_refusals(void)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_local(&a, 8);
	CHECK_EQ(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_arg(&a, 7);
	CHECK_EQ(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_method_begin(&a, "M", 8, false);
	CHECK_EQ(a.err, -EINVAL);
	/* Field units are bare NameSegs with a width. */
	static const char *const bad_units[] = {"", "ABCDE", "\\ABC", "^AB", "A.B", "1AB"};
	for (size_t i = 0; i < sizeof(bad_units) / sizeof(bad_units[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_field_unit(&a, bad_units[i], 8);
		CHECK_EQ(a.err, -EINVAL);
	}
	aml_init(&a, buf, sizeof(buf));
	aml_field_unit(&a, "A", 0);
	CHECK_EQ(a.err, -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_field_unit(&a, "A", 1u << 28);
	CHECK_EQ(a.err, -EINVAL);
	/* Out of room is the builder's usual -ENOSPC. */
	aml_init(&a, buf, 3);
	aml_operation_region(&a, "EREG", AML_REGION_SYSTEM_MEMORY, LAYOUT_GED, 4);
	CHECK_EQ(a.err, -ENOSPC);
}

int main(void)
{
	RUN(test_dsdt_power_button_bytes);
	RUN(test_dsdt_power_button_iasl);
	RUN(test_aml_method_helpers);
	RUN(test_aml_method_refusals);
	return UNIT_RESULT();
}
