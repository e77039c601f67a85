#include "monitor/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/main_loop.h"

#define MONITOR_OUT_MAX (8 * MONITOR_REPLY_MAX) /* replies a client has not read yet */
#define MONITOR_BACKLOG 8

struct monitor_client {
	struct monitor *mon;
	int fd;
	char in[MONITOR_LINE_MAX + 1]; /* the longest line and its newline */
	size_t in_len;
	bool discarding; /* in a line that was too long: drop bytes up to its newline */
	bool eof;	 /* the client sends no more */
	char out[MONITOR_OUT_MAX];
	size_t out_len;
};

struct monitor {
	int listen_fd;
	bool listen_paused; /* out of file descriptors: wait for a client to leave */
	struct monitor_target target;
	struct monitor_client *clients[MONITOR_MAX_CLIENTS];
};

/* The path to remove at exit; set once the socket exists. */
static char monitor_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void monitor_remove_socket(void)
{
	if (monitor_path[0])
		unlink(monitor_path);
	monitor_path[0] = '\0';
}

/* Somebody answers on the socket at path: it is another live VMM's, not ours to replace. */
static bool monitor_socket_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool in_use;

	if (fd < 0)
		return false;
	/* A full backlog says EAGAIN without waiting: somebody listens there too. */
	in_use = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
		 errno == EAGAIN || errno == EINPROGRESS;
	close(fd);
	return in_use;
}

struct monitor *monitor_open(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct monitor *mon;
	struct stat st;
	mode_t old_umask;
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("-monitor: the socket path '%s' is too long", path);
		return NULL;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("-monitor: %s exists and is not a socket; not replacing it", path);
			return NULL;
		}
		if (monitor_socket_in_use(&addr)) {
			log_error("-monitor: %s is in use by another process", path);
			return NULL;
		}
		unlink(path); /* stale: its owner is gone */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("-monitor: socket: %s", strerror(errno));
		return NULL;
	}
	/* Created 0600 from the start: no moment when others could connect. No other thread
	 * exists yet, so the process-wide umask is ours to change. */
	old_umask = umask(0177);
	ret = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
	umask(old_umask);
	if (ret < 0) {
		log_error("-monitor: cannot create the socket %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	memcpy(monitor_path, path, strlen(path) + 1);
	atexit(monitor_remove_socket);
	if (listen(fd, MONITOR_BACKLOG) < 0) {
		log_error("-monitor: listen on %s: %s", path, strerror(errno));
		close(fd);
		monitor_remove_socket();
		return NULL;
	}
	mon = calloc(1, sizeof(*mon));
	if (!mon) {
		log_error("-monitor: %s", strerror(ENOMEM));
		close(fd);
		monitor_remove_socket();
		return NULL;
	}
	mon->listen_fd = fd;
	return mon;
}

static void monitor_listen_resume(struct monitor *mon)
{
	if (mon->listen_paused) {
		mon->listen_paused = false;
		main_loop_watch_events(mon->listen_fd, POLLIN);
	}
}

static void client_close(struct monitor_client *c)
{
	struct monitor *mon = c->mon;

	for (unsigned i = 0; i < MONITOR_MAX_CLIENTS; i++)
		if (mon->clients[i] == c)
			mon->clients[i] = NULL;
	main_loop_unwatch(c->fd);
	close(c->fd);
	free(c);
	monitor_listen_resume(mon);
}

/* Write what the client can take now. false: the client is gone (and freed). */
static bool client_flush(struct monitor_client *c, bool *progress)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			client_close(c);
			return false;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
		*progress = true;
	}
	return true;
}

static bool client_reply_fits(const struct monitor_client *c)
{
	return sizeof(c->out) - c->out_len >= MONITOR_REPLY_MAX + 1; /* the reply and its newline */
}

/* Run the line in[0, len) and queue its reply; the caller checked that a reply fits. */
static void client_run_line(struct monitor_client *c, size_t len)
{
	char reply[MONITOR_REPLY_MAX];
	size_t n;

	if (!monitor_execute(&c->mon->target, c->in, len, reply))
		return;
	n = strlen(reply);
	memcpy(c->out + c->out_len, reply, n);
	c->out[c->out_len + n] = '\n';
	c->out_len += n + 1;
}

