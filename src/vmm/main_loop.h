/*
 * The main thread's loop while the VM runs: keyboard input, signals, stop requests, and the
 * file descriptors other parts watch (the monitor's sockets, the power-down timer). Everything
 * here runs on the main thread only; no vCPU thread ever waits on it.
 */
#ifndef SMOLVM_MAIN_LOOP_H
#define SMOLVM_MAIN_LOOP_H

#include "vmm/vm.h"

/* Most watched fds at once: the monitor's listener and clients, a timer, with room to spare. */
#define MAIN_LOOP_MAX_WATCHES 32

/* Called on the main thread with the poll() revents of fd (never 0). */
typedef void main_loop_ready_fn(void *opaque, int fd, short revents);

/* Block the signals the loop handles (call before any thread exists, so all inherit it). */
void main_loop_block_signals(void);

/* Watch fd for events (POLLIN, POLLOUT; 0 keeps it registered but quiet). 0, -EEXIST if fd is
 * watched already, -ENOSPC past MAIN_LOOP_MAX_WATCHES. Safe to call from a ready callback. */
int main_loop_watch(int fd, short events, main_loop_ready_fn *ready, void *opaque);
/* Change what a watched fd waits for. */
void main_loop_watch_events(int fd, short events);
/* Stop watching fd (before closing it). A callback may unwatch any fd, itself included; an
 * unwatched fd gets no further callback, not even for the poll() that already returned. */
void main_loop_unwatch(int fd);

/* What SIGTERM does; without a handler it stops the VM with status 128 + SIGTERM. */
void main_loop_on_sigterm(void (*fn)(void *opaque), void *opaque);

/* Run until the VM is asked to stop; returns the reason (status in vm->stop_status). */
enum vm_stop main_loop_run(struct vm *vm);

#endif
