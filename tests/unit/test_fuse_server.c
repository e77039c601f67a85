/*
 * The FUSE server driven with crafted requests against a temporary tree: a normal session
 * compared with the host side, then every way a hostile guest could try to escape the share or
 * break the server, each with the exact error it must get.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse_server.h"
#include "unit.h"

/* ---- a tiny FUSE client ---- */

#define OUT_MAX ((1 << 20) + 8192)
static uint8_t out_buf[OUT_MAX];
static uint8_t in_buf[OUT_MAX];
static uint8_t *rep = out_buf + sizeof(struct fuse_out_header); /* reply arguments */
static size_t rep_len;
static uint64_t next_unique = 1;
static int split_mode; /* 1: every request byte in its own buffer, reply in odd pieces */

static struct fuse_server *srv;
static char top[64];	     /* mkdtemp: share/ and outside/ */
static char share[PATH_MAX]; /* the share root */

/* Host path of something in the share (or outside it, for "../outside/..."). */
static const char *P(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	if (snprintf(buf[i], PATH_MAX, "%s/%s", share, rel) >= PATH_MAX)
		abort();
	return buf[i];
}

/*
 * Sends one request made of the header and up to three argument pieces, with `outsize` bytes
 * of reply buffer. Returns the reply's error (0 or -errno); 1 if the server gave no reply.
 * Checks what every reply must satisfy: within the buffers, consistent length and unique.
 */
static int callx(struct fuse_server *s, uint32_t op, uint64_t node, const void *a, size_t alen,
		 const void *b, size_t blen, const void *c, size_t clen, size_t outsize)
{
	struct fuse_in_header h = {.opcode = op,
				   .unique = next_unique++,
				   .nodeid = node,
				   .uid = getuid(),
				   .gid = getgid(),
				   .pid = 1};
	static struct iovec in[1024], out[4];
	size_t len = sizeof(h), got;
	unsigned nin = 0, nout = 0;
	struct fuse_out_header oh;

	h.len = (uint32_t)(sizeof(h) + alen + blen + clen);
	memcpy(in_buf, &h, sizeof(h));
	if (alen)
		memcpy(in_buf + len, a, alen), len += alen;
	if (blen)
		memcpy(in_buf + len, b, blen), len += blen;
	if (clen)
		memcpy(in_buf + len, c, clen), len += clen;
	if (split_mode && len <= 1024) {
		for (size_t i = 0; i < len; i++)
			in[nin++] = (struct iovec){in_buf + i, 1};
	} else {
		in[nin++] = (struct iovec){in_buf, sizeof(h)};
		in[nin++] = (struct iovec){in_buf + sizeof(h), alen};
		in[nin++] = (struct iovec){in_buf + sizeof(h) + alen, blen + clen};
	}
	memset(out_buf, 0xa5, outsize < OUT_MAX ? outsize + 64 : OUT_MAX);
	if (split_mode && outsize > 40) {
		out[nout++] = (struct iovec){out_buf, 7};
		out[nout++] = (struct iovec){out_buf + 7, 0};
		out[nout++] = (struct iovec){out_buf + 7, 30};
		out[nout++] = (struct iovec){out_buf + 37, outsize - 37};
	} else {
		out[nout++] = (struct iovec){out_buf, outsize};
	}
	got = fuse_server_handle(s, in, nin, out, nout);
	CHECK(got <= outsize);
	if (outsize < OUT_MAX)
		CHECK_EQ(out_buf[outsize], 0xa5); /* nothing written past the buffers */
	if (!got)
		return 1;
	memcpy(&oh, out_buf, sizeof(oh));
	CHECK_EQ(oh.len, got);
	CHECK_EQ(oh.unique, h.unique);
	CHECK(oh.error <= 0 && oh.error > -4096);
	rep_len = got - sizeof(oh);
	if (oh.error)
		CHECK_EQ(rep_len, 0);
	return oh.error;
}

static int call(uint32_t op, uint64_t node, const void *a, size_t alen, const void *b, size_t blen)
{
	return callx(srv, op, node, a, alen, b, blen, NULL, 0, OUT_MAX);
}

static int call_name(uint32_t op, uint64_t node, const void *a, size_t alen, const char *name)
{
	return call(op, node, a, alen, name, strlen(name) + 1);
}

static int do_init(struct fuse_server *s)
{
	struct fuse_init_in in = {.major = 7,
				  .minor = 38,
				  .max_readahead = 131072,
				  .flags = 0xffffffffu & ~FUSE_INIT_EXT};

	return callx(s, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0, OUT_MAX);
}

static int lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int err = call_name(FUSE_LOOKUP, parent, NULL, 0, name);

	if (!err && e) {
		CHECK_EQ(rep_len, sizeof(*e));
		memcpy(e, rep, sizeof(*e));
	}
	return err;
}

static uint64_t lookup_id(uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	return lookup(parent, name, &e) ? 0 : e.nodeid;
}

static int getattr(uint64_t node, struct fuse_attr *a)
{
	struct fuse_getattr_in in = {0};
	int err = call(FUSE_GETATTR, node, &in, sizeof(in), NULL, 0);

	if (!err && a)
		memcpy(a, &((struct fuse_attr_out *)rep)->attr, sizeof(*a));
	return err;
}

static int create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
		  struct fuse_entry_out *e, uint64_t *fh)
{
	struct fuse_create_in in = {.flags = flags | O_CREAT, .mode = S_IFREG | mode};
	int err = call_name(FUSE_CREATE, parent, &in, sizeof(in), name);

	if (!err) {
		CHECK_EQ(rep_len, sizeof(*e) + sizeof(struct fuse_open_out));
		if (e)
			memcpy(e, rep, sizeof(*e));
		*fh = ((struct fuse_open_out *)(rep + sizeof(*e)))->fh;
	}
	return err;
}

static int fopen_(uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in = {.flags = flags};
	int err = call(FUSE_OPEN, node, &in, sizeof(in), NULL, 0);

	if (!err)
		*fh = ((struct fuse_open_out *)rep)->fh;
	return err;
}

static int opendir_(uint64_t node, uint64_t *fh)
{
	struct fuse_open_in in = {.flags = O_RDONLY};
	int err = call(FUSE_OPENDIR, node, &in, sizeof(in), NULL, 0);

	if (!err)
		*fh = ((struct fuse_open_out *)rep)->fh;
	return err;
}

static int release(uint64_t node, uint64_t fh, bool dir)
{
	struct fuse_release_in in = {.fh = fh};

	return call(dir ? FUSE_RELEASEDIR : FUSE_RELEASE, node, &in, sizeof(in), NULL, 0);
}

static long fwrite_(uint64_t node, uint64_t fh, uint64_t off, const void *data, uint32_t len,
		    uint32_t wflags)
{
	struct fuse_write_in in = {.fh = fh, .offset = off, .size = len, .write_flags = wflags};
	int err = call(FUSE_WRITE, node, &in, sizeof(in), data, len);

	return err ? err : (long)((struct fuse_write_out *)rep)->size;
}

static long fread_(uint64_t node, uint64_t fh, uint64_t off, uint32_t size, void *buf)
{
	struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
	int err = call(FUSE_READ, node, &in, sizeof(in), NULL, 0);

	if (err)
		return err;
	if (buf)
		memcpy(buf, rep, rep_len);
	return (long)rep_len;
}

static int mkdir_(uint64_t parent, const char *name, uint32_t mode, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = {.mode = mode};
	int err = call_name(FUSE_MKDIR, parent, &in, sizeof(in), name);

	if (!err && e)
		memcpy(e, rep, sizeof(*e));
	return err;
}

static int forget(uint64_t node, uint64_t n)
{
	struct fuse_forget_in in = {.nlookup = n};

	return call(FUSE_FORGET, node, &in, sizeof(in), NULL, 0);
}

static int rename2(uint64_t dir, const char *from, uint64_t newdir, const char *to, uint32_t flags)
{
	struct fuse_rename2_in in = {.newdir = newdir, .flags = flags};

	return callx(srv, FUSE_RENAME2, dir, &in, sizeof(in), from, strlen(from) + 1, to,
		     strlen(to) + 1, OUT_MAX);
}

static int setattr(uint64_t node, const struct fuse_setattr_in *in, struct fuse_attr *a)
{
	int err = call(FUSE_SETATTR, node, in, sizeof(*in), NULL, 0);

	if (!err && a)
		memcpy(a, &((struct fuse_attr_out *)rep)->attr, sizeof(*a));
	return err;
}

static int lk(uint32_t op, uint64_t node, uint64_t fh, uint64_t owner, uint32_t type,
	      uint64_t start, uint64_t end, uint32_t flags)
{
	struct fuse_lk_in in = {.fh = fh,
				.owner = owner,
				.lk = {.start = start, .end = end, .type = type},
				.lk_flags = flags};

	return call(op, node, &in, sizeof(in), NULL, 0);
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long)strlen(text));
	close(fd);
}

