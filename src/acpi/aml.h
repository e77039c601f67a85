/*
 * A small builder for ACPI Machine Language (ACPI 6.x, chapter 20) and the resource
 * descriptors that _CRS returns (chapter 6.4), enough for our DSDT.
 *
 * The builder writes into a caller's fixed buffer. Errors are sticky: the first one is kept in
 * aml->err and every later call does nothing, so a table is built with straight-line code and
 * checked once at the end. Objects that carry a PkgLength (Scope, Device, Package, Buffer) are
 * opened with a *_begin() call that returns a mark and closed with the matching *_end(mark); the
 * length is inserted when the object is closed, so nesting needs no size computed in advance.
 */
#ifndef SMOLVM_AML_H
#define SMOLVM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err; /* 0, or the first error: -ENOSPC, -EINVAL (bad name or range), -E2BIG */
};

void aml_init(struct aml *a, void *buf, size_t cap);
/* Raw bytes, for what the helpers below do not cover. */
void aml_append(struct aml *a, const void *data, size_t n);

/* PkgLength encoding of a total length that counts the encoding itself: 1 to 4 bytes written to
 * out, and their number returned, or -E2BIG past the 28-bit limit. */
int aml_pkglength_encode(uint8_t out[4], uint32_t length);

/* Data objects. Integers take their shortest encoding (Zero, One, Ones, Byte...QWord); Ones is
 * all 64 bits set, which is right because our definition blocks are revision 2. */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* A 7-character PNP id such as "PNP0A03", compressed into the 32-bit EISA form. */
void aml_eisaid(struct aml *a, const char *id);
/* A name path: optional '\' or '^' prefixes, then '.'-separated segments of 1-4 characters
 * (A-Z, 0-9, '_', not starting with a digit), padded with '_' to 4. */
void aml_namestring(struct aml *a, const char *path);

/* Name(name, value): the value is the next object appended. */
void aml_name(struct aml *a, const char *name);
void aml_name_integer(struct aml *a, const char *name, uint64_t v);
void aml_name_eisaid(struct aml *a, const char *name, const char *id);

size_t aml_scope_begin(struct aml *a, const char *path);
size_t aml_device_begin(struct aml *a, const char *name);
/* A package of nelem elements: the caller appends exactly that many objects. */
size_t aml_package_begin(struct aml *a, uint8_t nelem);
/* Closes a Scope, Device or Package opened at mark. */
void aml_pkg_end(struct aml *a, size_t mark);

/* Buffer: the bytes appended between begin and end, with their count. */
size_t aml_buffer_begin(struct aml *a);
void aml_buffer_end(struct aml *a, size_t mark);

/*
 * Resource templates: a Buffer of descriptors closed by an End Tag whose checksum makes the
 * descriptors sum to zero. Address-space descriptors describe a fixed range [base, base + len)
 * with min and max fixed; a producer is a bridge window, a consumer a range the device decodes.
 */
size_t aml_rt_begin(struct aml *a);
void aml_rt_end(struct aml *a, size_t mark);
/* Fixed I/O ports with 16-bit decode. */
void aml_rt_io(struct aml *a, uint16_t base, uint8_t len);
/* An ISA IRQ, edge-triggered and active high (IRQNoFlags). */
void aml_rt_irq(struct aml *a, uint8_t irq);
/* One GSI the device consumes, not shared (Extended Interrupt Descriptor). */
void aml_rt_interrupt(struct aml *a, uint32_t gsi, bool level, bool active_low);
void aml_rt_word_bus(struct aml *a, uint16_t first, uint16_t last);
void aml_rt_word_io(struct aml *a, uint16_t base, uint32_t len);
/* Read-write, non-cacheable memory; a range past the descriptor's width is -EINVAL. */
void aml_rt_dword_memory(struct aml *a, bool producer, uint64_t base, uint64_t len);
void aml_rt_qword_memory(struct aml *a, bool producer, uint64_t base, uint64_t len);

/*
 * Control methods (ACPI 6.x 19.6 and 20.2.5), enough for a GED's _EVT: operation regions and
 * their fields, methods, If, and a few operators. Operators are written in AML's own prefix
 * order: the aml_op_*() call emits the operator, then the caller appends its operands as the
 * next objects (names, integers, locals, other operators), e.g. Store(EVTS, Local0) is
 * aml_op_store(a); aml_namestring(a, "EVTS"); aml_local(a, 0);
 */
enum aml_region_space { AML_REGION_SYSTEM_MEMORY = 0, AML_REGION_SYSTEM_IO = 1 };
/* FieldFlags: access width in bits 3:0, update rule in bits 6:5 (lock rule 0: NoLock). */
#define AML_FIELD_DWORD_ACC      0x03
#define AML_FIELD_WRITE_AS_ZEROS 0x40

void aml_operation_region(struct aml *a, const char *name, enum aml_region_space space,
			  uint64_t offset, uint64_t len);
/* Field(region, flags) { units }: close with aml_pkg_end(). */
size_t aml_field_begin(struct aml *a, const char *region, uint8_t flags);
/* A named field unit of bits bits: name is one NameSeg (1-4 characters, no path). */
void aml_field_unit(struct aml *a, const char *name, uint32_t bits);
/* Method(name, nargs (0-7), Serialized or NotSerialized): close with aml_pkg_end(). */
size_t aml_method_begin(struct aml *a, const char *name, unsigned nargs, bool serialized);
/* If (predicate) { body }: append the predicate, then the body; close with aml_pkg_end(). */
size_t aml_if_begin(struct aml *a);

/* LocalN (0-7) and ArgN (0-6) as operands or targets. */
void aml_local(struct aml *a, unsigned n);
void aml_arg(struct aml *a, unsigned n);
/* No target: the result of an operator such as And is not stored. */
void aml_null_target(struct aml *a);

/* Store(source, target) */
void aml_op_store(struct aml *a);
/* And(operand, operand, target) */
void aml_op_and(struct aml *a);
/* Notify(object, value) */
void aml_op_notify(struct aml *a);

#endif
