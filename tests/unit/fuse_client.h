/*
 * A tiny FUSE client for the unit tests of the FUSE server: it sends crafted requests to a
 * server on a temporary tree (share/ and, beside it, outside/ with a secret the guest must never
 * reach) and checks what every reply must satisfy. Included by test_fuse_ops.c, test_fuse_state.c,
 * test_fuse_escapes.c and test_fuse_limits.c; everything here is static, one copy per test
 * binary.
 */
#ifndef SMOLVM_FUSE_CLIENT_H
#define SMOLVM_FUSE_CLIENT_H

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
static inline const char *P(const char *rel)
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
static inline int callx(struct fuse_server *s, uint32_t op, uint64_t node, const void *a,
			size_t alen, const void *b, size_t blen, const void *c, size_t clen,
			size_t outsize)
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

static inline int call(uint32_t op, uint64_t node, const void *a, size_t alen, const void *b,
		       size_t blen)
{
	return callx(srv, op, node, a, alen, b, blen, NULL, 0, OUT_MAX);
}

static inline int call_name(uint32_t op, uint64_t node, const void *a, size_t alen,
			    const char *name)
{
	return call(op, node, a, alen, name, strlen(name) + 1);
}

static inline int do_init(struct fuse_server *s)
{
	struct fuse_init_in in = {.major = 7,
				  .minor = 38,
				  .max_readahead = 131072,
				  .flags = 0xffffffffu & ~FUSE_INIT_EXT};

	return callx(s, FUSE_INIT, 0, &in, sizeof(in), NULL, 0, NULL, 0, OUT_MAX);
}

static inline int lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	int err = call_name(FUSE_LOOKUP, parent, NULL, 0, name);

	if (!err && e) {
		CHECK_EQ(rep_len, sizeof(*e));
		memcpy(e, rep, sizeof(*e));
	}
	return err;
}

static inline uint64_t lookup_id(uint64_t parent, const char *name)
{
	struct fuse_entry_out e;

	return lookup(parent, name, &e) ? 0 : e.nodeid;
}

static inline int getattr(uint64_t node, struct fuse_attr *a)
{
	struct fuse_getattr_in in = {0};
	int err = call(FUSE_GETATTR, node, &in, sizeof(in), NULL, 0);

	if (!err && a)
		memcpy(a, &((struct fuse_attr_out *)rep)->attr, sizeof(*a));
	return err;
}

