/* AML byte code and resource descriptors; the encodings are those of ACPI 6.x sections 20.2 and
 * 6.4. All multi-byte values are little-endian. */
#include "acpi/aml.h"

#include <errno.h>
#include <string.h>

enum {
	AML_ZERO = 0x00,
	AML_ONE = 0x01,
	AML_NAME = 0x08,
	AML_BYTE_PREFIX = 0x0a,
	AML_WORD_PREFIX = 0x0b,
	AML_DWORD_PREFIX = 0x0c,
	AML_STRING_PREFIX = 0x0d,
	AML_QWORD_PREFIX = 0x0e,
	AML_SCOPE = 0x10,
	AML_BUFFER = 0x11,
	AML_PACKAGE = 0x12,
	AML_DUAL_NAME_PREFIX = 0x2e,
	AML_MULTI_NAME_PREFIX = 0x2f,
	AML_EXT_PREFIX = 0x5b,
	AML_EXT_DEVICE = 0x82,
	AML_ROOT_CHAR = '\\',
	AML_PARENT_PREFIX = '^',
	AML_ONES = 0xff,
};

/* Resource descriptor tags: small items carry their length in the tag byte. */
enum {
	RT_IRQ_NOFLAGS = 0x22,
	RT_IO = 0x47,
	RT_END_TAG = 0x79,
	RT_DWORD_ADDR = 0x87,
	RT_WORD_ADDR = 0x88,
	RT_EXT_IRQ = 0x89,
	RT_QWORD_ADDR = 0x8a,
};

/* Extended Interrupt Descriptor flags; exclusive and not wake-capable when clear. */
#define RT_IRQ_CONSUMER   0x01
#define RT_IRQ_EDGE       0x02
#define RT_IRQ_ACTIVE_LOW 0x04

enum { RT_SPACE_MEMORY = 0, RT_SPACE_IO = 1, RT_SPACE_BUS = 2 };

/* General flags of address-space descriptors: the range is exactly [min, max]. */
#define RT_MIN_FIXED 0x04
#define RT_MAX_FIXED 0x08
#define RT_CONSUMER  0x01
#define RT_MEM_RW    0x01 /* memory type-specific flags: read-write, non-cacheable */
#define RT_IO_ENTIRE 0x03 /* I/O type-specific flags: ISA and non-ISA ranges */

void aml_init(struct aml *a, void *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->len = 0;
	a->err = 0;
}

static void aml_fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

/* Insert n bytes at pos, moving what follows. */
static void aml_insert(struct aml *a, size_t pos, const void *data, size_t n)
{
	if (a->err)
		return;
	if (pos > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	if (n > a->cap - a->len) {
		aml_fail(a, -ENOSPC);
		return;
	}
	memmove(a->buf + pos + n, a->buf + pos, a->len - pos);
	memcpy(a->buf + pos, data, n);
	a->len += n;
}

void aml_append(struct aml *a, const void *data, size_t n)
{
	aml_insert(a, a->len, data, n);
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_append(a, &b, 1);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];

	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_append(a, b, n);
}

int aml_pkglength_encode(uint8_t out[4], uint32_t length)
{
	int n;

	if (length <= 0x3f) {
		out[0] = (uint8_t)length;
		return 1;
	}
	if (length <= 0xfff)
		n = 2;
	else if (length <= 0xfffff)
		n = 3;
	else if (length <= 0xfffffff)
		n = 4;
	else
		return -E2BIG;
	/* Lead byte: count of following bytes in bits 7:6, the low nibble of the length in 3:0. */
	out[0] = (uint8_t)((n - 1) << 6 | (length & 0xf));
	for (int i = 1; i < n; i++)
		out[i] = (uint8_t)(length >> (4 + 8 * (i - 1)));
	return n;
}

/* Close the object whose contents start at mark: insert prefix (data that belongs inside the
 * package, such as a Buffer's size) and, before it, a PkgLength covering itself and the rest. */
static void aml_pkg_close(struct aml *a, size_t mark, const uint8_t *prefix, size_t prefix_len)
{
	uint8_t head[4 + 9];
	size_t content;
	int n = 0;

	if (a->err)
		return;
	if (mark > a->len || prefix_len > 9) {
		aml_fail(a, -EINVAL);
		return;
	}
	content = a->len - mark + prefix_len;
	if (content > 0xfffffff) {
		aml_fail(a, -E2BIG);
		return;
	}
	/* The PkgLength counts its own bytes, so its size depends on itself: take the first size
	 * whose encoding of (content + size) really is that size. */
	for (int size = 1; size <= 4; size++) {
		n = aml_pkglength_encode(head, (uint32_t)(content + size));
		if (n == size)
			break;
	}
	if (n < 0) {
		aml_fail(a, -E2BIG);
		return;
	}
	if (prefix_len)
		memcpy(head + n, prefix, prefix_len);
	aml_insert(a, mark, head, n + prefix_len);
}

