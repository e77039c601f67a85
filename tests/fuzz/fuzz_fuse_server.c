/*
 * libFuzzer target for the FUSE server: each input is a sequence of FUSE requests, cut into
 * random buffer splits with random reply buffer sizes, run against a small tree that also holds
 * symlinks, a FIFO and a hard link aimed at tempting escapes.
 *
 * The tree is made once per process and rebuilt every FUZZ_REBUILD_EVERY inputs (each input
 * gets a fresh server, so node and handle numbers are deterministic). The fuzzer cannot write
 * outside it: the server must not allow it (checked after every input against a sibling
 * "outside" directory whose secret must never show up in a reply), Landlock forbids it where
 * the kernel has Landlock, and RLIMIT_FSIZE plus clamped offsets keep files small.
 *
 * Input record: u8 in_splits, u8 out_splits, u16 len, u16 out_size, then len request bytes.
 * The input's last byte also picks the share's cache mode (its value mod 3: auto, always,
 * never), which changes the timeouts and flags of replies and how a missing name is answered.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <linux/landlock.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/fuse_server.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* Landlock ABI 3, newer than some headers */
#endif

#define FUZZ_REBUILD_EVERY 64
#define FUZZ_FILE_CAP	   (64 * 1024) /* offsets and lengths the harness lets through */
#define FUZZ_MAX_OUT	   (256 * 1024)
#define FUZZ_SECRET_LEN	   32

/*
 * The outside file's content: random per process and searched for with a rolling hash, never
 * with memcmp/memmem, whose arguments libFuzzer would learn and then write into the share.
 */
static uint8_t secret[FUZZ_SECRET_LEN];
static uint64_t secret_hash, hash_top; /* hash of secret; 31^(len-1) */
static char top[64], share[128], outside[128];
static struct stat outside_st, secret_st;
static unsigned inputs;

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "fuzz_fuse_server: %s: %s\n", what, strerror(errno));
	abort();
}

static void put(const char *dir, const char *rel, char *buf)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", dir, rel) >= PATH_MAX)
		abort();
}

/* Removes everything below dirfd, making directories searchable first (the guest may chmod). */
static void clear_dir(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d)
		die("fdopendir");
	while ((de = readdir(d))) {
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!unlinkat(dirfd, de->d_name, 0))
			continue;
		fchmodat(dirfd, de->d_name, 0700, 0);
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			clear_dir(sub);
			unlinkat(dirfd, de->d_name, AT_REMOVEDIR);
		}
	}
	rewinddir(d);
	closedir(d);
}

static void make_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	int fd;

	put(share, rel, path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(path);
	close(fd);
}

static void build_tree(void)
{
	char path[PATH_MAX], path2[PATH_MAX];
	int fd = open(share, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die("open share");
	fchmod(fd, 0755);
	clear_dir(fd); /* closes fd */
	put(share, "d", path);
	mkdir(path, 0755);
	make_file("d/a", "alpha");
	make_file("d/b", "");
	make_file("f", "0123456789abcdef");
	put(share, "f", path);
	put(share, "f2", path2);
	link(path, path2);
	put(share, "esc", path);
	symlink("../outside", path);
	put(share, "escf", path);
	symlink("../outside/secret", path);
	put(share, "abs", path);
	symlink(outside, path);
	put(share, "proc", path);
	symlink("/proc/self", path);
	put(share, "fifo", path);
	mkfifo(path, 0644);
}

static void landlock_add(int ruleset, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr rule = {.allowed_access = access};

	rule.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (rule.parent_fd < 0)
		return;
	syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	close(rule.parent_fd);
}

/*
 * Where Landlock exists, this process may write only below the temporary tree, the working
 * directory and the corpus directories (libFuzzer saves inputs and crashes there), and /dev/null.
 */
static void confine(int argc, char **argv)
{
	uint64_t dirs = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
			LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
			LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
			LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
			LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	struct landlock_ruleset_attr attr;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	char cwd[PATH_MAX];
	int ruleset;

	if (abi < 1) {
		fprintf(stderr,
			"fuzz_fuse_server: no Landlock here; the server alone keeps the "
			"fuzzer inside %s\n",
			top);
		return;
	}
	if (abi >= 2)
		dirs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		dirs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	attr = (struct landlock_ruleset_attr){.handled_access_fs = dirs};
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		die("landlock_create_ruleset");
	landlock_add(ruleset, top, dirs);
	if (getcwd(cwd, sizeof(cwd)))
		landlock_add(ruleset, cwd, dirs);
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-')
			landlock_add(ruleset, argv[i], dirs);
		else if (!strncmp(argv[i], "-artifact_prefix=", 17))
			landlock_add(ruleset, argv[i] + 17, dirs);
	}
	landlock_add(ruleset, "/dev/null",
		     LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? LANDLOCK_ACCESS_FS_TRUNCATE : 0));
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (syscall(SYS_landlock_restrict_self, ruleset, 0))
		die("landlock_restrict_self");
	close(ruleset);
}

