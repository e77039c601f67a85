#include "vmm/main_loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "term/console.h"
#include "vmm/log.h"

/* The fds the loop always polls come first in its pollfd array, the watches after them. */
enum { LOOP_STOP, LOOP_SIGNAL, LOOP_CONSOLE_READY, LOOP_STDIN, LOOP_FIXED };

struct main_loop_watch {
	int fd; /* -1: a free slot */
	short events;
	main_loop_ready_fn *ready;
	void *opaque;
	unsigned gen; /* bumped on unwatch, so a stale poll result is never delivered */
};

static sigset_t loop_signals;
static struct main_loop_watch watches[MAIN_LOOP_MAX_WATCHES];
static bool watches_ready;
static void (*sigterm_fn)(void *opaque);
static void *sigterm_opaque;

static void main_loop_init_watches(void)
{
	if (watches_ready)
		return;
	for (unsigned i = 0; i < MAIN_LOOP_MAX_WATCHES; i++)
		watches[i].fd = -1;
	watches_ready = true;
}

static struct main_loop_watch *main_loop_find(int fd)
{
	main_loop_init_watches();
	for (unsigned i = 0; i < MAIN_LOOP_MAX_WATCHES; i++)
		if (watches[i].fd == fd)
			return &watches[i];
	return NULL;
}

int main_loop_watch(int fd, short events, main_loop_ready_fn *ready, void *opaque)
{
	struct main_loop_watch *w;

	if (fd < 0 || !ready)
		return -EINVAL;
	if (main_loop_find(fd))
		return -EEXIST;
	w = main_loop_find(-1);
	if (!w)
		return -ENOSPC;
	w->fd = fd;
	w->events = events;
	w->ready = ready;
	w->opaque = opaque;
	return 0;
}

void main_loop_watch_events(int fd, short events)
{
	struct main_loop_watch *w = fd >= 0 ? main_loop_find(fd) : NULL;

	if (w)
		w->events = events;
}

void main_loop_unwatch(int fd)
{
	struct main_loop_watch *w = fd >= 0 ? main_loop_find(fd) : NULL;

	if (w) {
		w->fd = -1;
		w->gen++;
	}
}

void main_loop_on_sigterm(void (*fn)(void *opaque), void *opaque)
{
	sigterm_fn = fn;
	sigterm_opaque = opaque;
}

void main_loop_block_signals(void)
{
	sigemptyset(&loop_signals);
	sigaddset(&loop_signals, SIGINT);
	sigaddset(&loop_signals, SIGTERM);
	sigaddset(&loop_signals, SIGHUP);
	sigaddset(&loop_signals, SIGWINCH);
	/* vCPU threads unblock their kick signal for themselves. */
	sigset_t all = loop_signals;
	sigaddset(&all, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void main_loop_on_signal(struct vm *vm, int sfd)
{
	struct signalfd_siginfo si;

	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH)
		console_on_resize();
	else if (si.ssi_signo == SIGTERM && sigterm_fn)
		sigterm_fn(sigterm_opaque);
	else
		vm_request_stop(vm, VM_STOP_SIGNAL, 128 + (int)si.ssi_signo);
}

/* Deliver one poll result to the watch that was in slot when poll() began, if it still is. */
static void main_loop_dispatch(unsigned slot, unsigned gen, const struct pollfd *p)
{
	struct main_loop_watch *w = &watches[slot];

	if (p->revents && w->fd == p->fd && w->gen == gen)
		w->ready(w->opaque, p->fd, p->revents);
}

enum vm_stop main_loop_run(struct vm *vm)
{
	int sfd = signalfd(-1, &loop_signals, SFD_CLOEXEC | SFD_NONBLOCK);

	main_loop_init_watches();
	if (sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		vm_request_stop(vm, VM_STOP_ERROR, EXIT_GUEST_ERROR);
	}
	while (atomic_load(&vm->stop_reason) == VM_STOP_NONE) {
		struct pollfd fds[LOOP_FIXED + MAIN_LOOP_MAX_WATCHES] = {
			[LOOP_STOP] = {vm->stop_fd, POLLIN, 0},
			[LOOP_SIGNAL] = {sfd, POLLIN, 0},
			[LOOP_CONSOLE_READY] = {console_ready_fd(), POLLIN, 0},
			[LOOP_STDIN] = {console_stdin_fd(), POLLIN, 0},
		};
		unsigned slot[MAIN_LOOP_MAX_WATCHES], gen[MAIN_LOOP_MAX_WATCHES];
		nfds_t n = LOOP_FIXED;

		for (unsigned i = 0; i < MAIN_LOOP_MAX_WATCHES; i++) {
			if (watches[i].fd < 0)
				continue;
			slot[n - LOOP_FIXED] = i;
			gen[n - LOOP_FIXED] = watches[i].gen;
			fds[n++] = (struct pollfd){watches[i].fd, watches[i].events, 0};
		}
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			vm_request_stop(vm, VM_STOP_ERROR, EXIT_GUEST_ERROR);
			break;
		}
		if (fds[LOOP_SIGNAL].revents & POLLIN)
			main_loop_on_signal(vm, sfd);
		if (fds[LOOP_CONSOLE_READY].revents & POLLIN)
			console_on_ready();
		if (fds[LOOP_STDIN].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			console_on_stdin();
		for (nfds_t k = LOOP_FIXED; k < n; k++)
			main_loop_dispatch(slot[k - LOOP_FIXED], gen[k - LOOP_FIXED], &fds[k]);
	}
	if (sfd >= 0)
		close(sfd);
	return atomic_load(&vm->stop_reason);
}
