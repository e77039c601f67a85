/*
 * The descriptors a network thread polls, rebuilt before every poll(): the device's own
 * (stop, queue kicks) and whatever its backend asks for (libslirp's set changes as
 * connections come and go).
 */
#ifndef SMOLVM_NET_POLL_H
#define SMOLVM_NET_POLL_H

#include <poll.h>

struct net_poll {
	struct pollfd *fds;
	unsigned n, cap;
};

/* Forget the descriptors of the last round; the array is kept for the next. */
void net_poll_clear(struct net_poll *np);

/* Add fd; returns its index, or -1 when no memory is left (the fd is then not polled). */
int net_poll_add(struct net_poll *np, int fd, short events);

/* What poll() reported for index i (0 for -1 or an index out of range). */
short net_poll_revents(const struct net_poll *np, int i);

void net_poll_free(struct net_poll *np);

#endif
