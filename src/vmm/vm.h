/*
 * The virtual machine: the KVM VM file descriptor, guest RAM, the two buses, the vCPUs
 * and the lifecycle (why and with which status the VM stops).
 */
#ifndef SMOLVM_VM_H
#define SMOLVM_VM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/options.h"
#include "vmm/bus.h"
#include "vmm/guest_mem.h"

struct vcpu;
struct kvm_cpuid2;
struct pci_host;
struct ged;
struct rtc;

/* Why the VM stops: decides what smolvm does next. */
enum vm_stop {
	VM_STOP_NONE,
	VM_STOP_POWEROFF, /* guest powered off: exit 0 */
	VM_STOP_REBOOT,   /* guest reset: start again, or exit 0 with -no-reboot */
	VM_STOP_QUIT,     /* the user asked (Ctrl-A x): exit 0 */
	VM_STOP_SIGNAL,   /* SIGINT/SIGTERM: exit 128 + signal */
	VM_STOP_ERROR,    /* triple fault, KVM error: exit 1 */
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	struct bus pio, mmio;
	struct kvm_cpuid2 *cpuid; /* what KVM supports; each vCPU gets its own copy */
	struct vcpu *vcpus;
	unsigned ncpus;
	struct pci_host *pci;
	struct ged *ged; /* signals the power button (devices/ged.c) */
	struct rtc *rtc; /* CMOS, where a firmware reads the RAM size (devices/rtc.c) */

	int stop_fd;                 /* eventfd, readable once a stop was requested */
	_Atomic int stop_reason;     /* enum vm_stop; the first request wins */
	int stop_status;
};

/* Open /dev/kvm, create the VM with its in-kernel irqchip and PIT, and map guest RAM.
 * Prints one line and returns -errno on failure. */
int vm_create(struct vm *vm, const struct vm_config *cfg);

/* Memory that is not RAM (a firmware's flash): slot is 0..VM_EXTRA_SLOTS-1, KVM's slots
 * past RAM's. readonly: the guest's writes leave KVM_RUN as MMIO writes. size 0 removes the
 * slot (then reads exit too). The guest's RAM accessors never see it. 0 or -errno (logged). */
#define VM_SLOT_EXTRA  GUEST_MEM_MAX_REGIONS
#define VM_EXTRA_SLOTS 4
int vm_set_memory(struct vm *vm, unsigned slot, uint64_t gpa, uint64_t size, void *host,
		  bool readonly);

/* Ask the VM to stop; the main loop wakes up and acts. Safe from any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop reason, int status);

/* Drive an ISA interrupt line (in-kernel PIC and IOAPIC). */
void vm_irq_line(struct vm *vm, unsigned irq, int level);

/* Check a KVM capability: its value, 0 when absent. */
int vm_check_extension(struct vm *vm, long cap);

#endif