static void client_consume(struct monitor_client *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

/* Run the complete lines that are buffered, while their replies fit. */
static bool client_run_lines(struct monitor_client *c)
{
	bool progress = false;

	while (c->in_len && client_reply_fits(c)) {
		char *nl = memchr(c->in, '\n', c->in_len);

		if (nl) {
			size_t len = (size_t)(nl - c->in);
			if (c->discarding)
				c->discarding = false; /* the tail of the long line, already answered */
			else
				client_run_line(c, len);
			client_consume(c, len + 1);
		} else if (c->in_len == sizeof(c->in)) {
			/* No newline in the longest line's room: answer once, drop until one. */
			if (!c->discarding)
				client_run_line(c, c->in_len);
			c->discarding = true;
			c->in_len = 0;
		} else if (c->eof) {
			/* A last line without its newline still counts. */
			if (!c->discarding)
				client_run_line(c, c->in_len);
			c->in_len = 0;
		} else {
			break;
		}
		progress = true;
	}
	return progress;
}

/* Read what fits. false: the client is gone (and freed). */
static bool client_read(struct monitor_client *c)
{
	ssize_t n;

	if (c->eof || c->in_len == sizeof(c->in) || !client_reply_fits(c))
		return true;
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n == 0) {
		c->eof = true;
	} else if (n > 0) {
		c->in_len += (size_t)n;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		client_close(c);
		return false;
	}
	return true;
}

static void client_ready(void *opaque, int fd, short revents)
{
	struct monitor_client *c = opaque;
	bool progress = true;
	short events = 0;

	if (revents & (POLLERR | POLLNVAL)) {
		client_close(c);
		return;
	}
	if ((revents & POLLIN) && !client_read(c))
		return;
	/* Each round runs buffered lines or sends replies; both are bounded, so this ends. */
	while (progress) {
		progress = client_run_lines(c);
		if (!client_flush(c, &progress))
			return;
	}
	/* Gone for good: hung up, or said all it had to say and has every answer. */
	if (((revents & POLLHUP) && !(revents & POLLIN)) || (c->eof && !c->out_len && !c->in_len)) {
		client_close(c);
		return;
	}
	if (!c->eof && c->in_len < sizeof(c->in) && client_reply_fits(c))
		events |= POLLIN;
	if (c->out_len)
		events |= POLLOUT;
	main_loop_watch_events(c->fd, events);
}

static void monitor_refuse(int fd, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "error: %s\n", why);

	/* Best effort: a client that cannot take it learns from the closed socket instead. */
	if (n > 0)
		(void)send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void monitor_accept(void *opaque, int listen_fd, short revents)
{
	struct monitor *mon = opaque;
	struct monitor_client *c;
	unsigned slot;
	int fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* The connection waits in the backlog; retrying now would spin. */
			log_warn("monitor: cannot accept a client: %s", strerror(errno));
			mon->listen_paused = true;
			main_loop_watch_events(listen_fd, 0);
		}
		return;
	}
	for (slot = 0; slot < MONITOR_MAX_CLIENTS && mon->clients[slot]; slot++)
		;
	if (slot == MONITOR_MAX_CLIENTS) {
		monitor_refuse(fd, "too many monitor clients");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		monitor_refuse(fd, "out of memory");
		return;
	}
	c->mon = mon;
	c->fd = fd;
	if (main_loop_watch(fd, POLLIN, client_ready, c) != 0) {
		free(c);
		monitor_refuse(fd, "too many monitor clients");
		return;
	}
	mon->clients[slot] = c;
}

int monitor_start(struct monitor *mon, const struct monitor_target *target)
{
	int ret;

	mon->target = *target;
	ret = main_loop_watch(mon->listen_fd, POLLIN, monitor_accept, mon);
	if (ret)
		log_error("-monitor: cannot watch the socket: %s", strerror(-ret));
	return ret;
}

void monitor_close(struct monitor *mon)
{
	if (!mon)
		return;
	for (unsigned i = 0; i < MONITOR_MAX_CLIENTS; i++) {
		struct monitor_client *c = mon->clients[i];
		bool progress = false;

		if (c && client_flush(c, &progress))
			client_close(c);
	}
	main_loop_unwatch(mon->listen_fd);
	close(mon->listen_fd);
	monitor_remove_socket();
	free(mon);
}
