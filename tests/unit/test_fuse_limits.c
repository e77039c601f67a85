/*
 * The descriptor limit the FUSE server raises for itself: a guest that walks a tree of 10,000
 * files keeps a lookup, so a descriptor, on each of them, far past the usual 1024/4096. Its own
 * binary, because the server raises the limit once per process.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/fuse_server.h"
#include "unit.h"

#define NFILES 5000

static char dir[64];

static int send(struct fuse_server *s, uint32_t op, uint64_t node, const void *arg, size_t alen,
		void *reply, size_t rlen)
{
	struct fuse_in_header h = {
	    .len = (uint32_t)(sizeof(h) + alen), .opcode = op, .unique = 1, .nodeid = node};
	static uint8_t out[4096];
	struct iovec in[2] = {{&h, sizeof(h)}, {(void *)arg, alen}}, o = {out, sizeof(out)};
	struct fuse_out_header oh;

	if (fuse_server_handle(s, in, 2, &o, 1) < sizeof(oh))
		return -EIO;
	memcpy(&oh, out, sizeof(oh));
	if (!oh.error && reply)
		memcpy(reply, out + sizeof(oh), rlen);
	return oh.error;
}

/* Whether this process may raise its hard limit (root with CAP_SYS_RESOURCE): asked in a child. */
static bool may_raise_hard_limit(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		struct rlimit rl = {8192, 8192};

		setrlimit(RLIMIT_NOFILE, &(struct rlimit){1024, 4096});
		_exit(setrlimit(RLIMIT_NOFILE, &rl) ? 1 : 0);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

/*
 * From a 1024/4096 limit: where the hard limit may go up, every one of NFILES lookups holds its
 * descriptor; elsewhere the server uses 3/4 of 4096 and refuses the rest with ENFILE.
 */
static void test_many_lookups(void)
{
	struct rlimit low = {1024, 4096}, now;
	struct fuse_server_config cfg = {.root = dir};
	struct fuse_init_in init = {.major = 7, .minor = 31};
	bool privileged = may_raise_hard_limit();
	struct fuse_server *s;
	int ok = 0, enfile = 0, other = 0;
	char name[32];

	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	CHECK_EQ(fuse_server_new(&cfg, &s), 0);
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
	CHECK(now.rlim_cur == now.rlim_max);
	CHECK(privileged ? now.rlim_max > NFILES * 2 : now.rlim_max == 4096);
	CHECK_EQ(send(s, FUSE_INIT, 0, &init, sizeof(init), NULL, 0), 0);
	for (int i = 0; i < NFILES; i++) {
		struct fuse_entry_out e;
		int err;

		snprintf(name, sizeof(name), "f%d", i);
		err = send(s, FUSE_LOOKUP, FUSE_ROOT_ID, name, strlen(name) + 1, &e, sizeof(e));
		if (!err)
			ok++;
		else if (err == -ENFILE)
			enfile++;
		else
			other++;
	}
	CHECK_EQ(other, 0);
	if (privileged) {
		CHECK_EQ(ok, NFILES);
	} else {
		printf("     (no CAP_SYS_RESOURCE: %d lookups held, %d refused)\n", ok, enfile);
		CHECK(ok > 3000 && ok < 3072);
	}
	fuse_server_free(s);
}

int main(void)
{
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/test_fuse_limits.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	for (int i = 0; i < NFILES; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		fd = open(path, O_CREAT | O_WRONLY, 0644);
		if (fd < 0)
			return 1;
		close(fd);
	}
	RUN(test_many_lookups);
	for (int i = 0; i < NFILES; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		unlink(path);
	}
	rmdir(dir);
	return UNIT_RESULT();
}
