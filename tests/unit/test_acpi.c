/*
 * ACPI tables and the AML builder. Tables are parsed here from the spec's byte offsets, not
 * through acpi.c's structs, so a wrong struct layout shows up. iasl (acpica-tools) then checks
 * the DSDT independently: it must disassemble cleanly and the result must compile again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "acpi/acpi.h"
#include "acpi/aml.h"
#include "arch/x86/layout.h"
#include "aml_check.h"
#include "bytes.h"
#include "unit.h"

#define GPA LAYOUT_ACPI

static uint8_t tables[LAYOUT_ACPI_SIZE];

static const uint8_t *find_bytes(const uint8_t *hay, size_t n, const void *needle, size_t len)
{
	return memmem(hay, n, needle, len);
}

static struct acpi_config test_config(unsigned ncpus)
{
	return (struct acpi_config){
	    .ncpus = ncpus,
	    .pci_ecam_base = LAYOUT_PCI_ECAM,
	    .pci_mmio32_base = LAYOUT_PCI_MMIO32,
	    .pci_mmio32_size = LAYOUT_PCI_MMIO32_SIZE,
	    .pci_mmio64_base = 0x1000000000ULL,
	    .pci_mmio64_size = LAYOUT_PCI_MMIO64_SIZE,
	    .pci_io_base = PORT_PCI_IO,
	    .pci_io_size = PORT_PCI_IO_SIZE,
	};
}

/* The table at guest address gpa, if it lies inside the used part of tables[] with the given
 * signature, a length that fits and a zero checksum; else NULL (and a failed check). */
static const uint8_t *table_at(int used, uint64_t gpa, const char *sig)
{
	uint64_t off = gpa - GPA;
	const uint8_t *t;
	uint32_t len;

	CHECK(gpa >= GPA && off + 36 <= (uint64_t)used);
	if (gpa < GPA || off + 36 > (uint64_t)used)
		return NULL;
	t = tables + off;
	len = (uint32_t)le(t + 4, 4);
	CHECK(memcmp(t, sig, 4) == 0);
	CHECK(len >= 36 && off + len <= (uint64_t)used);
	if (memcmp(t, sig, 4) != 0 || len < 36 || off + len > (uint64_t)used)
		return NULL;
	CHECK_EQ(sum8(t, len), 0);
	CHECK(memcmp(t + 10, "SMOLVM", 6) == 0);
	return t;
}

static void check_fadt(const uint8_t *f, int used)
{
	uint32_t flags = (uint32_t)le(f + 112, 4);
	uint16_t boot = (uint16_t)le(f + 109, 2);

	CHECK_EQ(le(f + 4, 4), 276);
	CHECK_EQ(f[8], 6);
	CHECK(flags & (1u << 20));   /* HW_REDUCED_ACPI */
	CHECK(flags & (1u << 10));   /* RESET_REG_SUP */
	CHECK(!(boot & (1u << 1)));  /* no 8042 */
	CHECK(boot & (1u << 2));     /* VGA not present */
	CHECK(!(boot & (1u << 3)));  /* MSI allowed */
	CHECK(!(boot & (1u << 5)));  /* CMOS RTC present */
	CHECK_EQ(le(f + 36, 4), 0);  /* no FACS */
	CHECK_EQ(le(f + 132, 8), 0); /* no X_FACS */
	CHECK_EQ(le(f + 46, 2), 0);  /* no SCI */

	/* RESET_REG: SystemIO, 8 bits at offset 0, byte access. */
	CHECK_EQ(f[116], 1);
	CHECK_EQ(f[117], 8);
	CHECK_EQ(f[118], 0);
	CHECK_EQ(f[119], 1);
	CHECK_EQ(le(f + 120, 8), PORT_ACPI_RESET);
	CHECK_EQ(f[128], ACPI_RESET_VALUE);

	/* SLEEP_CONTROL_REG and SLEEP_STATUS_REG likewise. */
	for (unsigned i = 0; i < 2; i++) {
		const uint8_t *gas = f + 244 + 12 * i;

		CHECK_EQ(gas[0], 1);
		CHECK_EQ(gas[1], 8);
		CHECK_EQ(gas[2], 0);
		CHECK_EQ(le(gas + 4, 8), i == 0 ? PORT_ACPI_SLEEP_CTL : PORT_ACPI_SLEEP_STS);
	}
	CHECK(memcmp(f + 268, "SMOLVM", 6) == 0);

	const uint8_t *dsdt = table_at(used, le(f + 140, 8), "DSDT");
	CHECK(dsdt != NULL);
	if (dsdt)
		CHECK(dsdt[8] >= 2); /* 64-bit integers */
}

