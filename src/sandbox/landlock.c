/*
 * Landlock (Linux 5.13+): the process gives up the file system, except what it still needs,
 * once setup is done. glibc has no wrappers for the three calls, so they go through
 * syscall(2). A ruleset "handles" the rights it restricts: every file-system right the
 * running kernel knows (ABI 1: thirteen; ABI 2 adds REFER, renames and links across
 * directories; ABI 3 adds TRUNCATE). What the rules below do not grant is refused with
 * EACCES (EXDEV for a rename or link that would need REFER).
 *
 * A Landlock domain belongs to a thread, not to the process: landlock_restrict_self()
 * restricts its caller only. So each thread that already exists (the window's, SDL's)
 * restricts itself from a signal handler, and the threads started later (vCPUs and the
 * device workers they start) inherit the domain. A thread left out would undo it all: it
 * shares the memory a compromised thread writes to.
 */
#include "sandbox/landlock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/landlock.h>
#include <limits.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cli/options.h"
#include "vmm/log.h"

/* Landlock access rights newer than some kernel headers (Debian 12's stop at ABI 2). */
#define LANDLOCK_FS_TRUNCATE_V3 (1ULL << 14)

/* What a rule on a file (not a directory) may grant. */
#define LANDLOCK_FILE_RIGHTS                                                                   \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |                          \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_FS_TRUNCATE_V3)

#define LANDLOCK_THREAD_SIGNAL	SIGUSR2 /* otherwise unused in smolvm */
#define LANDLOCK_THREAD_TIMEOUT 5	/* seconds for a thread to take the domain */

/* The running kernel's Landlock ABI version, or 0 without Landlock. */
static int landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi > 0 ? (int)abi : 0;
}

/* Every file-system right ABI version abi knows: the rights the ruleset handles. */
static uint64_t landlock_fs_rights(int abi)
{
	uint64_t rights = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0 to 12 */

	if (abi >= 2)
		rights |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		rights |= LANDLOCK_FS_TRUNCATE_V3;
	return rights;
}

/* Set once the ruleset is made: landlock_allow_path masks every rule with it. */
static uint64_t landlock_handled;

/* Add a rule: path (a directory and all beneath it, or one file) gets access. The rights a
 * file cannot have are dropped for files. 0, or -errno (a path that does not exist gives
 * -ENOENT, which callers may ignore). */
static int landlock_allow_path(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr rule = {.allowed_access = access & landlock_handled};
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0)
		err = -errno;
	else if (!S_ISDIR(st.st_mode))
		rule.allowed_access &= LANDLOCK_FILE_RIGHTS;
	rule.parent_fd = fd;
	if (!err && rule.allowed_access &&
	    syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) != 0)
		err = -errno;
	close(fd);
	return err;
}

/* The shares: everything but execution in a read-write one, reading in a read-only one.
 * A rename or link inside a share is allowed (REFER); out of it, never. */
static int landlock_allow_shares(int ruleset, const struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nshares; i++) {
		const struct share_config *s = &cfg->share[i];
		uint64_t access = s->readonly
				      ? LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR
				      : ~(uint64_t)LANDLOCK_ACCESS_FS_EXECUTE;
		int err = landlock_allow_path(ruleset, s->path, access);

		if (err) {
			log_error("sandbox: share %s (%s): %s", s->tag, s->path, strerror(-err));
			return -1;
		}
	}
	return 0;
}

/*
 * The monitor socket's directory and all beneath it: the socket is removed there at exit,
 * and `screendump FILE` writes there (and only there). Files there can be created,
 * overwritten and removed, not read.
 */
static int landlock_allow_monitor(int ruleset, const struct vm_config *cfg)
{
	char dir[PATH_MAX];
	int err;

	if (!cfg->monitor_path)
		return 0;
	snprintf(dir, sizeof(dir), "%s", cfg->monitor_path);
	err = landlock_allow_path(ruleset, dirname(dir),
				  LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_WRITE_FILE |
				      LANDLOCK_FS_TRUNCATE_V3 | LANDLOCK_ACCESS_FS_REMOVE_FILE);
	if (err)
		log_error("sandbox: the monitor's directory %s: %s", dir, strerror(-err));
	return err ? -1 : 0;
}

/* libslirp reads the host's nameserver from /etc/resolv.conf when the guest first asks its
 * DNS address, and again when the file changes. */
static int landlock_allow_network(int ruleset, const struct vm_config *cfg)
{
	if (cfg->net.mode == NET_USER)
		landlock_allow_path(ruleset, "/etc/resolv.conf", LANDLOCK_ACCESS_FS_READ_FILE);
	return 0;
}

/* The ruleset the other threads take, and how each says it did. */
static int thread_ruleset = -1;
static sem_t thread_done;
static volatile sig_atomic_t thread_errno;

/* The calling thread only. */
static int landlock_restrict_current(int ruleset)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_landlock_restrict_self, ruleset, 0) != 0)
		return -errno;
	return 0;
}

