/*
 * Which console the guest's kernel takes (term/term.c): with a window, a virtual terminal as
 * the last console= makes the window the console and leaves the host terminal as it is.
 */
#include "term/term.h"
#include "unit.h"

static void test_last_console_decides(void)
{
	CHECK(term_cmdline_console_is_vt("console=tty0"));
	CHECK(term_cmdline_console_is_vt("quiet console=ttyS0 console=tty0 loglevel=3"));
	CHECK(term_cmdline_console_is_vt("console=tty1,115200"));
	CHECK(!term_cmdline_console_is_vt("console=tty0 console=ttyS0"));
	CHECK(!term_cmdline_console_is_vt("console=hvc0"));
	CHECK(!term_cmdline_console_is_vt("console=ttyS0,115200n8"));
}

static void test_not_a_console_word(void)
{
	CHECK(!term_cmdline_console_is_vt(NULL));
	CHECK(!term_cmdline_console_is_vt(""));
	CHECK(!term_cmdline_console_is_vt("quiet"));
	CHECK(!term_cmdline_console_is_vt("console=tty"));
	CHECK(!term_cmdline_console_is_vt("console=tty0x"));
	CHECK(!term_cmdline_console_is_vt("netconsole=tty0")); /* another parameter's value */
	CHECK(!term_cmdline_console_is_vt("console=ttyS0 xconsole=tty0"));
	CHECK(term_cmdline_console_is_vt("xconsole=ttyS0 console=tty0"));
}

int main(void)
{
	RUN(test_last_console_decides);
	RUN(test_not_a_console_word);
	return UNIT_RESULT();
}