static void check_madt(const uint8_t *m, unsigned ncpus)
{
	uint32_t len = (uint32_t)le(m + 4, 4);
	uint8_t seen[256] = {0};
	unsigned nlapic = 0, nioapic = 0, niso = 0;
	unsigned ioapic_id = 0;

	CHECK_EQ(le(m + 36, 4), LAYOUT_LAPIC);
	CHECK(le(m + 40, 4) & 1); /* PCAT_COMPAT */
	for (uint32_t off = 44; off < len;) {
		const uint8_t *e = m + off;

		CHECK(off + 2 <= len && e[1] >= 2 && off + e[1] <= len);
		if (off + 2 > len || e[1] < 2 || off + e[1] > len)
			return;
		switch (e[0]) {
		case 0:
			CHECK_EQ(e[1], 8);
			CHECK_EQ(e[3], nlapic); /* ids in order, 0..n-1 */
			CHECK_EQ(le(e + 4, 4) & 1, 1);
			seen[e[3]]++;
			nlapic++;
			break;
		case 1:
			CHECK_EQ(e[1], 12);
			CHECK_EQ(le(e + 4, 4), LAYOUT_IOAPIC);
			CHECK_EQ(le(e + 8, 4), 0);
			ioapic_id = e[2];
			nioapic++;
			break;
		case 2:
			CHECK_EQ(e[1], 10);
			CHECK_EQ(e[2], 0);
			CHECK_EQ(e[3], 0);
			CHECK_EQ(le(e + 4, 4), 2);
			CHECK_EQ(le(e + 8, 2), 0x5); /* edge, active high */
			niso++;
			break;
		case 4:
			CHECK_EQ(e[1], 6);
			CHECK_EQ(e[5], 1); /* LINT1 */
			break;
		default:
			CHECK(!"unexpected MADT entry type");
		}
		off += e[1];
	}
	CHECK_EQ(nlapic, ncpus);
	for (unsigned i = 0; i < ncpus; i++)
		CHECK_EQ(seen[i], 1);
	CHECK_EQ(nioapic, 1);
	CHECK_EQ(seen[ioapic_id], 0); /* the I/O APIC id is no CPU's */
	CHECK_EQ(niso, 1);
}

static void check_mcfg(const uint8_t *m)
{
	CHECK_EQ(le(m + 4, 4), 60);
	CHECK_EQ(le(m + 44, 8), LAYOUT_PCI_ECAM);
	CHECK_EQ(le(m + 52, 2), 0);
	CHECK_EQ(m[54], 0);
	CHECK_EQ(m[55], 0);
}

/* Address-space descriptor as the spec lays it out, to look for in the AML. */
static size_t addr_desc(uint8_t *d, uint8_t tag, unsigned w, uint8_t type, uint8_t gflags,
			uint8_t tflags, uint64_t min, uint64_t len)
{
	const uint64_t f[5] = {0, min, min + len - 1, 0, len};
	size_t n = 0;

	d[n++] = tag;
	d[n++] = (uint8_t)(3 + 5 * w);
	d[n++] = 0;
	d[n++] = type;
	d[n++] = gflags;
	d[n++] = tflags;
	for (unsigned i = 0; i < 5; i++)
		for (unsigned b = 0; b < w; b++)
			d[n++] = (uint8_t)(f[i] >> (8 * b));
	return n;
}