static inline int create(uint64_t parent, const char *name, uint32_t flags, uint32_t mode,
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

static inline int fopen_(uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in = {.flags = flags};
	int err = call(FUSE_OPEN, node, &in, sizeof(in), NULL, 0);

	if (!err)
		*fh = ((struct fuse_open_out *)rep)->fh;
	return err;
}

static inline int opendir_(uint64_t node, uint64_t *fh)
{
	struct fuse_open_in in = {.flags = O_RDONLY};
	int err = call(FUSE_OPENDIR, node, &in, sizeof(in), NULL, 0);

	if (!err)
		*fh = ((struct fuse_open_out *)rep)->fh;
	return err;
}

static inline int release(uint64_t node, uint64_t fh, bool dir)
{
	struct fuse_release_in in = {.fh = fh};

	return call(dir ? FUSE_RELEASEDIR : FUSE_RELEASE, node, &in, sizeof(in), NULL, 0);
}

static inline long fwrite_(uint64_t node, uint64_t fh, uint64_t off, const void *data, uint32_t len,
			   uint32_t wflags)
{
	struct fuse_write_in in = {.fh = fh, .offset = off, .size = len, .write_flags = wflags};
	int err = call(FUSE_WRITE, node, &in, sizeof(in), data, len);

	return err ? err : (long)((struct fuse_write_out *)rep)->size;
}

static inline long fread_(uint64_t node, uint64_t fh, uint64_t off, uint32_t size, void *buf)
{
	struct fuse_read_in in = {.fh = fh, .offset = off, .size = size};
	int err = call(FUSE_READ, node, &in, sizeof(in), NULL, 0);

	if (err)
		return err;
	if (buf)
		memcpy(buf, rep, rep_len);
	return (long)rep_len;
}

static inline int mkdir_(uint64_t parent, const char *name, uint32_t mode, struct fuse_entry_out *e)
{
	struct fuse_mkdir_in in = {.mode = mode};
	int err = call_name(FUSE_MKDIR, parent, &in, sizeof(in), name);

	if (!err && e)
		memcpy(e, rep, sizeof(*e));
	return err;
}

static inline int forget(uint64_t node, uint64_t n)
{
	struct fuse_forget_in in = {.nlookup = n};

	return call(FUSE_FORGET, node, &in, sizeof(in), NULL, 0);
}

static inline int rename2(uint64_t dir, const char *from, uint64_t newdir, const char *to,
			  uint32_t flags)
{
	struct fuse_rename2_in in = {.newdir = newdir, .flags = flags};

	return callx(srv, FUSE_RENAME2, dir, &in, sizeof(in), from, strlen(from) + 1, to,
		     strlen(to) + 1, OUT_MAX);
}

static inline int setattr(uint64_t node, const struct fuse_setattr_in *in, struct fuse_attr *a)
{
	int err = call(FUSE_SETATTR, node, in, sizeof(*in), NULL, 0);

	if (!err && a)
		memcpy(a, &((struct fuse_attr_out *)rep)->attr, sizeof(*a));
	return err;
}

static inline int lk(uint32_t op, uint64_t node, uint64_t fh, uint64_t owner, uint32_t type,
		     uint64_t start, uint64_t end, uint32_t flags)
{
	struct fuse_lk_in in = {.fh = fh,
				.owner = owner,
				.lk = {.start = start, .end = end, .type = type},
				.lk_flags = flags};

	return call(op, node, &in, sizeof(in), NULL, 0);
}

static inline void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, text, strlen(text)), (long)strlen(text));
	close(fd);
}

static inline const char *read_file(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	buf[n < 0 ? 0 : n] = 0;
	return buf;
}

/* Lists a directory through READDIR(PLUS) in small pieces; returns how many entries. */
static inline int list_dir(uint64_t dir, bool plus, uint32_t size, char names[][32], int max,
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

/* ---- outside the share ---- */

static char outside[PATH_MAX];
static inline const char *O(const char *rel)
{
	static char buf[PATH_MAX];

	if (snprintf(buf, PATH_MAX, "%s/%s", outside, rel) >= PATH_MAX)
		abort();
	return buf;
}

static inline void check_outside_untouched(void)
{
	struct stat st;

	CHECK_STR(read_file(O("secret")), "SECRET");
	CHECK_EQ(lstat(O("new"), &st), -1);
	CHECK_EQ(stat(O("secret"), &st), 0);
	CHECK_EQ(st.st_mode & 07777, 0600);
}

static inline void rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", path);
}

/* The tree both test binaries start from, and a server on it after INIT. */
static inline int fuse_client_setup(const char *name)
{
	struct fuse_server_config cfg = {.root = share};

	snprintf(top, sizeof(top), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(top))
		return -1;
	if (snprintf(share, sizeof(share), "%s/share", top) >= (int)sizeof(share) ||
	    snprintf(outside, sizeof(outside), "%s/outside", top) >= (int)sizeof(outside))
		return -1;
	mkdir(share, 0755);
	mkdir(outside, 0755);
	write_file(O("secret"), "SECRET");
	chmod(O("secret"), 0600);
	write_file(P("victim"), "VICTIM");
	symlink("../outside", P("esc"));
	symlink(O("secret"), P("escf"));
	symlink("/proc/self", P("proc"));
	if (fuse_server_new(&cfg, &srv) || do_init(srv))
		return -1;
	return 0;
}

static inline int fuse_client_finish(void)
{
	check_outside_untouched();
	fuse_server_free(srv);
	rm_rf(top);
	return UNIT_RESULT();
}

#endif
