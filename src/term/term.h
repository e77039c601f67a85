/* The host terminal: raw mode while the VM runs, restored on every way out. */
#ifndef SMOLVM_TERM_H
#define SMOLVM_TERM_H

#include <stdbool.h>

/* If stdin is a terminal, switch it to raw mode and arrange for the saved mode to
 * come back at exit (after a crash or a fatal signal, the supervising parent restores it).
 * Returns whether stdin is a tty. */
bool term_enter_raw(void);

/* Put the terminal back as it was; safe to call twice and from a signal handler. */
void term_restore(void);

/* Whether the kernel command line's last console= is a virtual terminal (tty0, tty1, ...):
 * with a window, the window is then the guest's console and this terminal stays as it is. */
bool term_cmdline_console_is_vt(const char *cmdline);

#endif
