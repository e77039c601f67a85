/*
 * Fuzz the monitor's command lines: whoever can open the socket sends any bytes. The input is
 * a stream cut at its newlines, as the socket side cuts it, and every piece is also run whole
 * (so lines past MONITOR_LINE_MAX and ones holding NULs are covered). Whatever it holds, each
 * line gets at most one reply, NUL-terminated inside MONITOR_REPLY_MAX, printable ASCII only,
 * and runs at most one command, and only a line that is exactly a command's name runs it.
 *
 * Seeds: tests/fuzz/corpus/fuzz_monitor.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "monitor/monitor_commands.h"
#include "fuzz.h"

static unsigned hook_calls;
static bool hook_failed; /* the hook ran and refused: its error is the reply */

static void fuzz_press(void *opaque)
{
	hook_calls++;
}

static const char *fuzz_status(void *opaque)
{
	hook_calls++;
	return "running";
}

static void fuzz_quit(void *opaque)
{
	hook_calls++;
}

/* Counts the call; never writes a file (the fuzzer names any path). */
static int fuzz_screendump(void *opaque, const char *path, enum screendump_format fmt)
{
	hook_calls++;
	hook_failed = path[0] == 'n';
	return hook_failed ? -ENODATA : 0;
}

static const struct monitor_target fuzz_target = {
	.press_power_button = fuzz_press,
	.status = fuzz_status,
	.quit = fuzz_quit,
	.screendump = fuzz_screendump,
};

static void fuzz_line(const uint8_t *line, size_t len)
{
	char reply[MONITOR_REPLY_MAX + 1];
	size_t n;

	memset(reply, 0x55, sizeof(reply));
	hook_calls = 0;
	hook_failed = false;
	if (!monitor_execute(&fuzz_target, (const char *)line, len, reply)) {
		fuzz_assert(hook_calls == 0);
		return;
	}
	fuzz_assert(reply[MONITOR_REPLY_MAX] == 0x55); /* nothing written past the reply */
	n = strnlen(reply, MONITOR_REPLY_MAX);
	fuzz_assert(n < MONITOR_REPLY_MAX && n > 0);
	for (size_t i = 0; i < n; i++)
		fuzz_assert(reply[i] >= 0x20 && reply[i] < 0x7f);
	fuzz_assert(hook_calls <= 1);
	/* An error ran nothing (or is the refusal of the hook that ran); a command ran only
	 * from a line short enough to hold it. */
	if (strncmp(reply, "error: ", 7) == 0)
		fuzz_assert(hook_calls == 0 || hook_failed);
	if (hook_calls)
		fuzz_assert(len <= MONITOR_LINE_MAX && memchr(line, '\0', len) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		fuzz_line(p, len);
		p += len + (nl ? 1 : 0);
	}
	fuzz_line(data, size);
	return 0;
}
