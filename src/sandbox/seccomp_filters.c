/*
 * One table per thread kind: the system calls it may make after setup.
 *
 * Allowlists, except for the window's thread, whose libraries (SDL, X11, GL drivers) call what
 * they like: it gets a deny list of the calls that would take a compromised process further
 * (exec, ptrace, other processes' memory, mounts, modules, namespaces, BPF); new processes
 * fail with EPERM.
 *
 * Filters stack: a thread started by another keeps its creator's filter under its own, so a
 * kind that starts threads allows what its children need too (`spawns`). vCPU threads start
 * the devices' workers and the network thread when the guest's driver sets DRIVER_OK, so their
 * list is the union of the three; each child then narrows to its own kind's list.
 *
 * Arguments are checked where that is what makes the call safe: ioctl only with the requests
 * the kind makes (no KVM_CREATE_VM, KVM_CREATE_VCPU or KVM_SET_CPUID2 after setup), clone only
 * for threads, mmap and mprotect never executable, sockets only IPv4/IPv6 and files only for
 * reading (the network thread), prctl only to set a name, no_new_privs or clear ambient
 * capabilities, seccomp only to add a filter.
 */
#include "sandbox/seccomp_filters.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/if_tun.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>

/* fchmodat2 (Linux 6.6) is newer than Debian 12's libseccomp: the virtio-fs server tries it
 * first and takes ENOSYS as "use the fallback". */
#define SYSCALL_FCHMODAT2_X86_64 452

struct filter_table {
	const char *const *calls;    /* NULL-terminated: allowed with any arguments */
	const unsigned long *ioctls; /* 0-terminated: the requests ioctl may make */
	unsigned spawns;	     /* 1 << kind: the kinds of thread this kind starts */
	int threads;		     /* may start threads (clone with CLONE_THREAD) */
	int sockets;		     /* may open IPv4 and IPv6 sockets */
	int read_opens;		     /* may open files for reading (libslirp's resolv.conf) */
};

/* What every thread does: memory, locks, its own signals and exit, time, logging.
 * rt_sigaction cannot take SIGSYS away from a filter: the kernel kills a thread that ignores
 * or blocks it. */
static const char *const common_calls[] = {
	"read", "write", "readv", "writev", "close", "futex", "exit", "exit_group",
	"rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "restart_syscall", "munmap", "madvise", "brk", "mremap",
	"getpid", "gettid", "tgkill", "clock_gettime", "gettimeofday", "clock_nanosleep",
	"nanosleep", "sched_yield", "sched_getaffinity", "fstat", "newfstatat", "getrandom",
	"poll", "ppoll", "sigaltstack", NULL,
};

/* KVM_RUN and what a register write can lead to: interrupts, ioeventfds and irqfds bound
 * when a device starts, the flash's memory slot, a register dump when a vCPU fails; a
 * device's start or reset starts and joins its threads. */
static const char *const vcpu_calls[] = {
	"eventfd2", "epoll_create1", "epoll_ctl", "set_robust_list", "rseq", "capget", "capset",
	/* pthread_setname_np names a new thread through /proc/self/task/TID/comm */
	"openat", NULL,
};
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN, KVM_IRQ_LINE, KVM_IRQFD, KVM_IOEVENTFD, KVM_SET_GSI_ROUTING,
	KVM_SET_USER_MEMORY_REGION, KVM_GET_REGS, KVM_GET_SREGS,
	KVM_CHECK_EXTENSION, /* the flash's slot checks for read-only memory when it moves */
	TUNSETOFFLOAD, /* virtio-net's features reach the TAP device */
	TIOCGWINSZ,    /* the console's size when the guest reads it */
	0,
};

/* Queue workers: the block devices' I/O and the virtio-fs server's file system calls. */
static const char *const device_calls[] = {
	"pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2", "lseek", "fsync",
	"fdatasync", "fallocate", "ftruncate", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "eventfd2", "openat", "openat2", "statx", "fstatfs", "statfs",
	"getdents64", "mkdirat", "mknodat", "unlinkat", "renameat", "renameat2", "linkat",
	"symlinkat", "readlinkat", "fchmod", "fchmodat", "chmod" /* /proc/self/fd/N */, "fchown",
	"fchownat", "utimensat",
	"fgetxattr", "fsetxattr", "flistxattr", "fremovexattr", "getxattr", "lgetxattr",
	"setxattr", "lsetxattr", "listxattr", "llistxattr", "removexattr", "lremovexattr",
	"flock", "fcntl", "copy_file_range", "dup", "faccessat", "faccessat2", NULL,
};
static const unsigned long no_ioctls[] = {0};

/* With a window, virtio-gpu's worker wakes the window's thread with SDL_PushEvent, which
 * under X11 sends a wakeup event on SDL's X connection (xcb: sendmsg, recvmsg). */
static const char *const window_wake_calls[] = {"sendmsg", "recvmsg", NULL};