static void stat_outside(struct stat *dir, struct stat *secret)
{
	char path[PATH_MAX];

	put(outside, "secret", path);
	if (lstat(outside, dir) || lstat(path, secret))
		die("outside changed");
}

/*
 * The tree goes when the fuzzer does, however it ends. The confined fuzzer may not remove the
 * top directory (that writes /tmp), so a helper forked before confinement waits for the pipe
 * to close and removes everything.
 */
static void remove_tree_later(void)
{
	int p[2], fd;
	char c;

	if (pipe(p))
		die("pipe");
	switch (fork()) {
	case -1:
		die("fork");
	case 0:
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			clear_dir(fd);
		rmdir(top);
		_exit(0);
	}
	close(p[0]); /* p[1] stays open, unused, until this process is gone */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rlimit fsize = {4 << 20, 4 << 20};
	char path[PATH_MAX];
	int fd;

	snprintf(top, sizeof(top), "/tmp/fuzz_fuse_server.XXXXXX");
	if (!mkdtemp(top))
		die("mkdtemp");
	snprintf(share, sizeof(share), "%s/share", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	if (mkdir(share, 0755) || mkdir(outside, 0755))
		die("mkdir");
	if (getrandom(secret, sizeof(secret), 0) != sizeof(secret))
		die("getrandom");
	hash_top = 1;
	for (int i = 0; i < FUZZ_SECRET_LEN; i++) {
		secret[i] = (uint8_t)('a' + secret[i] % 26);
		secret_hash = secret_hash * 31 + secret[i];
		if (i)
			hash_top *= 31;
	}
	put(outside, "secret", path);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd < 0 || write(fd, secret, sizeof(secret)) < 0)
		die("secret");
	close(fd);
	stat_outside(&outside_st, &secret_st);
	/* A write past the limit must fail with EFBIG, not kill the fuzzer. */
	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &fsize);
	remove_tree_later();
	confine(*argc, *argv);
	build_tree();
	return 0;
}

/* Keeps requests the harness cannot afford (huge files, long lock waits) small and quick. */
static void tame(uint8_t *req, size_t len)
{
	struct fuse_in_header h;
	uint8_t *arg = req + sizeof(h);

	if (len < sizeof(h))
		return;
	memcpy(&h, req, sizeof(h));
#define CLAMP(type, field)                                                                         \
	do {                                                                                       \
		type a_;                                                                           \
		if (len >= sizeof(h) + sizeof(a_)) {                                               \
			memcpy(&a_, arg, sizeof(a_));                                              \
			a_.field %= FUZZ_FILE_CAP;                                                 \
			memcpy(arg, &a_, sizeof(a_));                                              \
		}                                                                                  \
	} while (0)
	switch (h.opcode) {
	case FUSE_WRITE:
		CLAMP(struct fuse_write_in, offset);
		break;
	case FUSE_FALLOCATE:
		CLAMP(struct fuse_fallocate_in, offset);
		CLAMP(struct fuse_fallocate_in, length);
		break;
	case FUSE_SETATTR:
		CLAMP(struct fuse_setattr_in, size);
		break;
	case FUSE_COPY_FILE_RANGE:
		CLAMP(struct fuse_copy_file_range_in, off_out);
		CLAMP(struct fuse_copy_file_range_in, len);
		break;
	case FUSE_SETLKW:
		h.opcode = FUSE_SETLK; /* its bounded wait is tested in the unit tests */
		memcpy(req, &h, sizeof(h));
		break;
	}
#undef CLAMP
}

/* Cuts [0, len) into up to n+1 pieces at points taken from `seed`. */
static unsigned split(struct iovec *iov, uint8_t *base, size_t len, unsigned n, uint32_t seed)
{
	unsigned count = 0;
	size_t pos = 0;

	for (unsigned i = 0; i < n && pos < len; i++) {
		size_t piece;

		seed = seed * 1103515245u + 12345u;
		piece = (seed >> 16) % (len - pos + 1);
		iov[count++] = (struct iovec){base + pos, piece};
		pos += piece;
	}
	iov[count++] = (struct iovec){base + pos, len - pos};
	return count;
}

static bool holds_secret(const uint8_t *buf, size_t len)
{
	uint64_t h = 0;

	for (size_t i = 0; i < len; i++) {
		if (i >= FUZZ_SECRET_LEN)
			h -= buf[i - FUZZ_SECRET_LEN] * hash_top;
		h = h * 31 + buf[i];
		if (i + 1 >= FUZZ_SECRET_LEN && h == secret_hash) {
			unsigned diff = 0;

			for (size_t k = 0; k < FUZZ_SECRET_LEN; k++)
				diff |= buf[i + 1 - FUZZ_SECRET_LEN + k] ^ secret[k];
			if (!diff)
				return true;
		}
	}
	return false;
}

