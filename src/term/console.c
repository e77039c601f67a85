#include "term/console.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/vm.h"

#define ESCAPE_CHAR 0x01 /* Ctrl-A, as in QEMU */
#define PENDING_MAX 65536

static struct {
	struct vm *vm;
	bool tty;
	bool escape; /* the previous byte was Ctrl-A */
	bool eof;
	int ready_fd;
	console_sink_fn sink;
	void *sink_opaque;
	void (*resize)(void *opaque);
	void *resize_opaque;
	uint8_t pending[PENDING_MAX];
	size_t npending;
} con = {.ready_fd = -1};

int console_init(struct vm *vm, bool is_tty)
{
	con.vm = vm;
	con.tty = is_tty;
	con.ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return con.ready_fd < 0 ? -errno : 0;
}

void console_set_sink(console_sink_fn fn, void *opaque)
{
	con.sink = fn;
	con.sink_opaque = opaque;
}

void console_set_resize_handler(void (*fn)(void *opaque), void *opaque)
{
	con.resize = fn;
	con.resize_opaque = opaque;
}

void console_on_resize(void)
{
	if (con.resize)
		con.resize(con.resize_opaque);
}

void console_input_ready(void)
{
	if (con.ready_fd >= 0)
		eventfd_write(con.ready_fd, 1);
}

int console_stdin_fd(void)
{
	/* Piped input waits for the guest instead of being dropped; a terminal is always read
	 * so that Ctrl-A x works even when the guest reads nothing. */
	if (con.eof || (!con.tty && con.npending == PENDING_MAX))
		return -1;
	return STDIN_FILENO;
}

int console_ready_fd(void)
{
	return con.ready_fd;
}

static void console_flush(void)
{
	size_t n;

	if (!con.sink || con.npending == 0)
		return;
	n = con.sink(con.sink_opaque, con.pending, con.npending);
	memmove(con.pending, con.pending + n, con.npending - n);
	con.npending -= n;
}

/* Input beyond what the guest has read so far is dropped, like keys typed at a busy
 * terminal with a full buffer; escapes were already handled. */
static void console_queue(const uint8_t *buf, size_t len)
{
	size_t room = PENDING_MAX - con.npending;

	if (len > room)
		len = room;
	memcpy(con.pending + con.npending, buf, len);
	con.npending += len;
}

static void console_help(void)
{
	fprintf(stderr, "\n"
			"C-a h    print this help\n"
			"C-a x    exit smolvm\n"
			"C-a C-a  send C-a to the guest\n");
}

/* Ctrl-A escapes, as in QEMU's -nographic mode. */
static void console_escapes(const uint8_t *buf, size_t len)
{
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (!con.escape) {
			if (buf[i] == ESCAPE_CHAR) {
				console_queue(buf + start, i - start);
				con.escape = true;
				start = i + 1;
			}
			continue;
		}
		con.escape = false;
		start = i + 1;
		switch (buf[i]) {
		case 'x':
		case 'X':
			fprintf(stderr, "\nsmolvm: terminated by C-a x\n");
			vm_request_stop(con.vm, VM_STOP_QUIT, 0);
			return;
		case 'h':
		case 'H':
		case '?':
			console_help();
			break;
		case ESCAPE_CHAR:
			console_queue(&buf[i], 1);
			break;
		default: /* unknown escapes are ignored */
			break;
		}
	}
	console_queue(buf + start, len - start);
}

void console_on_stdin(void)
{
	uint8_t buf[4096];
	size_t want = sizeof(buf);
	ssize_t n;

	if (!con.tty && PENDING_MAX - con.npending < want)
		want = PENDING_MAX - con.npending;
	n = read(STDIN_FILENO, buf, want);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* EOF on a pipe or file does not end the VM: the guest may still be working. */
		con.eof = true;
		return;
	}
	if (con.tty)
		console_escapes(buf, n);
	else
		console_queue(buf, n);
	console_flush();
}

void console_on_ready(void)
{
	eventfd_t v;

	eventfd_read(con.ready_fd, &v);
	console_flush();
}
