#include <cpuid.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/cpu.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_ECX_HYPERVISOR   (1u << 31)
#define CPUID_1_EDX_HTT          (1u << 28)

/* Bits needed to number n items: the APIC id field width of one topology level. */
static unsigned bits_for(unsigned n)
{
	unsigned b = 0;
	while ((1u << b) < n)
		b++;
	return b;
}

static void cpuid_fix_entry(struct kvm_cpuid_entry2 *e, unsigned id, unsigned ncpus,
			    bool tsc_deadline)
{
	unsigned core_bits = bits_for(ncpus);

	switch (e->function) {
	case 1:
		e->ebx = (e->ebx & 0x0000ffff) | (id << 24) | ((1u << core_bits) << 16);
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (tsc_deadline)
			e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
		e->edx |= CPUID_1_EDX_HTT;
		break;
	case 4: /* Intel cache topology: cores per package; caches below L3 are per core. */
		if ((e->eax & 0x1f) == 0)
			break;
		e->eax &= 0x3ff;
		e->eax |= ((1u << core_bits) - 1) << 26;
		if (((e->eax >> 5) & 7) == 3)
			e->eax |= ((1u << core_bits) - 1) << 14;
		break;
	case 0xa: /* No guest PMU: its MSR traffic is slow and useless in a small VM. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0xb:
	case 0x1f: /* Extended topology: level 0 = SMT (1 thread), level 1 = cores. */
		e->edx = id;
		if (e->index == 0) {
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1 << 8) | 0;
		} else if (e->index == 1) {
			e->eax = core_bits;
			e->ebx = ncpus;
			e->ecx = (2 << 8) | 1;
		} else {
			e->eax = e->ebx = 0;
			e->ecx = e->index;
		}
		break;
	case 0x80000002:
	case 0x80000003:
	case 0x80000004: /* The host's processor name, which KVM leaves out. */
		__cpuid(e->function, e->eax, e->ebx, e->ecx, e->edx);
		break;
	case 0x80000008: /* AMD: number of cores - 1, and the APIC id bits they use. */
		e->ecx = (e->ecx & ~0xf0ffu) | (core_bits << 12) | (ncpus - 1);
		break;
	case 0x8000001e: /* AMD extended APIC id, core id, one thread per core. */
		e->eax = id;
		e->ebx = id & 0xff;
		e->ecx = 0;
		break;
	}
}

int cpu_setup_cpuid(struct vm *vm, int vcpu_fd, unsigned id)
{
	size_t bytes = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(bytes);
	bool deadline = vm_check_extension(vm, KVM_CAP_TSC_DEADLINE_TIMER);
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, vm->cpuid, bytes);
	for (unsigned i = 0; i < c->nent; i++)
		cpuid_fix_entry(&c->entries[i], id, vm->ncpus, deadline);
	if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0) {
		log_error("KVM_SET_CPUID2: %s", strerror(errno));
		ret = -errno;
	}
	free(c);
	return ret;
}