static const char *read_file(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

/* ---- a normal session ---- */

static void test_init(void)
{
	struct fuse_server *s;
	struct fuse_server_config cfg = {.root = share};
	struct fuse_init_in old = {.major = 7, .minor = 26};
	struct fuse_init_out *out = (struct fuse_init_out *)rep;
	struct fuse_getattr_in ga = {0};

	CHECK_EQ(fuse_server_new(&cfg, &s), 0);
	/* Nothing but INIT before INIT. */
	CHECK_EQ(callx(s, FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0, NULL, 0, OUT_MAX),
		 -EIO);
	CHECK_EQ(callx(s, FUSE_INIT, 0, &old, sizeof(old), NULL, 0, NULL, 0, OUT_MAX), -EPROTO);
	CHECK_EQ(do_init(s), 0);
	CHECK_EQ(rep_len, sizeof(struct fuse_init_out));
	CHECK_EQ(out->major, 7);
	CHECK(out->minor >= 31);
	CHECK(out->flags & FUSE_DO_READDIRPLUS);
	CHECK(out->flags & FUSE_POSIX_LOCKS);
	CHECK(out->flags & FUSE_FLOCK_LOCKS);
	CHECK(out->flags & FUSE_MAX_PAGES);
	CHECK(out->flags & FUSE_ATOMIC_O_TRUNC);
	CHECK(out->flags & FUSE_PARALLEL_DIROPS);
	CHECK(!(out->flags & FUSE_WRITEBACK_CACHE));
	CHECK(!(out->flags & FUSE_EXPORT_SUPPORT));
	CHECK_EQ(out->max_pages, 256);
	CHECK_EQ(out->max_write, 1 << 20);
	CHECK_EQ(out->max_readahead, 131072);
	/* Only flags the kernel offered. */
	{
		struct fuse_init_in few = {.major = 7, .minor = 38, .flags = FUSE_ASYNC_READ};

		CHECK_EQ(callx(s, FUSE_INIT, 0, &few, sizeof(few), NULL, 0, NULL, 0, OUT_MAX), 0);
		CHECK_EQ(out->flags, FUSE_ASYNC_READ);
	}
	/* A newer major gets ours back, to be asked again. */
	{
		struct fuse_init_in v8 = {.major = 8, .minor = 0};

		CHECK_EQ(callx(s, FUSE_INIT, 0, &v8, sizeof(v8), NULL, 0, NULL, 0, OUT_MAX), 0);
		CHECK_EQ(out->major, 7);
	}
	CHECK_EQ(callx(s, FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0, NULL, 0, OUT_MAX),
		 0);
	fuse_server_free(s);
	CHECK_EQ(fuse_server_new(&(struct fuse_server_config){.root = P("nonexistent")}, &s),
		 -ENOENT);
	write_file(P("plainfile"), "x");
	CHECK_EQ(fuse_server_new(&(struct fuse_server_config){.root = P("plainfile")}, &s),
		 -ENOTDIR);
	unlink(P("plainfile"));
}

static void test_lookup_getattr(void)
{
	struct fuse_entry_out e, e2;
	struct fuse_attr a;
	struct stat st;

	write_file(P("hello.txt"), "hello world");
	CHECK_EQ(lookup(FUSE_ROOT_ID, "hello.txt", &e), 0);
	CHECK_EQ(stat(P("hello.txt"), &st), 0);
	CHECK_EQ(e.attr.ino, st.st_ino);
	CHECK_EQ(e.attr.size, 11);
	CHECK_EQ(e.attr.mode, st.st_mode);
	CHECK_EQ(e.attr.uid, st.st_uid);
	CHECK_EQ(e.attr.nlink, 1);
	CHECK_EQ(e.attr.mtime, st.st_mtim.tv_sec);
	CHECK_EQ(e.attr.mtimensec, st.st_mtim.tv_nsec);
	CHECK_EQ(e.entry_valid, 1);
	CHECK_EQ(e.attr_valid, 1);
	CHECK_EQ(e.attr.flags, 0);
	CHECK(e.nodeid > FUSE_ROOT_ID && e.nodeid != st.st_ino); /* our ids, not host inodes */
	/* A second lookup names the same node. */
	CHECK_EQ(lookup(FUSE_ROOT_ID, "hello.txt", &e2), 0);
	CHECK_EQ(e2.nodeid, e.nodeid);
	/* Hard links to one inode are one node. */
	CHECK_EQ(link(P("hello.txt"), P("hello.link")), 0);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "hello.link", &e2), 0);
	CHECK_EQ(e2.nodeid, e.nodeid);
	CHECK_EQ(e2.attr.nlink, 2);
	CHECK_EQ(getattr(e.nodeid, &a), 0);
	CHECK_EQ(a.ino, st.st_ino);
	CHECK_EQ(a.size, 11);
	CHECK_EQ(((struct fuse_attr_out *)rep)->dummy, 0);
	CHECK_EQ(getattr(FUSE_ROOT_ID, &a), 0);
	CHECK(S_ISDIR(a.mode));
	CHECK_EQ(lookup(FUSE_ROOT_ID, "missing", NULL), -ENOENT);
	CHECK_EQ(lookup(e.nodeid, "child", NULL), -ENOTDIR);
	CHECK_EQ(forget(e.nodeid, 3), 1);
	unlink(P("hello.link"));
}

