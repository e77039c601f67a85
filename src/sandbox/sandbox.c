/*
 * Entering the sandbox, and the one line a violation prints.
 *
 * A forbidden call raises SIGSYS in the thread that made it (SECCOMP_RET_TRAP). The handler
 * must be async-signal-safe: it writes a line built from strings made at sandbox_init (the
 * names of the system calls) and leaves with _exit(SANDBOX_EXIT_VIOLATION). The supervising
 * parent (vmm/supervise.c) restores the terminal after it.
 *
 * SMOLVM_SANDBOX_SELFTEST=KIND in the environment makes the first thread of that kind make a
 * forbidden call (process_vm_readv) right after entering: the tests prove each filter that way.
 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "sandbox/seccomp_filters.h"
#include "vmm/log.h"

#define SYSCALL_NAMES 512

static const char *const kind_names[SANDBOX_KINDS] = {
	[SANDBOX_VCPU] = "vcpu",
	[SANDBOX_DEVICE] = "device",
	[SANDBOX_NET] = "net",
	[SANDBOX_MAIN] = "main",
	[SANDBOX_WINDOW] = "window",
};

static bool sandbox_ready; /* sandbox_init ran: smolvm itself, not a unit test or fuzzer */
static bool sandbox_on;
static bool keep_file_caps; /* the virtio-fs server acts for the guest's root */
static bool with_window;    /* -display sdl: the device workers wake the window */
static int selftest_kind = -1;
static const char *syscall_names[SYSCALL_NAMES];
/* Each kind's filter as BPF, compiled once by sandbox_init: a thread installs its program
 * without running libseccomp, whose allocations would otherwise stay resident in every
 * thread's malloc arena (about 100 KiB each), and a device worker restarted by a reset
 * starts at once. */
static struct sock_fprog filters[SANDBOX_KINDS];
static __thread int thread_kind = -1;

const char *sandbox_kind_name(enum sandbox_kind kind)
{
	return (unsigned)kind < SANDBOX_KINDS ? kind_names[kind] : "unnamed";
}

int sandbox_kind_parse(const char *name)
{
	for (int k = 0; name && k < SANDBOX_KINDS; k++)
		if (strcmp(name, kind_names[k]) == 0)
			return k;
	return -1;
}

/* Async-signal-safe pieces of the handler's line. */
static size_t line_add(char *line, size_t n, size_t size, const char *s)
{
	while (*s && n + 1 < size)
		line[n++] = *s++;
	return n;
}

static size_t line_add_hex(char *line, size_t n, size_t size, unsigned long v)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 60;

	while (shift > 0 && !(v >> shift))
		shift -= 4;
	n = line_add(line, n, size, "0x");
	for (; shift >= 0 && n + 1 < size; shift -= 4)
		line[n++] = hex[(v >> shift) & 0xf];
	return n;
}

static size_t line_add_number(char *line, size_t n, size_t size, long v)
{
	char digits[24];
	size_t d = 0;
	unsigned long u = v < 0 ? 0 - (unsigned long)v : (unsigned long)v;

	do
		digits[d++] = (char)('0' + u % 10);
	while ((u /= 10) && d < sizeof(digits));
	if (v < 0 && n + 1 < size)
		line[n++] = '-';
	while (d && n + 1 < size)
		line[n++] = digits[--d];
	return n;
}

static void sandbox_on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	const ucontext_t *uc = uctx;
	char line[192];
	size_t n = 0;
	int nr = si->si_syscall;

	n = line_add(line, n, sizeof(line), "smolvm: sandbox: ");
	n = line_add(line, n, sizeof(line), sandbox_kind_name(thread_kind));
	n = line_add(line, n, sizeof(line), " thread made forbidden system call ");
	if (nr >= 0 && nr < SYSCALL_NAMES && syscall_names[nr])
		n = line_add(line, n, sizeof(line), syscall_names[nr]);
	else
		n = line_add_number(line, n, sizeof(line), nr);
	/* Which ioctl: the request is the second argument, still in its register. */
	if (nr == SYS_ioctl) {
		n = line_add(line, n, sizeof(line), " (request ");
		n = line_add_hex(line, n, sizeof(line), (unsigned long)uc->uc_mcontext.gregs[REG_RSI]);
		n = line_add(line, n, sizeof(line), ")");
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to say it */
	}
	_exit(SANDBOX_EXIT_VIOLATION);
}

