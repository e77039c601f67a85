/*
 * The sandbox's filters, each proven in a forked child: what a thread kind needs passes, and a
 * forbidden call ends the process with status 159 and the one line naming the kind and call.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "unit.h"

static char err_text[1024];

/* Runs fn(kind) in a child with the sandbox on and SMOLVM_SANDBOX_SELFTEST=selftest (or
 * none); returns its wait status and leaves its stderr in err_text. */
static int run_sandboxed(void (*fn)(enum sandbox_kind), enum sandbox_kind kind,
			 const char *selftest)
{
	int pipefd[2], status = -1;
	ssize_t n, got = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(pipefd) != 0)
		abort();
	pid = fork();
	if (pid == 0) {
		struct vm_config cfg = {.sandbox = true};
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		if (selftest)
			setenv("SMOLVM_SANDBOX_SELFTEST", selftest, 1);
		else
			unsetenv("SMOLVM_SANDBOX_SELFTEST");
		if (sandbox_init(&cfg) != 0)
			_exit(3);
		sandbox_enter(kind);
		fn(kind);
		_exit(0);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], err_text + got, sizeof(err_text) - 1 - got)) > 0)
		got += n;
	err_text[got] = '\0';
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return status;
}

static int exited_with(int status, int code)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == code;
}

static void nothing(enum sandbox_kind kind)
{
}

static void test_kind_names(void)
{
	for (int k = 0; k < SANDBOX_KINDS; k++)
		CHECK_EQ(sandbox_kind_parse(sandbox_kind_name(k)), k);
	CHECK_STR(sandbox_kind_name(SANDBOX_VCPU), "vcpu");
	CHECK_STR(sandbox_kind_name(SANDBOX_WINDOW), "window");
	CHECK_EQ(sandbox_kind_parse("VCPU"), -1);
	CHECK_EQ(sandbox_kind_parse(""), -1);
	CHECK_EQ(sandbox_kind_parse("vcpu "), -1);
	CHECK_EQ(sandbox_kind_parse(NULL), -1);
}

/* vCPU threads start the workers and the network thread: their filter lets through what
 * those need, or the children could never run. */
static void test_counts(void)
{
	for (int k = 0; k < SANDBOX_KINDS; k++) {
		printf("  %s: %d system calls %s\n", sandbox_kind_name(k), seccomp_filter_count(k),
		       k == SANDBOX_WINDOW ? "denied" : "allowed");
		CHECK(seccomp_filter_count(k) > 10);
	}
	CHECK(seccomp_filter_count(SANDBOX_VCPU) >
	      seccomp_filter_count(SANDBOX_DEVICE) + 10);
	CHECK(seccomp_filter_count(SANDBOX_VCPU) > seccomp_filter_count(SANDBOX_NET));
	CHECK_EQ(seccomp_filter_count(SANDBOX_KINDS), -1);
}

static void test_selftest_kills_each_kind(void)
{
	char want[128];

	for (int k = 0; k < SANDBOX_KINDS; k++) {
		int status = run_sandboxed(nothing, k, sandbox_kind_name(k));
		snprintf(want, sizeof(want),
			 "smolvm: sandbox: %s thread made forbidden system call process_vm_readv\n",
			 sandbox_kind_name(k));
		CHECK(exited_with(status, SANDBOX_EXIT_VIOLATION));
		CHECK_STR(err_text, want);
	}
	/* Another kind's self-test leaves this one alone. */
	CHECK(exited_with(run_sandboxed(nothing, SANDBOX_NET, "vcpu"), 0));
	CHECK_STR(err_text, "");
}

static void test_bad_selftest_name(void)
{
	CHECK(exited_with(run_sandboxed(nothing, SANDBOX_NET, "gpu"), 3));
	CHECK(strstr(err_text, "SMOLVM_SANDBOX_SELFTEST: 'gpu' is not a thread kind") != NULL);
}

static void vcpu_allowed_ioctl(enum sandbox_kind kind)
{
	/* Allowed: the kernel answers (no such fd). */
	if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
		_exit(4);
	if (ioctl(-1, KVM_IRQ_LINE, NULL) != -1 || errno != EBADF)
		_exit(5);
}

static void main_allowed_ioctl(enum sandbox_kind kind)
{
	if (ioctl(-1, TIOCGWINSZ, NULL) != -1 || errno != EBADF)
		_exit(4);
}

static void vcpu_create_vm(enum sandbox_kind kind)
{
	ioctl(-1, KVM_CREATE_VM, 0);
}

static void make_executable(enum sandbox_kind kind)
{
	mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void start_process(enum sandbox_kind kind)
{
	if (fork() == 0)
		_exit(0);
}

static void window_cannot_fork(enum sandbox_kind kind)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid != -1 || errno != EPERM)
		_exit(10);
}

static void exec_shell(enum sandbox_kind kind)
{
	execl("/bin/true", "true", (char *)NULL);
}

static void *device_worker(void *arg)
{
	char buf[16];
	int fd;

	sandbox_enter(SANDBOX_DEVICE);
	fd = openat(AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || pread(fd, buf, sizeof(buf), 0) <= 0)
		return (void *)1;
	close(fd);
	return NULL;
}

