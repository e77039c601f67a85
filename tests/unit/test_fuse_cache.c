/*
 * The cache modes of a share (enum fuse_server_cache): the timeouts, open flags and INIT flags
 * the server answers with in each, as virtiofsd's --cache=auto|always|never set them.
 */
#include "fuse_client.h"

struct mode_want {
	enum fuse_server_cache mode;
	const char *name;
	uint64_t valid;	    /* entry_valid and attr_valid, seconds */
	uint32_t file_open; /* open_flags of OPEN and CREATE */
	uint32_t dir_open;  /* open_flags of OPENDIR */
	bool readdirplus;   /* INIT offers READDIRPLUS and the symlink cache */
	bool negative;	    /* a missing name is answered with nodeid 0, not ENOENT */
};

static const struct mode_want modes[] = {
    {FUSE_SERVER_CACHE_AUTO, "auto", 1, 0, 0, true, false},
    {FUSE_SERVER_CACHE_ALWAYS, "always", 86400, FOPEN_KEEP_CACHE,
     FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, true, true},
    {FUSE_SERVER_CACHE_NEVER, "never", 0, FOPEN_DIRECT_IO, 0, false, false},
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

/* A server on the share in this mode, after INIT, made the one the helpers talk to. */
static struct fuse_server *use_mode(const struct mode_want *m)
{
	struct fuse_server_config cfg = {.root = share, .cache = m->mode};
	struct fuse_server *s = NULL;

	CHECK_EQ(fuse_server_new(&cfg, &s), 0);
	if (!s)
		exit(1);
	CHECK_EQ(do_init(s), 0);
	srv = s;
	return s;
}

static void done_mode(struct fuse_server *s, struct fuse_server *prev)
{
	fuse_server_free(s);
	srv = prev;
}

static void check_entry(const struct mode_want *m, const struct fuse_entry_out *e)
{
	CHECK(e->nodeid > FUSE_ROOT_ID);
	CHECK_EQ(e->entry_valid, m->valid);
	CHECK_EQ(e->attr_valid, m->valid);
	CHECK_EQ(e->entry_valid_nsec, 0);
	CHECK_EQ(e->attr_valid_nsec, 0);
}

static void test_default_is_auto(void)
{
	struct fuse_entry_out e;
	uint64_t fh;

	/* The server every other test binary makes (no cache given) answers as auto does. */
	write_file(P("plain"), "p");
	CHECK_EQ(lookup(FUSE_ROOT_ID, "plain", &e), 0);
	CHECK_EQ(e.entry_valid, 1);
	CHECK_EQ(e.attr_valid, 1);
	CHECK_EQ(fopen_(e.nodeid, O_RDONLY, &fh), 0);
	CHECK_EQ(((struct fuse_open_out *)rep)->open_flags, 0);
	CHECK_EQ(release(e.nodeid, fh, false), 0);
	CHECK_EQ(forget(e.nodeid, 1), 1);
}

static void test_init_flags(void)
{
	struct fuse_server *prev = srv;

	for (size_t i = 0; i < NMODES; i++) {
		const struct mode_want *m = &modes[i];
		struct fuse_server *s = use_mode(m);
		struct fuse_init_out *out = (struct fuse_init_out *)rep;

		fprintf(stderr, "mode %s\n", m->name);
		CHECK_EQ(do_init(s), 0);
		CHECK_EQ(!!(out->flags & FUSE_DO_READDIRPLUS), m->readdirplus);
		CHECK_EQ(!!(out->flags & FUSE_READDIRPLUS_AUTO), m->readdirplus);
		CHECK_EQ(!!(out->flags & FUSE_CACHE_SYMLINKS), m->readdirplus);
		/* The rest of the session is the same in every mode. */
		CHECK(out->flags & FUSE_AUTO_INVAL_DATA);
		CHECK(out->flags & FUSE_POSIX_LOCKS);
		CHECK(out->flags & FUSE_MAX_PAGES);
		CHECK(!(out->flags & FUSE_WRITEBACK_CACHE));
		CHECK_EQ(out->max_write, 1 << 20);
		done_mode(s, prev);
	}
}

/* Every reply that carries an entry or attributes carries the mode's timeout. */
static void test_timeouts(void)
{
	struct fuse_server *prev = srv;

	mkdir(P("tdir"), 0755);
	write_file(P("tdir/file"), "timeouts");
	for (size_t i = 0; i < NMODES; i++) {
		const struct mode_want *m = &modes[i];
		struct fuse_server *s = use_mode(m);
		struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = S_IFREG | 0640};
		struct fuse_getattr_in ga = {0};
		struct fuse_entry_out e, d, c;
		char names[8][32];
		uint64_t ids[8], fh, dir;
		int n, hits = 0;

		fprintf(stderr, "mode %s\n", m->name);
		CHECK_EQ(lookup(FUSE_ROOT_ID, "tdir", &d), 0);
		check_entry(m, &d);
		dir = d.nodeid;
		CHECK_EQ(lookup(dir, "file", &e), 0);
		check_entry(m, &e);
		CHECK_EQ(call(FUSE_GETATTR, e.nodeid, &ga, sizeof(ga), NULL, 0), 0);
		CHECK_EQ(((struct fuse_attr_out *)rep)->attr_valid, m->valid);
		CHECK_EQ(((struct fuse_attr_out *)rep)->attr_valid_nsec, 0);
		CHECK_EQ(call(FUSE_SETATTR, e.nodeid, &sa, sizeof(sa), NULL, 0), 0);
		CHECK_EQ(((struct fuse_attr_out *)rep)->attr_valid, m->valid);
		CHECK_EQ(((struct fuse_attr_out *)rep)->attr.mode & 07777, 0640);
		CHECK_EQ(mkdir_(dir, "sub", 0755, &c), 0);
		check_entry(m, &c);
		CHECK_EQ(forget(c.nodeid, 1), 1);
		CHECK_EQ(create(dir, "made", O_WRONLY, 0644, &c, &fh), 0);
		check_entry(m, &c);
		CHECK_EQ(release(c.nodeid, fh, false), 0);
		CHECK_EQ(forget(c.nodeid, 1), 1);
		/* READDIRPLUS entries too (the server answers it even where INIT left it out). */
		n = list_dir(dir, true, 4096, names, 8, ids);
		CHECK_EQ(n, 5); /* ".", "..", file, sub, made */
		for (int k = 0; k < n && k < 8; k++) {
			struct fuse_entry_out again;

			if (!ids[k])
				continue; /* "." and ".." carry no node */
			hits++;
			CHECK_EQ(lookup(dir, names[k], &again), 0);
			check_entry(m, &again);
			CHECK_EQ(forget(ids[k], 2), 1);
		}
		CHECK_EQ(hits, 3);
		CHECK_EQ(unlink(P("tdir/made")), 0);
		CHECK_EQ(rmdir(P("tdir/sub")), 0);
		CHECK_EQ(forget(e.nodeid, 1), 1);
		CHECK_EQ(forget(dir, 1), 1);
		done_mode(s, prev);
	}
}

