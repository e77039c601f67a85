/* The seccomp filter of each thread kind (sandbox/seccomp_filters.c). */
#ifndef SMOLVM_SECCOMP_FILTERS_H
#define SMOLVM_SECCOMP_FILTERS_H

#include <seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

/* A new libseccomp filter for kind: what it allows passes, what it forbids takes
 * violation (SCMP_ACT_TRAP in smolvm, so that the SIGSYS handler names the call). window:
 * there is a window, which the device workers wake through SDL (its X11 connection).
 * NULL, with errno set, if libseccomp refuses a rule. */
scmp_filter_ctx seccomp_filter_build(enum sandbox_kind kind, uint32_t violation, bool window);

#endif