static void test_create_write_read(void)
{
	char big[100000], back[100000];
	struct fuse_entry_out e;
	uint64_t fh, fh2;
	struct stat st;

	CHECK_EQ(create(FUSE_ROOT_ID, "data.bin", O_RDWR, 0640, &e, &fh), 0);
	CHECK_EQ(stat(P("data.bin"), &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0640);
	CHECK_EQ(e.attr.ino, st.st_ino);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	CHECK_EQ(fwrite_(e.nodeid, fh, 0, big, sizeof(big), 0), (long)sizeof(big));
	CHECK_EQ(fread_(e.nodeid, fh, 0, sizeof(back), back), (long)sizeof(back));
	CHECK(!memcmp(big, back, sizeof(big)));
	/* Short read at the end of the file, empty read past it. */
	CHECK_EQ(fread_(e.nodeid, fh, sizeof(big) - 10, 4096, back), 10);
	CHECK_EQ(fread_(e.nodeid, fh, sizeof(big) + 10, 4096, back), 0);
	/* Scattered request and reply buffers. */
	split_mode = 1;
	CHECK_EQ(fwrite_(e.nodeid, fh, 5, "scattered", 9, 0), 9);
	CHECK_EQ(fread_(e.nodeid, fh, 0, 20, back), 20);
	CHECK(!memcmp(back + 5, "scattered", 9));
	CHECK(!memcmp(back, big, 5));
	split_mode = 0;
	CHECK_EQ(stat(P("data.bin"), &st), 0);
	CHECK_EQ(st.st_size, sizeof(big));
	/* The reply never exceeds the buffers: a READ larger than them is cut. */
	{
		struct fuse_read_in in = {.fh = fh, .offset = 0, .size = 4096};

		CHECK_EQ(
		    callx(srv, FUSE_READ, e.nodeid, &in, sizeof(in), NULL, 0, NULL, 0, 16 + 100),
		    0);
		CHECK_EQ(rep_len, 100);
	}
	CHECK_EQ(release(e.nodeid, fh, false), 0);

	/* O_APPEND appends whatever offset the guest sends; page writeback does not. */
	write_file(P("log.txt"), "one\n");
	CHECK_EQ(fopen_(e.nodeid = lookup_id(FUSE_ROOT_ID, "log.txt"), O_WRONLY | O_APPEND, &fh2),
		 0);
	CHECK_EQ(fwrite_(e.nodeid, fh2, 0, "two\n", 4, 0), 4);
	CHECK_STR(read_file(P("log.txt")), "one\ntwo\n");
	CHECK_EQ(fwrite_(e.nodeid, fh2, 0, "ONE", 3, FUSE_WRITE_CACHE), 3);
	CHECK_STR(read_file(P("log.txt")), "ONE\ntwo\n");
	CHECK_EQ(release(e.nodeid, fh2, false), 0);

	/* O_TRUNC (FUSE_ATOMIC_O_TRUNC) */
	CHECK_EQ(fopen_(e.nodeid, O_WRONLY | O_TRUNC, &fh2), 0);
	CHECK_STR(read_file(P("log.txt")), "");
	CHECK_EQ(release(e.nodeid, fh2, false), 0);

	/* CREATE without O_EXCL of an existing file opens it; with O_EXCL it fails. */
	CHECK_EQ(create(FUSE_ROOT_ID, "log.txt", O_RDWR, 0600, NULL, &fh2), 0);
	CHECK_EQ(release(e.nodeid, fh2, false), 0);
	CHECK_EQ(create(FUSE_ROOT_ID, "log.txt", O_RDWR | O_EXCL, 0600, NULL, &fh2), -EEXIST);
	CHECK_EQ(create(FUSE_ROOT_ID, ".", O_RDWR, 0600, NULL, &fh2), -EINVAL);

	/* FLUSH and FSYNC on an open handle. */
	CHECK_EQ(fopen_(e.nodeid, O_RDWR, &fh2), 0);
	{
		struct fuse_flush_in fl = {.fh = fh2};
		struct fuse_fsync_in fs = {.fh = fh2, .fsync_flags = FUSE_FSYNC_FDATASYNC};

		CHECK_EQ(call(FUSE_FLUSH, e.nodeid, &fl, sizeof(fl), NULL, 0), 0);
		CHECK_EQ(call(FUSE_FSYNC, e.nodeid, &fs, sizeof(fs), NULL, 0), 0);
		fs.fsync_flags = 0;
		CHECK_EQ(call(FUSE_FSYNC, e.nodeid, &fs, sizeof(fs), NULL, 0), 0);
	}
	CHECK_EQ(release(e.nodeid, fh2, false), 0);
	/* A write-only handle cannot read: the host says so. */
	CHECK_EQ(fopen_(e.nodeid, O_WRONLY, &fh2), 0);
	CHECK_EQ(fread_(e.nodeid, fh2, 0, 10, NULL), -EBADF);
	CHECK_EQ(release(e.nodeid, fh2, false), 0);
}

/* Lists a directory through READDIR(PLUS) in small pieces; returns how many entries. */
static int list_dir(uint64_t dir, bool plus, uint32_t size, char names[][32], int max,
		    uint64_t *ids)
{
	uint64_t fh, off = 0;
	int n = 0;

	CHECK_EQ(opendir_(dir, &fh), 0);
	for (;;) {
		struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
		size_t pos = 0;

		CHECK_EQ(
		    call(plus ? FUSE_READDIRPLUS : FUSE_READDIR, dir, &in, sizeof(in), NULL, 0), 0);
		if (!rep_len)
			break;
		CHECK(rep_len <= size);
		while (pos < rep_len) {
			struct fuse_dirent *d;
			uint64_t id = 0;
			size_t rec;

			if (plus) {
				struct fuse_direntplus *dp = (struct fuse_direntplus *)(rep + pos);

				d = &dp->dirent;
				id = dp->entry_out.nodeid;
				rec = FUSE_DIRENTPLUS_SIZE(dp);
			} else {
				d = (struct fuse_dirent *)(rep + pos);
				rec = FUSE_DIRENT_SIZE(d);
			}
			/* Record padding is zero: nothing of the server's memory leaks. */
			for (size_t i =
				 (size_t)((char *)d->name - (char *)(rep + pos)) + d->namelen;
			     i < rec; i++)
				CHECK_EQ(rep[pos + i], 0);
			if (n < max) {
				snprintf(names[n], 32, "%.*s", (int)d->namelen, d->name);
				if (ids)
					ids[n] = id;
			}
			n++;
			off = d->off;
			pos += rec;
		}
	}
	CHECK_EQ(release(dir, fh, true), 0);
	return n;
}

static void test_readdir(void)
{
	char names[300][32];
	uint64_t ids[300];
	struct fuse_entry_out d;
	struct stat st;
	int n, seen[200];

	CHECK_EQ(mkdir_(FUSE_ROOT_ID, "many", 0755, &d), 0);
	for (int i = 0; i < 200; i++) {
		char path[64];

		snprintf(path, sizeof(path), "many/file-%03d", i);
		write_file(P(path), "");
	}
	for (int plus = 0; plus < 2; plus++) {
		memset(seen, 0, sizeof(seen));
		n = list_dir(d.nodeid, plus, plus ? 4096 : 1000, names, 300, ids);
		CHECK_EQ(n, 202);
		for (int i = 0; i < n && i < 300; i++) {
			int k;

			if (sscanf(names[i], "file-%d", &k) == 1 && k >= 0 && k < 200) {
				seen[k]++;
				if (plus) {
					/* Each entry counted a lookup: its node is usable. */
					CHECK(ids[i] > FUSE_ROOT_ID);
					CHECK_EQ(getattr(ids[i], NULL), 0);
				}
			} else {
				CHECK(!strcmp(names[i], ".") || !strcmp(names[i], ".."));
				if (plus)
					CHECK_EQ(ids[i], 0); /* no node, no lookup for . and .. */
			}
		}
		for (int k = 0; k < 200; k++)
			CHECK_EQ(seen[k], 1);
	}
	/* READDIRPLUS node ids agree with LOOKUP. */
	CHECK_EQ(lookup_id(d.nodeid, "file-007") != 0, 1);
	/* ".." of the root does not show the host directory above the share. */
	{
		uint64_t fh;
		struct fuse_read_in in = {.size = 4096};
		size_t pos = 0;

		CHECK_EQ(stat(share, &st), 0);
		CHECK_EQ(opendir_(FUSE_ROOT_ID, &fh), 0);
		in.fh = fh;
		CHECK_EQ(call(FUSE_READDIR, FUSE_ROOT_ID, &in, sizeof(in), NULL, 0), 0);
		while (pos < rep_len) {
			struct fuse_dirent *de = (struct fuse_dirent *)(rep + pos);

			if (de->namelen == 2 && !memcmp(de->name, "..", 2))
				CHECK_EQ(de->ino, st.st_ino);
			pos += FUSE_DIRENT_SIZE(de);
		}
		CHECK_EQ(release(FUSE_ROOT_ID, fh, true), 0);
	}
	/* FSYNCDIR */
	{
		uint64_t fh;
		struct fuse_fsync_in fs;

		CHECK_EQ(opendir_(d.nodeid, &fh), 0);
		fs = (struct fuse_fsync_in){.fh = fh};
		CHECK_EQ(call(FUSE_FSYNCDIR, d.nodeid, &fs, sizeof(fs), NULL, 0), 0);
		CHECK_EQ(release(d.nodeid, fh, true), 0);
	}
}

static void test_rename_link_symlink(void)
{
	struct fuse_entry_out e, d, l;
	uint64_t fh, dir;
	char buf[64];
	struct stat st;

	CHECK_EQ(mkdir_(FUSE_ROOT_ID, "rn", 0755, &d), 0);
	dir = d.nodeid;
	write_file(P("rn/a"), "AAA");
	write_file(P("rn/b"), "BBB");
	CHECK_EQ(lookup(dir, "a", &e), 0);
	CHECK_EQ(call_name(FUSE_RENAME, dir, &(struct fuse_rename_in){.newdir = FUSE_ROOT_ID},
			   sizeof(struct fuse_rename_in), "a") == -EINVAL,
		 1); /* no new name */
	{
		struct fuse_rename_in in = {.newdir = dir};

		CHECK_EQ(callx(srv, FUSE_RENAME, dir, &in, sizeof(in), "a", 2, "c", 2, OUT_MAX), 0);
	}
	CHECK_STR(read_file(P("rn/c")), "AAA");
	/* The node follows its file: opening it after the rename works. */
	CHECK_EQ(fopen_(e.nodeid, O_RDONLY, &fh), 0);
	CHECK_EQ(fread_(e.nodeid, fh, 0, 10, buf), 3);
	CHECK_EQ(release(e.nodeid, fh, false), 0);
	CHECK_EQ(rename2(dir, "c", dir, "b", RENAME_NOREPLACE), -EEXIST);
	CHECK_EQ(rename2(dir, "c", dir, "b", RENAME_EXCHANGE), 0);
	CHECK_STR(read_file(P("rn/b")), "AAA");
	CHECK_STR(read_file(P("rn/c")), "BBB");
	CHECK_EQ(fopen_(e.nodeid, O_RDONLY, &fh), 0); /* now named b */
	CHECK_EQ(release(e.nodeid, fh, false), 0);
	CHECK_EQ(rename2(dir, "b", FUSE_ROOT_ID, "moved", 0), 0);
	CHECK_STR(read_file(P("moved")), "AAA");
	CHECK_EQ(fopen_(e.nodeid, O_RDONLY, &fh), 0);
	CHECK_EQ(release(e.nodeid, fh, false), 0);
	CHECK_EQ(rename2(dir, "c", dir, "x", RENAME_NOREPLACE | RENAME_EXCHANGE), -EINVAL);
	CHECK_EQ(rename2(dir, "c", dir, "x", RENAME_WHITEOUT), -EINVAL);
	CHECK_EQ(rename2(dir, "c", 999999, "x", 0), -ENOENT);
	CHECK_EQ(rename2(dir, "nope", dir, "x", 0), -ENOENT);

	/* LINK: a second name, the same node. */
	{
		struct fuse_link_in in = {.oldnodeid = e.nodeid};

		CHECK_EQ(call_name(FUSE_LINK, dir, &in, sizeof(in), "hard"), 0);
		memcpy(&l, rep, sizeof(l));
		CHECK_EQ(l.nodeid, e.nodeid);
		CHECK_EQ(l.attr.nlink, 2);
		CHECK_EQ(stat(P("rn/hard"), &st), 0);
		CHECK_EQ(st.st_ino, l.attr.ino);
		in.oldnodeid = dir;
		CHECK_EQ(call_name(FUSE_LINK, FUSE_ROOT_ID, &in, sizeof(in), "dirlink"), -EPERM);
		in.oldnodeid = 424242;
		CHECK_EQ(call_name(FUSE_LINK, FUSE_ROOT_ID, &in, sizeof(in), "x"), -ENOENT);
	}

	/* SYMLINK and READLINK: the target is text, stored as given. */
	CHECK_EQ(callx(srv, FUSE_SYMLINK, dir, "sym", 4, "../../etc/passwd", 17, NULL, 0, OUT_MAX),
		 0);
	memcpy(&l, rep, sizeof(l));
	CHECK(S_ISLNK(l.attr.mode));
	CHECK_EQ(readlink(P("rn/sym"), buf, sizeof(buf)), 16);
	CHECK_EQ(call(FUSE_READLINK, l.nodeid, NULL, 0, NULL, 0), 0);
	CHECK_EQ(rep_len, 16);
	CHECK(!memcmp(rep, "../../etc/passwd", 16));
	CHECK_EQ(call(FUSE_READLINK, dir, NULL, 0, NULL, 0), -EINVAL);
	CHECK_EQ(callx(srv, FUSE_SYMLINK, dir, "sym2", 5, "", 1, NULL, 0, OUT_MAX), -ENOENT);
	CHECK_EQ(callx(srv, FUSE_SYMLINK, dir, "sym", 4, "x", 2, NULL, 0, OUT_MAX), -EEXIST);

	/* MKNOD: files, FIFOs and sockets are names; devices are refused. */
	{
		struct fuse_mknod_in in = {.mode = S_IFIFO | 0644};

		CHECK_EQ(call_name(FUSE_MKNOD, dir, &in, sizeof(in), "fifo"), 0);
		CHECK_EQ(stat(P("rn/fifo"), &st), 0);
		CHECK(S_ISFIFO(st.st_mode));
		in.mode = S_IFSOCK | 0644;
		CHECK_EQ(call_name(FUSE_MKNOD, dir, &in, sizeof(in), "sock"), 0);
		CHECK_EQ(stat(P("rn/sock"), &st), 0);
		CHECK(S_ISSOCK(st.st_mode));
		in.mode = S_IFREG | 0600;
		CHECK_EQ(call_name(FUSE_MKNOD, dir, &in, sizeof(in), "reg"), 0);
		CHECK_EQ(stat(P("rn/reg"), &st), 0);
		CHECK(S_ISREG(st.st_mode));
		CHECK_EQ(st.st_mode & 07777, 0600);
		in.mode = S_IFCHR | 0666;
		in.rdev = makedev(1, 3);
		CHECK_EQ(call_name(FUSE_MKNOD, dir, &in, sizeof(in), "null"), -EPERM);
		in.mode = S_IFBLK | 0666;
		CHECK_EQ(call_name(FUSE_MKNOD, dir, &in, sizeof(in), "sda"), -EPERM);
		CHECK_EQ(access(P("rn/null"), F_OK), -1);
		in.mode = S_IFDIR | 0755;
		CHECK_EQ(call_name(FUSE_MKNOD, dir, &in, sizeof(in), "d"), -EINVAL);
	}
	/* MKDIR gets exactly the mode asked (the guest applied its umask), not ours too. */
	CHECK_EQ(mkdir_(dir, "sub", 0775, &d), 0);
	CHECK_EQ(stat(P("rn/sub"), &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0775);
	CHECK_EQ(d.attr.mode & 07777, 0775);
	CHECK_EQ(mkdir_(dir, "sub", 0775, NULL), -EEXIST);
}

static void test_setattr(void)
{
	struct fuse_setattr_in in;
	struct fuse_attr a;
	uint64_t node, fh;
	struct stat st;

	write_file(P("attr.txt"), "0123456789");
	node = lookup_id(FUSE_ROOT_ID, "attr.txt");
	in = (struct fuse_setattr_in){.valid = FATTR_MODE, .mode = S_IFREG | 0604};
	CHECK_EQ(setattr(node, &in, &a), 0);
	CHECK_EQ(a.mode & 07777, 0604);
	CHECK_EQ(stat(P("attr.txt"), &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0604);
	/* Truncate by path, then through a handle. */
	in = (struct fuse_setattr_in){.valid = FATTR_SIZE, .size = 4};
	CHECK_EQ(setattr(node, &in, &a), 0);
	CHECK_EQ(a.size, 4);
	CHECK_STR(read_file(P("attr.txt")), "0123");
	CHECK_EQ(fopen_(node, O_RDWR, &fh), 0);
	in = (struct fuse_setattr_in){.valid = FATTR_SIZE | FATTR_FH, .size = 2, .fh = fh};
	CHECK_EQ(setattr(node, &in, &a), 0);
	CHECK_STR(read_file(P("attr.txt")), "01");
	in.fh = fh + 1000;
	CHECK_EQ(setattr(node, &in, &a), -EBADF);
	CHECK_EQ(release(node, fh, false), 0);
	/* Times: explicit, and "now". */
	in = (struct fuse_setattr_in){.valid = FATTR_ATIME | FATTR_MTIME,
				      .atime = 1000000000,
				      .atimensec = 5,
				      .mtime = 1200000000,
				      .mtimensec = 7};
	CHECK_EQ(setattr(node, &in, &a), 0);
	CHECK_EQ(stat(P("attr.txt"), &st), 0);
	CHECK_EQ(st.st_atim.tv_sec, 1000000000);
	CHECK_EQ(st.st_atim.tv_nsec, 5);
	CHECK_EQ(st.st_mtim.tv_sec, 1200000000);
	CHECK_EQ(a.mtime, 1200000000);
	CHECK_EQ(a.mtimensec, 7);
	in = (struct fuse_setattr_in){.valid = FATTR_MTIME | FATTR_MTIME_NOW};
	CHECK_EQ(setattr(node, &in, &a), 0);
	CHECK_EQ(stat(P("attr.txt"), &st), 0);
	CHECK(st.st_mtim.tv_sec > time(NULL) - 100);
	CHECK_EQ(st.st_atim.tv_sec, 1000000000); /* untouched */
	in = (struct fuse_setattr_in){.valid = FATTR_MTIME, .mtimensec = 1000000000};
	CHECK_EQ(setattr(node, &in, &a), -EINVAL);
	/* Owner: only root may give files away. */
	in = (struct fuse_setattr_in){.valid = FATTR_UID | FATTR_GID, .uid = 1234, .gid = 5678};
	if (geteuid() == 0) {
		CHECK_EQ(setattr(node, &in, &a), 0);
		CHECK_EQ(stat(P("attr.txt"), &st), 0);
		CHECK_EQ(st.st_uid, 1234);
		CHECK_EQ(st.st_gid, 5678);
		CHECK_EQ(a.uid, 1234);
	} else {
		CHECK_EQ(setattr(node, &in, &a), -EPERM);
	}
	/* A directory cannot be truncated. */
	in = (struct fuse_setattr_in){.valid = FATTR_SIZE, .size = 0};
	CHECK_EQ(setattr(FUSE_ROOT_ID, &in, &a), -EISDIR);
}

static void test_xattr(void)
{
	struct fuse_setxattr_in sx = {.size = 5};
	struct fuse_getxattr_in gx = {.size = 0};
	uint64_t node;
	char buf[64];

	write_file(P("xattr.txt"), "x");
	node = lookup_id(FUSE_ROOT_ID, "xattr.txt");
	CHECK_EQ(callx(srv, FUSE_SETXATTR, node, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE, "user.color",
		       11, "green", 5, OUT_MAX),
		 0);
	CHECK_EQ(getxattr(P("xattr.txt"), "user.color", buf, sizeof(buf)), 5);
	CHECK(!memcmp(buf, "green", 5));
	CHECK_EQ(setxattr(P("xattr.txt"), "user.shape", "round", 5, 0), 0);
	/* Size 0 asks for the size. */
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gx, sizeof(gx), "user.shape"), 0);
	CHECK_EQ(((struct fuse_getxattr_out *)rep)->size, 5);
	gx.size = 64;
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gx, sizeof(gx), "user.shape"), 0);
	CHECK_EQ(rep_len, 5);
	CHECK(!memcmp(rep, "round", 5));
	gx.size = 2;
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gx, sizeof(gx), "user.shape"), -ERANGE);
	gx.size = 64;
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gx, sizeof(gx), "user.none"), -ENODATA);
	/* Lists show user.* only. */
	gx.size = 0;
	CHECK_EQ(call(FUSE_LISTXATTR, node, &gx, sizeof(gx), NULL, 0), 0);
	CHECK_EQ(((struct fuse_getxattr_out *)rep)->size, 22);
	gx.size = 64;
	CHECK_EQ(call(FUSE_LISTXATTR, node, &gx, sizeof(gx), NULL, 0), 0);
	CHECK_EQ(rep_len, 22);
	CHECK(memmem(rep, rep_len, "user.color", 11) && memmem(rep, rep_len, "user.shape", 11));
	gx.size = 10;
	CHECK_EQ(call(FUSE_LISTXATTR, node, &gx, sizeof(gx), NULL, 0), -ERANGE);
	CHECK_EQ(call_name(FUSE_REMOVEXATTR, node, NULL, 0, "user.color"), 0);
	CHECK_EQ(getxattr(P("xattr.txt"), "user.color", buf, sizeof(buf)), -1);
	CHECK_EQ(call_name(FUSE_REMOVEXATTR, node, NULL, 0, "user.color"), -ENODATA);
	/* XATTR_CREATE on an existing name. */
	sx.flags = XATTR_CREATE;
	CHECK_EQ(callx(srv, FUSE_SETXATTR, node, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE, "user.shape",
		       11, "cubic", 5, OUT_MAX),
		 -EEXIST);
	/* Directories carry them too. */
	sx.flags = 0;
	CHECK_EQ(callx(srv, FUSE_SETXATTR, FUSE_ROOT_ID, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE,
		       "user.d", 7, "12345", 5, OUT_MAX),
		 0);
	CHECK_EQ(getxattr(share, "user.d", buf, sizeof(buf)), 5);
	removexattr(share, "user.d");
}