/* Which FOPEN flags OPEN, CREATE and OPENDIR carry: exactly the mode's, nothing else. */
static void test_open_flags(void)
{
	struct fuse_server *prev = srv;

	write_file(P("data"), "data");
	for (size_t i = 0; i < NMODES; i++) {
		const struct mode_want *m = &modes[i];
		struct fuse_server *s = use_mode(m);
		const uint32_t flags_of[] = {O_RDONLY, O_WRONLY, O_RDWR | O_APPEND,
					     O_RDWR | O_TRUNC};
		struct fuse_entry_out e, c;
		uint64_t fh, id = lookup_id(FUSE_ROOT_ID, "data");
		char buf[16];

		fprintf(stderr, "mode %s\n", m->name);
		CHECK(id > FUSE_ROOT_ID);
		for (size_t k = 0; k < sizeof(flags_of) / sizeof(flags_of[0]); k++) {
			CHECK_EQ(fopen_(id, flags_of[k], &fh), 0);
			CHECK_EQ(((struct fuse_open_out *)rep)->open_flags, m->file_open);
			CHECK_EQ(release(id, fh, false), 0);
		}
		/* A new file, and CREATE of one that exists (no O_EXCL). */
		CHECK_EQ(create(FUSE_ROOT_ID, "new", O_RDWR, 0644, &c, &fh), 0);
		CHECK_EQ(((struct fuse_open_out *)(rep + sizeof(c)))->open_flags, m->file_open);
		CHECK_EQ(fwrite_(c.nodeid, fh, 0, "fresh", 5, 0), 5);
		CHECK_EQ(fread_(c.nodeid, fh, 0, sizeof(buf), buf), 5);
		CHECK(!memcmp(buf, "fresh", 5));
		CHECK_EQ(release(c.nodeid, fh, false), 0);
		CHECK_EQ(create(FUSE_ROOT_ID, "new", O_RDWR, 0644, &e, &fh), 0);
		CHECK_EQ(e.nodeid, c.nodeid);
		CHECK_EQ(((struct fuse_open_out *)(rep + sizeof(e)))->open_flags, m->file_open);
		CHECK_EQ(release(c.nodeid, fh, false), 0);
		CHECK_STR(read_file(P("new")), "fresh");
		CHECK_EQ(unlink(P("new")), 0);
		CHECK_EQ(forget(c.nodeid, 2), 1);
		CHECK_EQ(opendir_(FUSE_ROOT_ID, &fh), 0);
		CHECK_EQ(((struct fuse_open_out *)rep)->open_flags, m->dir_open);
		CHECK_EQ(release(FUSE_ROOT_ID, fh, true), 0);
		CHECK_EQ(forget(id, 1), 1);
		done_mode(s, prev);
	}
}

