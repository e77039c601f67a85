/* AML for control methods: the encodings of ACPI 6.x section 20.2.5 (named objects, statements
 * and expressions). Errors are the builder's sticky ones (acpi/aml.h). */
#include "acpi/aml.h"

#include <errno.h>
#include <string.h>

enum {
	AML_NULL_NAME = 0x00,
	AML_METHOD = 0x14,
	AML_EXT_PREFIX = 0x5b,
	AML_EXT_OP_REGION = 0x80,
	AML_EXT_FIELD = 0x81,
	AML_LOCAL0 = 0x60,
	AML_ARG0 = 0x68,
	AML_STORE = 0x70,
	AML_AND = 0x7b,
	AML_NOTIFY = 0x86,
	AML_IF = 0xa0,
};

#define AML_MAX_LOCAL 7
#define AML_MAX_ARG   6
#define AML_MAX_NARGS 7
#define AML_METHOD_SERIALIZED 0x08

static void aml_op(struct aml *a, uint8_t op)
{
	aml_append(a, &op, 1);
}

static void aml_ext_op(struct aml *a, uint8_t op)
{
	const uint8_t b[2] = {AML_EXT_PREFIX, op};

	aml_append(a, b, sizeof(b));
}

static void aml_fail_inval(struct aml *a)
{
	if (!a->err)
		a->err = -EINVAL;
}

void aml_operation_region(struct aml *a, const char *name, enum aml_region_space space,
			  uint64_t offset, uint64_t len)
{
	uint8_t s = (uint8_t)space;

	aml_ext_op(a, AML_EXT_OP_REGION);
	aml_namestring(a, name);
	aml_append(a, &s, 1);
	aml_integer(a, offset);
	aml_integer(a, len);
}

size_t aml_field_begin(struct aml *a, const char *region, uint8_t flags)
{
	size_t mark;

	aml_ext_op(a, AML_EXT_FIELD);
	mark = a->len;
	aml_namestring(a, region);
	aml_append(a, &flags, 1);
	return mark;
}

void aml_field_unit(struct aml *a, const char *name, uint32_t bits)
{
	uint8_t len[4];
	size_t n = strlen(name);
	int width;

	/* A NamedField is a bare NameSeg: no prefix, no path, always 4 bytes. */
	if (n == 0 || n > 4 || strpbrk(name, "\\^.")) {
		aml_fail_inval(a);
		return;
	}
	width = aml_pkglength_encode(len, bits); /* the unit's size in bits, as a PkgLength */
	if (width < 0 || bits == 0) {
		aml_fail_inval(a);
		return;
	}
	aml_namestring(a, name);
	aml_append(a, len, (size_t)width);
}

size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized)
{
	uint8_t flags = (uint8_t)(nargs | (serialized ? AML_METHOD_SERIALIZED : 0));
	size_t mark;

	if (nargs > AML_MAX_NARGS)
		aml_fail_inval(a);
	aml_op(a, AML_METHOD);
	mark = a->len;
	aml_namestring(a, name);
	aml_append(a, &flags, 1); /* sync level 0 */
	return mark;
}

size_t aml_if_begin(struct aml *a)
{
	aml_op(a, AML_IF);
	return a->len;
}

void aml_local(struct aml *a, unsigned n)
{
	if (n > AML_MAX_LOCAL)
		aml_fail_inval(a);
	else
		aml_op(a, (uint8_t)(AML_LOCAL0 + n));
}

void aml_arg(struct aml *a, unsigned n)
{
	if (n > AML_MAX_ARG)
		aml_fail_inval(a);
	else
		aml_op(a, (uint8_t)(AML_ARG0 + n));
}

void aml_null_target(struct aml *a)
{
	aml_op(a, AML_NULL_NAME);
}

void aml_op_store(struct aml *a)
{
	aml_op(a, AML_STORE);
}

void aml_op_and(struct aml *a)
{
	aml_op(a, AML_AND);
}

void aml_op_notify(struct aml *a)
{
	aml_op(a, AML_NOTIFY);
}