static void landlock_thread_signal(int sig)
{
	int saved = errno;

	thread_errno = -landlock_restrict_current(thread_ruleset);
	sem_post(&thread_done);
	errno = saved;
}

/* Have one thread restrict itself; 0 or -errno (-ETIMEDOUT if it never answered). */
static int landlock_restrict_thread(pid_t tid)
{
	struct timespec deadline;
	int ret;

	thread_errno = 0;
	if (syscall(SYS_tgkill, getpid(), tid, LANDLOCK_THREAD_SIGNAL) != 0)
		return errno == ESRCH ? 0 : -errno; /* ESRCH: it has just exited */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += LANDLOCK_THREAD_TIMEOUT;
	while ((ret = sem_timedwait(&thread_done, &deadline)) != 0 && errno == EINTR)
		;
	if (ret != 0)
		return -ETIMEDOUT;
	return -thread_errno;
}

/* Whether tid runs user code: not a kernel worker living in this process (KVM's
 * nx-lpage-recovery thread is one since Linux 6.13), which takes no signal and opens no
 * file for us. */
static bool landlock_is_user_thread(pid_t tid)
{
	const unsigned kernel_flags = 0x00004000 /* PF_USER_WORKER */ |
				      0x00000010 /* PF_IO_WORKER */ |
				      0x00200000 /* PF_KTHREAD */;
	char path[64], buf[512], *p;
	unsigned flags = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	/* After the name in parentheses: state ppid pgrp session tty_nr tpgid flags. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %u", &flags) != 1)
		return true;
	return !(flags & kernel_flags);
}

/* Every thread but this one, through /proc/self/task. 0, or -1 after one line. */
static int landlock_restrict_others(int ruleset)
{
	/* The handler stays: a signal arriving late must not kill the process. */
	struct sigaction sa = {.sa_handler = landlock_thread_signal, .sa_flags = SA_RESTART};
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int err = 0;

	if (!d) {
		log_error("sandbox: /proc/self/task: %s", strerror(errno));
		return -1;
	}
	thread_ruleset = ruleset;
	sem_init(&thread_done, 0, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(LANDLOCK_THREAD_SIGNAL, &sa, NULL);
	while (!err && (e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid <= 0 || tid == gettid() || !landlock_is_user_thread(tid))
			continue;
		err = landlock_restrict_thread(tid);
		if (err == -ETIMEDOUT)
			log_error("sandbox: thread %d did not take the Landlock rules within %d s "
				  "(-sandbox off runs without them)",
				  (int)tid, LANDLOCK_THREAD_TIMEOUT);
		else if (err)
			log_error("sandbox: thread %d cannot take the Landlock rules: %s", (int)tid,
				  strerror(-err));
	}
	closedir(d);
	return err ? -1 : 0;
}

/*
 * SMOLVM_SANDBOX_PROBE: a debug hook for the tests. Lines "r:PATH" (open to read), "w:PATH"
 * (open to write, without truncating) and "c:PATH" (create), tried once restricted; each
 * prints one line with the outcome.
 */
static void landlock_probe(void)
{
	const char *env = getenv("SMOLVM_SANDBOX_PROBE");
	char *list = env ? strdup(env) : NULL, *save = NULL, *line;

	for (line = list ? strtok_r(list, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		int flags = line[0] == 'r' ? O_RDONLY
			    : line[0] == 'w' ? O_WRONLY
			    : line[0] == 'c' ? O_WRONLY | O_CREAT | O_EXCL
					     : -1;
		int fd = flags < 0 || line[1] != ':' ? -1 : open(line + 2, flags | O_CLOEXEC, 0600);

		if (flags < 0 || line[1] != ':')
			errno = EINVAL;
		log_error("sandbox probe: %s: %s", line, fd >= 0 ? "ok" : strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(list);
}

int landlock_apply(const struct vm_config *cfg)
{
	int abi = landlock_abi(), ruleset, err;
	struct landlock_ruleset_attr attr = {0};

	if (!cfg->sandbox) {
		landlock_probe(); /* what the tests compare with */
		return 0;
	}
	if (abi == 0) {
		log_error("sandbox: Landlock not supported by this kernel; file system not "
			  "restricted");
		landlock_probe();
		return 0;
	}
	landlock_handled = attr.handled_access_fs = landlock_fs_rights(abi);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0) {
		log_error("sandbox: cannot make a Landlock ruleset: %s", strerror(errno));
		return -1;
	}
	err = landlock_allow_shares(ruleset, cfg) || landlock_allow_monitor(ruleset, cfg) ||
	      landlock_allow_network(ruleset, cfg);
	if (!err)
		err = landlock_restrict_others(ruleset);
	if (!err) {
		err = landlock_restrict_current(ruleset);
		if (err)
			log_error("sandbox: cannot restrict smolvm with Landlock: %s",
				  strerror(-err));
	}
	close(ruleset);
	if (err)
		return -1;
	log_debug("sandbox: Landlock ABI %d: only the shares%s are reachable", abi,
		  cfg->monitor_path ? " and the monitor's directory" : "");
	landlock_probe();
	return 0;
}