/* The network thread: the TAP device's reads and writes, or libslirp's sockets; libslirp
 * reads /etc/resolv.conf again when it changes, for the DNS address it offers the guest. */
static const char *const net_calls[] = {
	"connect", "bind", "listen", "accept", "accept4", "sendto", "recvfrom", "sendmsg",
	"recvmsg", "setsockopt", "getsockopt", "getsockname", "getpeername", "shutdown", "fcntl",
	"lseek", NULL,
};
static const unsigned long net_ioctls[] = {FIONREAD, FIONBIO, 0};

/* The main loop: signals, the terminal, the monitor's socket and screendumps, the power
 * button's timer; at exit it stops the vCPUs, restores the terminal and removes the socket. */
static const char *const main_calls[] = {
	"signalfd4", "accept4", "recvfrom", "sendto", "recvmsg", "sendmsg", "shutdown", "fcntl",
	"openat", "unlink", "unlinkat", "timerfd_settime", "timerfd_gettime", "ftruncate",
	"lseek", NULL,
};
static const unsigned long main_ioctls[] = {
	TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ, KVM_IRQ_LINE, KVM_GET_REGS, KVM_GET_SREGS,
	0,
};

static const struct filter_table tables[SANDBOX_KINDS] = {
	[SANDBOX_VCPU] = {vcpu_calls, vcpu_ioctls, (1u << SANDBOX_DEVICE) | (1u << SANDBOX_NET),
			  1, 0, 0},
	[SANDBOX_DEVICE] = {device_calls, no_ioctls, 0, 0, 0, 0},
	[SANDBOX_NET] = {net_calls, net_ioctls, 0, 0, 1, 1},
	[SANDBOX_MAIN] = {main_calls, main_ioctls, 0, 0, 0, 0},
};

/* The window's deny list. */
static const char *const window_denied[] = {
	"execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev",
	"kcmp", "pidfd_getfd", "mount", "umount2", "pivot_root", "chroot", "move_mount",
	"open_tree", "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "setns",
	"unshare", "kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
	"request_key", "reboot", "swapon", "swapoff", "acct", "iopl", "ioperm", "personality",
	"name_to_handle_at", "open_by_handle_at", "setuid", "setgid", "setreuid", "setregid",
	"setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid", "quotactl", "syslog",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
	"setdomainname", "vhangup", NULL,
};

static int filter_add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
		      const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	int ret;

	if (nr == __NR_SCMP_ERROR)
		return -ENOSYS;
	ret = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	/* The same call in two tables of a union. */
	return ret == -EEXIST ? 0 : ret;
}

static int filter_add_calls(scmp_filter_ctx ctx, uint32_t action, const char *const *calls)
{
	int ret = 0;

	for (; *calls && ret == 0; calls++)
		ret = filter_add(ctx, action, *calls, 0, NULL);
	return ret;
}

static int filter_add_ioctls(scmp_filter_ctx ctx, const unsigned long *req)
{
	int ret = 0;

	/* The kernel reads the request as 32 bits: compare those. */
	for (; *req && ret == 0; req++) {
		struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, *req);
		ret = filter_add(ctx, SCMP_ACT_ALLOW, "ioctl", 1, &c);
	}
	return ret;
}

/* The calls every allowlist has, with their arguments checked. */
static int filter_add_checked(scmp_filter_ctx ctx)
{
	const struct scmp_arg_cmp no_exec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	const struct scmp_arg_cmp prctl_ok[] = {
		SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME, 0),
		SCMP_A0(SCMP_CMP_EQ, PR_SET_NO_NEW_PRIVS, 0),
		SCMP_A0(SCMP_CMP_EQ, PR_CAP_AMBIENT, 0), /* a new thread clears its own */
	};
	int ret = filter_add(ctx, SCMP_ACT_ALLOW, "mmap", 1, &no_exec);

	if (ret == 0)
		ret = filter_add(ctx, SCMP_ACT_ALLOW, "mprotect", 1, &no_exec);
	for (unsigned i = 0; i < 3 && ret == 0; i++)
		ret = filter_add(ctx, SCMP_ACT_ALLOW, "prctl", 1, &prctl_ok[i]);
	/* glibc starts threads with clone3 and falls back to clone, whose flags a filter can
	 * read (clone3's are behind a pointer). */
	if (ret == 0)
		ret = filter_add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	return ret;
}