struct unlock_later {
	uint64_t node, fh;
};

static void *unlock_later(void *arg)
{
	struct unlock_later *u = arg;
	struct fuse_lk_in in = {.fh = u->fh, .owner = 1, .lk = {.end = INT64_MAX, .type = F_UNLCK}};
	struct fuse_in_header h = {.len = sizeof(h) + sizeof(in),
				   .opcode = FUSE_SETLK,
				   .unique = 999999,
				   .nodeid = u->node};
	struct iovec iv[2] = {{&h, sizeof(h)}, {&in, sizeof(in)}};
	char out[64];
	struct iovec ov = {out, sizeof(out)};

	usleep(100000);
	fuse_server_handle(srv, iv, 2, &ov, 1);
	return NULL;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_locks(void)
{
	struct unlock_later u;
	struct timespec t0;
	struct fuse_lk_out *lo = (struct fuse_lk_out *)rep;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	uint64_t node, fh1, fh2;
	pthread_t th;
	int hostfd;

	write_file(P("lock.txt"), "0123456789");
	node = lookup_id(FUSE_ROOT_ID, "lock.txt");
	CHECK_EQ(fopen_(node, O_RDWR, &fh1), 0);
	CHECK_EQ(fopen_(node, O_RDWR, &fh2), 0);
	/* POSIX locks through two opens conflict, as two guest processes' would. */
	CHECK_EQ(lk(FUSE_SETLK, node, fh1, 1, F_WRLCK, 0, 99, 0), 0);
	CHECK_EQ(lk(FUSE_SETLK, node, fh2, 2, F_RDLCK, 50, 60, 0), -EAGAIN);
	CHECK_EQ(lk(FUSE_SETLK, node, fh2, 2, F_WRLCK, 100, INT64_MAX, 0), 0);
	CHECK_EQ(lk(FUSE_GETLK, node, fh2, 2, F_RDLCK, 0, 10, 0), 0);
	CHECK_EQ(lo->lk.type, F_WRLCK);
	CHECK_EQ(lo->lk.start, 0);
	CHECK_EQ(lo->lk.end, 99);
	CHECK_EQ(lo->lk.pid, 0);
	CHECK_EQ(lk(FUSE_GETLK, node, fh1, 1, F_WRLCK, 0, 10, 0), 0);
	CHECK_EQ(lo->lk.type, F_UNLCK);
	/* A host process sees them too. */
	hostfd = open(P("lock.txt"), O_RDWR);
	CHECK_EQ(fcntl(hostfd, F_OFD_GETLK, &fl), 0);
	CHECK_EQ(fl.l_type, F_WRLCK);
	close(hostfd);
	/* SETLKW waits a bounded time, then says EAGAIN rather than hang the queue. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(lk(FUSE_SETLKW, node, fh2, 2, F_WRLCK, 0, 10, 0), -EAGAIN);
	CHECK(ms_since(&t0) >= 400 && ms_since(&t0) < 3000);
	/* ... and gets the lock when it is released meanwhile. */
	u = (struct unlock_later){node, fh1};
	pthread_create(&th, NULL, unlock_later, &u);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(lk(FUSE_SETLKW, node, fh2, 2, F_WRLCK, 0, 10, 0), 0);
	CHECK(ms_since(&t0) < 400);
	pthread_join(th, NULL);
	CHECK_EQ(lk(FUSE_SETLK, node, fh1, 1, F_RDLCK, 0, 5, 0), -EAGAIN);
	/* close(2) in the guest (FLUSH) drops that owner's locks; another owner's FLUSH not. */
	{
		struct fuse_flush_in f = {.fh = fh2, .lock_owner = 77};

		CHECK_EQ(call(FUSE_FLUSH, node, &f, sizeof(f), NULL, 0), 0);
		CHECK_EQ(lk(FUSE_SETLK, node, fh1, 1, F_RDLCK, 0, 5, 0), -EAGAIN);
		f.lock_owner = 2;
		CHECK_EQ(call(FUSE_FLUSH, node, &f, sizeof(f), NULL, 0), 0);
		CHECK_EQ(lk(FUSE_SETLK, node, fh1, 1, F_RDLCK, 0, 5, 0), 0);
	}
	/* flock() style. */
	CHECK_EQ(lk(FUSE_SETLK, node, fh1, 1, F_WRLCK, 0, 0, FUSE_LK_FLOCK), 0);
	CHECK_EQ(lk(FUSE_SETLK, node, fh2, 2, F_RDLCK, 0, 0, FUSE_LK_FLOCK), -EAGAIN);
	hostfd = open(P("lock.txt"), O_RDONLY);
	CHECK_EQ(flock(hostfd, LOCK_SH | LOCK_NB), -1);
	close(hostfd);
	CHECK_EQ(lk(FUSE_SETLK, node, fh1, 1, F_UNLCK, 0, 0, FUSE_LK_FLOCK), 0);
	CHECK_EQ(lk(FUSE_SETLK, node, fh2, 2, F_RDLCK, 0, 0, FUSE_LK_FLOCK), 0);
	/* Nonsense lock requests. */
	CHECK_EQ(lk(FUSE_SETLK, node, fh1, 1, 7, 0, 10, 0), -EINVAL);
	CHECK_EQ(lk(FUSE_SETLK, node, fh1, 1, F_RDLCK, 10, 5, 0), -EINVAL);
	CHECK_EQ(lk(FUSE_SETLK, node, fh1 + 100, 1, F_RDLCK, 0, 5, 0), -EBADF);
	CHECK_EQ(release(node, fh1, false), 0);
	CHECK_EQ(release(node, fh2, false), 0);
}

static void test_fallocate_lseek_copy(void)
{
	struct fuse_fallocate_in fa;
	struct fuse_lseek_in ls;
	struct fuse_entry_out e;
	uint64_t fh, fh2, node2;
	char chunk[8192];
	struct stat st;

	memset(chunk, 'z', sizeof(chunk));
	CHECK_EQ(create(FUSE_ROOT_ID, "sparse", O_RDWR, 0644, &e, &fh), 0);
	/* Allocate without growing, then grow. */
	fa = (struct fuse_fallocate_in){
	    .fh = fh, .offset = 0, .length = 65536, .mode = FALLOC_FL_KEEP_SIZE};
	CHECK_EQ(call(FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0), 0);
	CHECK_EQ(stat(P("sparse"), &st), 0);
	CHECK_EQ(st.st_size, 0);
	fa.mode = 0;
	fa.length = 1 << 20;
	CHECK_EQ(call(FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0), 0);
	CHECK_EQ(stat(P("sparse"), &st), 0);
	CHECK_EQ(st.st_size, 1 << 20);
	/* Punch a hole in the middle (size kept), data at both ends. */
	CHECK_EQ(fwrite_(e.nodeid, fh, 0, chunk, sizeof(chunk), 0), (long)sizeof(chunk));
	fa = (struct fuse_fallocate_in){.fh = fh,
					.offset = 65536,
					.length = 524288,
					.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE};
	CHECK_EQ(call(FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0), 0);
	CHECK_EQ(stat(P("sparse"), &st), 0);
	CHECK_EQ(st.st_size, 1 << 20);
	fa.mode = 0x100; /* unknown mode bits */
	CHECK_EQ(call(FUSE_FALLOCATE, e.nodeid, &fa, sizeof(fa), NULL, 0), -EOPNOTSUPP);
	/* SEEK_HOLE and SEEK_DATA answer what the host's lseek says (file systems differ on
	 * whether allocated but unwritten blocks are data). */
	CHECK_EQ(fwrite_(e.nodeid, fh, (1 << 20) - 8192, chunk, sizeof(chunk), 0),
		 (long)sizeof(chunk));
	{
		int hfd = open(P("sparse"), O_RDONLY);
		off_t hole = lseek(hfd, 0, SEEK_HOLE), data = lseek(hfd, 65536, SEEK_DATA);

		close(hfd);
		CHECK(hole >= 8192 && hole <= 65536);
		CHECK(data >= 65536 + 524288 && data <= (1 << 20) - 8192);
		ls = (struct fuse_lseek_in){.fh = fh, .offset = 0, .whence = SEEK_HOLE};
		CHECK_EQ(call(FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), NULL, 0), 0);
		CHECK_EQ(((struct fuse_lseek_out *)rep)->offset, hole);
		ls = (struct fuse_lseek_in){.fh = fh, .offset = 65536, .whence = SEEK_DATA};
		CHECK_EQ(call(FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), NULL, 0), 0);
		CHECK_EQ(((struct fuse_lseek_out *)rep)->offset, data);
	}
	ls.whence = SEEK_SET;
	CHECK_EQ(call(FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), NULL, 0), -EINVAL);
	ls = (struct fuse_lseek_in){.fh = fh, .offset = 2 << 20, .whence = SEEK_DATA};
	CHECK_EQ(call(FUSE_LSEEK, e.nodeid, &ls, sizeof(ls), NULL, 0), -ENXIO);
	/* COPY_FILE_RANGE into another file. */
	CHECK_EQ(create(FUSE_ROOT_ID, "copy", O_RDWR, 0644, NULL, &fh2), 0);
	node2 = lookup_id(FUSE_ROOT_ID, "copy");
	{
		struct fuse_copy_file_range_in cp = {.fh_in = fh,
						     .off_in = 100,
						     .nodeid_out = node2,
						     .fh_out = fh2,
						     .off_out = 10,
						     .len = 1000};

		CHECK_EQ(call(FUSE_COPY_FILE_RANGE, e.nodeid, &cp, sizeof(cp), NULL, 0), 0);
		CHECK_EQ(((struct fuse_write_out *)rep)->size, 1000);
		CHECK_EQ(stat(P("copy"), &st), 0);
		CHECK_EQ(st.st_size, 1010);
		cp.nodeid_out = e.nodeid; /* fh_out belongs to another node */
		CHECK_EQ(call(FUSE_COPY_FILE_RANGE, e.nodeid, &cp, sizeof(cp), NULL, 0), -EBADF);
		cp.nodeid_out = node2;
		cp.flags = 1;
		CHECK_EQ(call(FUSE_COPY_FILE_RANGE, e.nodeid, &cp, sizeof(cp), NULL, 0), -EINVAL);
	}
	CHECK_EQ(release(node2, fh2, false), 0);
	CHECK_EQ(release(e.nodeid, fh, false), 0);
}

