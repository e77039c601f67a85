/*
 * One dispatch for every address space: a sorted range map serves port I/O and MMIO.
 * Handlers get offsets into their range, never absolute addresses. Reads nobody claims
 * return all-ones, writes nobody claims are dropped, as on a real bus; with SMOLVM_DEBUG
 * set, both are logged (the first few times per address, then at each power of two).
 */
#ifndef SMOLVM_BUS_H
#define SMOLVM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct bus_ops {
	/* size is 1, 2, 4 or 8; values are little-endian, as the guest sees them. */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	void (*write)(void *opaque, uint64_t offset, unsigned size, uint64_t value);
	/* The device's name in SMOLVM_STATS's table; label, if set, names it per instance. */
	const char *name;
	const char *(*label)(void *opaque);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus {
	const char *name;
	pthread_rwlock_t lock; /* ranges move when the guest reprograms a PCI BAR */
	struct bus_range *ranges;
	unsigned nranges, cap;
};

void bus_init(struct bus *bus, const char *name);
/* 0, or -EEXIST if [base, base+len) overlaps a registered range, -EINVAL for len 0 or overflow. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque);
/* Remove the range registered at exactly base for opaque; -ENOENT if there is none. */
int bus_unregister(struct bus *bus, uint64_t base, void *opaque);

/* Dispatch one access of size bytes (1..8) at addr. Returns false when no range claims it. */
bool bus_read(struct bus *bus, uint64_t addr, unsigned size, uint64_t *value);
bool bus_write(struct bus *bus, uint64_t addr, unsigned size, uint64_t value);

/* Who claims addr, for statistics: the device's name ("?" if its ops have none) and the base
 * of its range. False, with *name NULL, when nobody does. */
bool bus_describe(struct bus *bus, uint64_t addr, const char **name, uint64_t *base);

#endif
