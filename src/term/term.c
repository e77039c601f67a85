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

/* A crash must not leave the user's shell in raw mode: restore, then die as we would have. */
static void term_crash_handler(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

bool term_enter_raw(void)
{
	static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
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
	atexit(term_restore);
	for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = term_crash_handler;
		sa.sa_flags = SA_RESETHAND;
		sigaction(crash_signals[i], &sa, NULL);
	}
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
