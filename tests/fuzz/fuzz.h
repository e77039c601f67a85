/*
 * What every libFuzzer target here shares: the check that stops the fuzzer (a trap, so
 * libFuzzer saves the input) and a reader that takes operands from the input, little-endian,
 * zeros once the input has ended.
 */
#ifndef SMOLVM_FUZZ_H
#define SMOLVM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define fuzz_assert(c)                                                                             \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

/* The next n (at most 8) bytes as a little-endian number; missing bytes read as zero. */
static inline uint64_t fuzz_take(struct fuzz_input *in, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

/* Up to n bytes of the input in place (fewer where it ends): their start; *got their count. */
static inline const uint8_t *fuzz_take_bytes(struct fuzz_input *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	if (n > in->left)
		n = in->left;
	in->p += n;
	in->left -= n;
	*got = n;
	return p;
}

#endif
