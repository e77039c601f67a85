/*
 * The FUSE server driven with crafted requests through a normal session: INIT, lookups,
 * file data, directories, renames and links, attributes; each reply compared with what the
 * host side shows. test_fuse_state.c does the same for xattrs, locks, space, forgetting,
 * ownership, teardown and threads.
 */
#include "fuse_client.h"

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

int main(void)
{
	if (fuse_client_setup("test_fuse_ops"))
		return 1;
	RUN(test_init);
	RUN(test_lookup_getattr);
	RUN(test_create_write_read);
	RUN(test_readdir);
	RUN(test_rename_link_symlink);
	RUN(test_setattr);
	return fuse_client_finish();
}