static void test_remove_forget(void)
{
	struct fuse_entry_out e, d;
	struct stat st;

	CHECK_EQ(mkdir_(FUSE_ROOT_ID, "rm", 0755, &d), 0);
	write_file(P("rm/f"), "x");
	CHECK_EQ(lookup(d.nodeid, "f", &e), 0);
	CHECK_EQ(call_name(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "rm"), -ENOTEMPTY);
	CHECK_EQ(call_name(FUSE_RMDIR, d.nodeid, NULL, 0, "f"), -ENOTDIR);
	CHECK_EQ(call_name(FUSE_UNLINK, d.nodeid, NULL, 0, "f"), 0);
	CHECK_EQ(lstat(P("rm/f"), &st), -1);
	CHECK_EQ(call_name(FUSE_UNLINK, d.nodeid, NULL, 0, "f"), -ENOENT);
	/* The node outlives the name until the guest forgets it. */
	CHECK_EQ(getattr(e.nodeid, NULL), 0);
	CHECK_EQ(forget(e.nodeid, 1), 1);
	CHECK_EQ(getattr(e.nodeid, NULL), -ENOENT);
	CHECK_EQ(call_name(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "rm"), 0);
	CHECK_EQ(lstat(P("rm"), &st), -1);
	/* The directory node stays while its lookup is held. */
	CHECK_EQ(getattr(d.nodeid, NULL), 0);
	CHECK_EQ(lookup(d.nodeid, "x", NULL), -ENOENT);
	/* BATCH_FORGET */
	{
		struct {
			struct fuse_batch_forget_in h;
			struct fuse_forget_one one[2];
		} bf = {{.count = 2}, {{d.nodeid, 1}, {12345, 1}}};

		CHECK_EQ(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0), 1);
		CHECK_EQ(getattr(d.nodeid, NULL), -ENOENT);
	}
}

static void test_statfs_access(void)
{
	struct fuse_statfs_out *o = (struct fuse_statfs_out *)rep;
	struct fuse_access_in ac = {.mask = R_OK | W_OK};
	uint64_t node;

	CHECK_EQ(call(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, 0), 0);
	CHECK(o->st.blocks > 0 && o->st.bsize > 0);
	CHECK_EQ(o->st.namelen, 255);
	CHECK_EQ(call(FUSE_ACCESS, FUSE_ROOT_ID, &ac, sizeof(ac), NULL, 0), 0);
	write_file(P("noexec"), "");
	chmod(P("noexec"), 0644);
	node = lookup_id(FUSE_ROOT_ID, "noexec");
	ac.mask = X_OK;
	CHECK_EQ(call(FUSE_ACCESS, node, &ac, sizeof(ac), NULL, 0), -EACCES);
	ac.mask = 0x100;
	CHECK_EQ(call(FUSE_ACCESS, node, &ac, sizeof(ac), NULL, 0), -EINVAL);
}

/* Files the guest makes belong to the guest's user when smolvm is root. */
static void test_owner(void)
{
	struct fuse_create_in in = {.flags = O_RDWR | O_CREAT, .mode = S_IFREG | 04755};
	struct fuse_in_header h = {
	    .opcode = FUSE_CREATE, .unique = 5, .nodeid = FUSE_ROOT_ID, .uid = 1234, .gid = 5678};
	struct iovec iv[3] = {{&h, sizeof(h)}, {&in, sizeof(in)}, {"owned", 6}};
	struct iovec ov = {out_buf, OUT_MAX};
	struct stat st;

	h.len = sizeof(h) + sizeof(in) + 6;
	CHECK(fuse_server_handle(srv, iv, 3, &ov, 1) > 16);
	CHECK_EQ(((struct fuse_out_header *)out_buf)->error, 0);
	CHECK_EQ(lstat(P("owned"), &st), 0);
	if (geteuid() == 0) {
		CHECK_EQ(st.st_uid, 1234);
		CHECK_EQ(st.st_gid, 5678);
		CHECK_EQ(st.st_mode & 07777, 04755); /* the setuid bit survives the chown */
	} else {
		CHECK_EQ(st.st_uid, geteuid());
	}
	/* In a setgid directory the group is the directory's. */
	if (geteuid() == 0) {
		mkdir(P("sgid"), 02775);
		chown(P("sgid"), 0, 4444);
		chmod(P("sgid"), 02775);
		h.nodeid = lookup_id(FUSE_ROOT_ID, "sgid");
		h.opcode = FUSE_MKDIR;
		struct fuse_mkdir_in mk = {.mode = 0755};
		iv[1] = (struct iovec){&mk, sizeof(mk)};
		iv[2] = (struct iovec){"inner", 6};
		h.len = sizeof(h) + sizeof(mk) + 6;
		CHECK(fuse_server_handle(srv, iv, 3, &ov, 1) > 16);
		CHECK_EQ(lstat(P("sgid/inner"), &st), 0);
		CHECK_EQ(st.st_uid, 1234);
		CHECK_EQ(st.st_gid, 4444);
		CHECK(st.st_mode & S_ISGID);
	}
}

/* DESTROY drops everything; the guest must INIT again and look things up anew. */
static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	while (d && (de = readdir(d)))
		n++;
	if (d)
		closedir(d);
	return n;
}

static void test_destroy(void)
{
	int fds_before = count_fds();
	struct fuse_server *s;
	struct fuse_server_config cfg = {.root = share};
	struct fuse_entry_out e;
	struct fuse_getattr_in ga = {0};
	struct fuse_read_in rd = {.size = 10};

	write_file(P("d.txt"), "destroy");
	CHECK_EQ(fuse_server_new(&cfg, &s), 0);
	CHECK_EQ(do_init(s), 0);
	CHECK_EQ(callx(s, FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "d.txt", 6, NULL, 0, OUT_MAX), 0);
	memcpy(&e, rep, sizeof(e));
	{
		struct fuse_open_in o = {.flags = O_RDONLY};

		CHECK_EQ(callx(s, FUSE_OPEN, e.nodeid, &o, sizeof(o), NULL, 0, NULL, 0, OUT_MAX),
			 0);
		rd.fh = ((struct fuse_open_out *)rep)->fh;
	}
	CHECK_EQ(callx(s, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL, 0, OUT_MAX), 0);
	CHECK_EQ(callx(s, FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0, NULL, 0, OUT_MAX),
		 -EIO);
	CHECK_EQ(do_init(s), 0);
	CHECK_EQ(callx(s, FUSE_GETATTR, e.nodeid, &ga, sizeof(ga), NULL, 0, NULL, 0, OUT_MAX),
		 -ENOENT);
	CHECK_EQ(callx(s, FUSE_READ, e.nodeid, &rd, sizeof(rd), NULL, 0, NULL, 0, OUT_MAX), -EBADF);
	CHECK_EQ(callx(s, FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0, NULL, 0, OUT_MAX),
		 0);
	/* Open handles and looked-up nodes at free time: every descriptor is closed. */
	CHECK_EQ(callx(s, FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "d.txt", 6, NULL, 0, OUT_MAX), 0);
	memcpy(&e, rep, sizeof(e));
	{
		struct fuse_open_in o = {.flags = O_RDONLY};

		CHECK_EQ(callx(s, FUSE_OPEN, e.nodeid, &o, sizeof(o), NULL, 0, NULL, 0, OUT_MAX),
			 0);
		CHECK_EQ(
		    callx(s, FUSE_OPENDIR, FUSE_ROOT_ID, &o, sizeof(o), NULL, 0, NULL, 0, OUT_MAX),
		    0);
	}
	CHECK(count_fds() > fds_before + 2);
	fuse_server_free(s);
	CHECK_EQ(count_fds(), fds_before);
}

