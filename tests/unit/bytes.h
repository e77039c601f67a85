/* Reading what a device or a table builder wrote: integers of n bytes and byte checksums. */
#ifndef SMOLVM_TEST_BYTES_H
#define SMOLVM_TEST_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline uint64_t be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* ACPI tables sum to 0 over their length. */
static inline uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

#endif
