/*
 * ACPI tables for a hardware-reduced x86 platform (ACPI 6.x chapter 5): the guest finds the
 * RSDP by scanning 0xe0000-0xfffff or through the boot protocol, follows it to the XSDT, and
 * from there to the FADT (power-off/reset registers, DSDT address), MADT (CPUs, I/O APIC) and
 * MCFG (PCI ECAM, when there is one). The DSDT also holds the power button and the GED that
 * signals it. Layouts are packed structs whose sizes are asserted against the spec.
 *
 * One builder serves two placements: at a fixed guest address with absolute pointers and
 * sealed checksums (acpi_build, for the direct kernel boot), or as blobs the firmware places
 * and patches itself, with the pointer fields and checksums listed (acpi_build_blob).
 */
#include "acpi/acpi.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

#include "acpi/aml.h"
#include "arch/x86/layout.h"
#include "devices/ged.h"

#define ACPI_OEM_ID	  "SMOLVM"
#define ACPI_OEM_TABLE_ID "SMOLVM  "
#define ACPI_CREATOR_ID	  "SMVM"
#define ACPI_ALIGN	  16	       /* the RSDP must be; the others are kept so for tidy dumps */
#define ACPI_ECAM_BUS	  (1ULL << 20) /* ECAM space per bus: 32 devices x 8 functions x 4 KiB */

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* over the first 20 bytes, the ACPI 1.0 structure */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum; /* over all of it */
	uint8_t reserved[3];
} __attribute__((packed));

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

enum { ACPI_GAS_SYSTEM_IO = 1, ACPI_GAS_ACCESS_BYTE = 1 };

struct acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl; /* no FACS: allowed for hardware-reduced ACPI */
	uint32_t dsdt;		/* 0: X_DSDT holds the address */
	uint8_t reserved0;
	uint8_t pm_profile;
	/* Offsets 46-108: SCI, SMI and the PM1/PM2/GPE blocks, ignored when HW_REDUCED_ACPI. */
	uint8_t legacy_pm[109 - 46];
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	/* Offsets 148-243: the 64-bit PM1/PM2/GPE blocks, likewise ignored. */
	struct acpi_gas x_legacy_pm[8];
	struct acpi_gas sleep_control;
	struct acpi_gas sleep_status;
	char hypervisor_vendor[8];
} __attribute__((packed));

#define FADT_REVISION		 6
#define FADT_PM_UNSPECIFIED	 0	   /* a VM is whatever its user makes it */
#define FADT_BOOT_LEGACY_DEVICES (1u << 0) /* COM1 and the RTC sit at ISA ports */
#define FADT_BOOT_NO_VGA	 (1u << 2)
#define FADT_PWR_BUTTON		 (1u << 4) /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON		 (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_RESET_REG_SUP	 (1u << 10)
#define FADT_HW_REDUCED_ACPI	 (1u << 20)

struct acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

#define MADT_REVISION	  5
#define MADT_PCAT_COMPAT  (1u << 0) /* KVM's 8259 pair exists: the OS masks it for APIC mode */
#define MADT_LAPIC_ENABLE (1u << 0)

enum {
	MADT_TYPE_LAPIC = 0,
	MADT_TYPE_IOAPIC = 1,
	MADT_TYPE_SOURCE_OVERRIDE = 2,
	MADT_TYPE_LAPIC_NMI = 4,
};

