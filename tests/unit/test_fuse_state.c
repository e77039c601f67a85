/*
 * The FUSE server driven with crafted requests through a normal session, part two: xattrs,
 * locks, fallocate/lseek/copy_file_range, forgetting nodes, statfs and access, ownership,
 * teardown and concurrent requests; each reply compared with what the host side shows.
 */
#include "fuse_client.h"

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

/* Descriptors this process has open: the server's nodes and handles among them. */
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

/* DESTROY drops everything; the guest must INIT again and look things up anew. */
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

int main(void)
{
	if (fuse_client_setup("test_fuse_state"))
		return 1;
	RUN(test_xattr);
	RUN(test_locks);
	RUN(test_fallocate_lseek_copy);
	RUN(test_remove_forget);
	RUN(test_statfs_access);
	RUN(test_owner);
	RUN(test_destroy);
	RUN(test_threads);
	return fuse_client_finish();
}
