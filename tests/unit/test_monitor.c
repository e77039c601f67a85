/*
 * The monitor's command lines (monitor/monitor_commands.c): names matched word by word with any
 * blanks, arguments refused where none are taken, one sanitized reply line for anything, and
 * every command reaching its hook on the target exactly once.
 */
#include <errno.h>
#include <string.h>

#include "monitor/monitor_commands.h"
#include "unit.h"

static struct {
	unsigned presses, quits, statuses, dumps;
	int dump_result;
	enum screendump_format dump_format;
	char dump_path[MONITOR_LINE_MAX + 1];
} fake;

static void fake_press(void *opaque)
{
	fake.presses++;
}

static const char *fake_status(void *opaque)
{
	fake.statuses++;
	return "running";
}

static void fake_quit(void *opaque)
{
	fake.quits++;
}

static int fake_screendump(void *opaque, const char *path, enum screendump_format fmt)
{
	fake.dumps++;
	fake.dump_format = fmt;
	snprintf(fake.dump_path, sizeof(fake.dump_path), "%s", path);
	return fake.dump_result;
}

static const struct monitor_target target = {
	.press_power_button = fake_press,
	.status = fake_status,
	.quit = fake_quit,
	.screendump = fake_screendump,
};

static char reply[MONITOR_REPLY_MAX];

/* Runs a NUL-terminated line; returns the reply, or NULL when there was none. */
static const char *run(const char *line)
{
	memset(reply, 'Z', sizeof(reply));
	if (!monitor_execute(&target, line, strlen(line), reply))
		return NULL;
	return reply;
}

static void reset(void)
{
	memset(&fake, 0, sizeof(fake));
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_commands_reach_their_hooks(void)
{
	reset();
	CHECK_STR(run("system_powerdown"), "ok");
	CHECK_EQ(fake.presses, 1);
	CHECK_STR(run("info status"), "running");
	CHECK_EQ(fake.statuses, 1);
	CHECK_STR(run("quit"), "ok");
	CHECK_EQ(fake.quits, 1);
	CHECK(starts_with(run("help"), "commands: system_powerdown, info status, quit, screendump"));
	CHECK_EQ(fake.presses + fake.quits + fake.statuses, 3);
}

static void test_blanks_and_line_ends(void)
{
	reset();
	CHECK_STR(run("  info \t  status  "), "running");
	CHECK_STR(run("info status\r"), "running"); /* telnet and socat -crlf send CRLF */
	CHECK_STR(run("\tquit\t"), "ok");
	CHECK(run("") == NULL);
	CHECK(run("   \t ") == NULL);
	CHECK(run("\r") == NULL);
	CHECK_EQ(fake.statuses, 2);
	CHECK_EQ(fake.quits, 1);
}

static void test_names_are_whole_words(void)
{
	reset();
	CHECK(starts_with(run("quitx"), "error: unknown command 'quitx'"));
	CHECK(starts_with(run("qui"), "error: unknown command"));
	CHECK(starts_with(run("info"), "error: unknown command 'info'"));
	CHECK(starts_with(run("info statusx"), "error: unknown command"));
	CHECK(starts_with(run("infostatus"), "error: unknown command"));
	CHECK(starts_with(run("QUIT"), "error: unknown command")); /* names are lower case */
	CHECK(starts_with(run("system_powerdown2"), "error: unknown command"));
	CHECK_EQ(fake.presses + fake.quits + fake.statuses, 0);
}

static void test_arguments_refused(void)
{
	reset();
	CHECK_STR(run("quit now"), "error: quit takes no arguments, not 'now'");
	CHECK(starts_with(run("info status all"), "error: info status takes no arguments"));
	CHECK(starts_with(run("system_powerdown  -f "), "error: system_powerdown takes no"));
	CHECK_EQ(fake.presses + fake.quits + fake.statuses, 0);
}

static void test_screendump(void)
{
	reset();
	CHECK_STR(run("screendump  /tmp/a b.ppm "), "ok");
	CHECK_EQ(fake.dumps, 1);
	CHECK_STR(fake.dump_path, "/tmp/a b.ppm"); /* trimmed, inner blanks kept */
	CHECK_EQ(fake.dump_format, SCREENDUMP_PPM);
	CHECK_STR(run("screendump"), "error: screendump needs a file name");
	/* The format by the extension, in any case. */
	CHECK_STR(run("screendump x.png"), "ok");
	CHECK_EQ(fake.dump_format, SCREENDUMP_PNG);
	CHECK_STR(run("screendump X.PPM"), "ok");
	CHECK_EQ(fake.dump_format, SCREENDUMP_PPM);
	CHECK_STR(run("screendump shot.Png"), "ok");
	CHECK_EQ(fake.dump_format, SCREENDUMP_PNG);
	CHECK_EQ(fake.dumps, 4);
	CHECK(starts_with(run("screendump x.jpg"), "error: screendump writes PNG or PPM"));
	CHECK(starts_with(run("screendump .pp"), "error: screendump writes PNG or PPM"));
	CHECK(starts_with(run("screendump .png"), "error: screendump writes PNG or PPM"));
	CHECK(starts_with(run("screendump png"), "error: screendump writes PNG or PPM"));
	CHECK_EQ(fake.dumps, 4);
	fake.dump_result = -ENOTSUP;
	CHECK(starts_with(run("screendump x.ppm"), "error: no display"));
	fake.dump_result = -ENODATA;
	CHECK(starts_with(run("screendump x.png"), "error: the guest shows nothing yet"));
	fake.dump_result = -EACCES;
	CHECK(starts_with(run("screendump x.ppm"), "error: screendump: Permission denied"));
	CHECK_EQ(fake.dumps, 7);
}

static bool reply_is_one_clean_line(const char *r)
{
	size_t n = strnlen(r, MONITOR_REPLY_MAX);

	if (n == MONITOR_REPLY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)r[i] < 0x20 || (unsigned char)r[i] >= 0x7f)
			return false;
	return true;
}