/* A vCPU thread starts a worker, which narrows the filter to its own and does its I/O. */
static void vcpu_starts_worker(enum sandbox_kind kind)
{
	pthread_t t;
	void *ret = (void *)1;

	if (pthread_create(&t, NULL, device_worker, NULL) != 0 || pthread_join(t, &ret) != 0)
		_exit(6);
	if (ret)
		_exit(7);
}

static void *worker_makes_vcpu_ioctl(void *arg)
{
	sandbox_enter(SANDBOX_DEVICE);
	ioctl(-1, KVM_RUN, 0);
	return NULL;
}

static void vcpu_worker_narrows(enum sandbox_kind kind)
{
	pthread_t t;

	if (pthread_create(&t, NULL, worker_makes_vcpu_ioctl, NULL) == 0)
		pthread_join(t, NULL);
}

static void net_reads_resolv_conf(enum sandbox_kind kind)
{
	int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno != ENOENT)
		_exit(9);
}

static void net_writes_a_file(enum sandbox_kind kind)
{
	open("/tmp/smolvm-sandbox-test", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
}

static void window_allowed(enum sandbox_kind kind)
{
	/* Not in any allowlist, not in the deny list. */
	if (syscall(SYS_getppid) <= 0 || syscall(SYS_uname, NULL) != -1)
		_exit(8);
}

static void test_arguments_checked(void)
{
	CHECK(exited_with(run_sandboxed(vcpu_allowed_ioctl, SANDBOX_VCPU, NULL), 0));
	CHECK_STR(err_text, "");
	CHECK(exited_with(run_sandboxed(vcpu_create_vm, SANDBOX_VCPU, NULL), 159));
	CHECK_STR(err_text, "smolvm: sandbox: vcpu thread made forbidden system call "
			   "ioctl (request 0xae01)\n");
	CHECK(exited_with(run_sandboxed(main_allowed_ioctl, SANDBOX_MAIN, NULL), 0));
	CHECK_STR(err_text, "");
	CHECK(exited_with(run_sandboxed(vcpu_allowed_ioctl, SANDBOX_MAIN, NULL), 159));
	CHECK_STR(err_text, "smolvm: sandbox: main thread made forbidden system call "
			   "ioctl (request 0xae80)\n");
	CHECK(exited_with(run_sandboxed(vcpu_allowed_ioctl, SANDBOX_DEVICE, NULL), 159));
	CHECK_STR(err_text, "smolvm: sandbox: device thread made forbidden system call "
			   "ioctl (request 0xae80)\n");
	CHECK(exited_with(run_sandboxed(make_executable, SANDBOX_DEVICE, NULL), 159));
	CHECK_STR(err_text, "smolvm: sandbox: device thread made forbidden system call mmap\n");
	CHECK(exited_with(run_sandboxed(start_process, SANDBOX_VCPU, NULL), 159));
	CHECK_STR(err_text, "smolvm: sandbox: vcpu thread made forbidden system call clone\n");
	/* The window's libraries may try (libdbus's autolaunch): they get EPERM. */
	CHECK(exited_with(run_sandboxed(window_cannot_fork, SANDBOX_WINDOW, NULL), 0));
	CHECK_STR(err_text, "");
	for (int k = 0; k < SANDBOX_KINDS; k++) {
		CHECK(exited_with(run_sandboxed(exec_shell, k, NULL), 159));
		CHECK(strstr(err_text, "forbidden system call execve\n") != NULL);
	}
	CHECK(exited_with(run_sandboxed(net_reads_resolv_conf, SANDBOX_NET, NULL), 0));
	CHECK_STR(err_text, "");
	CHECK(exited_with(run_sandboxed(net_writes_a_file, SANDBOX_NET, NULL), 159));
	CHECK_STR(err_text, "smolvm: sandbox: net thread made forbidden system call openat\n");
	CHECK(exited_with(run_sandboxed(window_allowed, SANDBOX_WINDOW, NULL), 0));
	CHECK_STR(err_text, "");
}

static void test_threads(void)
{
	int status;

	CHECK(exited_with(run_sandboxed(vcpu_starts_worker, SANDBOX_VCPU, NULL), 0));
	CHECK_STR(err_text, "");
	CHECK(exited_with(run_sandboxed(vcpu_worker_narrows, SANDBOX_VCPU, NULL), 159));
	CHECK_STR(err_text, "smolvm: sandbox: device thread made forbidden system call "
			   "ioctl (request 0xae80)\n");
	/* The network thread starts no threads. */
	/* The network thread starts no threads. pthread_create blocks every signal around
	 * clone, so the kernel kills at once, without the handler's line (the supervising parent
	 * prints one then). */
	status = run_sandboxed(vcpu_starts_worker, SANDBOX_NET, NULL);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
}

int main(void)
{
	RUN(test_kind_names);
	RUN(test_counts);
	RUN(test_selftest_kills_each_kind);
	RUN(test_bad_selftest_name);
	RUN(test_arguments_checked);
	RUN(test_threads);
	return UNIT_RESULT();
}
