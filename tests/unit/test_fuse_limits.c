/*
 * What a guest can make the FUSE server hold: each share's caps on nodes and open handles,
 * and the process-wide descriptor limit the server raises for itself. Its own binary, because
 * the server sets that limit once per process: test_many_lookups must create the first server.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include "fuse_client.h"

#define NFILES 5000
#define NSUB   6 /* files in sub/ */

/* LOOKUP with a small reply buffer: the loops below send thousands. */
static int lookup_in(uint64_t parent, const char *name, uint64_t *id)
{
	int err = callx(srv, FUSE_LOOKUP, parent, name, strlen(name) + 1, NULL, 0, NULL, 0, 4096);

	if (!err && id)
		*id = ((struct fuse_entry_out *)rep)->nodeid;
	return err;
}

static int lookup_f(int i, uint64_t *id)
{
	char name[32];

	snprintf(name, sizeof(name), "f%d", i);
	return lookup_in(FUSE_ROOT_ID, name, id);
}

/* A server on root with these caps (0: the defaults), after INIT. */
static struct fuse_server *server_new(const char *root, long max_nodes, long max_handles)
{
	struct fuse_server_config cfg = {
	    .root = root, .max_nodes = max_nodes, .max_handles = max_handles};
	struct fuse_server *s = NULL;

