/*
 * MSI-X (PCI 3.0, 6.8.2): the capability in configuration space, the vector table and
 * pending-bit array in a BAR, and delivery through one irqfd per vector. A masked vector
 * records a pending bit and fires when unmasked.
 */
#ifndef SMOLVM_MSIX_H
#define SMOLVM_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct pci_device;

#define MSIX_MAX_VECTORS 64
#define MSIX_NO_VECTOR   0xffff
#define MSIX_ENTRY_SIZE  16

struct msix_vector {
	uint32_t addr_lo, addr_hi, data, ctrl;
	int gsi;
	int fd; /* irqfd */
	bool pending;
};

struct msix {
	struct pci_device *dev;
	pthread_mutex_t lock;
	unsigned nvec;
	unsigned cap;      /* capability offset in configuration space */
	bool enabled;      /* MSI-X Enable in Message Control */
	bool func_masked;  /* Function Mask */
	struct msix_vector vec[MSIX_MAX_VECTORS];
};

/* Add the capability to dev and allocate nvec GSIs with irqfds; the table sits at
 * table_off and the PBA at pba_off in BAR bar. */
int msix_init(struct msix *m, struct pci_device *dev, unsigned nvec, unsigned bar,
	      uint32_t table_off, uint32_t pba_off);

/* The device's config_written hook must pass configuration writes here. */
void msix_config_written(struct msix *m, unsigned offset, unsigned size);

/* Table and PBA accesses, offsets relative to their start. */
uint64_t msix_table_read(struct msix *m, uint64_t offset, unsigned size);
void msix_table_write(struct msix *m, uint64_t offset, unsigned size, uint64_t value);
uint64_t msix_pba_read(struct msix *m, uint64_t offset, unsigned size);

/* Deliver vector (or mark it pending while masked). Any thread. */
void msix_notify(struct msix *m, unsigned vector);

#endif
