#include "vmm/supervise.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "vmm/log.h"

/* Signals someone sends to smolvm's pid: they are meant for the VM. SIGWINCH is not among
 * them: the terminal sends it to the whole process group, so the child has it already. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

static struct termios saved_tty;
static bool have_tty;

/* The child put the terminal in raw mode and could not restore it: it was killed, or its
 * sandbox ended it from a signal handler. */
static void supervise_restore_tty(void)
{
	if (have_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
}

static _Noreturn void supervise_exit_as(int status)
{
	int sig;

	if (WIFEXITED(status)) {
		if (WEXITSTATUS(status) == SANDBOX_EXIT_VIOLATION)
			supervise_restore_tty();
		exit(WEXITSTATUS(status));
	}
	sig = WTERMSIG(status);
	supervise_restore_tty();
	/* A forbidden call made with SIGSYS blocked (pthread_create blocks every signal around
	 * clone) kills without the handler's line: say it here, with the handler's status. */
	if (sig == SIGSYS) {
		log_error("sandbox: a thread made a forbidden system call with signals blocked");
		exit(SANDBOX_EXIT_VIOLATION);
	}
	/* Die of the same signal, leaving the core dump (if any) to the child. */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	signal(sig, SIG_DFL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	sigprocmask(SIG_UNBLOCK, &one, NULL);
	raise(sig);
	_exit(128 + sig);
}

/* Waits for the child, passing it the signals meant for smolvm; returns its status. */
static int supervise_wait(pid_t child, const sigset_t *wait_set)
{
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(wait_set, &si);
		int status;

		if (sig < 0) {
			if (errno == EINTR)
				continue;
			die(EXIT_GUEST_ERROR, "supervise: sigwaitinfo: %s", strerror(errno));
		}
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		if (waitpid(child, &status, WNOHANG) == child)
			return status;
	}
}

void supervise_start(void)
{
	pid_t parent = getpid();
	sigset_t wait_set, blocked, old;

	have_tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tty) == 0;
	sigemptyset(&wait_set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&wait_set, forwarded[i]);
	sigaddset(&wait_set, SIGCHLD);
	/* Restoring the terminal from the background must not stop the parent. */
	blocked = wait_set;
	sigaddset(&blocked, SIGTTOU);
	sigprocmask(SIG_BLOCK, &blocked, &old);

	for (;;) {
		pid_t child = fork();
		int status;

		if (child < 0)
			die(EXIT_GUEST_ERROR, "cannot start the VM's process: %s", strerror(errno));
		if (child == 0) {
			/* The VM never outlives its supervisor (killed, it cannot forward). */
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			if (getppid() != parent)
				_exit(EXIT_GUEST_ERROR);
			sigprocmask(SIG_SETMASK, &old, NULL);
			return;
		}
		status = supervise_wait(child, &wait_set);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != SUPERVISE_EXIT_REBOOT)
			supervise_exit_as(status);
		/* The guest rebooted: a signal meanwhile waits, blocked, for the next child. */
	}
}