/* Only always remembers that a name is missing; an error other than ENOENT stays one. */
static void test_missing_names(void)
{
	struct fuse_server *prev = srv;

	write_file(P("afile"), "x");
	for (size_t i = 0; i < NMODES; i++) {
		const struct mode_want *m = &modes[i];
		struct fuse_server *s = use_mode(m);
		struct fuse_entry_out e, zero = {0};
		uint64_t f = lookup_id(FUSE_ROOT_ID, "afile");

		fprintf(stderr, "mode %s\n", m->name);
		memset(&e, 0xa5, sizeof(e));
		if (m->negative) {
			CHECK_EQ(lookup(FUSE_ROOT_ID, "missing", &e), 0);
			CHECK_EQ(e.nodeid, 0);
			CHECK_EQ(e.entry_valid, m->valid);
			/* Nothing else: no attributes, no leftovers of the server's stack. */
			zero.entry_valid = m->valid;
			CHECK(!memcmp(&e, &zero, sizeof(e)));
		} else {
			CHECK_EQ(lookup(FUSE_ROOT_ID, "missing", &e), -ENOENT);
		}
		CHECK_EQ(lookup(f, "below", NULL), -ENOTDIR);
		CHECK_EQ(lookup(FUSE_ROOT_ID, "..", NULL), -EINVAL);
		CHECK_EQ(lookup(FUSE_ROOT_ID, "esc", &e), 0); /* a symlink is a name like any */
		CHECK_EQ(lookup(e.nodeid, "secret", NULL), -ENOTDIR);
		CHECK_EQ(forget(e.nodeid, 1), 1);
		/* Made on the host since: found when asked (the guest asks again after the
		 * timeout, or at once in never). */
		write_file(P("missing"), "here");
		CHECK_EQ(lookup(FUSE_ROOT_ID, "missing", &e), 0);
		check_entry(m, &e);
		CHECK_EQ(forget(e.nodeid, 1), 1);
		CHECK_EQ(unlink(P("missing")), 0);
		CHECK_EQ(forget(f, 1), 1);
		done_mode(s, prev);
	}
}

static void test_bad_mode(void)
{
	struct fuse_server_config cfg = {.root = share, .cache = 3};
	struct fuse_server *s = NULL;

	CHECK_EQ(fuse_server_new(&cfg, &s), -EINVAL);
	cfg.cache = (enum fuse_server_cache)99;
	CHECK_EQ(fuse_server_new(&cfg, &s), -EINVAL);
	CHECK(s == NULL);
}

int main(void)
{
	if (fuse_client_setup("test_fuse_cache"))
		return 1;
	RUN(test_default_is_auto);
	RUN(test_init_flags);
	RUN(test_timeouts);
	RUN(test_open_flags);
	RUN(test_missing_names);
	RUN(test_bad_mode);
	return fuse_client_finish();
}