/* Capabilities are per thread: each drops its own, keeping only what its work uses. */
static int sandbox_drop_capabilities(enum sandbox_kind kind)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	uint32_t keep = 0;

	/* A share served as root creates files for the guest's users and honours their
	 * modes: the vCPU threads start the server's workers, which inherit from them. */
	if (keep_file_caps && (kind == SANDBOX_VCPU || kind == SANDBOX_DEVICE))
		keep = (1u << CAP_CHOWN) | (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) |
		       (1u << CAP_FOWNER) | (1u << CAP_FSETID) | (1u << CAP_MKNOD);
	if (syscall(SYS_capget, &hdr, data) != 0)
		return -errno;
	for (unsigned i = 0; i < 2; i++) {
		data[i].effective &= i == 0 ? keep : 0;
		data[i].permitted &= i == 0 ? keep : 0;
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data) != 0)
		return -errno;
	/* Ambient capabilities would come back at an execve, which no thread may make. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

/* Kind k's filter as the BPF program the kernel takes; 0 or -errno. */
static int sandbox_compile(int k, struct sock_fprog *prog)
{
	scmp_filter_ctx ctx = seccomp_filter_build(k, SCMP_ACT_TRAP, with_window);
	struct sock_filter *insns = NULL;
	off_t len = 0;
	int fd = -1, ret;

	if (!ctx)
		return -errno;
	/* libseccomp 2.5 exports only to a file descriptor. */
	fd = memfd_create("smolvm-seccomp", MFD_CLOEXEC);
	ret = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	if (ret == 0) {
		len = lseek(fd, 0, SEEK_END);
		if (len <= 0 || len % sizeof(*insns) || len / sizeof(*insns) > BPF_MAXINSNS)
			ret = -E2BIG;
	}
	if (ret == 0 && !(insns = malloc(len)))
		ret = -ENOMEM;
	if (ret == 0 && pread(fd, insns, len, 0) != len)
		ret = -EIO;
	if (ret == 0) {
		prog->len = len / sizeof(*insns);
		prog->filter = insns;
	} else {
		free(insns);
	}
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return ret;
}

int sandbox_init(const struct vm_config *cfg)
{
	const char *selftest = getenv("SMOLVM_SANDBOX_SELFTEST");
	struct sigaction sa;

	sandbox_ready = true;
	sandbox_on = cfg->sandbox;
	keep_file_caps = cfg->nshares > 0;
	with_window = cfg->display == DISPLAY_SDL;
	if (selftest && *selftest) {
		selftest_kind = sandbox_kind_parse(selftest);
		if (selftest_kind < 0) {
			log_error("SMOLVM_SANDBOX_SELFTEST: '%s' is not a thread kind (vcpu, device, "
				  "net, main, window)", selftest);
			return -EINVAL;
		}
	}
	if (!sandbox_on)
		return 0;
	/* Every filter now: a table libseccomp refuses is found before any thread. */
	for (int k = 0; k < SANDBOX_KINDS; k++) {
		int ret = sandbox_compile(k, &filters[k]);
		if (ret != 0) {
			log_error("sandbox: cannot build the %s thread's filter: %s", kind_names[k],
				  strerror(-ret));
			return -1;
		}
	}
	for (int nr = 0; nr < SYSCALL_NAMES; nr++)
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		log_error("sandbox: SIGSYS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void sandbox_enter(enum sandbox_kind kind)
{
	int ret;

	/* The device models' threads in unit tests and fuzzers stay as they were. */
	if (!sandbox_ready)
		return;
	thread_kind = kind;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		die(EXIT_GUEST_ERROR, "sandbox: no_new_privs in the %s thread: %s",
		    kind_names[kind], strerror(errno));
	ret = sandbox_drop_capabilities(kind);
	if (ret != 0)
		die(EXIT_GUEST_ERROR, "sandbox: cannot drop the %s thread's capabilities: %s",
		    kind_names[kind], strerror(-ret));
	/* What seccomp_load() does with libseccomp's default attributes, through the one call
	 * (and mode) the filters let a thread use to narrow its own. */
	if (sandbox_on && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filters[kind]) != 0)
		die(EXIT_GUEST_ERROR, "sandbox: cannot load the %s thread's filter: %s",
		    kind_names[kind], strerror(errno));
	/* A call no filter allows: what the thread would do if a bug made it misbehave
	 * (harmless without the sandbox: no process 0). */
	if (selftest_kind == (int)kind)
		syscall(SYS_process_vm_readv, 0, NULL, 0, NULL, 0, 0);
}