static size_t integer_encode(uint8_t out[9], uint64_t v)
{
	unsigned width;

	if (v == 0 || v == 1) {
		out[0] = v ? AML_ONE : AML_ZERO;
		return 1;
	}
	if (v == UINT64_MAX) {
		out[0] = AML_ONES;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		width = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		width = 2;
	} else if (v <= 0xffffffff) {
		out[0] = AML_DWORD_PREFIX;
		width = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		width = 8;
	}
	for (unsigned i = 0; i < width; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + width;
}

void aml_integer(struct aml *a, uint64_t v)
{
	uint8_t b[9];

	aml_append(a, b, integer_encode(b, v));
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p > 0x7f) {
			aml_fail(a, -EINVAL); /* AML strings are ASCII */
			return;
		}
	}
	aml_byte(a, AML_STRING_PREFIX);
	aml_append(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void aml_eisaid(struct aml *a, const char *id)
{
	unsigned c[3];
	int h[4];

	if (strlen(id) != 7) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			aml_fail(a, -EINVAL);
			return;
		}
		c[i] = (unsigned)(id[i] - 'A' + 1); /* 5 bits: 'A' is 1 */
	}
	for (int i = 0; i < 4; i++) {
		h[i] = hex_digit(id[3 + i]);
		if (h[i] < 0) {
			aml_fail(a, -EINVAL);
			return;
		}
	}
	/* The three letters pack into the first 15 bits (big-endian, bit 15 clear), the product
	 * number follows as two bytes in reading order. */
	uint8_t b[5] = {
	    AML_DWORD_PREFIX,
	    (uint8_t)(c[0] << 2 | c[1] >> 3),
	    (uint8_t)((c[1] & 7) << 5 | c[2]),
	    (uint8_t)(h[0] << 4 | h[1]),
	    (uint8_t)(h[2] << 4 | h[3]),
	};
	aml_append(a, b, sizeof(b));
}

static bool nameseg_char_ok(char c, bool lead)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!lead && c >= '0' && c <= '9');
}

void aml_namestring(struct aml *a, const char *path)
{
	const char *p = path;
	uint8_t segs[255][4];
	unsigned nsegs = 0;

	if (*p == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == AML_PARENT_PREFIX) {
			aml_byte(a, AML_PARENT_PREFIX);
			p++;
		}
	}
	while (*p) {
		unsigned n = 0;

		if (nsegs == 255) {
			aml_fail(a, -EINVAL);
			return;
		}
		while (*p && *p != '.') {
			if (n == 4 || !nameseg_char_ok(*p, n == 0)) {
				aml_fail(a, -EINVAL);
				return;
			}
			segs[nsegs][n++] = (uint8_t)*p++;
		}
		if (n == 0 || (*p == '.' && !p[1])) {
			aml_fail(a, -EINVAL); /* empty segment */
			return;
		}
		memset(segs[nsegs] + n, '_', 4 - n);
		nsegs++;
		if (*p == '.')
			p++;
	}
	if (nsegs == 0) {
		aml_byte(a, AML_ZERO); /* NullName */
	} else if (nsegs == 2) {
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	} else if (nsegs > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)nsegs);
	}
	aml_append(a, segs, 4 * nsegs);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME);
	aml_namestring(a, name);
}

void aml_name_integer(struct aml *a, const char *name, uint64_t v)
{
	aml_name(a, name);
	aml_integer(a, v);
}

void aml_name_eisaid(struct aml *a, const char *name, const char *id)
{
	aml_name(a, name);
	aml_eisaid(a, id);
}

size_t aml_scope_begin(struct aml *a, const char *path)
{
	size_t mark;

	aml_byte(a, AML_SCOPE);
	mark = a->len;
	aml_namestring(a, path);
	return mark;
}

size_t aml_device_begin(struct aml *a, const char *name)
{
	size_t mark;

	aml_byte(a, AML_EXT_PREFIX);
	aml_byte(a, AML_EXT_DEVICE);
	mark = a->len;
	aml_namestring(a, name);
	return mark;
}

size_t aml_package_begin(struct aml *a, uint8_t nelem)
{
	size_t mark;

	aml_byte(a, AML_PACKAGE);
	mark = a->len;
	aml_byte(a, nelem);
	return mark;
}