static int filter_add_table(scmp_filter_ctx ctx, const struct filter_table *t)
{
	const struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	const struct scmp_arg_cmp inet[] = {
		SCMP_A0(SCMP_CMP_EQ, AF_INET, 0),
		SCMP_A0(SCMP_CMP_EQ, AF_INET6, 0),
	};
	const struct scmp_arg_cmp add_filter = SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER, 0);
	int ret = filter_add_calls(ctx, SCMP_ACT_ALLOW, t->calls);

	if (ret == 0)
		ret = filter_add_ioctls(ctx, t->ioctls);
	if (ret == 0 && t->threads) {
		ret = filter_add(ctx, SCMP_ACT_ALLOW, "clone", 1, &thread);
		/* A new thread adds its own filter. */
		if (ret == 0)
			ret = filter_add(ctx, SCMP_ACT_ALLOW, "seccomp", 1, &add_filter);
	}
	const struct scmp_arg_cmp read_only =
		SCMP_A2(SCMP_CMP_MASKED_EQ, O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0);
	for (unsigned i = 0; i < 2 && ret == 0 && t->sockets; i++)
		ret = filter_add(ctx, SCMP_ACT_ALLOW, "socket", 1, &inet[i]);
	if (ret == 0 && t->read_opens)
		ret = filter_add(ctx, SCMP_ACT_ALLOW, "openat", 1, &read_only);
	for (unsigned k = 0; k < SANDBOX_KINDS && ret == 0; k++)
		if (t->spawns & (1u << k))
			ret = filter_add_table(ctx, &tables[k]);
	return ret;
}

static int filter_add_window(scmp_filter_ctx ctx, uint32_t violation)
{
	const struct scmp_arg_cmp process = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0);
	int ret = filter_add_calls(ctx, violation, window_denied);

	/* A new process (clone without CLONE_THREAD) fails with EPERM rather than ending
	 * smolvm: libdbus, under SDL, forks to autolaunch dbus-launch when no session bus is
	 * set, and goes on without one. clone3 hides its flags. */
	if (ret == 0)
		ret = filter_add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &process);
	if (ret == 0)
		ret = filter_add(ctx, SCMP_ACT_ERRNO(EPERM), "fork", 0, NULL);
	if (ret == 0)
		ret = filter_add(ctx, SCMP_ACT_ERRNO(EPERM), "vfork", 0, NULL);
	if (ret == 0)
		ret = filter_add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
	return ret;
}

scmp_filter_ctx seccomp_filter_build(enum sandbox_kind kind, uint32_t violation, bool window)
{
	scmp_filter_ctx ctx;
	int ret;

	if ((unsigned)kind >= SANDBOX_KINDS) {
		errno = EINVAL;
		return NULL;
	}
	ctx = seccomp_init(kind == SANDBOX_WINDOW ? SCMP_ACT_ALLOW : violation);
	if (!ctx) {
		errno = ENOMEM;
		return NULL;
	}
	if (kind == SANDBOX_WINDOW) {
		ret = filter_add_window(ctx, violation);
	} else {
		ret = filter_add_calls(ctx, SCMP_ACT_ALLOW, common_calls);
		if (ret == 0)
			ret = filter_add_checked(ctx);
		if (ret == 0)
			ret = filter_add_table(ctx, &tables[kind]);
		/* The vCPU threads start the workers: what those may do, they may. */
		if (ret == 0 && window && (kind == SANDBOX_DEVICE || kind == SANDBOX_VCPU))
			ret = filter_add_calls(ctx, SCMP_ACT_ALLOW, window_wake_calls);
		if (ret == 0 && (kind == SANDBOX_DEVICE || kind == SANDBOX_VCPU))
			ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
					       SYSCALL_FCHMODAT2_X86_64, 0);
	}
	if (ret != 0) {
		seccomp_release(ctx);
		errno = -ret;
		return NULL;
	}
	return ctx;
}

/* Each distinct call the tables name: unconditional, checked or by default. */
static void count_calls(const char *const *calls, unsigned char *seen)
{
	for (; *calls; calls++) {
		int nr = seccomp_syscall_resolve_name(*calls);
		if (nr >= 0 && nr < 1024)
			seen[nr] = 1;
	}
}

static void count_table(const struct filter_table *t, unsigned char *seen)
{
	static const char *const checked[] = {"mmap", "mprotect", "prctl", NULL};
	static const char *const threads[] = {"clone", "seccomp", NULL};
	static const char *const sockets[] = {"socket", NULL};
	static const char *const opens[] = {"openat", NULL};
	static const char *const ioctl[] = {"ioctl", NULL};

	count_calls(t->calls, seen);
	count_calls(checked, seen);
	if (t->ioctls[0])
		count_calls(ioctl, seen);
	if (t->threads)
		count_calls(threads, seen);
	if (t->sockets)
		count_calls(sockets, seen);
	if (t->read_opens)
		count_calls(opens, seen);
	for (unsigned k = 0; k < SANDBOX_KINDS; k++)
		if (t->spawns & (1u << k))
			count_table(&tables[k], seen);
}

int seccomp_filter_count(enum sandbox_kind kind)
{
	unsigned char seen[1024] = {0};
	int n = 0;

	if ((unsigned)kind >= SANDBOX_KINDS)
		return -1;
	if (kind == SANDBOX_WINDOW) {
		count_calls(window_denied, seen);
	} else {
		count_calls(common_calls, seen);
		count_table(&tables[kind], seen);
	}
	for (unsigned i = 0; i < sizeof(seen); i++)
		n += seen[i];
	return n;
}
