#include "term/term.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved;
static volatile sig_atomic_t raw_active;


void term_restore(void)
{
	if (!raw_active)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	raw_active = 0;
}

bool term_enter_raw(void)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved) != 0)
		return false;
	raw = saved;
	cfmakeraw(&raw);
	/* Keep output post-processing (as QEMU does) so messages written with "\n" render as lines. */
	raw.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0)
		return false;
	raw_active = 1;
	/* A crash (a fatal signal in any thread) leaves the terminal to the supervising parent,
	 * which restores it (vmm/supervise.c): a handler here would call tcsetattr from a thread
	 * whose sandbox forbids it, and report a sandbox violation instead of the crash. */
	atexit(term_restore);
	return true;
}

bool term_cmdline_console_is_vt(const char *cmdline)
{
	const char *last = NULL;
	size_t n;

	/* Linux takes the last console= as /dev/console; each starts a word. */
	for (const char *p = cmdline; p && (p = strstr(p, "console=")); p++)
		if (p == cmdline || p[-1] == ' ')
			last = p + strlen("console=");
	if (!last || strncmp(last, "tty", 3) != 0)
		return false;
	n = strspn(last + 3, "0123456789");
	return n > 0 && (last[3 + n] == '\0' || last[3 + n] == ' ' || last[3 + n] == ',');
}