static void check_dsdt(const uint8_t *d, const struct acpi_config *cfg)
{
	uint32_t len = (uint32_t)le(d + 4, 4);
	uint8_t desc[64];
	size_t n;

	CHECK(find_bytes(d, len, "PCI0", 4));
	/* EisaId("PNP0A08") as a DWord. */
	CHECK(find_bytes(d, len, "\x0c\x41\xd0\x0a\x08", 5));
	/* Name(\_S5_, Package(4){SLP_TYP, 0, 0, 0}) with a one-byte PkgLength. */
	_Static_assert(ACPI_S5_SLP_TYP > 1 && ACPI_S5_SLP_TYP <= 0xff, "S5 type is a ByteConst");
	const uint8_t s5[] = {
	    0x08, '\\', '_', 'S', '5', '_', 0x12, 0x07, 0x04, 0x0a, ACPI_S5_SLP_TYP, 0, 0, 0};
	CHECK(find_bytes(d, len, s5, sizeof(s5)));

	n = addr_desc(desc, 0x88, 2, 2, 0x0c, 0, 0, 1); /* WordBusNumber 0-0 */
	CHECK(find_bytes(d, len, desc, n));
	n = addr_desc(desc, 0x88, 2, 1, 0x0c, 3, cfg->pci_io_base, cfg->pci_io_size);
	CHECK(find_bytes(d, len, desc, n));
	n = addr_desc(desc, 0x87, 4, 0, 0x0c, 1, cfg->pci_mmio32_base, cfg->pci_mmio32_size);
	CHECK(find_bytes(d, len, desc, n));
	n = addr_desc(desc, 0x8a, 8, 0, 0x0c, 1, cfg->pci_mmio64_base, cfg->pci_mmio64_size);
	CHECK(find_bytes(d, len, desc, n) != NULL || cfg->pci_mmio64_size == 0);
	/* The ECAM reservation, a consumer. */
	n = addr_desc(desc, 0x87, 4, 0, 0x0d, 1, cfg->pci_ecam_base, 1 << 20);
	CHECK(find_bytes(d, len, desc, n));
	/* COM1: IO(Decode16, 0x3f8, 0x3f8, 1, 8), IRQNoFlags(){4} */
	const uint8_t com1[] = {0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00};
	CHECK(find_bytes(d, len, com1, sizeof(com1)));
}

/* Builds for ncpus and checks every table; returns the bytes used. */
static int check_tables(unsigned ncpus)
{
	struct acpi_config cfg = test_config(ncpus);
	int used;

	memset(tables, 0xa5, sizeof(tables));
	used = acpi_build(tables, sizeof(tables), GPA, &cfg);
	CHECK(used > 0);
	if (used <= 0)
		return used;

	/* RSDP, revision 2, both checksums. */
	CHECK(memcmp(tables, "RSD PTR ", 8) == 0);
	CHECK_EQ(sum8(tables, 20), 0);
	CHECK_EQ(tables[15], 2);
	CHECK_EQ(le(tables + 16, 4), 0); /* no RSDT */
	CHECK_EQ(le(tables + 20, 4), 36);
	CHECK_EQ(sum8(tables, 36), 0);
	CHECK(memcmp(tables + 9, "SMOLVM", 6) == 0);

	const uint8_t *xsdt = table_at(used, le(tables + 24, 8), "XSDT");
	CHECK(xsdt != NULL);
	if (!xsdt)
		return used;
	uint32_t xlen = (uint32_t)le(xsdt + 4, 4);
	CHECK_EQ((xlen - 36) % 8, 0);
	CHECK_EQ((xlen - 36) / 8, 3);

	const uint8_t *fadt = NULL, *madt = NULL, *mcfg = NULL;
	uint64_t end = (uint64_t)(xsdt - tables) + xlen;
	for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
		uint64_t gpa = le(xsdt + off, 8);
		const uint8_t *t;

		CHECK(gpa >= GPA && gpa - GPA + 36 <= (uint64_t)used);
		if (gpa < GPA || gpa - GPA + 36 > (uint64_t)used)
			continue;
		t = tables + (gpa - GPA);
		if (!memcmp(t, "FACP", 4) && !fadt)
			fadt = table_at(used, gpa, "FACP");
		else if (!memcmp(t, "APIC", 4) && !madt)
			madt = table_at(used, gpa, "APIC");
		else if (!memcmp(t, "MCFG", 4) && !mcfg)
			mcfg = table_at(used, gpa, "MCFG");
		else
			CHECK(!"unexpected or repeated XSDT entry");
		if (gpa - GPA + le(t + 4, 4) > end)
			end = gpa - GPA + le(t + 4, 4);
	}
	CHECK(fadt && madt && mcfg);
	if (fadt) {
		check_fadt(fadt, used);
		const uint8_t *dsdt = table_at(used, le(fadt + 140, 8), "DSDT");
		if (dsdt) {
			struct acpi_config c = test_config(ncpus);
			check_dsdt(dsdt, &c);
			if ((uint64_t)(dsdt - tables) + le(dsdt + 4, 4) > end)
				end = (uint64_t)(dsdt - tables) + le(dsdt + 4, 4);
		}
	}
	if (madt)
		check_madt(madt, ncpus);
	if (mcfg)
		check_mcfg(mcfg);
	CHECK_EQ(end, used); /* the last table ends where the count says */
	for (size_t i = (size_t)used; i < sizeof(tables); i++) {
		if (tables[i] != 0xa5) {
			CHECK(!"acpi_build wrote past the bytes it returned");
			break;
		}
	}
	return used;
}

