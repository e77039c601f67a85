/* vCPUs: one thread each, running KVM_RUN and handing port and MMIO exits to the buses. */
#ifndef SMOLVM_VCPU_H
#define SMOLVM_VCPU_H

#include <pthread.h>
#include <stdbool.h>

struct vm;
struct kvm_run;
struct stats_vcpu;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
	struct stats_vcpu *stats; /* SMOLVM_STATS's counters, NULL when off */
};

/* Create vCPU id with its CPUID, MSRs and LAPIC wiring. */
int vcpu_create(struct vm *vm, unsigned id, struct vcpu *vcpu);
int vcpu_start(struct vcpu *vcpu);
/* Make every vCPU leave KVM_RUN and its thread end; returns once all have. */
void vcpu_stop_all(struct vm *vm);

#endif
