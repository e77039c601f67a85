#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void log_vprint(const char *level, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "smolvm: %s%s\n", level, line);
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

bool log_debug_enabled(void)
{
	static int enabled = -1;
	if (enabled < 0)
		enabled = getenv("SMOLVM_DEBUG") != NULL;
	return enabled;
}

void log_debug(const char *fmt, ...)
{
	if (!log_debug_enabled())
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