/* Several queues at once: lookups, forgets, reads and releases racing on shared nodes. */
static void *hammer(void *arg)
{
	char name[16], data[64];
	uint8_t inb[512], outb[4096];
	long id = (long)arg;

	for (int i = 0; i < 2000; i++) {
		struct fuse_in_header h = {.unique = (uint64_t)i, .nodeid = FUSE_ROOT_ID};
		struct iovec iv[2] = {{&h, sizeof(h)}, {inb, 0}};
		struct iovec ov = {outb, sizeof(outb)};
		struct fuse_entry_out e;
		struct fuse_open_in o = {.flags = O_RDONLY};
		struct fuse_read_in rd = {.size = sizeof(data)};
		struct fuse_forget_in fg = {.nlookup = 1};
		struct fuse_release_in rl = {0};

		snprintf(name, sizeof(name), "t%d", (int)((i + id) % 8));
		h.opcode = FUSE_LOOKUP;
		memcpy(inb, name, strlen(name) + 1);
		iv[1].iov_len = strlen(name) + 1;
		h.len = (uint32_t)(sizeof(h) + iv[1].iov_len);
		if (fuse_server_handle(srv, iv, 2, &ov, 1) != 16 + sizeof(e))
			continue;
		memcpy(&e, outb + 16, sizeof(e));
		h.nodeid = e.nodeid;
		h.opcode = FUSE_OPEN;
		memcpy(inb, &o, sizeof(o));
		iv[1].iov_len = sizeof(o);
		h.len = sizeof(h) + sizeof(o);
		if (fuse_server_handle(srv, iv, 2, &ov, 1) == 32) {
			rd.fh = rl.fh = ((struct fuse_open_out *)(outb + 16))->fh;
			h.opcode = FUSE_READ;
			memcpy(inb, &rd, sizeof(rd));
			iv[1].iov_len = sizeof(rd);
			h.len = sizeof(h) + sizeof(rd);
			fuse_server_handle(srv, iv, 2, &ov, 1);
			h.opcode = FUSE_RELEASE;
			memcpy(inb, &rl, sizeof(rl));
			iv[1].iov_len = sizeof(rl);
			h.len = sizeof(h) + sizeof(rl);
			fuse_server_handle(srv, iv, 2, &ov, 1);
		}
		h.opcode = FUSE_FORGET;
		memcpy(inb, &fg, sizeof(fg));
		iv[1].iov_len = sizeof(fg);
		h.len = sizeof(h) + sizeof(fg);
		fuse_server_handle(srv, iv, 2, &ov, 1);
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t th[4];

	for (int i = 0; i < 8; i++) {
		char path[16];

		snprintf(path, sizeof(path), "t%d", i);
		write_file(P(path), "threads");
	}
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* Every lookup was forgotten: the nodes are gone, a new lookup makes a new one. */
	CHECK(lookup_id(FUSE_ROOT_ID, "t0") > 0);
}

/* ---- a hostile guest ---- */

static char outside[PATH_MAX];
static const char *O(const char *rel)
{
	static char buf[PATH_MAX];

	if (snprintf(buf, PATH_MAX, "%s/%s", outside, rel) >= PATH_MAX)
		abort();
	return buf;
}

static void check_outside_untouched(void)
{
	struct stat st;

	CHECK_STR(read_file(O("secret")), "SECRET");
	CHECK_EQ(lstat(O("new"), &st), -1);
	CHECK_EQ(stat(O("secret"), &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
}

static void test_bad_names(void)
{
	char longname[NAME_MAX + 2];
	struct fuse_mkdir_in mk = {.mode = 0755};
	struct fuse_create_in cr = {.flags = O_RDWR | O_CREAT, .mode = 0644};
	uint64_t fh;

	CHECK_EQ(lookup(FUSE_ROOT_ID, "..", NULL), -EINVAL);
	CHECK_EQ(lookup(FUSE_ROOT_ID, ".", NULL), -EINVAL);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "../outside", NULL), -EINVAL);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "a/b", NULL), -EINVAL);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "/etc", NULL), -EINVAL);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "", NULL), -EINVAL);
	memset(longname, 'n', NAME_MAX);
	longname[NAME_MAX] = 0;
	CHECK_EQ(lookup(FUSE_ROOT_ID, longname, NULL), -ENOENT); /* 255 is fine */
	longname[NAME_MAX] = 'n';
	longname[NAME_MAX + 1] = 0;
	CHECK_EQ(lookup(FUSE_ROOT_ID, longname, NULL), -ENAMETOOLONG);
	/* No NUL inside the request. */
	CHECK_EQ(call(FUSE_LOOKUP, FUSE_ROOT_ID, "outside", 7, NULL, 0), -EINVAL);
	/* A NUL in the middle ends the name: "x" then junk is just "x". */
	CHECK_EQ(call(FUSE_LOOKUP, FUSE_ROOT_ID, "..\0x", 4, NULL, 0), -EINVAL);
	/* The same checks guard every name-taking operation. */
	CHECK_EQ(call_name(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "../outside/new"), -EINVAL);
	CHECK_EQ(call_name(FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), ".."), -EINVAL);
	CHECK_EQ(call_name(FUSE_CREATE, FUSE_ROOT_ID, &cr, sizeof(cr), "../outside/new"), -EINVAL);
	CHECK_EQ(create(FUSE_ROOT_ID, "..", O_RDWR, 0644, NULL, &fh), -EINVAL);
	CHECK_EQ(call_name(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "../outside/secret"), -EINVAL);
	CHECK_EQ(call_name(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, ".."), -EINVAL);
	CHECK_EQ(call_name(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "."), -EINVAL);
	CHECK_EQ(rename2(FUSE_ROOT_ID, "..", FUSE_ROOT_ID, "x", 0), -EINVAL);
	CHECK_EQ(rename2(FUSE_ROOT_ID, "esc", FUSE_ROOT_ID, "../outside/new", 0), -EINVAL);
	CHECK_EQ(rename2(FUSE_ROOT_ID, "esc", FUSE_ROOT_ID, "", 0), -EINVAL);
	CHECK_EQ(callx(srv, FUSE_SYMLINK, FUSE_ROOT_ID, "../new", 7, "x", 2, NULL, 0, OUT_MAX),
		 -EINVAL);
	{
		struct fuse_link_in ln = {.oldnodeid = lookup_id(FUSE_ROOT_ID, "victim")};

		CHECK_EQ(call_name(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "../outside/new"),
			 -EINVAL);
	}
	{
		struct fuse_mknod_in mn = {.mode = S_IFREG | 0644};

		CHECK_EQ(call_name(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "a/../../x"),
			 -EINVAL);
	}
	check_outside_untouched();
}

static void test_symlinks_not_followed(void)
{
	struct fuse_entry_out e;
	struct fuse_mkdir_in mk = {.mode = 0755};
	uint64_t fh, esc, escf, proc;

	/* A symlink to a directory outside is a symlink node, not a way in. */
	CHECK_EQ(lookup(FUSE_ROOT_ID, "esc", &e), 0);
	CHECK(S_ISLNK(e.attr.mode));
	esc = e.nodeid;
	CHECK_EQ(lookup(esc, "secret", NULL), -ENOTDIR);
	CHECK_EQ(opendir_(esc, &fh), -ENOTDIR);
	CHECK_EQ(call_name(FUSE_MKDIR, esc, &mk, sizeof(mk), "new"), -ENOTDIR);
	CHECK_EQ(create(esc, "new", O_RDWR, 0644, NULL, &fh), -ENOTDIR);
	CHECK_EQ(rename2(FUSE_ROOT_ID, "victim", esc, "new", 0), -ENOTDIR);
	/* A symlink to a file outside cannot be opened, truncated or read for xattrs. */
	CHECK_EQ(lookup(FUSE_ROOT_ID, "escf", &e), 0);
	escf = e.nodeid;
	CHECK_EQ(e.attr.size, strlen(O("secret"))); /* the link's own size, not the secret's */
	CHECK_EQ(fopen_(escf, O_RDONLY, &fh), -ENXIO);
	CHECK_EQ(fopen_(escf, O_RDWR | O_TRUNC, &fh), -ENXIO);
	{
		struct fuse_setattr_in sa = {.valid = FATTR_SIZE, .size = 0};
		struct fuse_getxattr_in gx = {.size = 64};

		CHECK_EQ(setattr(escf, &sa, NULL), -EINVAL);
		sa = (struct fuse_setattr_in){.valid = FATTR_MODE, .mode = 0777};
		CHECK_EQ(setattr(escf, &sa, NULL), -EOPNOTSUPP);
		CHECK_EQ(call_name(FUSE_GETXATTR, escf, &gx, sizeof(gx), "user.x"), -ENODATA);
	}
	/* CREATE on the name of a symlink (no O_EXCL) does not write through it. */
	CHECK_EQ(create(FUSE_ROOT_ID, "escf", O_RDWR | O_TRUNC, 0644, NULL, &fh), -ELOOP);
	/* /proc magic links are just symlinks too. */
	CHECK_EQ(lookup(FUSE_ROOT_ID, "proc", &e), 0);
	proc = e.nodeid;
	CHECK(S_ISLNK(e.attr.mode));
	CHECK_EQ(lookup(proc, "root", NULL), -ENOTDIR);
	CHECK_EQ(lookup(proc, "exe", NULL), -ENOTDIR);
	CHECK_EQ(opendir_(proc, &fh), -ENOTDIR);
	/* LINK of a symlink node makes another symlink, nothing more. */
	{
		struct fuse_link_in ln = {.oldnodeid = escf};
		struct stat st;

		CHECK_EQ(call_name(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "escf2"), 0);
		CHECK_EQ(lstat(P("escf2"), &st), 0);
		CHECK(S_ISLNK(st.st_mode));
		unlink(P("escf2"));
	}
	check_outside_untouched();
}

/* Host processes swap symlinks in after the guest looked names up. */
static void test_symlink_swap_race(void)
{
	struct fuse_entry_out d, f;
	struct fuse_getxattr_in gx = {.size = 64};
	uint64_t fh;
	char names[8][32];

	/* A directory replaced by a symlink to outside: the node stays on the real directory. */
	mkdir(P("dir"), 0755);
	write_file(P("dir/inside"), "INSIDE");
	CHECK_EQ(lookup(FUSE_ROOT_ID, "dir", &d), 0);
	CHECK_EQ(rename(P("dir"), P("dir.old")), 0);
	CHECK_EQ(symlink(outside, P("dir")), 0);
	CHECK_EQ(lookup(d.nodeid, "secret", NULL), -ENOENT);
	CHECK_EQ(lookup(d.nodeid, "inside", &f), 0);
	CHECK_EQ(list_dir(d.nodeid, false, 4096, names, 8, NULL), 3);
	CHECK(!strcmp(names[0], "inside") || !strcmp(names[1], "inside") ||
	      !strcmp(names[2], "inside"));
	CHECK_EQ(create(d.nodeid, "new", O_RDWR, 0644, NULL, &fh), 0);
	CHECK_EQ(release(lookup_id(d.nodeid, "new"), fh, false), 0);
	CHECK_EQ(access(P("dir.old/new"), F_OK), 0);

	/* A file replaced by a symlink to outside: OPEN says ESTALE, the secret stays put. */
	write_file(P("file"), "FILE");
	CHECK_EQ(lookup(FUSE_ROOT_ID, "file", &f), 0);
	CHECK_EQ(unlink(P("file")), 0);
	CHECK_EQ(symlink(O("secret"), P("file")), 0);
	CHECK_EQ(fopen_(f.nodeid, O_RDONLY, &fh), -ESTALE);
	CHECK_EQ(fopen_(f.nodeid, O_RDWR | O_TRUNC, &fh), -ESTALE);
	{
		struct fuse_setattr_in sa = {.valid = FATTR_SIZE, .size = 0};

		CHECK_EQ(setattr(f.nodeid, &sa, NULL), -ESTALE);
	}
	CHECK_EQ(call_name(FUSE_GETXATTR, f.nodeid, &gx, sizeof(gx), "user.x"), -ESTALE);
	/* Still the old file's attributes: the node pins its own inode. */
	{
		struct fuse_attr a;

		CHECK_EQ(getattr(f.nodeid, &a), 0);
		CHECK(S_ISREG(a.mode));
		CHECK_EQ(a.size, 4);
	}
	/* A fresh lookup of the name sees the symlink for what it is. */
	CHECK_EQ(lookup(FUSE_ROOT_ID, "file", &d), 0);
	CHECK(S_ISLNK(d.attr.mode));
	CHECK(d.nodeid != f.nodeid);

	/* A file replaced by another regular file: a different inode, so ESTALE too. */
	write_file(P("file2"), "ONE");
	CHECK_EQ(lookup(FUSE_ROOT_ID, "file2", &f), 0);
	write_file(P("file2.new"), "TWO");
	CHECK_EQ(rename(P("file2.new"), P("file2")), 0);
	CHECK_EQ(fopen_(f.nodeid, O_RDWR | O_TRUNC, &fh), -ESTALE);
	CHECK_STR(read_file(P("file2")), "TWO");
	check_outside_untouched();
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_fuse_server: a FIFO open blocked the server\n";

	(void)sig;
	write(2, msg, sizeof(msg) - 1);
	_exit(2);
}

