/* The Internet checksum: a one's-complement sum of 16-bit words (RFC 1071). */
#include "net/net_csum.h"

#include <errno.h>
#include <string.h>

/* Summing 32-bit words into 64 bits defers the carries; the order of the bytes in memory
 * is kept throughout (RFC 1071, 2(B)), so the result can be stored back as it is. */
uint64_t net_csum_add(uint64_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t w;
	uint16_t h;

	while (len >= 4) {
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len) /* an odd last byte is the first byte of a word padded with zero */
		sum += *p;
	return sum;
}

uint16_t net_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

int net_csum_complete(uint8_t *frame, size_t len, size_t start, size_t offset)
{
	uint16_t csum;

	if (start > len || offset > len - start || len - start - offset < 2)
		return -EINVAL;
	csum = ~net_csum_fold(net_csum_add(0, frame + start, len - start));
	if (csum == 0)
		csum = 0xffff;
	memcpy(frame + start + offset, &csum, 2);
	return 0;
}
