/* CHECK_AML for the unit tests of AML encoders (test_acpi.c, test_acpi_ged.c). */
#ifndef SMOLVM_TEST_AML_CHECK_H
#define SMOLVM_TEST_AML_CHECK_H

#include <string.h>

#include "acpi/aml.h"
#include "unit.h"

/* Builds into a fresh AML buffer and compares with the expected bytes. */
#define CHECK_AML(build, ...)                                                                      \
	do {                                                                                       \
		static const uint8_t _want[] = {__VA_ARGS__};                                      \
		uint8_t _buf[64];                                                                  \
		struct aml am;                                                                     \
		aml_init(&am, _buf, sizeof(_buf));                                                 \
		build;                                                                             \
		CHECK_EQ(am.err, 0);                                                               \
		CHECK_EQ(am.len, sizeof(_want));                                                   \
		CHECK(am.len == sizeof(_want) && memcmp(_buf, _want, sizeof(_want)) == 0);         \
	} while (0)

#endif
