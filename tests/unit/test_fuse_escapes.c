/*
 * The FUSE server against a hostile guest: every way to escape the share or break the server
 * (names with .. or /, symlinks, swapped paths, magic links, FIFOs and devices, ids never given,
 * forgets past zero, writes to a read-only share, malformed requests), each with the exact error
 * it must get, and the secret outside the share untouched.
 */
#include "fuse_client.h"

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
	static const char msg[] = "test_fuse_escapes: a FIFO open blocked the server\n";

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

int main(void)
{
	if (fuse_client_setup("test_fuse_escapes"))
		return 1;
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
	return fuse_client_finish();
}