void aml_pkg_end(struct aml *a, size_t mark)
{
	aml_pkg_close(a, mark, NULL, 0);
}

size_t aml_buffer_begin(struct aml *a)
{
	aml_byte(a, AML_BUFFER);
	return a->len;
}

void aml_buffer_end(struct aml *a, size_t mark)
{
	uint8_t size[9];

	if (a->err)
		return;
	if (mark > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_pkg_close(a, mark, size, integer_encode(size, a->len - mark));
}

size_t aml_rt_begin(struct aml *a)
{
	return aml_buffer_begin(a);
}

void aml_rt_end(struct aml *a, size_t mark)
{
	uint8_t sum = 0;

	aml_byte(a, RT_END_TAG);
	if (a->err)
		return;
	if (mark > a->len) {
		aml_fail(a, -EINVAL);
		return;
	}
	for (size_t i = mark; i < a->len; i++)
		sum += a->buf[i];
	aml_byte(a, (uint8_t)-sum);
	aml_buffer_end(a, mark);
}

void aml_rt_io(struct aml *a, uint16_t base, uint8_t len)
{
	const uint8_t d[8] = {
	    RT_IO,	   0x01 /* 16-bit decode */, (uint8_t)base,	(uint8_t)(base >> 8),
	    (uint8_t)base, (uint8_t)(base >> 8),     1 /* alignment */, len,
	};

	aml_append(a, d, sizeof(d));
}

void aml_rt_irq(struct aml *a, uint8_t irq)
{
	if (irq > 15) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, RT_IRQ_NOFLAGS);
	aml_le(a, 1u << irq, 2);
}

void aml_rt_interrupt(struct aml *a, uint32_t gsi, bool level, bool active_low)
{
	const uint8_t d[9] = {
	    RT_EXT_IRQ,
	    6, 0, /* the bytes after the length: flags, count and one 32-bit number */
	    (uint8_t)(RT_IRQ_CONSUMER | (level ? 0 : RT_IRQ_EDGE) | (active_low ? RT_IRQ_ACTIVE_LOW : 0)),
	    1,
	    (uint8_t)gsi, (uint8_t)(gsi >> 8), (uint8_t)(gsi >> 16), (uint8_t)(gsi >> 24),
	};

	aml_append(a, d, sizeof(d));
}

/* Word, DWord and QWord address-space descriptors differ only in tag and field width:
 * type, flags, then granularity, min, max, translation offset and length. */
static void rt_address(struct aml *a, uint8_t tag, unsigned width, uint8_t space, uint8_t gflags,
		       uint8_t tflags, uint64_t base, uint64_t len)
{
	uint64_t limit = width == 8 ? UINT64_MAX : (1ULL << (8 * width)) - 1;

	if (len == 0 || base > limit || len - 1 > limit - base) {
		aml_fail(a, -EINVAL);
		return;
	}
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * width, 2);
	aml_byte(a, space);
	aml_byte(a, gflags | RT_MIN_FIXED | RT_MAX_FIXED);
	aml_byte(a, tflags);
	aml_le(a, 0, width); /* granularity: must be 0 for a fixed window */
	aml_le(a, base, width);
	aml_le(a, base + len - 1, width);
	aml_le(a, 0, width); /* no translation between host bridge sides */
	aml_le(a, len, width);
}

void aml_rt_word_bus(struct aml *a, uint16_t first, uint16_t last)
{
	if (last < first) {
		aml_fail(a, -EINVAL);
		return;
	}
	rt_address(a, RT_WORD_ADDR, 2, RT_SPACE_BUS, 0, 0, first, (uint64_t)last - first + 1);
}

void aml_rt_word_io(struct aml *a, uint16_t base, uint32_t len)
{
	rt_address(a, RT_WORD_ADDR, 2, RT_SPACE_IO, 0, RT_IO_ENTIRE, base, len);
}

void aml_rt_dword_memory(struct aml *a, bool producer, uint64_t base, uint64_t len)
{
	rt_address(a, RT_DWORD_ADDR, 4, RT_SPACE_MEMORY, producer ? 0 : RT_CONSUMER, RT_MEM_RW,
		   base, len);
}

void aml_rt_qword_memory(struct aml *a, bool producer, uint64_t base, uint64_t len)
{
	rt_address(a, RT_QWORD_ADDR, 8, RT_SPACE_MEMORY, producer ? 0 : RT_CONSUMER, RT_MEM_RW,
		   base, len);
}