struct madt_lapic {
	uint8_t type, length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_source_override {
	uint8_t type, length;
	uint8_t bus; /* 0: ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length;
	uint8_t processor_uid; /* 0xff: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

/* MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2. */
#define MPS_ACTIVE_HIGH 0x1
#define MPS_EDGE	0x4

struct acpi_mcfg {
	struct acpi_header h;
	uint8_t reserved[8];
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved1;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI table header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP, ACPI 2.0+");
_Static_assert(sizeof(struct acpi_gas) == 12, "Generic Address Structure");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");
_Static_assert(sizeof(struct madt_lapic) == 8 && sizeof(struct madt_ioapic) == 12 &&
		   sizeof(struct madt_source_override) == 10 && sizeof(struct madt_lapic_nmi) == 6,
	       "MADT entries");
_Static_assert(sizeof(struct acpi_mcfg) == 60, "MCFG with one allocation");
_Static_assert(sizeof(struct acpi_rsdp) == ACPI_RSDP_SIZE, "acpi_blob.rsdp");

enum { XSDT_FADT, XSDT_MADT, XSDT_MCFG, XSDT_MAX_ENTRIES };

/* Where the tables go: buf, seen by the guest at gpa. With blob set, the firmware places
 * them (gpa 0: pointers are offsets into buf) and acpi_note_*() list what it must patch. */
struct acpi_out {
	uint8_t *buf;
	size_t size;
	size_t used;
	uint64_t gpa;
	struct acpi_blob *blob;
};

/* Zeroed room for len bytes at the next aligned offset, or NULL when the buffer is full. */
static void *acpi_alloc(struct acpi_out *o, size_t len)
{
	size_t off = (o->used + ACPI_ALIGN - 1) & ~(size_t)(ACPI_ALIGN - 1);

	if (off > o->size || len > o->size - off)
		return NULL;
	memset(o->buf + o->used, 0, off + len - o->used); /* padding too: same bytes every time */
	o->used = off + len;
	return o->buf + off;
}

/* Where the guest sees a table placed by acpi_alloc(). */
static uint64_t acpi_gpa(const struct acpi_out *o, const void *table)
{
	return o->gpa + (uint64_t)((const uint8_t *)table - o->buf);
}

static uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, ACPI_CREATOR_ID, 4);
	h->creator_revision = 1;
}

/* Which blob p lies in, and its offset there. */
static enum acpi_blob_id acpi_blob_locate(const struct acpi_out *o, const void *p, uint32_t *off)
{
	const uint8_t *b = p;