static void test_tables_1cpu(void)
{
	check_tables(1);
}

static void test_tables_16cpus(void)
{
	int n1 = check_tables(1), n16 = check_tables(16);

	CHECK(n16 > n1); /* 15 more LAPIC entries, whatever the padding */
}

static void test_no_64bit_window(void)
{
	struct acpi_config cfg = test_config(4);
	int with = acpi_build(tables, sizeof(tables), GPA, &cfg);

	cfg.pci_mmio64_size = 0;
	int without = acpi_build(tables, sizeof(tables), GPA, &cfg);
	CHECK(with > 0 && without > 0);
	CHECK(with - without >= 46); /* one QWord descriptor fewer */
	CHECK(!find_bytes(tables, (size_t)without, "\x8a\x2b\x00", 3));
}

static void test_nospace(void)
{
	struct acpi_config cfg = test_config(16);
	static uint8_t small[LAYOUT_ACPI_SIZE];
	int need = acpi_build(tables, sizeof(tables), GPA, &cfg);

	CHECK(need > 0);
	CHECK_EQ(acpi_build(small, 0, GPA, &cfg), -ENOSPC);
	CHECK_EQ(acpi_build(small, 35, GPA, &cfg), -ENOSPC);
	CHECK_EQ(acpi_build(small, 200, GPA, &cfg), -ENOSPC);
	CHECK_EQ(acpi_build(small, (size_t)need - 1, GPA, &cfg), -ENOSPC);
	CHECK_EQ(acpi_build(small, (size_t)need, GPA, &cfg), need);
	CHECK(memcmp(small, tables, (size_t)need) == 0);
}

static void test_bad_config(void)
{
	struct acpi_config cfg = test_config(0);

	CHECK_EQ(acpi_build(tables, sizeof(tables), GPA, &cfg), -EINVAL);
	cfg.ncpus = ACPI_MAX_CPUS + 1;
	CHECK_EQ(acpi_build(tables, sizeof(tables), GPA, &cfg), -EINVAL);
	cfg.ncpus = ACPI_MAX_CPUS;
	CHECK(acpi_build(tables, sizeof(tables), GPA, &cfg) > 0);
	CHECK_EQ(acpi_build(tables, sizeof(tables), GPA + 8, &cfg), -EINVAL);
	cfg.pci_mmio32_base = 0xf0000000;
	cfg.pci_mmio32_size = 0x20000000; /* past 4 GiB */
	CHECK_EQ(acpi_build(tables, sizeof(tables), GPA, &cfg), -EINVAL);
	cfg = test_config(2);
	cfg.pci_io_base = 0xf000;
	cfg.pci_io_size = 0x2000; /* past 0xffff */
	CHECK_EQ(acpi_build(tables, sizeof(tables), GPA, &cfg), -EINVAL);
}

static void test_aml_integer(void)
{
	CHECK_AML(aml_integer(&am, 0), 0x00);
	CHECK_AML(aml_integer(&am, 1), 0x01);
	CHECK_AML(aml_integer(&am, 2), 0x0a, 0x02);
	CHECK_AML(aml_integer(&am, 0xff), 0x0a, 0xff);
	CHECK_AML(aml_integer(&am, 0x100), 0x0b, 0x00, 0x01);
	CHECK_AML(aml_integer(&am, 0xffff), 0x0b, 0xff, 0xff);
	CHECK_AML(aml_integer(&am, 0x10000), 0x0c, 0x00, 0x00, 0x01, 0x00);
	CHECK_AML(aml_integer(&am, 0xffffffff), 0x0c, 0xff, 0xff, 0xff, 0xff);
	CHECK_AML(aml_integer(&am, 1ULL << 32), 0x0e, 0, 0, 0, 0, 1, 0, 0, 0);
	CHECK_AML(aml_integer(&am, UINT64_MAX), 0xff);
}