/* FIFOs and devices are never opened on the host, and nothing can make OPEN block. */
static void test_fifo_and_devices(void)
{
	struct fuse_entry_out e;
	uint64_t fh;

	signal(SIGALRM, on_alarm);
	alarm(10);
	CHECK_EQ(mkfifo(P("fifo"), 0666), 0);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "fifo", &e), 0);
	CHECK(S_ISFIFO(e.attr.mode));
	CHECK_EQ(fopen_(e.nodeid, O_RDONLY, &fh), -ENXIO);
	CHECK_EQ(fopen_(e.nodeid, O_WRONLY, &fh), -ENXIO);
	CHECK_EQ(fopen_(e.nodeid, O_RDWR, &fh), -ENXIO);
	CHECK_EQ(opendir_(e.nodeid, &fh), -ENOTDIR);
	/* CREATE without O_EXCL on a FIFO's name. */
	CHECK_EQ(create(FUSE_ROOT_ID, "fifo", O_WRONLY, 0644, NULL, &fh), -ENXIO);
	CHECK_EQ(create(FUSE_ROOT_ID, "fifo", O_RDONLY, 0644, NULL, &fh), -ENXIO);
	/* A regular file swapped for a FIFO between LOOKUP and OPEN. */
	write_file(P("pipe"), "");
	CHECK_EQ(lookup(FUSE_ROOT_ID, "pipe", &e), 0);
	CHECK_EQ(unlink(P("pipe")), 0);
	CHECK_EQ(mkfifo(P("pipe"), 0666), 0);
	CHECK_EQ(fopen_(e.nodeid, O_RDONLY, &fh), -ESTALE);
	CHECK_EQ(fopen_(e.nodeid, O_WRONLY, &fh), -ESTALE);
	CHECK_EQ(fopen_(e.nodeid, O_RDWR, &fh), -ESTALE);
	/* A socket. */
	{
		struct fuse_mknod_in mn = {.mode = S_IFSOCK | 0644};

		CHECK_EQ(call_name(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "sock"), 0);
		memcpy(&e, rep, sizeof(e));
		CHECK_EQ(fopen_(e.nodeid, O_RDWR, &fh), -ENXIO);
	}
	/* A device node a host admin left in the share. */
	if (geteuid() == 0 && mknod(P("null"), S_IFCHR | 0666, makedev(1, 3)) == 0) {
		CHECK_EQ(lookup(FUSE_ROOT_ID, "null", &e), 0);
		CHECK(S_ISCHR(e.attr.mode));
		CHECK_EQ(e.attr.rdev, (1 << 8) | 3);
		CHECK_EQ(fopen_(e.nodeid, O_RDWR, &fh), -ENXIO);
		CHECK_EQ(create(FUSE_ROOT_ID, "null", O_RDWR, 0644, NULL, &fh), -ENXIO);
	}
	alarm(0);
}

/* Node ids and handles the guest was never given reach nothing. */
static void test_unknown_ids(void)
{
	struct fuse_read_in rd = {.size = 10};
	struct fuse_entry_out e;
	uint64_t node, fh, dfh, other;

	CHECK_EQ(getattr(987654321, NULL), -ENOENT);
	CHECK_EQ(getattr(0, NULL), -ENOENT);
	CHECK_EQ(lookup(987654321, "victim", NULL), -ENOENT);
	CHECK_EQ(call(FUSE_READLINK, 987654321, NULL, 0, NULL, 0), -ENOENT);
	node = lookup_id(FUSE_ROOT_ID, "victim");
	other = lookup_id(FUSE_ROOT_ID, "dir.old");
	CHECK_EQ(fopen_(node, O_RDONLY, &fh), 0);
	CHECK_EQ(opendir_(FUSE_ROOT_ID, &dfh), 0);
	rd.fh = fh + 1000;
	CHECK_EQ(call(FUSE_READ, node, &rd, sizeof(rd), NULL, 0), -EBADF);
	/* A real handle used with another node, or as the other kind of handle. */
	rd.fh = fh;
	CHECK_EQ(call(FUSE_READ, other, &rd, sizeof(rd), NULL, 0), -EBADF);
	CHECK_EQ(call(FUSE_READDIR, node, &rd, sizeof(rd), NULL, 0), -EBADF);
	rd.fh = dfh;
	CHECK_EQ(call(FUSE_READ, FUSE_ROOT_ID, &rd, sizeof(rd), NULL, 0), -EBADF);
	CHECK_EQ(release(FUSE_ROOT_ID, dfh, false), -EBADF);
	CHECK_EQ(release(node, fh, true), -EBADF);
	CHECK_EQ(release(node, fh, false), 0);
	CHECK_EQ(release(node, fh, false), -EBADF); /* twice */
	rd.fh = fh;
	CHECK_EQ(call(FUSE_READ, node, &rd, sizeof(rd), NULL, 0), -EBADF);
	CHECK_EQ(release(FUSE_ROOT_ID, dfh, true), 0);
	/* A forgotten node id is as unknown as an invented one. */
	CHECK_EQ(lookup(FUSE_ROOT_ID, "victim", &e), 0);
	CHECK_EQ(forget(e.nodeid, 1000), 1);
	CHECK_EQ(getattr(e.nodeid, NULL), -ENOENT);
	CHECK_EQ(fopen_(e.nodeid, O_RDONLY, &fh), -ENOENT);
}

/* More forgets than lookups never underflow: the count stops at zero, the rest is ignored. */
static void test_forget_underflow(void)
{
	struct fuse_entry_out e, e2;

	CHECK_EQ(lookup(FUSE_ROOT_ID, "victim", &e), 0);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "victim", NULL), 0);
	CHECK_EQ(forget(e.nodeid, 1), 1);
	CHECK_EQ(getattr(e.nodeid, NULL), 0); /* one lookup left */
	CHECK_EQ(forget(e.nodeid, UINT64_MAX), 1);
	CHECK_EQ(getattr(e.nodeid, NULL), -ENOENT);
	CHECK_EQ(forget(e.nodeid, 5), 1);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "victim", &e2), 0);
	CHECK(e2.nodeid != e.nodeid); /* a new node: ids are never reused */
	CHECK_EQ(forget(e2.nodeid, 1), 1);
	/* The root cannot be forgotten. */
	CHECK_EQ(forget(FUSE_ROOT_ID, 1000), 1);
	CHECK_EQ(getattr(FUSE_ROOT_ID, NULL), 0);
	/* A BATCH_FORGET that claims more entries than it carries. */
	{
		struct {
			struct fuse_batch_forget_in h;
			struct fuse_forget_one one;
		} bf = {{.count = 1000000}, {FUSE_ROOT_ID, 1}};

		CHECK_EQ(lookup(FUSE_ROOT_ID, "victim", &e), 0);
		bf.one.nodeid = e.nodeid;
		CHECK_EQ(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf) - 4, NULL, 0), 1);
		CHECK_EQ(getattr(e.nodeid, NULL), 0); /* the truncated entry was not applied */
		CHECK_EQ(call(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, 0), 1);
		CHECK_EQ(getattr(e.nodeid, NULL), -ENOENT);
	}
}

/* A read-only share refuses every modification with EROFS. */
static void test_readonly(void)
{
	struct fuse_server *s, *keep = srv;
	struct fuse_server_config cfg = {.root = share, .readonly = true};
	struct fuse_entry_out e;
	uint64_t node, fh;

	CHECK_EQ(fuse_server_new(&cfg, &s), 0);
	srv = s;
	CHECK_EQ(do_init(s), 0);
	CHECK_EQ(lookup(FUSE_ROOT_ID, "victim", &e), 0);
	node = e.nodeid;
	CHECK_EQ(create(FUSE_ROOT_ID, "ro-new", O_RDWR, 0644, NULL, &fh), -EROFS);
	CHECK_EQ(mkdir_(FUSE_ROOT_ID, "ro-dir", 0755, NULL), -EROFS);
	{
		struct fuse_mknod_in mn = {.mode = S_IFREG | 0644};

		CHECK_EQ(call_name(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "ro"), -EROFS);
	}
	CHECK_EQ(callx(s, FUSE_SYMLINK, FUSE_ROOT_ID, "ro", 3, "x", 2, NULL, 0, OUT_MAX), -EROFS);
	{
		struct fuse_link_in ln = {.oldnodeid = node};

		CHECK_EQ(call_name(FUSE_LINK, FUSE_ROOT_ID, &ln, sizeof(ln), "ro"), -EROFS);
	}
	CHECK_EQ(call_name(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "victim"), -EROFS);
	CHECK_EQ(call_name(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "dir.old"), -EROFS);
	CHECK_EQ(rename2(FUSE_ROOT_ID, "victim", FUSE_ROOT_ID, "v2", 0), -EROFS);
	{
		struct fuse_rename_in rn = {.newdir = FUSE_ROOT_ID};

		CHECK_EQ(callx(s, FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "victim", 7, "v2", 3,
			       OUT_MAX),
			 -EROFS);
	}
	{
		struct fuse_setattr_in sa = {.valid = FATTR_MODE, .mode = 0777};

		CHECK_EQ(setattr(node, &sa, NULL), -EROFS);
		sa = (struct fuse_setattr_in){.valid = FATTR_MTIME | FATTR_MTIME_NOW};
		CHECK_EQ(setattr(node, &sa, NULL), -EROFS);
	}
	{
		struct fuse_setxattr_in sx = {.size = 1};

		CHECK_EQ(callx(s, FUSE_SETXATTR, node, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE, "user.a",
			       7, "b", 1, OUT_MAX),
			 -EROFS);
		CHECK_EQ(call_name(FUSE_REMOVEXATTR, node, NULL, 0, "user.a"), -EROFS);
	}
	CHECK_EQ(fopen_(node, O_WRONLY, &fh), -EROFS);
	CHECK_EQ(fopen_(node, O_RDWR, &fh), -EROFS);
	CHECK_EQ(fopen_(node, O_RDONLY | O_TRUNC, &fh), -EROFS);
	/* Reading works; writing through a read handle does not. */
	CHECK_EQ(fopen_(node, O_RDONLY, &fh), 0);
	CHECK_EQ(fread_(node, fh, 0, 100, NULL), 6);
	CHECK_EQ(fwrite_(node, fh, 0, "x", 1, 0), -EROFS);
	{
		struct fuse_fallocate_in fa = {.fh = fh, .length = 100};
		struct fuse_copy_file_range_in cp = {
		    .fh_in = fh, .nodeid_out = node, .fh_out = fh, .len = 1};

		CHECK_EQ(call(FUSE_FALLOCATE, node, &fa, sizeof(fa), NULL, 0), -EROFS);
		CHECK_EQ(call(FUSE_COPY_FILE_RANGE, node, &cp, sizeof(cp), NULL, 0), -EROFS);
	}
	{
		struct fuse_access_in ac = {.mask = W_OK};

		CHECK_EQ(call(FUSE_ACCESS, node, &ac, sizeof(ac), NULL, 0), -EROFS);
	}
	CHECK_EQ(release(node, fh, false), 0);
	CHECK_STR(read_file(P("victim")), "VICTIM");
	srv = keep;
	fuse_server_free(s);
}