static void run_one(struct fuse_server *s, uint8_t *req, size_t len, uint8_t in_splits,
		    uint8_t out_splits, size_t out_size)
{
	struct iovec in[9], out[5];
	uint8_t *pieces[5] = {0};
	unsigned nin, nout = 0;
	struct fuse_in_header h;
	struct fuse_out_header oh;
	uint8_t *flat;
	size_t got, pos = 0, sizes[5];
	uint32_t seed = (uint32_t)len * 2654435761u + out_splits;

	tame(req, len);
	nin = split(in, req, len, in_splits % 9, seed ^ in_splits);
	/* Reply buffers each their own allocation, so ASan sees a write past any of them. */
	for (unsigned i = 0; i <= out_splits % 5; i++) {
		seed = seed * 1103515245u + 12345u;
		sizes[i] =
		    i == out_splits % 5 ? out_size - pos : (seed >> 16) % (out_size - pos + 1);
		pieces[i] = malloc(sizes[i] ? sizes[i] : 1);
		out[nout++] = (struct iovec){pieces[i], sizes[i]};
		pos += sizes[i];
	}
	got = fuse_server_handle(s, in, nin, out, nout);
	if (got > out_size)
		abort();
	flat = malloc(got ? got : 1);
	for (unsigned i = 0, off = 0; i < nout && off < got; i++) {
		size_t take = sizes[i] < got - off ? sizes[i] : got - off;

		memcpy(flat + off, pieces[i], take);
		off += (unsigned)take;
	}
	if (got) {
		if (got < sizeof(oh))
			abort();
		memcpy(&oh, flat, sizeof(oh));
		if (oh.len != got || oh.error > 0 || oh.error <= -4096 ||
		    (oh.error && got != sizeof(oh)))
			abort();
		if (len >= sizeof(h)) {
			memcpy(&h, req, sizeof(h));
			if (h.len == len && oh.unique != h.unique)
				abort();
		}
		/* A reply carrying the outside secret is a read escape. */
		if (holds_secret(flat, got))
			abort();
	}
	free(flat);
	for (unsigned i = 0; i < nout; i++)
		free(pieces[i]);
}

static int same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Caps the tree's dozen names can exceed, so inputs reach what happens at them. */
	struct fuse_server_config cfg = {.root = share, .max_nodes = 8, .max_handles = 4};
	struct fuse_init_in init = {
	    .major = 7, .minor = 38, .max_readahead = 65536, .flags = 0xffffffffu};
	struct {
		struct fuse_in_header h;
		struct fuse_init_in in;
	} init_req = {{.len = sizeof(init_req), .opcode = FUSE_INIT, .unique = 1}, init};
	struct stat dir_st, secret_now;
	struct fuse_server *s;
	static uint8_t req[65536 + 64];

	if (++inputs % FUZZ_REBUILD_EVERY == 0)
		build_tree();
	cfg.cache = (enum fuse_server_cache)(size ? data[size - 1] % 3 : 0);
	if (fuse_server_new(&cfg, &s))
		die("fuse_server_new");
	/* Start initialised; inputs may still send INIT and DESTROY themselves. */
	run_one(s, (uint8_t *)&init_req, sizeof(init_req), 0, 0, 4096);
	while (size >= 6) {
		uint8_t in_splits = data[0], out_splits = data[1];
		size_t len = (size_t)data[2] | (size_t)data[3] << 8;
		size_t out_size = ((size_t)data[4] | (size_t)data[5] << 8) * 4 % (FUZZ_MAX_OUT + 1);

		data += 6;
		size -= 6;
		if (len > size)
			len = size;
		memcpy(req, data, len);
		data += len;
		size -= len;
		/* Mostly a header whose length is honest, so requests get past the first check. */
		if (len >= 4 && !(in_splits & 0x80)) {
			uint32_t l = (uint32_t)len;

			memcpy(req, &l, sizeof(l));
		}
		run_one(s, req, len, in_splits, out_splits, out_size);
	}
	fuse_server_free(s);
	stat_outside(&dir_st, &secret_now);
	if (!same_time(&dir_st.st_mtim, &outside_st.st_mtim) ||
	    !same_time(&dir_st.st_ctim, &outside_st.st_ctim) ||
	    !same_time(&secret_now.st_mtim, &secret_st.st_mtim) ||
	    !same_time(&secret_now.st_ctim, &secret_st.st_ctim) ||
	    secret_now.st_size != secret_st.st_size)
		abort(); /* the guest reached outside the share */
	return 0;
}
