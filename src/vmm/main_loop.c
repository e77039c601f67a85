#include "vmm/main_loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "term/console.h"
#include "vmm/log.h"

static sigset_t loop_signals;

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

enum vm_stop main_loop_run(struct vm *vm)
{
	int sfd = signalfd(-1, &loop_signals, SFD_CLOEXEC | SFD_NONBLOCK);

	if (sfd < 0) {
		log_error("signalfd: %s", strerror(errno));
		vm_request_stop(vm, VM_STOP_ERROR, EXIT_GUEST_ERROR);
	}
	while (atomic_load(&vm->stop_reason) == VM_STOP_NONE) {
		struct pollfd fds[4] = {
			{vm->stop_fd, POLLIN, 0},
			{sfd, POLLIN, 0},
			{console_ready_fd(), POLLIN, 0},
			{console_stdin_fd(), POLLIN, 0},
		};

		if (poll(fds, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			vm_request_stop(vm, VM_STOP_ERROR, EXIT_GUEST_ERROR);
			break;
		}
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				;
			else if (si.ssi_signo == SIGWINCH)
				console_on_resize();
			else
				vm_request_stop(vm, VM_STOP_SIGNAL, 128 + (int)si.ssi_signo);
		}
		if (fds[2].revents & POLLIN)
			console_on_ready();
		if (fds[3].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			console_on_stdin();
	}
	if (sfd >= 0)
		close(sfd);
	return atomic_load(&vm->stop_reason);
}
