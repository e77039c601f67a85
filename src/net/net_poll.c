/* A growable pollfd array for the network thread. */
#include "net/net_poll.h"

#include <stdlib.h>

void net_poll_clear(struct net_poll *np)
{
	np->n = 0;
}

int net_poll_add(struct net_poll *np, int fd, short events)
{
	if (np->n == np->cap) {
		unsigned cap = np->cap ? np->cap * 2 : 16;
		struct pollfd *fds = realloc(np->fds, cap * sizeof(*fds));
		if (!fds)
			return -1;
		np->fds = fds;
		np->cap = cap;
	}
	np->fds[np->n] = (struct pollfd){.fd = fd, .events = events};
	return np->n++;
}

short net_poll_revents(const struct net_poll *np, int i)
{
	return i >= 0 && (unsigned)i < np->n ? np->fds[i].revents : 0;
}

void net_poll_free(struct net_poll *np)
{
	free(np->fds);
	*np = (struct net_poll){0};
}
