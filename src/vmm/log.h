/* One format for every message smolvm prints: "smolvm: <what>: <why>". */
#ifndef SMOLVM_LOG_H
#define SMOLVM_LOG_H

#include <stdbool.h>

/* Exit statuses shared by every part of smolvm. */
enum {
	EXIT_GUEST_ERROR = 1, /* the VM failed: KVM missing, triple fault, internal error */
	EXIT_USAGE = 2,       /* bad command line or unusable input file */
};

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Debug messages appear only when SMOLVM_DEBUG is set in the environment. */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether they do: to skip the work of a message nobody will see. */
bool log_debug_enabled(void);
_Noreturn void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