static void test_aml_pkglength_encode(void)
{
	static const struct {
		uint32_t len;
		int n;
		uint8_t b[4];
	} cases[] = {
	    {0, 1, {0x00}},
	    {63, 1, {0x3f}},
	    {64, 2, {0x40, 0x04}},
	    {65, 2, {0x41, 0x04}},
	    {4095, 2, {0x4f, 0xff}},
	    {4096, 3, {0x80, 0x00, 0x01}},
	    {0xfffff, 3, {0x8f, 0xff, 0xff}},
	    {0x100000, 4, {0xc0, 0x00, 0x00, 0x01}},
	    {0xfffffff, 4, {0xcf, 0xff, 0xff, 0xff}},
	};
	uint8_t b[4];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(aml_pkglength_encode(b, cases[i].len), cases[i].n);
		CHECK(memcmp(b, cases[i].b, (size_t)cases[i].n) == 0);
	}
	CHECK_EQ(aml_pkglength_encode(b, 0x10000000), -E2BIG);
}

/* Decodes the PkgLength at p: its value, and its size in *n. */
static uint32_t pkglength_decode(const uint8_t *p, int *n)
{
	uint32_t v;

	*n = (p[0] >> 6) + 1;
	if (*n == 1)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (int i = 1; i < *n; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

/* A Package whose contents (NumElements + filler) are `content` bytes long: the PkgLength must
 * take `want` bytes and count itself plus the contents. */
static void check_package_of(size_t content, int want)
{
	static uint8_t buf[8192], filler[8192];
	struct aml a;
	int n;

	aml_init(&a, buf, sizeof(buf));
	size_t pkg = aml_package_begin(&a, 0);
	aml_append(&a, filler, content - 1);
	aml_pkg_end(&a, pkg);
	CHECK_EQ(a.err, 0);
	CHECK_EQ(buf[0], 0x12);
	uint32_t v = pkglength_decode(buf + 1, &n);
	CHECK_EQ(n, want);
	CHECK_EQ(v, content + (size_t)want);
	CHECK_EQ(a.len, 1 + v);
}

static void test_aml_pkglength_boundaries(void)
{
	check_package_of(1, 1);
	check_package_of(62, 1);   /* 62 + 1 = 63: the largest one-byte length */
	check_package_of(63, 2);   /* 64 does not fit in 6 bits */
	check_package_of(4093, 2); /* 4093 + 2 = 4095: the largest two-byte length */
	check_package_of(4094, 3);
	check_package_of(5000, 3);
}

static void test_aml_nesting(void)
{
	uint8_t buf[256];
	struct aml a;

	/* Scope(\_SB) { Device(DEV) { Name(_UID, 0) } } */
	aml_init(&a, buf, sizeof(buf));
	size_t sb = aml_scope_begin(&a, "\\_SB");
	size_t dev = aml_device_begin(&a, "DEV");
	aml_name_integer(&a, "_UID", 0);
	aml_pkg_end(&a, dev);
	aml_pkg_end(&a, sb);
	static const uint8_t want[] = {
	    0x10, 0x13, '\\', '_', 'S',	 'B', '_', 0x5b, 0x82, 0x0b,
	    'D',  'E',	'V',  '_', 0x08, '_', 'U', 'I',	 'D',  0x00,
	};
	CHECK_EQ(a.err, 0);
	CHECK_EQ(a.len, sizeof(want));
	CHECK(a.len == sizeof(want) && memcmp(buf, want, sizeof(want)) == 0);
}

static void test_aml_names(void)
{
	CHECK_AML(aml_namestring(&am, "_S5"), '_', 'S', '5', '_');
	CHECK_AML(aml_namestring(&am, "\\_SB.PCI0"), '\\', 0x2e, '_', 'S', 'B', '_', 'P', 'C', 'I',
		  '0');
	CHECK_AML(aml_namestring(&am, "^^AB"), '^', '^', 'A', 'B', '_', '_');
	CHECK_AML(aml_namestring(&am, "A.B.C"), 0x2f, 3, 'A', '_', '_', '_', 'B', '_', '_', '_',
		  'C', '_', '_', '_');
	CHECK_AML(aml_namestring(&am, "\\"), '\\', 0x00);
	CHECK_AML(aml_string(&am, "ab"), 0x0d, 'a', 'b', 0x00);
	CHECK_AML(aml_eisaid(&am, "PNP0A03"), 0x0c, 0x41, 0xd0, 0x0a, 0x03);
	CHECK_AML(aml_eisaid(&am, "PNP0501"), 0x0c, 0x41, 0xd0, 0x05, 0x01);

	static const char *const bad_names[] = {"pci0", "ABCDE", "1ABC", "A..B", "A.", ".A", "A-B"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		uint8_t buf[64];
		struct aml a;

		aml_init(&a, buf, sizeof(buf));
		aml_namestring(&a, bad_names[i]);
		CHECK_EQ(a.err, -EINVAL);
	}
	static const char *const bad_ids[] = {"pnp0a03", "PNP0A0", "PNP0A0G", "PNP0A033"};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		uint8_t buf[64];
		struct aml a;

		aml_init(&a, buf, sizeof(buf));
		aml_eisaid(&a, bad_ids[i]);
		CHECK_EQ(a.err, -EINVAL);
	}
}

static void test_aml_resource_template(void)
{
	uint8_t buf[64];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	size_t rt = aml_rt_begin(&a);
	aml_rt_io(&a, 0x3f8, 8);
	aml_rt_irq(&a, 4);
	aml_rt_end(&a, rt);
	/* Buffer, PkgLength 16, BufferSize 13, IO, IRQNoFlags, EndTag + checksum. */
	static const uint8_t head[] = {0x11, 0x10, 0x0a, 0x0d, 0x47, 0x01, 0xf8, 0x03,
				       0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79};
	CHECK_EQ(a.err, 0);
	CHECK_EQ(a.len, sizeof(head) + 1);
	CHECK(memcmp(buf, head, sizeof(head)) == 0);
	CHECK_EQ(sum8(buf + 4, 13), 0); /* the EndTag checksum covers the descriptors */
}

static void test_aml_errors(void)
{
	uint8_t buf[16 + 8];
	struct aml a;

	/* Out of room: sticky -ENOSPC and nothing written past cap. */
	memset(buf, 0xa5, sizeof(buf));
	aml_init(&a, buf, 16);
	size_t sb = aml_scope_begin(&a, "\\_SB");
	aml_name_integer(&a, "_UID", 0x12345678);
	aml_name_integer(&a, "_BBN", 0);
	aml_pkg_end(&a, sb);
	CHECK_EQ(a.err, -ENOSPC);
	CHECK(a.len <= 16);
	for (size_t i = 16; i < sizeof(buf); i++)
		CHECK_EQ(buf[i], 0xa5);

	/* Ranges past the descriptor's width. */
	aml_init(&a, buf, 16 + 8);
	aml_rt_irq(&a, 16);
	CHECK_EQ(a.err, -EINVAL);
	uint8_t big[64];
	aml_init(&a, big, sizeof(big));
	aml_rt_word_io(&a, 0xf000, 0x2000);
	CHECK_EQ(a.err, -EINVAL);
	aml_init(&a, big, sizeof(big));
	aml_rt_dword_memory(&a, true, 0xffff0000, 0x20000);
	CHECK_EQ(a.err, -EINVAL);
	aml_init(&a, big, sizeof(big));
	aml_rt_qword_memory(&a, true, 0x1000, 0);
	CHECK_EQ(a.err, -EINVAL);
	aml_init(&a, big, sizeof(big));
	aml_rt_word_io(&a, 0x1000, 0xf000); /* up to 0xffff exactly */
	CHECK_EQ(a.err, 0);
}

/* Runs a shell command, its output going to log; true when it exits 0. */
static int run(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static int write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f && fwrite(p, 1, n, f) == n;

	if (f && fclose(f) != 0)
		ok = 0;
	return ok;
}

/* iasl disassembles every table we emit without complaint, and the DSDT compiles back. */
static void test_iasl(void)
{
	struct acpi_config cfg = test_config(2);
	char dir[] = "/tmp/smolvm-acpi-XXXXXX";
	char cmd[512], path[256];
	int used;

	if (!run("command -v iasl >/dev/null 2>&1")) {
		fprintf(stderr, "test_acpi: iasl not found: install acpica-tools (make deps); the "
				"DSDT cannot be checked without it\n");
		CHECK(!"iasl installed");
		return;
	}
	used = acpi_build(tables, sizeof(tables), GPA, &cfg);
	CHECK(used > 0);
	if (used <= 0 || !mkdtemp(dir)) {
		CHECK(!"tables built and temp dir made");
		return;
	}

	/* Every table the XSDT lists, and the DSDT. */
	const uint8_t *xsdt = tables + (le(tables + 24, 8) - GPA);
	uint32_t xlen = (uint32_t)le(xsdt + 4, 4);
	for (uint32_t off = 36; off <= xlen; off += 8) {
		const uint8_t *t;
		char sig[5] = {0};

		if (off == xlen) {
			const uint8_t *fadt = tables + (le(xsdt + 36, 8) - GPA);
			t = tables + (le(fadt + 140, 8) - GPA);
		} else {
			t = tables + (le(xsdt + off, 8) - GPA);
		}
		memcpy(sig, t, 4);
		snprintf(path, sizeof(path), "%s/%s.aml", dir, sig);
		CHECK(write_file(path, t, le(t + 4, 4)));
		snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.aml >%s.log 2>&1", dir, sig, sig);
		CHECK(run(cmd));

		snprintf(path, sizeof(path), "%s/%s.log", dir, sig);
		char *log = slurp(path);
		snprintf(path, sizeof(path), "%s/%s.dsl", dir, sig);
		char *dsl = slurp(path);
		CHECK(log && dsl);
		if (log && dsl) {
			CHECK(!strstr(log, "Error") && !strstr(log, "Warning"));
			CHECK(!strstr(dsl, "Error") && !strstr(dsl, "Incorrect") &&
			      !strstr(dsl, "****"));
			if (strstr(log, "Error") || strstr(dsl, "Incorrect"))
				fprintf(stderr, "iasl on %s:\n%s\n%s\n", sig, log, dsl);
		}
		if (dsl && !strcmp(sig, "DSDT")) {
			CHECK(strstr(dsl, "Device (PCI0)"));
			CHECK(strstr(dsl, "EisaId (\"PNP0A08\")"));
			CHECK(strstr(dsl, "Name (\\_S5, Package"));
			CHECK(strstr(dsl, "WordBusNumber"));
			CHECK(strstr(dsl, "WordIO"));
			CHECK(strstr(dsl, "DWordMemory"));
			CHECK(strstr(dsl, "QWordMemory"));
			CHECK(strstr(dsl, "IRQNoFlags"));
			CHECK(strstr(dsl, "EisaId (\"PNP0C02\")"));
		}
		free(log);
		free(dsl);
	}

	/* The disassembly compiles back cleanly: iasl's own checks of the resource descriptors. */
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -p re DSDT.dsl >re.log 2>&1", dir);
	CHECK(run(cmd));
	snprintf(path, sizeof(path), "%s/re.log", dir);
	char *log = slurp(path);
	CHECK(log && strstr(log, " 0 Errors, 0 Warnings"));
	if (log && !strstr(log, " 0 Errors, 0 Warnings"))
		fprintf(stderr, "iasl compile:\n%s\n", log);
	free(log);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(run(cmd));
}

int main(void)
{
	RUN(test_aml_integer);
	RUN(test_aml_pkglength_encode);
	RUN(test_aml_pkglength_boundaries);
	RUN(test_aml_nesting);
	RUN(test_aml_names);
	RUN(test_aml_resource_template);
	RUN(test_aml_errors);
	RUN(test_tables_1cpu);
	RUN(test_tables_16cpus);
	RUN(test_no_64bit_window);
	RUN(test_nospace);
	RUN(test_bad_config);
	RUN(test_iasl);
	return UNIT_RESULT();
}