static void test_hostile_bytes(void)
{
	static const char junk[] = "\x01\x1b[2J\xff\xfe quit\n\x7f";
	static char big[MONITOR_LINE_MAX + 100];

	reset();
	/* Control bytes and non-ASCII are quoted as '?', the reply stays one line. */
	CHECK(monitor_execute(&target, junk, sizeof(junk) - 1, reply));
	CHECK(starts_with(reply, "error: unknown command '??[2J??"));
	CHECK(reply_is_one_clean_line(reply));
	/* A NUL inside the line: refused, not cut short into "quit". */
	CHECK(monitor_execute(&target, "quit\0 now", 9, reply));
	CHECK_STR(reply, "error: the line holds a NUL byte");
	CHECK_EQ(fake.quits, 0);
	/* Long lines: the quote is cut, the reply still fits. */
	memset(big, 'a', sizeof(big));
	CHECK(monitor_execute(&target, big, MONITOR_LINE_MAX, reply));
	CHECK(starts_with(reply, "error: unknown command 'aaaa"));
	CHECK(strstr(reply, "...'") != NULL);
	CHECK(reply_is_one_clean_line(reply));
	/* Past the limit: an error, and nothing runs even if it starts like a command. */
	memcpy(big, "quit ", 5);
	CHECK(monitor_execute(&target, big, MONITOR_LINE_MAX + 1, reply));
	CHECK_STR(reply, "error: line longer than 1024 bytes");
	/* Exactly at the limit, a real command with trailing blanks still runs. */
	memset(big, ' ', MONITOR_LINE_MAX);
	memcpy(big, "quit", 4);
	CHECK(monitor_execute(&target, big, MONITOR_LINE_MAX, reply));
	CHECK_STR(reply, "ok");
	CHECK_EQ(fake.quits, 1);
	/* Arguments quoted in an error are sanitized and cut too. */
	memset(big, '\n', MONITOR_LINE_MAX);
	memcpy(big, "quit ", 5);
	CHECK(monitor_execute(&target, big, MONITOR_LINE_MAX, reply));
	CHECK(starts_with(reply, "error: quit takes no arguments, not '???"));
	CHECK(reply_is_one_clean_line(reply));
	CHECK_EQ(fake.quits, 1);
}

int main(void)
{
	RUN(test_commands_reach_their_hooks);
	RUN(test_blanks_and_line_ends);
	RUN(test_names_are_whole_words);
	RUN(test_arguments_refused);
	RUN(test_screendump);
	RUN(test_hostile_bytes);
	return UNIT_RESULT();
}
