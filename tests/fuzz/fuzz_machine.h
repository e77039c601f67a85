/*
 * The machine of tests/unit/fake_machine.h as the virtio fuzzers drive it: made once per
 * process (its scratch files go at exit), a pause that lets the devices' threads run, and the
 * check after each input that the devices left no thread and no descriptor behind.
 *
 * The check runs after every input, so it must be cheap: it counts the entries of
 * /proc/self/task and /proc/self/fd through descriptors kept open (a rewind and a getdents),
 * and only when a count differs from the last good one does it look closer, as
 * fake_count_dir does (pipes left out: libFuzzer talks to its symbolizer through pipes it
 * opens when it first prints a new function) and for a while (a joined thread leaves /proc a
 * moment after pthread_join returns).
 */
#ifndef SMOLVM_FUZZ_MACHINE_H
#define SMOLVM_FUZZ_MACHINE_H

#include <dirent.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fake_machine.h"
#include "fuzz.h"

static struct fake_machine machine;

static struct {
	int task_dir, fd_dir;	      /* /proc/self/task and /proc/self/fd, kept open */
	unsigned threads, fds;	      /* counted as fake_count_dir counts, at the first input */
	unsigned raw_threads, raw_fds; /* every entry (pipes too) when last found right */
} fuzz_quiet;

static void fuzz_machine_remove_files(void)
{
	fake_machine_remove_files(&machine);
}

/* Build the machine (aborts on failure); its scratch directory is removed at exit. */
static inline void fuzz_machine_init(void)
{
	fake_machine_init(&machine);
	atexit(fuzz_machine_remove_files);
}

/* Entries of the directory open at fd, "." and ".." left out. */
static inline unsigned fuzz_count_entries(int fd)
{
	char buf[4096];
	unsigned n = 0;
	long got;

	if (lseek(fd, 0, SEEK_SET) != 0)
		fake_machine_die("lseek /proc");
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < got;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);

			n += e->d_name[0] != '.';
			off += e->d_reclen;
		}
	}
	if (got < 0)
		fake_machine_die("getdents /proc");
	return n;
}

/* Give the devices' threads the CPU: n (0..7) yields, or at 7 a real sleep of 100 us. */
static inline void fuzz_machine_pause(unsigned n)
{
	if (n >= 7) {
		usleep(100);
		return;
	}
	while (n--)
		sched_yield();
}

/*
 * Before each input. The first counts the threads and descriptors the process has (libFuzzer
 * starts its own threads after initializing), before the input can leak one.
 */
static inline void fuzz_machine_begin(void)
{
	if (fuzz_quiet.task_dir)
		return;
	fuzz_quiet.task_dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fuzz_quiet.fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fuzz_quiet.task_dir < 0 || fuzz_quiet.fd_dir < 0)
		fake_machine_die("open /proc");
	fuzz_quiet.threads = fake_count_dir("/proc/self/task", 0);
	fuzz_quiet.fds = fake_count_dir("/proc/self/fd", 0);
	fuzz_quiet.raw_threads = fuzz_quiet.threads;
	fuzz_quiet.raw_fds = fuzz_count_entries(fuzz_quiet.fd_dir);
}

/* After an input: the process has the threads and descriptors fuzz_machine_begin counted,
 * else a trap. */
static inline void fuzz_machine_check_quiet(void)
{
	unsigned threads, fds;

	/* A thread just joined may linger a moment: yield a little before looking closer. */
	for (unsigned tries = 0; tries < 64; tries++) {
		threads = fuzz_count_entries(fuzz_quiet.task_dir);
		fds = fuzz_count_entries(fuzz_quiet.fd_dir);
		if (threads == fuzz_quiet.raw_threads && fds == fuzz_quiet.raw_fds)
			return;
		sched_yield();
	}
	fuzz_assert(fake_count_dir("/proc/self/task", fuzz_quiet.threads) == fuzz_quiet.threads);
	fuzz_assert(fake_count_dir("/proc/self/fd", fuzz_quiet.fds) == fuzz_quiet.fds);
	/* A thread was slow to leave, or only pipes changed: that count of fds is the good one
	 * now (threads have no pipes: their count stays). */
	fuzz_quiet.raw_fds = fuzz_count_entries(fuzz_quiet.fd_dir);
}

#endif
