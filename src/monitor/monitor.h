/*
 * -monitor unix:PATH: a unix stream socket (mode 0600) where scripts and tests send commands
 * (monitor_commands.h), one a line, each answered with one line. Not a remote API: only the
 * user who started smolvm can connect. The sockets are non-blocking and served by the main
 * loop; no vCPU thread ever waits on a client. Each client has fixed buffers: a client that
 * sends faster than it reads is simply not read from until it catches up, and there are at
 * most MONITOR_MAX_CLIENTS at once.
 */
#ifndef SMOLVM_MONITOR_H
#define SMOLVM_MONITOR_H

#include "monitor/monitor_commands.h"

#define MONITOR_MAX_CLIENTS 8

struct monitor;

/* Create and listen on the socket at path. A stale socket there (nobody listening) is
 * replaced; anything else there is refused. NULL after one line naming the problem. The
 * socket is removed when the process exits, even through an error path. */
struct monitor *monitor_open(const char *path);

/* Start answering clients from the main loop, with commands acting on target (copied). */
int monitor_start(struct monitor *mon, const struct monitor_target *target);

/* Send what is pending (without waiting), disconnect everyone, remove the socket. */
void monitor_close(struct monitor *mon);

#endif
