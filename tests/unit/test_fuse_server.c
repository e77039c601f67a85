/*
 * The FUSE server driven with crafted requests against a temporary tree: a normal session
 * compared with the host side, then every way a hostile guest could try to escape the share or
 * break the server, each with the exact error it must get.
 */
#include <errno.h>
#include <fcntl.h>
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
static char top[PATH_MAX];   /* mkdtemp: share/ and outside/ */
static char share[PATH_MAX]; /* the share root */

/* Host path of something in the share (or outside it, for "../outside/..."). */
static const char *P(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], PATH_MAX, "%s/%s", share, rel);
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
	struct fuse_in_header h = {.opcode = op, .unique = next_unique++, .nodeid = node,
				   .uid = getuid(), .gid = getgid(), .pid = 1};
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
	struct fuse_init_in in = {.major = 7, .minor = 38, .max_readahead = 131072,
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
	struct fuse_lk_in in = {.fh = fh, .owner = owner,
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

		CHECK_EQ(callx(srv, FUSE_READ, e.nodeid, &in, sizeof(in), NULL, 0, NULL, 0, 16 + 100),
			 0);
		CHECK_EQ(rep_len, 100);
	}
	CHECK_EQ(release(e.nodeid, fh, false), 0);

	/* O_APPEND appends whatever offset the guest sends; page writeback does not. */
	write_file(P("log.txt"), "one\n");
	CHECK_EQ(fopen_(e.nodeid = lookup_id(FUSE_ROOT_ID, "log.txt"), O_WRONLY | O_APPEND, &fh2), 0);
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

		CHECK_EQ(call(plus ? FUSE_READDIRPLUS : FUSE_READDIR, dir, &in, sizeof(in), NULL,
			      0),
			 0);
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
			for (size_t i = (size_t)((char *)d->name - (char *)(rep + pos)) + d->namelen;
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
			   sizeof(struct fuse_rename_in), "a") == -EINVAL, 1); /* no new name */
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
	struct fuse_in_header h = {.len = sizeof(h) + sizeof(in), .opcode = FUSE_SETLK,
				   .unique = 999999, .nodeid = u->node};
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
