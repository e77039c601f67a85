/*
 * Coalesced port writes (KVM_CAP_COALESCED_PIO): KVM buffers the guest's writes to a
 * registered port range in a ring page, shared by every vCPU's mapping, instead of leaving
 * KVM_RUN; smolvm replays them on the port bus, in order, before it handles any vCPU's next
 * exit. Only for a port whose writes latch a value that a later, exiting access uses, such
 * as 0xCF8's configuration address: a type-1 PCI access then costs one exit, not two.
 */
#ifndef SMOLVM_COALESCED_H
#define SMOLVM_COALESCED_H

#include <stdint.h>

struct vm;
struct bus;
struct kvm_coalesced_mmio_ring;

/* Ask KVM to coalesce writes to ports [port, port + size). 0, or -errno when KVM cannot
 * (then the writes exit as before, which is still correct). Before the vCPUs exist. */
int coalesced_pio_add(struct vm *vm, uint16_t port, uint32_t size);
/* Find the ring in a vCPU's mapping of the given size (vcpu_create calls it). */
void coalesced_attach(struct vm *vm, void *vcpu_run, int mmap_size);
/* Replay the buffered writes; any vCPU thread, before it handles an exit. */
void coalesced_flush(struct vm *vm);
/* The replay itself, on a ring of max entries (exposed for unit tests): entries the kernel
 * wrote between first and last go to pio (or mmio), then first catches up with last. */
void coalesced_replay(struct kvm_coalesced_mmio_ring *ring, uint32_t max, struct bus *pio,
		      struct bus *mmio);

#endif