	if (b >= o->blob->rsdp && b < o->blob->rsdp + ACPI_RSDP_SIZE) {
		*off = (uint32_t)(b - o->blob->rsdp);
		return ACPI_BLOB_RSDP;
	}
	*off = (uint32_t)(b - o->buf);
	return ACPI_BLOB_TABLES;
}

/* A pointer field of width bytes that the firmware's loader relocates (blob placement only).
 * The fields are a fixed set, within ACPI_BLOB_MAX_FIELDS: asserted, not checked. */
static void acpi_note_pointer(struct acpi_out *o, const void *field, uint8_t width)
{
	struct acpi_blob_pointer *ptr;

	if (!o->blob)
		return;
	assert(o->blob->npointers < ACPI_BLOB_MAX_FIELDS);
	ptr = &o->blob->pointer[o->blob->npointers++];
	ptr->in = acpi_blob_locate(o, field, &ptr->offset);
	ptr->width = width;
}

/* The checksum byte at result over [start, start + len): computed now for a fixed placement,
 * left 0 and listed for the loader (which patches pointers first) otherwise. */
static void acpi_seal_range(struct acpi_out *o, uint8_t *result, const void *start, uint32_t len)
{
	struct acpi_blob_checksum *sum;

	*result = 0;
	if (!o->blob) {
		*result = acpi_checksum(start, len);
		return;
	}
	assert(o->blob->nchecksums < ACPI_BLOB_MAX_FIELDS);
	sum = &o->blob->checksum[o->blob->nchecksums++];
	sum->in = acpi_blob_locate(o, start, &sum->start);
	acpi_blob_locate(o, result, &sum->result);
	sum->len = len;
}

/* Checksum last, once every field of the table is final. */
static void acpi_header_seal(struct acpi_out *o, struct acpi_header *h)
{
	acpi_seal_range(o, &h->checksum, h, h->length);
}

static struct acpi_gas acpi_gas_port8(uint16_t port)
{
	return (struct acpi_gas){
	    .space = ACPI_GAS_SYSTEM_IO,
	    .bit_width = 8,
	    .access_size = ACPI_GAS_ACCESS_BYTE,
	    .address = port,
	};
}

static void acpi_fill_fadt(struct acpi_out *o, struct acpi_fadt *f, uint64_t dsdt_gpa)
{
	acpi_header_init(&f->h, "FACP", sizeof(*f), FADT_REVISION);
	f->pm_profile = FADT_PM_UNSPECIFIED;
	/* No 8042 flag: Linux then skips probing for a PS/2 controller (port 0x64 only resets).
	 * MSI stays allowed (virtio uses MSI-X) and the CMOS RTC is present. */
	f->iapc_boot_arch = FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_NO_VGA;
	f->flags = FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP | FADT_PWR_BUTTON | FADT_SLP_BUTTON;
	f->reset_reg = acpi_gas_port8(PORT_ACPI_RESET);
	f->reset_value = ACPI_RESET_VALUE;
	f->minor_version = 0;
	f->x_dsdt = dsdt_gpa;
	acpi_note_pointer(o, &f->x_dsdt, sizeof(f->x_dsdt));
	if (o->blob) {
		/* The firmware's loader finds tables by following pointers; QEMU's FADT has both
		 * (the blob is then placed below 4 GiB). A fixed placement keeps X_DSDT alone. */
		f->dsdt = (uint32_t)dsdt_gpa;
		acpi_note_pointer(o, &f->dsdt, sizeof(f->dsdt));
	}
	f->sleep_control = acpi_gas_port8(PORT_ACPI_SLEEP_CTL);
	f->sleep_status = acpi_gas_port8(PORT_ACPI_SLEEP_STS);
	memcpy(f->hypervisor_vendor, "SMOLVM\0\0", 8);
}

static size_t acpi_madt_size(unsigned ncpus)
{
	return sizeof(struct acpi_madt) + ncpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + sizeof(struct madt_source_override) +
	       sizeof(struct madt_lapic_nmi);
}

static void acpi_fill_madt(struct acpi_madt *m, unsigned ncpus)
{
	uint8_t *p = (uint8_t *)(m + 1);

	acpi_header_init(&m->h, "APIC", acpi_madt_size(ncpus), MADT_REVISION);
	m->lapic_address = LAYOUT_LAPIC;
	m->flags = MADT_PCAT_COMPAT;
	for (unsigned i = 0; i < ncpus; i++) {
		struct madt_lapic e = {
		    .type = MADT_TYPE_LAPIC,
		    .length = sizeof(e),
		    .processor_uid = (uint8_t)i,
		    .apic_id = (uint8_t)i,
		    .flags = MADT_LAPIC_ENABLE,
		};
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	/* The I/O APIC id only has to differ from every LAPIC id. */
	struct madt_ioapic io = {
	    .type = MADT_TYPE_IOAPIC,
	    .length = sizeof(io),
	    .ioapic_id = (uint8_t)ncpus,
	    .address = LAYOUT_IOAPIC,
	    .gsi_base = 0,
	};
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	/* The PIT is wired to I/O APIC pin 2, as on PC chipsets and in KVM's irq routing. */
	struct madt_source_override iso = {
	    .type = MADT_TYPE_SOURCE_OVERRIDE,
	    .length = sizeof(iso),
	    .bus = 0,
	    .source = 0,
	    .gsi = 2,
	    .flags = MPS_ACTIVE_HIGH | MPS_EDGE,
	};
	memcpy(p, &iso, sizeof(iso));
	p += sizeof(iso);
	/* LINT1 of every CPU is the NMI line, as KVM wires it. */
	struct madt_lapic_nmi nmi = {
	    .type = MADT_TYPE_LAPIC_NMI,
	    .length = sizeof(nmi),
	    .processor_uid = 0xff,
	    .flags = 0, /* conforms to the bus: edge, active high */
	    .lint = 1,
	};
	memcpy(p, &nmi, sizeof(nmi));
}

static void acpi_fill_mcfg(struct acpi_mcfg *m, uint64_t ecam_base)
{
	acpi_header_init(&m->h, "MCFG", sizeof(*m), 1);
	m->base = ecam_base;
	m->segment = 0;
	m->start_bus = 0;
	m->end_bus = 0;
}

/* A memory range a device decodes, in the narrowest descriptor that holds it. */
static void dsdt_memory_consumer(struct aml *a, uint64_t base, uint64_t len)
{
	if (base + len <= 1ULL << 32)
		aml_rt_dword_memory(a, false, base, len);
	else
		aml_rt_qword_memory(a, false, base, len);
}

static void dsdt_pci_root(struct aml *a, const struct acpi_config *cfg)
{
	size_t dev = aml_device_begin(a, "PCI0");

	/* PCI Express root bridge for the ECAM, plain PCI for older drivers; without an ECAM
	 * (the firmware's i440FX machine) plain PCI only. */
	if (cfg->pci_ecam_base) {
		aml_name_eisaid(a, "_HID", "PNP0A08");
		aml_name_eisaid(a, "_CID", "PNP0A03");
	} else {
		aml_name_eisaid(a, "_HID", "PNP0A03");
	}
	aml_name_integer(a, "_SEG", 0);
	aml_name_integer(a, "_BBN", 0);
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	size_t rt = aml_rt_begin(a);
	aml_rt_word_bus(a, 0, 0);
	/* The legacy config mechanism's ports; Linux drops them from the windows. */
	aml_rt_io(a, PORT_PCI_CONFIG, 8);
	if (cfg->pci_io_size)
		aml_rt_word_io(a, cfg->pci_io_base, cfg->pci_io_size);
	if (cfg->pci_mmio32_size)
		aml_rt_dword_memory(a, true, cfg->pci_mmio32_base, cfg->pci_mmio32_size);
	/* Not marked prefetchable: Linux would then refuse non-prefetchable BARs there. */
	if (cfg->pci_mmio64_size)
		aml_rt_qword_memory(a, true, cfg->pci_mmio64_base, cfg->pci_mmio64_size);
	aml_rt_end(a, rt);
	aml_pkg_end(a, dev);
}

static void dsdt_isa_device(struct aml *a, const char *name, const char *hid, uint16_t port,
			    uint8_t nports, uint8_t irq)
{
	size_t dev = aml_device_begin(a, name);

	aml_name_eisaid(a, "_HID", hid);
	aml_name(a, "_CRS");
	size_t rt = aml_rt_begin(a);
	aml_rt_io(a, port, nports);
	aml_rt_irq(a, irq);
	aml_rt_end(a, rt);
	aml_pkg_end(a, dev);
}

/*
 * The power button: a control-method PNP0C0C button (the FADT says there is no fixed one) and
 * the Generic Event Device that signals it. On the GED's interrupt the OS runs _EVT, which
 * reads the event register once (the read clears it) and sends Notify(PWRB, 0x80), "button
 * pressed", for the power-button bit. Linux's button driver turns that into KEY_POWER.
 */
static void dsdt_power_button(struct aml *a)
{
	size_t dev = aml_device_begin(a, "PWRB");
	aml_name_eisaid(a, "_HID", "PNP0C0C");
	aml_name_integer(a, "_UID", 0);
	aml_pkg_end(a, dev);

	dev = aml_device_begin(a, "GED");
	aml_name(a, "_HID");
	aml_string(a, "ACPI0013"); /* no EisaId form: the ACPI prefix is four letters */
	aml_name_integer(a, "_UID", 0);
	aml_name(a, "_CRS");
	size_t rt = aml_rt_begin(a);
	aml_rt_interrupt(a, IRQ_GED, true, false);
	aml_rt_end(a, rt);
	aml_operation_region(a, "EREG", AML_REGION_SYSTEM_MEMORY, LAYOUT_GED + GED_REG_EVENTS, 4);
	size_t field = aml_field_begin(a, "EREG", AML_FIELD_DWORD_ACC | AML_FIELD_WRITE_AS_ZEROS);
	aml_field_unit(a, "EVTS", 32);
	aml_pkg_end(a, field);

	/* Arg0 is the GSI that fired; the GED has one, so it is not looked at. */
	size_t method = aml_method_begin(a, "_EVT", 1, true);
	aml_op_store(a); /* Local0 = EVTS: the one read of the register */
	aml_namestring(a, "EVTS");
	aml_local(a, 0);
	size_t cond = aml_if_begin(a); /* If (Local0 & GED_EVENT_POWER_BUTTON) */
	aml_op_and(a);
	aml_local(a, 0);
	aml_integer(a, GED_EVENT_POWER_BUTTON);
	aml_null_target(a);
	aml_op_notify(a);
	aml_namestring(a, "\\_SB.PWRB");
	aml_integer(a, 0x80);
	aml_pkg_end(a, cond);
	aml_pkg_end(a, method);
	aml_pkg_end(a, dev);
}

/* The DSDT's body (AML after the header); 0 or the builder's error. */
static int dsdt_build(struct aml *a, const struct acpi_config *cfg)
{
	size_t sb = aml_scope_begin(a, "\\_SB");

	dsdt_pci_root(a, cfg);

	/* Motherboard resources: Linux trusts MMCONFIG only if the ECAM is reserved here. */
	if (cfg->pci_ecam_base) {
		size_t dev = aml_device_begin(a, "MBRD");
		aml_name_eisaid(a, "_HID", "PNP0C02");
		aml_name_integer(a, "_UID", 0);
		aml_name(a, "_CRS");
		size_t rt = aml_rt_begin(a);
		dsdt_memory_consumer(a, cfg->pci_ecam_base, ACPI_ECAM_BUS);
		aml_rt_end(a, rt);
		aml_pkg_end(a, dev);
	}

	dsdt_isa_device(a, "COM1", "PNP0501", PORT_COM1, 8, IRQ_COM1);
	dsdt_isa_device(a, "RTC", "PNP0B00", PORT_RTC, 2, IRQ_RTC);
	dsdt_power_button(a);
	aml_pkg_end(a, sb);

	/* S5 (soft off): the OS writes SLP_TYP from the first element to the sleep control
	 * register; the second is SLP_TYPb, meaningless without PM1b. */
	aml_name(a, "\\_S5");
	size_t pkg = aml_package_begin(a, 4);
	aml_integer(a, ACPI_S5_SLP_TYP);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_pkg_end(a, pkg);
	return a->err;
}

static int acpi_config_check(const struct acpi_config *cfg, uint64_t gpa, size_t size)
{
	if (cfg->ncpus == 0 || cfg->ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (gpa % ACPI_ALIGN || gpa > UINT64_MAX - size)
		return -EINVAL;
	/* The PCI windows are checked against their descriptors' widths as they are encoded. */
	if (cfg->pci_ecam_base > UINT64_MAX - ACPI_ECAM_BUS)
		return -EINVAL;
	return 0;
}

/* The tables into o, the RSDP into *rsdp (inside o's buffer or not). The bytes used, or an
 * error. */
static int acpi_build_into(struct acpi_out *o, struct acpi_rsdp *rsdp,
			   const struct acpi_config *cfg)
{
	struct acpi_header *xsdt, *dsdt;
	struct acpi_fadt *fadt;
	struct acpi_madt *madt;
	struct acpi_mcfg *mcfg = NULL;
	unsigned nentries = cfg->pci_ecam_base ? XSDT_MAX_ENTRIES : XSDT_MCFG;
	size_t xsdt_len = sizeof(*xsdt) + nentries * sizeof(uint64_t);
	uint64_t entries[XSDT_MAX_ENTRIES];
	struct aml a;
	int err;

	if (o->size > INT32_MAX)
		o->size = INT32_MAX; /* the return value is an int; we need far less */

	xsdt = acpi_alloc(o, xsdt_len);
	fadt = acpi_alloc(o, sizeof(*fadt));
	madt = acpi_alloc(o, acpi_madt_size(cfg->ncpus));
	if (cfg->pci_ecam_base)
		mcfg = acpi_alloc(o, sizeof(*mcfg));
	dsdt = acpi_alloc(o, sizeof(*dsdt));
	if (!xsdt || !fadt || !madt || (cfg->pci_ecam_base && !mcfg) || !dsdt)
		return -ENOSPC;

	/* The DSDT's AML fills the rest of the buffer, as far as it needs. */
	aml_init(&a, o->buf + o->used, o->size - o->used);
	err = dsdt_build(&a, cfg);
	if (err)
		return err;
	o->used += a.len;
	acpi_header_init(dsdt, "DSDT", sizeof(*dsdt) + a.len, 2); /* 2: 64-bit integers */

	acpi_fill_fadt(o, fadt, acpi_gpa(o, dsdt));
	acpi_fill_madt(madt, cfg->ncpus);
	if (mcfg)
		acpi_fill_mcfg(mcfg, cfg->pci_ecam_base);

	acpi_header_init(xsdt, "XSDT", xsdt_len, 1);
	entries[XSDT_FADT] = acpi_gpa(o, fadt);
	entries[XSDT_MADT] = acpi_gpa(o, madt);
	if (mcfg)
		entries[XSDT_MCFG] = acpi_gpa(o, mcfg);
	memcpy(xsdt + 1, entries, nentries * sizeof(uint64_t));
	for (unsigned i = 0; i < nentries; i++)
		acpi_note_pointer(o, (uint8_t *)(xsdt + 1) + i * sizeof(uint64_t),
				  sizeof(uint64_t));

	memset(rsdp, 0, sizeof(*rsdp));
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->rsdt = 0; /* XSDT only */
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt = acpi_gpa(o, xsdt);
	acpi_note_pointer(o, &rsdp->xsdt, sizeof(rsdp->xsdt));

	acpi_header_seal(o, xsdt);
	acpi_header_seal(o, &fadt->h);
	acpi_header_seal(o, &madt->h);
	if (mcfg)
		acpi_header_seal(o, &mcfg->h);
	acpi_header_seal(o, dsdt);
	acpi_seal_range(o, &rsdp->checksum, rsdp, 20);
	acpi_seal_range(o, &rsdp->ext_checksum, rsdp, sizeof(*rsdp));
	return (int)o->used;
}

int acpi_build(void *buf, size_t size, uint64_t gpa, const struct acpi_config *cfg)
{
	struct acpi_out o = {.buf = buf, .size = size, .gpa = gpa};
	struct acpi_rsdp *rsdp;
	int err;

	err = acpi_config_check(cfg, gpa, size);
	if (err)
		return err;
	/* The RSDP first, at gpa: where the legacy scan and the boot protocol look. */
	rsdp = acpi_alloc(&o, sizeof(*rsdp));
	if (!rsdp)
		return -ENOSPC;
	return acpi_build_into(&o, rsdp, cfg);
}

int acpi_build_blob(void *buf, size_t size, const struct acpi_config *cfg, struct acpi_blob *out)
{
	struct acpi_out o = {.buf = buf, .size = size, .gpa = 0, .blob = out};
	int ret;

	memset(out, 0, sizeof(*out));
	ret = acpi_config_check(cfg, 0, size);
	if (ret)
		return ret;
	ret = acpi_build_into(&o, (struct acpi_rsdp *)out->rsdp, cfg);
	if (ret < 0)
		return ret;
	out->tables_len = (size_t)ret;
	return 0;
}
