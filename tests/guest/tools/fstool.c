/*
 * fstool: the file system calls busybox has no applet for, for the virtio-fs tests inside the
 * test guest. Each subcommand prints its result on stdout and exits 0, or prints
 * "fstool: CMD: <strerror>" on stderr and exits 1.
 *
 *   fstool falloc FILE OFFSET LENGTH [keep|punch|zero]   fallocate(2)
 *   fstool seek FILE OFFSET data|hole                    lseek SEEK_DATA/SEEK_HOLE: the offset
 *   fstool fsync FILE [data]                             fsync or fdatasync after a write
 *   fstool mmap-write FILE OFFSET TEXT                   MAP_SHARED store + msync
 *   fstool mmap-read FILE OFFSET LENGTH                  prints the bytes from a MAP_SHARED map
 *   fstool setxattr FILE NAME VALUE [create|replace]
 *   fstool getxattr FILE NAME                            prints the value
 *   fstool listxattr FILE                                prints the names, one a line
 *   fstool rmxattr FILE NAME
 *   fstool flock FILE                                    two opens: the second LOCK_NB conflicts
 *   fstool flock-try FILE ex|sh                          one non-blocking flock: ok or error
 *   fstool posix-lock FILE                               record locks between two processes
 *   fstool posix-try FILE                                one non-blocking F_SETLK write lock
 *   fstool pattern SEED MIB                              writes MIB MiB of a PRNG stream to stdout
 */
#define _GNU_SOURCE /* fallocate, SEEK_DATA: the tools are built without -D_GNU_SOURCE */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static const char *cmd;

static int fail(const char *what)
{
	fprintf(stderr, "fstool: %s: %s: %s\n", cmd, what, strerror(errno));
	return 1;
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0) {
		fail(path);
		exit(1);
	}
	return fd;
}

static long long num(const char *s)
{
	return strtoll(s, NULL, 0);
}

static int do_falloc(int argc, char **argv)
{
	int mode = 0, fd;

	if (argc > 5 && !strcmp(argv[5], "keep"))
		mode = FALLOC_FL_KEEP_SIZE;
	else if (argc > 5 && !strcmp(argv[5], "punch"))
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	else if (argc > 5 && !strcmp(argv[5], "zero"))
		mode = FALLOC_FL_ZERO_RANGE;
	fd = open_or_die(argv[2], O_RDWR | O_CREAT);
	if (fallocate(fd, mode, num(argv[3]), num(argv[4])))
		return fail("fallocate");
	return close(fd) ? fail("close") : 0;
}

static int do_seek(char **argv)
{
	int fd = open_or_die(argv[2], O_RDONLY);
	off_t off = lseek(fd, num(argv[3]), !strcmp(argv[4], "data") ? SEEK_DATA : SEEK_HOLE);

	if (off < 0)
		return fail("lseek");
	printf("%lld\n", (long long)off);
	return 0;
}

static int do_fsync(int argc, char **argv)
{
	int fd = open_or_die(argv[2], O_WRONLY | O_APPEND | O_CREAT);

	if (write(fd, "synced\n", 7) != 7)
		return fail("write");
	if (argc > 3 ? fdatasync(fd) : fsync(fd))
		return fail("fsync");
	return close(fd) ? fail("close") : 0;
}

