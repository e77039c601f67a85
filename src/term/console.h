/*
 * Keyboard input: read from stdin on the main thread, Ctrl-A escapes handled when stdin is
 * a terminal, and the rest handed to the guest console that reads it (the sink). Input
 * the sink cannot take yet waits in a bounded buffer; escapes keep working meanwhile.
 */
#ifndef SMOLVM_CONSOLE_H
#define SMOLVM_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

/* Accept up to len bytes for the guest; return how many were taken. */
typedef size_t (*console_sink_fn)(void *opaque, const uint8_t *buf, size_t len);

int console_init(struct vm *vm, bool is_tty);
void console_set_sink(console_sink_fn fn, void *opaque);
/* Called on the main thread when the terminal was resized. */
void console_set_resize_handler(void (*fn)(void *opaque), void *opaque);
void console_on_resize(void);

/* Any thread: the sink has room again (the guest read its input). */
void console_input_ready(void);

/* For the main loop: the fds to poll (-1 when not to be polled) and their handlers. */
int console_stdin_fd(void);
int console_ready_fd(void);
void console_on_stdin(void);
void console_on_ready(void);

#endif
