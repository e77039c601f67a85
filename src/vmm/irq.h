/*
 * Interrupt routing: KVM's GSI table, holding the PC's ISA lines (PIC + IOAPIC, as KVM
 * sets them up by default) and one MSI route per allocated GSI. Devices raise MSIs by
 * writing to an irqfd bound to their GSI; no vCPU thread is involved.
 */
#ifndef SMOLVM_IRQ_H
#define SMOLVM_IRQ_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

/* A GSI for an MSI with an irqfd bound to it; returns the gsi or -errno. *fd gets the
 * eventfd to write to. */
int irq_msi_alloc(struct vm *vm, int *fd);

/* Point gsi at an MSI message; valid = false removes the route (the irqfd then does nothing).
 * Returns 0 or -errno. */
int irq_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data, bool valid);

#endif