static int do_mmap_write(char **argv)
{
	int fd = open_or_die(argv[2], O_RDWR);
	size_t off = (size_t)num(argv[3]), len = strlen(argv[4]);
	struct stat st;
	char *p;

	if (fstat(fd, &st))
		return fail("fstat");
	if ((off_t)(off + len) > st.st_size) {
		errno = EINVAL;
		return fail("past the end of the file");
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap");
	memcpy(p + off, argv[4], len);
	if (msync(p, (size_t)st.st_size, MS_SYNC))
		return fail("msync");
	munmap(p, (size_t)st.st_size);
	return close(fd) ? fail("close") : 0;
}

static int do_mmap_read(char **argv)
{
	int fd = open_or_die(argv[2], O_RDONLY);
	size_t off = (size_t)num(argv[3]), len = (size_t)num(argv[4]);
	char *p = mmap(NULL, off + len, PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return fail("mmap");
	fwrite(p + off, 1, len, stdout);
	printf("\n");
	return 0;
}

static int do_setxattr(int argc, char **argv)
{
	int flags = 0;

	if (argc > 5)
		flags = !strcmp(argv[5], "create") ? XATTR_CREATE : XATTR_REPLACE;
	if (setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), flags))
		return fail("setxattr");
	return 0;
}

static int do_getxattr(char **argv)
{
	char buf[65536];
	ssize_t n = getxattr(argv[2], argv[3], buf, sizeof(buf));

	if (n < 0)
		return fail("getxattr");
	fwrite(buf, 1, (size_t)n, stdout);
	printf("\n");
	return 0;
}

static int do_listxattr(char **argv)
{
	char buf[65536];
	ssize_t n = listxattr(argv[2], buf, sizeof(buf));

	if (n < 0)
		return fail("listxattr");
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
		printf("%s\n", buf + i);
	return 0;
}

static int do_rmxattr(char **argv)
{
	return removexattr(argv[2], argv[3]) ? fail("removexattr") : 0;
}

/* Two open file descriptions of one file: flock on one excludes the other. */
static int do_flock(char **argv)
{
	int a = open_or_die(argv[2], O_RDWR), b = open_or_die(argv[2], O_RDWR);

	if (flock(a, LOCK_EX | LOCK_NB))
		return fail("flock a");
	if (!flock(b, LOCK_EX | LOCK_NB) || errno != EWOULDBLOCK) {
		printf("flock: second exclusive lock was not refused\n");
		return 1;
	}
	if (!flock(b, LOCK_SH | LOCK_NB) || errno != EWOULDBLOCK) {
		printf("flock: shared lock beside an exclusive one was not refused\n");
		return 1;
	}
	if (flock(a, LOCK_UN))
		return fail("unlock a");
	if (flock(b, LOCK_EX | LOCK_NB))
		return fail("flock b after unlock");
	printf("flock ok\n");
	return 0;
}

static int do_flock_try(char **argv)
{
	int fd = open_or_die(argv[2], O_RDONLY);

	if (flock(fd, (!strcmp(argv[3], "sh") ? LOCK_SH : LOCK_EX) | LOCK_NB))
		return fail("flock");
	printf("locked\n");
	return 0;
}

static int setlk(int fd, short type, off_t start, off_t len, int cmd_)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};

	return fcntl(fd, cmd_, &fl);
}

/*
 * The parent write-locks bytes 0-99; the child (its own open) cannot lock them, sees them in
 * F_GETLK, can lock bytes 100-199; then waits in F_SETLKW until the parent unlocks 150 ms later.
 */
