/* Per-vCPU x86 state: CPUID, MSRs, local APIC wiring and the boot CPU's entry state. */
#ifndef SMOLVM_CPU_H
#define SMOLVM_CPU_H

#include "boot/kernel.h"

struct vm;

/* CPUID from what KVM supports, with this vCPU's APIC id, the topology (one socket,
 * ncpus cores, one thread each) and the KVM signature so the guest uses kvm-clock. */
int cpu_setup_cpuid(struct vm *vm, int vcpu_fd, unsigned id);

/* MSRs and LAPIC LINT0/LINT1 (ExtINT and NMI, the PC's virtual wire). */
int cpu_setup_msrs(int vcpu_fd);
int cpu_setup_lapic(int vcpu_fd);

/* Put the boot vCPU at the kernel's entry: 64-bit long mode with identity-mapped page
 * tables for a bzImage, 32-bit protected mode without paging for PVH. Writes the GDT and
 * page tables into guest memory. */
int cpu_setup_boot_state(int vcpu_fd, const struct guest_mem *mem, const struct boot_entry *entry);

/* Real-mode code at the reset vector that reboots through the ACPI reset register. */
int cpu_install_reset_vector(const struct guest_mem *mem);

/* Print the vCPU's registers to stderr (on a triple fault or KVM error). */
void cpu_dump_state(int vcpu_fd, unsigned id);

#endif
