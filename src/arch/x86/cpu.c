#include "arch/x86/cpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/layout.h"
#include "vmm/log.h"

#define CR0_PE   (1u << 0)
#define CR0_ET   (1u << 4)
#define CR0_PG   (1u << 31)
#define CR4_PAE  (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR              0xc0000081
#define MSR_LSTAR             0xc0000082
#define MSR_CSTAR             0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

/* GDT selectors required by the boot protocol (__BOOT_CS, __BOOT_DS) and PVH's TSS. */
#define SEL_CODE 0x10
#define SEL_DATA 0x18
#define SEL_TSS  0x20

int cpu_setup_msrs(int vcpu_fd)
{
	static const struct {
		uint32_t index;
		uint64_t value;
	} init[] = {
		{MSR_IA32_SYSENTER_CS, 0}, {MSR_IA32_SYSENTER_ESP, 0}, {MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},             {MSR_LSTAR, 0},             {MSR_CSTAR, 0},
		{MSR_SYSCALL_MASK, 0},     {MSR_KERNEL_GS_BASE, 0},
		{MSR_IA32_MISC_ENABLE, 1}, /* fast strings */
		{MSR_MTRR_DEF_TYPE, (1 << 11) | 6}, /* MTRRs on, default write-back */
	};
	const unsigned n = sizeof(init) / sizeof(init[0]);
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) + n * sizeof(msrs->entries[0]));
	int ret;

	if (!msrs)
		return -ENOMEM;
	msrs->nmsrs = n;
	for (unsigned i = 0; i < n; i++) {
		msrs->entries[i].index = init[i].index;
		msrs->entries[i].data = init[i].value;
	}
	ret = ioctl(vcpu_fd, KVM_SET_MSRS, msrs);
	free(msrs);
	if (ret != (int)n) {
		log_error("KVM_SET_MSRS: set %d of %u MSRs", ret, n);
		return -EIO;
	}
	return 0;
}

int cpu_setup_lapic(int vcpu_fd)
{
	struct kvm_lapic_state lapic;
	uint32_t lint0, lint1;

	if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0) {
		log_error("KVM_GET_LAPIC: %s", strerror(errno));
		return -errno;
	}
	/* LVT LINT0 = ExtINT (the 8259's output), LINT1 = NMI. */
	memcpy(&lint0, &lapic.regs[0x350], 4);
	memcpy(&lint1, &lapic.regs[0x360], 4);
	lint0 = (lint0 & ~0x700u) | (7u << 8);
	lint1 = (lint1 & ~0x700u) | (4u << 8);
	memcpy(&lapic.regs[0x350], &lint0, 4);
	memcpy(&lapic.regs[0x360], &lint1, 4);
	if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0) {
		log_error("KVM_SET_LAPIC: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Identity map of the first 4 GiB with 2 MiB pages: PML4, one PDPT, four page directories. */
static int cpu_write_page_tables(const struct guest_mem *mem)
{
	uint64_t *pml4 = guest_mem_ptr(mem, LAYOUT_PAGE_TABLES, 6 * 4096);
	uint64_t *pdpt, *pd;

	if (!pml4)
		return -EFAULT;
	memset(pml4, 0, 6 * 4096);
	pdpt = pml4 + 512;
	pd = pdpt + 512;
	pml4[0] = (LAYOUT_PAGE_TABLES + 0x1000) | 3;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (LAYOUT_PAGE_TABLES + 0x2000 + i * 0x1000) | 3;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
	return 0;
}

static struct kvm_segment cpu_segment(uint16_t sel, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = !code64,
		.s = 1,
		.l = code64,
		.g = 1,
	};
}

int cpu_setup_boot_state(int vcpu_fd, const struct guest_mem *mem, const struct boot_entry *entry)
{
	/* Flat 4 GiB segments; the code descriptor is 64-bit (L) or 32-bit (D) as the entry needs. */
	uint64_t gdt[5] = {
		0,
		0,
		entry->pvh ? 0x00cf9b000000ffffULL : 0x00af9b000000ffffULL,
		0x00cf93000000ffffULL,
		0x00008b0000000067ULL, /* busy 32-bit TSS, base 0, limit 0x67 */
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_segment data;

	if (guest_mem_write(mem, LAYOUT_GDT, gdt, sizeof(gdt)) != 0)
		return -EFAULT;
	if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;

	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cs = cpu_segment(SEL_CODE, 0xb, !entry->pvh);
	data = cpu_segment(SEL_DATA, 0x3, false);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = (struct kvm_segment){
		.selector = SEL_TSS, .limit = 0x67, .type = 0xb, .present = 1};

	if (entry->pvh) {
		sregs.cr0 = CR0_PE | CR0_ET;
		sregs.cr4 = 0;
		sregs.efer = 0;
	} else {
		if (cpu_write_page_tables(mem) != 0)
			return -EFAULT;
		sregs.cr3 = LAYOUT_PAGE_TABLES;
		sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 2; /* bit 1 is reserved-one; interrupts off */
	regs.rip = entry->rip;
	if (entry->pvh)
		regs.rbx = entry->boot_info;
	else
		regs.rsi = entry->boot_info;
	if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

void cpu_dump_state(int vcpu_fd, unsigned id)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(stderr, "vCPU %u: registers unavailable: %s\n", id, strerror(errno));
		return;
	}
	fprintf(stderr,
		"vCPU %u registers:\n"
		" rip %016llx rsp %016llx rflags %016llx\n"
		" rax %016llx rbx %016llx rcx %016llx rdx %016llx\n"
		" rsi %016llx rdi %016llx rbp %016llx\n"
		" r8  %016llx r9  %016llx r10 %016llx r11 %016llx\n"
		" r12 %016llx r13 %016llx r14 %016llx r15 %016llx\n"
		" cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx efer %llx\n"
		" cs %04x base %llx l %u db %u  ss %04x  gdt %llx/%x  idt %llx/%x\n",
		id, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.r8,
		r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, s.cr0, s.cr2, s.cr3, s.cr4, s.efer,
		s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.ss.selector, s.gdt.base, s.gdt.limit,
		s.idt.base, s.idt.limit);
}