static int do_posix_lock(char **argv)
{
	int fd = open_or_die(argv[2], O_RDWR), sync_pipe[2], status;
	char c;
	pid_t pid;

	if (setlk(fd, F_WRLCK, 0, 100, F_SETLK))
		return fail("parent F_SETLK");
	if (pipe(sync_pipe))
		return fail("pipe");
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		int cfd = open_or_die(argv[2], O_RDWR);
		struct flock fl = {
		    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 5};
		struct timespec t0, t1;

		if (!setlk(cfd, F_WRLCK, 0, 100, F_SETLK) || (errno != EAGAIN && errno != EACCES)) {
			printf("posix: conflicting F_SETLK was not refused\n");
			_exit(1);
		}
		if (fcntl(cfd, F_GETLK, &fl) || fl.l_type != F_WRLCK || fl.l_start != 0 ||
		    fl.l_len != 100) {
			printf("posix: F_GETLK type %d start %lld len %lld\n", fl.l_type,
			       (long long)fl.l_start, (long long)fl.l_len);
			_exit(1);
		}
		if (setlk(cfd, F_WRLCK, 100, 100, F_SETLK)) {
			fail("child F_SETLK of a free range");
			_exit(1);
		}
		if (write(sync_pipe[1], "r", 1) != 1)
			_exit(1);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (setlk(cfd, F_WRLCK, 0, 100, F_SETLKW)) {
			fail("child F_SETLKW");
			_exit(1);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		printf("posix: waited %ld ms\n", (long)((t1.tv_sec - t0.tv_sec) * 1000 +
							(t1.tv_nsec - t0.tv_nsec) / 1000000));
		_exit(0);
	}
	if (read(sync_pipe[0], &c, 1) != 1)
		return fail("child");
	usleep(150000);
	if (setlk(fd, F_UNLCK, 0, 0, F_SETLK))
		return fail("unlock");
	if (waitpid(pid, &status, 0) < 0)
		return fail("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("posix: child failed\n");
		return 1;
	}
	printf("posix ok\n");
	return 0;
}

static int do_posix_try(char **argv)
{
	int fd = open_or_die(argv[2], O_RDWR);

	if (setlk(fd, F_WRLCK, 0, 0, F_SETLK))
		return fail("F_SETLK");
	printf("locked\n");
	return 0;
}

/* xorshift64*: a fast stream the host side can reproduce. */
static int do_pattern(char **argv)
{
	uint64_t x = (uint64_t)num(argv[2]) * 0x9e3779b97f4a7c15ULL + 1;
	static uint64_t buf[1 << 17]; /* 1 MiB */

	for (long long mib = num(argv[3]); mib > 0; mib--) {
		for (size_t i = 0; i < sizeof(buf) / 8; i++) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			buf[i] = x * 0x2545f4914f6cdd1dULL;
		}
		if (fwrite(buf, 1, sizeof(buf), stdout) != sizeof(buf))
			return fail("write");
	}
	return fflush(stdout) ? fail("flush") : 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int args;
	} cmds[] = {
	    {"falloc", 5},    {"seek", 5},     {"fsync", 3},	 {"mmap-write", 5},
	    {"mmap-read", 5}, {"setxattr", 5}, {"getxattr", 4},	 {"listxattr", 3},
	    {"rmxattr", 4},   {"flock", 3},    {"flock-try", 4}, {"posix-lock", 3},
	    {"posix-try", 3}, {"pattern", 4},
	};
	size_t i;

	cmd = argc > 1 ? argv[1] : "";
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmd, cmds[i].name))
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]) || argc < cmds[i].args) {
		fprintf(stderr, "usage: fstool COMMAND ARGS... (see the source)\n");
		return 2;
	}
	if (!strcmp(cmd, "falloc"))
		return do_falloc(argc, argv);
	if (!strcmp(cmd, "seek"))
		return do_seek(argv);
	if (!strcmp(cmd, "fsync"))
		return do_fsync(argc, argv);
	if (!strcmp(cmd, "mmap-write"))
		return do_mmap_write(argv);
	if (!strcmp(cmd, "mmap-read"))
		return do_mmap_read(argv);
	if (!strcmp(cmd, "setxattr"))
		return do_setxattr(argc, argv);
	if (!strcmp(cmd, "getxattr"))
		return do_getxattr(argv);
	if (!strcmp(cmd, "listxattr"))
		return do_listxattr(argv);
	if (!strcmp(cmd, "rmxattr"))
		return do_rmxattr(argv);
	if (!strcmp(cmd, "flock"))
		return do_flock(argv);
	if (!strcmp(cmd, "flock-try"))
		return do_flock_try(argv);
	if (!strcmp(cmd, "posix-lock"))
		return do_posix_lock(argv);
	if (!strcmp(cmd, "posix-try"))
		return do_posix_try(argv);
	return do_pattern(argv);
}
