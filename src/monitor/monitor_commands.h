/*
 * The monitor's commands: one line in, one line out. A line is a command name (one or more
 * words, such as "info status") and then its arguments; the table in monitor_commands.c maps
 * each name to a handler, so a new command is one row there and a handler in its own file.
 * Lines come from whoever can open the socket and are parsed as hostile input: any bytes, any
 * length up to MONITOR_LINE_MAX, and a reply that always fits MONITOR_REPLY_MAX.
 */
#ifndef SMOLVM_MONITOR_COMMANDS_H
#define SMOLVM_MONITOR_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/features.h"

#define MONITOR_LINE_MAX  1024 /* bytes of one command line, without its newline */
#define MONITOR_REPLY_MAX 256  /* bytes of one reply, with its NUL and without its newline */

/* What the commands act on: main.c wires these to the VM, tests to fakes. Main thread only. */
struct monitor_target {
	void (*press_power_button)(void *opaque);
	const char *(*status)(void *opaque); /* one word, e.g. "running" */
	void (*quit)(void *opaque);
	/* Writes the guest's screen to path as fmt; 0 or -errno (-ENOTSUP: no display). */
	int (*screendump)(void *opaque, const char *path, enum screendump_format fmt);
	void *opaque;
};

/* A handler: args is what follows the command's name, trimmed (maybe ""); the reply goes to
 * reply (size bytes) as one line without a newline: "ok", a value, or "error: why". */
typedef void monitor_command_fn(const struct monitor_target *t, const char *args, char *reply,
				size_t size);

/*
 * Run one line (len bytes, without its newline; a trailing CR is dropped). Writes the reply,
 * NUL-terminated and free of control characters, to reply (MONITOR_REPLY_MAX bytes) and returns
 * true; returns false for a blank line, which gets no reply. A line longer than
 * MONITOR_LINE_MAX is answered with an error and not run.
 */
bool monitor_execute(const struct monitor_target *t, const char *line, size_t len,
		     char reply[MONITOR_REPLY_MAX]);

#endif
