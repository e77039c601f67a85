#include "vmm/log.h"

#include "term/term.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Raw terminal mode turns "\n" into a bare line feed, so messages end in "\r\n" there. */
static const char *log_eol(void)
{
	return term_is_raw() ? "\r\n" : "\n";
}

static void log_vprint(const char *level, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "smolvm: %s%s%s", level, line, log_eol());
}

void log_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vprint("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vprint("warning: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	static int enabled = -1;
	if (enabled < 0)
		enabled = getenv("SMOLVM_DEBUG") != NULL;
	if (!enabled)
		return;
	va_list ap;
	va_start(ap, fmt);
	log_vprint("debug: ", fmt, ap);
	va_end(ap);
}

void die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vprint("", fmt, ap);
	va_end(ap);
	exit(status);
}
