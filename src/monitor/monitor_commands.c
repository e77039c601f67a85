#include "monitor/monitor_commands.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* How much of a bad line an error message quotes. */
#define MONITOR_QUOTE_MAX 48

struct monitor_command {
	const char *name; /* words separated by one space */
	bool takes_args;
	monitor_command_fn *run;
};

static void reply_printf(char *reply, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reply_printf(char *reply, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reply, size, fmt, ap);
	va_end(ap);
}

static void cmd_system_powerdown(const struct monitor_target *t, const char *args, char *reply,
				 size_t size)
{
	t->press_power_button(t->opaque);
	reply_printf(reply, size, "ok");
}

static void cmd_info_status(const struct monitor_target *t, const char *args, char *reply,
			    size_t size)
{
	reply_printf(reply, size, "%s", t->status(t->opaque));
}

static void cmd_quit(const struct monitor_target *t, const char *args, char *reply, size_t size)
{
	t->quit(t->opaque);
	reply_printf(reply, size, "ok");
}

/* Whether name ends in ext (".png"), in any case, after at least one other byte. */
static bool has_extension(const char *name, const char *ext)
{
	size_t len = strlen(name), n = strlen(ext);

	return len > n && strcasecmp(name + len - n, ext) == 0;
}

/* screendump FILE: what the guest shows (the ui feature's display), as a PNG or a binary
 * PPM (P6) by the file's extension, as the users name their files. */
static void cmd_screendump(const struct monitor_target *t, const char *args, char *reply,
			   size_t size)
{
	enum screendump_format fmt;
	int ret;

	if (args[0] == '\0') {
		reply_printf(reply, size, "error: screendump needs a file name");
		return;
	}
	if (has_extension(args, ".png")) {
		fmt = SCREENDUMP_PNG;
	} else if (has_extension(args, ".ppm")) {
		fmt = SCREENDUMP_PPM;
	} else {
		reply_printf(reply, size,
			     "error: screendump writes PNG or PPM: name the file *.png or *.ppm");
		return;
	}
	ret = t->screendump(t->opaque, args, fmt);
	if (ret == -ENOTSUP)
		reply_printf(reply, size, "error: no display (run with -display none or sdl)");
	else if (ret == -ENODATA)
		reply_printf(reply, size, "error: the guest shows nothing yet");
	else if (ret < 0)
		reply_printf(reply, size, "error: screendump: %s", strerror(-ret));
	else
		reply_printf(reply, size, "ok");
}

static void cmd_help(const struct monitor_target *t, const char *args, char *reply, size_t size);

static const struct monitor_command monitor_commands[] = {
	{"system_powerdown", false, cmd_system_powerdown}, /* press the guest's power button */
	{"info status", false, cmd_info_status},           /* the VM's state: "running" */
	{"quit", false, cmd_quit},                         /* stop the VM; smolvm exits 0 */
	{"screendump", true, cmd_screendump},              /* screendump FILE.png|FILE.ppm */
	{"help", false, cmd_help},                         /* the command names */
};

#define NCOMMANDS (sizeof(monitor_commands) / sizeof(monitor_commands[0]))

static void cmd_help(const struct monitor_target *t, const char *args, char *reply, size_t size)
{
	size_t used = 0;

	reply[0] = '\0';
	for (size_t i = 0; i < NCOMMANDS && used < size; i++) {
		int n = snprintf(reply + used, size - used, "%s%s", i ? ", " : "commands: ",
				 monitor_commands[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* [start, end) of the line with blanks trimmed at both ends. */
static void trim(const char *line, size_t len, size_t *start, size_t *end)
{
	*start = 0;
	*end = len;
	while (*start < *end && is_blank(line[*start]))
		(*start)++;
	while (*end > *start && is_blank(line[*end - 1]))
		(*end)--;
}

/* If line[pos..end) starts with the command's name, word by word (any blanks between the
 * words, a blank or the end after the last), the offset just past the name; else 0. */
static size_t match_name(const char *name, const char *line, size_t pos, size_t end)
{
	while (*name) {
		size_t n = strcspn(name, " ");

		if (end - pos < n || memcmp(line + pos, name, n) != 0)
			return 0;
		pos += n;
		if (pos < end && !is_blank(line[pos]))
			return 0;
		name += n;
		if (*name == ' ') {
			name++;
			while (pos < end && is_blank(line[pos]))
				pos++;
		}
	}
	return pos;
}

static unsigned name_words(const char *name)
{
	unsigned n = 1;

	for (; *name; name++)
		n += *name == ' ';
	return n;
}

/* Quote up to MONITOR_QUOTE_MAX bytes of text in an error, control bytes shown as '?'. */
static void quote(char *out, size_t size, const char *text, size_t len)
{
	size_t n = len < MONITOR_QUOTE_MAX ? len : MONITOR_QUOTE_MAX;
	size_t i;

	if (size == 0)
		return;
	for (i = 0; i < n && i + 1 < size; i++) {
		unsigned char c = (unsigned char)text[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[i] = '\0';
	if (len > n && i + 4 <= size)
		strcpy(out + i, "...");
}

/* The handler's reply may quote what it likes; the one line on the wire stays one line. */
static void reply_sanitize(char *reply)
{
	for (char *p = reply; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

bool monitor_execute(const struct monitor_target *t, const char *line, size_t len,
		     char reply[MONITOR_REPLY_MAX])
{
	const struct monitor_command *best = NULL;
	char args[MONITOR_LINE_MAX + 1], what[MONITOR_QUOTE_MAX + 4];
	size_t start, end, after = 0;

	reply[0] = '\0';
	if (len > MONITOR_LINE_MAX) {
		reply_printf(reply, MONITOR_REPLY_MAX, "error: line longer than %d bytes",
			     MONITOR_LINE_MAX);
		return true;
	}
	if (len && line[len - 1] == '\r')
		len--;
	trim(line, len, &start, &end);
	if (start == end)
		return false;
	if (memchr(line + start, '\0', end - start)) {
		reply_printf(reply, MONITOR_REPLY_MAX, "error: the line holds a NUL byte");
		return true;
	}
	/* The longest name that matches: "info status" before a plain "info", were there one. */
	for (size_t i = 0; i < NCOMMANDS; i++) {
		size_t pos = match_name(monitor_commands[i].name, line, start, end);
		if (pos && (!best || name_words(monitor_commands[i].name) > name_words(best->name))) {
			best = &monitor_commands[i];
			after = pos;
		}
	}
	if (!best) {
		quote(what, sizeof(what), line + start, end - start);
		reply_printf(reply, MONITOR_REPLY_MAX, "error: unknown command '%s' (try help)",
			     what);
		return true;
	}
	while (after < end && is_blank(line[after]))
		after++;
	if (after < end && !best->takes_args) {
		quote(what, sizeof(what), line + after, end - after);
		reply_printf(reply, MONITOR_REPLY_MAX, "error: %s takes no arguments, not '%s'",
			     best->name, what);
		return true;
	}
	memcpy(args, line + after, end - after);
	args[end - after] = '\0';
	best->run(t, args, reply, MONITOR_REPLY_MAX);
	reply_sanitize(reply);
	return true;
}