	CHECK_EQ(fuse_server_new(&cfg, &s), 0);
	if (!s)
		exit(1);
	CHECK_EQ(do_init(s), 0);
	return s;
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
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
 * descriptor; elsewhere the server uses 3/4 of 4096 and refuses the rest with ENFILE. The
 * default node cap is far above NFILES: only the descriptor budget can refuse here.
 */
static void test_many_lookups(void)
{
	struct rlimit low = {1024, 4096}, now;
	bool privileged = may_raise_hard_limit();
	int ok = 0, enfile = 0, other = 0;

	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	srv = server_new(share, 0, 0);
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
	CHECK(now.rlim_cur == now.rlim_max);
	CHECK(privileged ? now.rlim_max > NFILES * 2 : now.rlim_max == 4096);
	for (int i = 0; i < NFILES; i++) {
		int err = lookup_f(i, NULL);

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
	fuse_server_free(srv);
}

/* OPEN, OPENDIR and CREATE share one cap; RELEASE makes room for exactly one more. */
static void test_handle_cap(void)
{
	uint64_t id[5], fh[4], dfh, extra, link;
	struct fuse_entry_out e;

	srv = server_new(share, 64, 4);
	for (int i = 0; i < 5; i++)
		CHECK_EQ(lookup_f(i, &id[i]), 0);
	CHECK_EQ(lookup_in(FUSE_ROOT_ID, "link", &link), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(fopen_(id[i], O_RDONLY, &fh[i]), 0);
	/* An open that fails on the host gives its place back. */
	for (int i = 0; i < 5; i++)
		CHECK_EQ(fopen_(link, O_RDONLY, &extra), -ENXIO);
	CHECK_EQ(opendir_(FUSE_ROOT_ID, &dfh), 0);
	/* Four held: a fifth of any kind is refused, and CREATE makes nothing. */
	CHECK_EQ(fopen_(id[3], O_RDONLY, &extra), -EMFILE);
	CHECK_EQ(opendir_(FUSE_ROOT_ID, &extra), -EMFILE);
	CHECK_EQ(create(FUSE_ROOT_ID, "new", O_RDWR, 0644, NULL, &extra), -EMFILE);
	CHECK(!exists(P("new")));
	/* The handles held still work, and so does everything that opens nothing. */
	CHECK_EQ(fread_(id[0], fh[0], 0, 16, NULL), 0);
	CHECK_EQ(getattr(id[3], NULL), 0);
	CHECK_EQ(lookup_f(5, NULL), 0);
	/* RELEASE: room for one, then full again. */
	CHECK_EQ(release(id[1], fh[1], false), 0);
	CHECK_EQ(fopen_(id[3], O_RDONLY, &fh[1]), 0);
	CHECK_EQ(fopen_(id[4], O_RDONLY, &extra), -EMFILE);
	/* RELEASEDIR frees a place a file can take. */
	CHECK_EQ(release(FUSE_ROOT_ID, dfh, true), 0);
	CHECK_EQ(create(FUSE_ROOT_ID, "new", O_RDWR, 0644, &e, &fh[3]), 0);
	CHECK(exists(P("new")));
	CHECK_EQ(opendir_(FUSE_ROOT_ID, &extra), -EMFILE);
	CHECK_EQ(release(e.nodeid, fh[3], false), 0);
	CHECK_EQ(opendir_(FUSE_ROOT_ID, &dfh), 0);
	/* DESTROY drops every handle: the next session has all four. */
	CHECK_EQ(call(FUSE_DESTROY, 0, NULL, 0, NULL, 0), 0);
	CHECK_EQ(do_init(srv), 0);
	CHECK_EQ(lookup_f(0, &id[0]), 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(fopen_(id[0], O_RDONLY, &fh[i]), 0);
	CHECK_EQ(fopen_(id[0], O_RDONLY, &extra), -EMFILE);
	fuse_server_free(srv);
	unlink(P("new"));
}

static int batch_forget(const uint64_t *ids, unsigned n)
{
	struct {
		struct fuse_batch_forget_in h;
		struct fuse_forget_one one[8];
	} bf = {.h = {.count = n}};

	for (unsigned i = 0; i < n && i < 8; i++)
		bf.one[i] = (struct fuse_forget_one){ids[i], 1};
	return call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf.h) + n * sizeof(bf.one[0]), NULL, 0);
}

/* Everything that adds a node shares one cap; FORGET and BATCH_FORGET make room again. */
static void test_node_cap(void)
{
	struct fuse_mknod_in mk = {.mode = S_IFREG | 0644};
	struct fuse_link_in li;
	uint64_t id[8], again, fh;
	int next = 8;

	srv = server_new(share, 8, 64);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(lookup_f(i, &id[i]), 0);
	CHECK_EQ(lookup_f(next, NULL), -ENFILE);
	/* Another lookup of a node the share holds adds nothing, nor does opening one. */
	CHECK_EQ(lookup_f(0, &again), 0);
	CHECK_EQ(again, id[0]);
	CHECK_EQ(fopen_(id[1], O_RDONLY, &fh), 0);
	CHECK_EQ(release(id[1], fh, false), 0);
	/* What would add a node is refused before anything is made on the host. */
	CHECK_EQ(mkdir_(FUSE_ROOT_ID, "d", 0755, NULL), -ENFILE);
	CHECK_EQ(call_name(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "n"), -ENFILE);
	CHECK_EQ(call(FUSE_SYMLINK, FUSE_ROOT_ID, "s", 2, "target", 7), -ENFILE);
	CHECK_EQ(create(FUSE_ROOT_ID, "c", O_RDWR, 0644, NULL, &fh), -ENFILE);
	CHECK(!exists(P("d")) && !exists(P("n")) && !exists(P("s")) && !exists(P("c")));
	/* A hard link names an inode the share already holds a node for. */
	li = (struct fuse_link_in){.oldnodeid = id[1]};
	CHECK_EQ(call_name(FUSE_LINK, FUSE_ROOT_ID, &li, sizeof(li), "l1"), 0);
	CHECK_EQ(((struct fuse_entry_out *)rep)->nodeid, id[1]);
	/* FORGET frees one: one more lookup, then full again. */
	CHECK_EQ(forget(id[2], 1), 1);
	CHECK_EQ(lookup_f(next++, NULL), 0);
	CHECK_EQ(lookup_f(next, NULL), -ENFILE);
	/* A node looked up twice stays until both are forgotten; forgetting more frees no more. */
	CHECK_EQ(forget(id[0], 1), 1);
	CHECK_EQ(lookup_f(next, NULL), -ENFILE);
	CHECK_EQ(forget(id[3], 100), 1);
	CHECK_EQ(forget(id[3], 100), 1);
	CHECK_EQ(forget(12345, 1), 1);
	CHECK_EQ(lookup_f(next++, NULL), 0);
	CHECK_EQ(lookup_f(next, NULL), -ENFILE);
	/* BATCH_FORGET frees as many as it forgets. */
	CHECK_EQ(batch_forget((uint64_t[]){id[0], id[4], id[5]}, 3), 1);
	CHECK_EQ(lookup_f(next++, NULL), 0);
	CHECK_EQ(mkdir_(FUSE_ROOT_ID, "d", 0755, NULL), 0);
	CHECK_EQ(call(FUSE_SYMLINK, FUSE_ROOT_ID, "s", 2, "target", 7), 0);
	CHECK_EQ(lookup_f(next, NULL), -ENFILE);
	CHECK(exists(P("d")) && exists(P("s")));
	CHECK_EQ(batch_forget((uint64_t[]){id[6], id[7]}, 2), 1);
	CHECK_EQ(call_name(FUSE_MKNOD, FUSE_ROOT_ID, &mk, sizeof(mk), "n"), 0);
	CHECK_EQ(create(FUSE_ROOT_ID, "c", O_RDWR, 0644, NULL, &fh), 0);
	CHECK_EQ(lookup_f(next, NULL), -ENFILE);
	/* DESTROY forgets every node: the next session has all eight. */
	CHECK_EQ(call(FUSE_DESTROY, 0, NULL, 0, NULL, 0), 0);
	CHECK_EQ(do_init(srv), 0);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(lookup_f(100 + i, NULL), 0);
	CHECK_EQ(lookup_f(108, NULL), -ENFILE);
	fuse_server_free(srv);
	unlink(P("l1"));
	unlink(P("n"));
	unlink(P("s"));
	unlink(P("c"));
	rmdir(P("d"));
}

/*
 * READDIRPLUS at the node cap still lists every name: those past the cap come without a node
 * (nodeid 0), and the guest's own LOOKUP of them gets the ENFILE.
 */
static void test_readdirplus_at_node_cap(void)
{
	char names[16][32];
	uint64_t ids[16], sub, held = 0;
	int n, with_node = 0;

	srv = server_new(share, 4, 64);
	CHECK_EQ(lookup_in(FUSE_ROOT_ID, "sub", &sub), 0);
	n = list_dir(sub, true, 4096, names, 16, ids);
	CHECK_EQ(n, NSUB + 2);
	for (int i = 0; i < n && i < 16; i++) {
		bool dots = !strcmp(names[i], ".") || !strcmp(names[i], "..");

		if (ids[i]) {
			with_node++;
			held = ids[i];
			CHECK(!dots);
		} else if (!dots) {
			CHECK_EQ(lookup_in(sub, names[i], NULL), -ENFILE);
		}
	}
	CHECK_EQ(with_node, 3);
	/* Small reads, and a second listing, show the same names. */
	CHECK_EQ(list_dir(sub, true, 400, names, 16, NULL), NSUB + 2);
	CHECK_EQ(list_dir(sub, false, 4096, names, 16, NULL), NSUB + 2);
	/* Room again: the next listing gives one more name a node. */
	CHECK_EQ(forget(held, 2), 1);
	n = list_dir(sub, true, 4096, names, 16, ids);
	with_node = 0;
	for (int i = 0; i < n && i < 16; i++)
		with_node += ids[i] != 0;
	CHECK_EQ(n, NSUB + 2);
	CHECK_EQ(with_node, 3);
	fuse_server_free(srv);
}

/* One share at both caps leaves another share, with its own caps, untouched. */
static void test_shares_apart(void)
{
	struct fuse_server *a = server_new(share, 2, 1), *b = server_new(P("sub"), 2, 1);
	uint64_t fa, fb, fh_a, fh_b, extra;

	srv = a;
	CHECK_EQ(lookup_f(0, &fa), 0);
	CHECK_EQ(lookup_f(1, NULL), 0);
	CHECK_EQ(lookup_f(2, NULL), -ENFILE);
	CHECK_EQ(fopen_(fa, O_RDONLY, &fh_a), 0);
	CHECK_EQ(fopen_(fa, O_RDONLY, &extra), -EMFILE);
	srv = b;
	CHECK_EQ(lookup_in(FUSE_ROOT_ID, "s0", &fb), 0);
	CHECK_EQ(lookup_in(FUSE_ROOT_ID, "s1", NULL), 0);
	CHECK_EQ(fopen_(fb, O_RDONLY, &fh_b), 0);
	CHECK_EQ(fread_(fb, fh_b, 0, 16, NULL), 0);
	/* b at its caps too; a is still at its own, and still serves what it holds. */
	CHECK_EQ(lookup_in(FUSE_ROOT_ID, "s2", NULL), -ENFILE);
	CHECK_EQ(fopen_(fb, O_RDONLY, &extra), -EMFILE);
	srv = a;
	CHECK_EQ(lookup_f(2, NULL), -ENFILE);
	CHECK_EQ(fread_(fa, fh_a, 0, 16, NULL), 0);
	/* a's RELEASE and FORGET make room in a only. */
	CHECK_EQ(release(fa, fh_a, false), 0);
	CHECK_EQ(forget(fa, 1), 1);
	srv = b;
	CHECK_EQ(lookup_in(FUSE_ROOT_ID, "s2", NULL), -ENFILE);
	CHECK_EQ(fopen_(fb, O_RDONLY, &extra), -EMFILE);
	srv = a;
	CHECK_EQ(lookup_f(2, NULL), 0);
	CHECK_EQ(fopen_(lookup_id(FUSE_ROOT_ID, "f1"), O_RDONLY, &fh_a), 0);
	fuse_server_free(a);
	/* b outlives a unchanged. */
	srv = b;
	CHECK_EQ(fread_(fb, fh_b, 0, 16, NULL), 0);
	CHECK_EQ(getattr(fb, NULL), 0);
	fuse_server_free(b);
}

int main(void)
{
	snprintf(top, sizeof(top), "/tmp/test_fuse_limits.XXXXXX");
	if (!mkdtemp(top))
		return 1;
	snprintf(share, sizeof(share), "%s/share", top);
	mkdir(share, 0755);
	mkdir(P("sub"), 0755);
	symlink("f0", P("link"));
	for (int i = 0; i < NFILES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "f%d", i);
		write_file(P(name), "");
	}
	for (int i = 0; i < NSUB; i++) {
		char name[32];

		snprintf(name, sizeof(name), "sub/s%d", i);
		write_file(P(name), "");
	}
	RUN(test_many_lookups); /* first: it sees the limit the first server sets */
	RUN(test_handle_cap);
	RUN(test_node_cap);
	RUN(test_readdirplus_at_node_cap);
	RUN(test_shares_apart);
	rm_rf(top);
	return UNIT_RESULT();
}