/* Requests whose lengths lie, are cut short or are unknown get an error, never a crash. */
static void test_malformed(void)
{
	struct fuse_in_header h = {
	    .len = sizeof(h), .opcode = FUSE_GETATTR, .unique = 77, .nodeid = FUSE_ROOT_ID};
	struct fuse_getattr_in ga = {0};
	struct fuse_out_header *oh = (struct fuse_out_header *)out_buf;
	struct iovec iv[2] = {{&h, sizeof(h)}, {&ga, sizeof(ga)}};
	struct iovec ov = {out_buf, OUT_MAX};
	struct stat st;

	/* The header's length must be what the buffers hold. */
	h.len = sizeof(h) + sizeof(ga) + 1;
	CHECK_EQ(fuse_server_handle(srv, iv, 2, &ov, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	CHECK_EQ(oh->unique, 77);
	h.len = sizeof(h) + sizeof(ga) - 1;
	CHECK_EQ(fuse_server_handle(srv, iv, 2, &ov, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	h.len = 0xffffffff;
	CHECK_EQ(fuse_server_handle(srv, iv, 2, &ov, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	/* Extensions claimed beyond the request. */
	h.len = sizeof(h) + sizeof(ga);
	h.total_extlen = 100;
	CHECK_EQ(fuse_server_handle(srv, iv, 2, &ov, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	h.total_extlen = 0;
	/* Less than a header. */
	iv[0].iov_len = 10;
	CHECK_EQ(fuse_server_handle(srv, iv, 1, &ov, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	CHECK_EQ(fuse_server_handle(srv, NULL, 0, &ov, 1), 16);
	CHECK_EQ(oh->error, -EINVAL);
	iv[0].iov_len = sizeof(h);
	/* Truncated argument structs. */
	CHECK_EQ(call(FUSE_GETATTR, FUSE_ROOT_ID, &ga, sizeof(ga) - 1, NULL, 0), -EINVAL);
	CHECK_EQ(call(FUSE_WRITE, FUSE_ROOT_ID, &ga, 10, NULL, 0), -EINVAL);
	CHECK_EQ(call(FUSE_SETATTR, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0), -EINVAL);
	CHECK_EQ(call(FUSE_INIT, 0, &ga, 8, NULL, 0), -EINVAL);
	{
		/* A WRITE whose size disagrees with its payload. */
		uint64_t node = lookup_id(FUSE_ROOT_ID, "victim"), fh;
		struct fuse_write_in wr = {.size = 100};

		CHECK_EQ(fopen_(node, O_RDWR, &fh), 0);
		wr.fh = fh;
		CHECK_EQ(call(FUSE_WRITE, node, &wr, sizeof(wr), "abc", 3), -EINVAL);
		wr.size = 1;
		CHECK_EQ(call(FUSE_WRITE, node, &wr, sizeof(wr), "abc", 3), -EINVAL);
		wr.size = 3;
		wr.offset = (uint64_t)INT64_MAX + 1;
		CHECK_EQ(call(FUSE_WRITE, node, &wr, sizeof(wr), "abc", 3), -EINVAL);
		CHECK_EQ(release(node, fh, false), 0);
		CHECK_STR(read_file(P("victim")), "VICTIM");
	}
	/* Unknown and unimplemented opcodes. */
	CHECK_EQ(call(7, FUSE_ROOT_ID, NULL, 0, NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_IOCTL, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_BMAP, FUSE_ROOT_ID, &ga, sizeof(ga), NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_SETUPMAPPING, FUSE_ROOT_ID, NULL, 0, NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_TMPFILE, FUSE_ROOT_ID, NULL, 0, NULL, 0), -ENOSYS);
	CHECK_EQ(call(CUSE_INIT, 0, NULL, 0, NULL, 0), -ENOSYS);
	CHECK_EQ(call(0xffffffff, 0, NULL, 0, NULL, 0), -ENOSYS);
	CHECK_EQ(call(FUSE_INIT_BSWAP_RESERVED, 0, NULL, 0, NULL, 0), -ENOSYS);
	/* INTERRUPT takes no reply. */
	{
		struct fuse_interrupt_in in = {.unique = 3};

		CHECK_EQ(call(FUSE_INTERRUPT, 0, &in, sizeof(in), NULL, 0), 1);
	}
	/* No room for a reply: nothing is done and nothing written. */
	{
		struct fuse_mkdir_in mk = {.mode = 0755};

		CHECK_EQ(callx(srv, FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "noreply", 8, NULL,
			       0, 15),
			 1);
		CHECK_EQ(lstat(P("noreply"), &st), -1);
		/* Room for a header but not the entry: an error, and no lookup taken. */
		CHECK_EQ(callx(srv, FUSE_MKDIR, FUSE_ROOT_ID, &mk, sizeof(mk), "noreply", 8, NULL,
			       0, 16 + 100),
			 -EINVAL);
		CHECK_EQ(lstat(P("noreply"), &st), -1);
		CHECK_EQ(callx(srv, FUSE_LOOKUP, FUSE_ROOT_ID, "victim", 7, NULL, 0, NULL, 0, 16),
			 -EINVAL);
	}
	/* A reply that does not fit is an error, not an overflow. */
	{
		struct fuse_getxattr_in gx = {.size = 1000};

		CHECK_EQ(setxattr(P("victim"), "user.long", "0123456789abcdef", 16, 0), 0);
		CHECK_EQ(callx(srv, FUSE_GETXATTR, lookup_id(FUSE_ROOT_ID, "victim"), &gx,
			       sizeof(gx), "user.long", 10, NULL, 0, 16 + 8),
			 -ERANGE);
		CHECK_EQ(callx(srv, FUSE_READLINK, lookup_id(FUSE_ROOT_ID, "escf"), NULL, 0, NULL,
			       0, NULL, 0, 16 + 4),
			 -ERANGE);
	}
	/* More buffers than any virtqueue has. */
	{
		static struct iovec many[2000];

		for (int i = 0; i < 2000; i++)
			many[i] = (struct iovec){&h, 0};
		many[0].iov_len = sizeof(h);
		h.len = sizeof(h);
		CHECK_EQ(fuse_server_handle(srv, many, 2000, &ov, 1), 16);
		CHECK_EQ(oh->error, -EINVAL);
	}
}

/* Replies carry no stale bytes: reserved fields and padding are zero. */
static void test_no_leaks(void)
{
	struct fuse_entry_out e;
	struct fuse_open_out *oo;
	uint64_t fh;

	CHECK_EQ(lookup(FUSE_ROOT_ID, "victim", &e), 0);
	CHECK_EQ(e.generation, 0);
	CHECK_EQ(e.entry_valid_nsec, 0);
	CHECK_EQ(e.attr.flags, 0);
	CHECK_EQ(fopen_(e.nodeid, O_RDONLY, &fh), 0);
	oo = (struct fuse_open_out *)rep;
	CHECK_EQ(oo->open_flags, 0); /* no FOPEN_KEEP_CACHE: host changes show on reopen */
	CHECK_EQ(oo->padding, 0);
	CHECK_EQ(release(e.nodeid, fh, false), 0);
	CHECK_EQ(do_init(srv), 0);
	for (int i = 0; i < 7; i++)
		CHECK_EQ(((struct fuse_init_out *)rep)->unused[i], 0);
	CHECK_EQ(call(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, 0), 0);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(((struct fuse_statfs_out *)rep)->st.spare[i], 0);
}

/* Only user.* xattrs pass: capabilities or ACLs set by the guest would bind the host. */
static void test_xattr_namespaces(void)
{
	struct fuse_setxattr_in sx = {.size = 4};
	struct fuse_getxattr_in gx = {.size = 64};
	uint64_t node = lookup_id(FUSE_ROOT_ID, "victim");
	char buf[64];

	CHECK_EQ(callx(srv, FUSE_SETXATTR, node, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE,
		       "security.capability", 20, "\1\0\0\2", 4, OUT_MAX),
		 -EPERM);
	CHECK_EQ(callx(srv, FUSE_SETXATTR, node, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE, "trusted.x", 10,
		       "abcd", 4, OUT_MAX),
		 -EPERM);
	CHECK_EQ(callx(srv, FUSE_SETXATTR, node, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE,
		       "system.posix_acl_access", 24, "abcd", 4, OUT_MAX),
		 -EPERM);
	CHECK_EQ(getxattr(P("victim"), "security.capability", buf, sizeof(buf)), -1);
	CHECK_EQ(call_name(FUSE_REMOVEXATTR, node, NULL, 0, "security.selinux"), -EPERM);
	if (geteuid() == 0)
		CHECK_EQ(setxattr(P("victim"), "trusted.host", "h", 1, 0), 0);
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gx, sizeof(gx), "trusted.host"), -ENODATA);
	CHECK_EQ(call_name(FUSE_GETXATTR, node, &gx, sizeof(gx), "security.capability"), -ENODATA);
	CHECK_EQ(call(FUSE_LISTXATTR, node, &gx, sizeof(gx), NULL, 0), 0);
	CHECK(!memmem(rep, rep_len, "trusted", 7));
	/* Name and size limits. */
	{
		char longname[XATTR_NAME_MAX + 10];

		memset(longname, 'a', sizeof(longname));
		memcpy(longname, "user.", 5);
		longname[sizeof(longname) - 1] = 0;
		CHECK_EQ(call_name(FUSE_GETXATTR, node, &gx, sizeof(gx), longname), -ERANGE);
		CHECK_EQ(call_name(FUSE_GETXATTR, node, &gx, sizeof(gx), ""), -ERANGE);
		sx.size = XATTR_SIZE_MAX + 1;
		CHECK_EQ(callx(srv, FUSE_SETXATTR, node, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE,
			       "user.big", 9, NULL, 0, OUT_MAX),
			 -E2BIG);
		sx.size = 100; /* more than the request carries */
		CHECK_EQ(callx(srv, FUSE_SETXATTR, node, &sx, FUSE_COMPAT_SETXATTR_IN_SIZE,
			       "user.big", 9, "abc", 3, OUT_MAX),
			 -EINVAL);
	}
	if (geteuid() == 0)
		removexattr(P("victim"), "trusted.host");
}

static void rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

int main(void)
{
	struct fuse_server_config cfg = {.root = share};

	snprintf(top, sizeof(top), "/tmp/test_fuse_server.XXXXXX");
	if (!mkdtemp(top))
		return 1;
	if (snprintf(share, sizeof(share), "%s/share", top) >= (int)sizeof(share) ||
	    snprintf(outside, sizeof(outside), "%s/outside", top) >= (int)sizeof(outside))
		return 1;
	mkdir(share, 0755);
	mkdir(outside, 0755);
	write_file(O("secret"), "SECRET");
	chmod(O("secret"), 0600);
	write_file(P("victim"), "VICTIM");
	symlink("../outside", P("esc"));
	symlink(O("secret"), P("escf"));
	symlink("/proc/self", P("proc"));
	if (fuse_server_new(&cfg, &srv) || do_init(srv))
		return 1;

	RUN(test_init);
	RUN(test_lookup_getattr);
	RUN(test_create_write_read);
	RUN(test_readdir);
	RUN(test_rename_link_symlink);
	RUN(test_setattr);
	RUN(test_xattr);
	RUN(test_locks);
	RUN(test_fallocate_lseek_copy);
	RUN(test_remove_forget);
	RUN(test_statfs_access);
	RUN(test_owner);
	RUN(test_destroy);
	RUN(test_threads);
	RUN(test_bad_names);
	RUN(test_symlinks_not_followed);
	RUN(test_symlink_swap_race);
	RUN(test_fifo_and_devices);
	RUN(test_unknown_ids);
	RUN(test_forget_underflow);
	RUN(test_readonly);
	RUN(test_malformed);
	RUN(test_no_leaks);
	RUN(test_xattr_namespaces);
	check_outside_untouched();

	fuse_server_free(srv);
	rm_rf(top);
	return UNIT_RESULT();
}
