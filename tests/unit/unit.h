/* A tiny unit-test harness: CHECK() records a failure and keeps going; main returns the count. */
#ifndef SMOLVM_UNIT_H
#define SMOLVM_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			unit_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n",        \
				__FILE__, __LINE__, #a, _a, #b, _b);                               \
			unit_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__,   \
				__LINE__, _a ? _a : "(null)", _b ? _b : "(null)");                 \
			unit_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define RUN(test)                                                                                  \
	do {                                                                                       \
		int _before = unit_failures;                                                       \
		test();                                                                            \
		printf("%s %s\n", unit_failures == _before ? "ok  " : "FAIL", #test);              \
	} while (0)

#define UNIT_RESULT() (unit_failures ? 1 : 0)

#endif
