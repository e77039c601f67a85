/*
 * The FUSE server: session setup (INIT, DESTROY) and the dispatch of each request to the
 * handler for its opcode. Handlers live in fuse_ops_*.c, one file per kind of operation.
 */
#include "fs/fuse_server.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_host.h"
#include "fs/fuse_server_priv.h"

/* The oldest protocol we speak: 7.31 (Linux 5.4) has every struct at its full size. */
#define FUSE_SERVER_MIN_MINOR 31

/*
 * What we offer, if the kernel offers it too. Not offered: WRITEBACK_CACHE (the guest would
 * own file sizes and mtimes, wrong once the host writes too), EXPORT_SUPPORT (no stable
 * handles), DONT_MASK and POSIX_ACL (the guest kernel applies umask and mode checks),
 * HANDLE_KILLPRIV(_V2) (the guest kernel clears setuid bits with a SETATTR itself), SPLICE_*,
 * SETXATTR_EXT and the DAX/submount features.
 */
#define FUSE_SERVER_FLAGS                                                                          \
	(FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |              \
	 FUSE_FLOCK_LOCKS | FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |   \
	 FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS)

/*
 * The cache modes (fuse_server.h), as virtiofsd sets them. AUTO is close-to-open: data is
 * dropped on each open (no FOPEN_KEEP_CACHE) and when attributes show a change
 * (FUSE_AUTO_INVAL_DATA). ALWAYS keeps file pages across opens, remembers missing names and
 * lets the kernel keep directory listings (FOPEN_CACHE_DIR, and FOPEN_KEEP_CACHE, which
 * Linux 6.5 and later also want on OPENDIR to keep them across opens). NEVER makes file I/O
 * direct (a shared writable mmap then fails with ENODEV, as under virtiofsd cache=none) and
 * offers no READDIRPLUS (its entries would expire at once) and no symlink cache.
 */
#define FUSE_CACHE_DAY (24 * 60 * 60)
static const struct fuse_cache_policy cache_policies[] = {
    [FUSE_SERVER_CACHE_AUTO] = {.valid = 1},
    [FUSE_SERVER_CACHE_ALWAYS] = {.valid = FUSE_CACHE_DAY,
				  .negative = true,
				  .file_open = FOPEN_KEEP_CACHE,
				  .dir_open = FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR},
    [FUSE_SERVER_CACHE_NEVER] = {.file_open = FOPEN_DIRECT_IO,
				 .init_unset = FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
					       FUSE_CACHE_SYMLINKS},
};

enum {
	OP_NODE = 1,	/* resolve hdr.nodeid into r->node first */
	OP_WRITES = 2,	/* a modification: EROFS on a read-only share */
	OP_NOREPLY = 4, /* the guest expects no reply */
};

struct fuse_op {
	fuse_op_fn *fn;
	uint8_t arg_size; /* fixed argument struct, copied into r->arg */
	uint8_t flags;
	uint16_t reply_size; /* fixed reply the out buffers must hold before we act */
};

static fuse_op_fn op_init, op_destroy, op_interrupt;

#define OP(code, f, arg, fl, reply) [code] = {f, arg, fl, reply}
static const struct fuse_op fuse_ops[] = {
    OP(FUSE_LOOKUP, fuse_op_lookup, 0, OP_NODE, sizeof(struct fuse_entry_out)),
    OP(FUSE_FORGET, fuse_op_forget, sizeof(struct fuse_forget_in), OP_NOREPLY, 0),
    OP(FUSE_GETATTR, fuse_op_getattr, sizeof(struct fuse_getattr_in), OP_NODE,
       sizeof(struct fuse_attr_out)),
    OP(FUSE_SETATTR, fuse_op_setattr, sizeof(struct fuse_setattr_in), OP_NODE | OP_WRITES,
       sizeof(struct fuse_attr_out)),
    OP(FUSE_READLINK, fuse_op_readlink, 0, OP_NODE, 0),
    OP(FUSE_SYMLINK, fuse_op_symlink, 0, OP_NODE | OP_WRITES, sizeof(struct fuse_entry_out)),
    OP(FUSE_MKNOD, fuse_op_mknod, sizeof(struct fuse_mknod_in), OP_NODE | OP_WRITES,
       sizeof(struct fuse_entry_out)),
    OP(FUSE_MKDIR, fuse_op_mkdir, sizeof(struct fuse_mkdir_in), OP_NODE | OP_WRITES,
       sizeof(struct fuse_entry_out)),
    OP(FUSE_UNLINK, fuse_op_unlink, 0, OP_NODE | OP_WRITES, 0),
    OP(FUSE_RMDIR, fuse_op_rmdir, 0, OP_NODE | OP_WRITES, 0),
    OP(FUSE_RENAME, fuse_op_rename, sizeof(struct fuse_rename_in), OP_NODE | OP_WRITES, 0),
    OP(FUSE_LINK, fuse_op_link, sizeof(struct fuse_link_in), OP_NODE | OP_WRITES,
       sizeof(struct fuse_entry_out)),
    OP(FUSE_OPEN, fuse_op_open, sizeof(struct fuse_open_in), OP_NODE, sizeof(struct fuse_open_out)),
    OP(FUSE_READ, fuse_op_read, sizeof(struct fuse_read_in), 0, 0),
    OP(FUSE_WRITE, fuse_op_write, sizeof(struct fuse_write_in), OP_WRITES,
       sizeof(struct fuse_write_out)),
    OP(FUSE_STATFS, fuse_op_statfs, 0, OP_NODE, sizeof(struct fuse_statfs_out)),
    OP(FUSE_RELEASE, fuse_op_release, sizeof(struct fuse_release_in), 0, 0),
    OP(FUSE_FSYNC, fuse_op_fsync, sizeof(struct fuse_fsync_in), 0, 0),
    OP(FUSE_SETXATTR, fuse_op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE, OP_NODE | OP_WRITES, 0),
    OP(FUSE_GETXATTR, fuse_op_getxattr, sizeof(struct fuse_getxattr_in), OP_NODE, 0),
    OP(FUSE_LISTXATTR, fuse_op_listxattr, sizeof(struct fuse_getxattr_in), OP_NODE, 0),
    OP(FUSE_REMOVEXATTR, fuse_op_removexattr, 0, OP_NODE | OP_WRITES, 0),
    OP(FUSE_FLUSH, fuse_op_flush, sizeof(struct fuse_flush_in), 0, 0),
    OP(FUSE_INIT, op_init, offsetof(struct fuse_init_in, flags2), 0, sizeof(struct fuse_init_out)),
    OP(FUSE_OPENDIR, fuse_op_opendir, sizeof(struct fuse_open_in), OP_NODE,
       sizeof(struct fuse_open_out)),
    OP(FUSE_READDIR, fuse_op_readdir, sizeof(struct fuse_read_in), 0, 0),
    OP(FUSE_RELEASEDIR, fuse_op_releasedir, sizeof(struct fuse_release_in), 0, 0),
    OP(FUSE_FSYNCDIR, fuse_op_fsyncdir, sizeof(struct fuse_fsync_in), 0, 0),
    OP(FUSE_GETLK, fuse_op_getlk, sizeof(struct fuse_lk_in), 0, sizeof(struct fuse_lk_out)),
    OP(FUSE_SETLK, fuse_op_setlk, sizeof(struct fuse_lk_in), 0, 0),
    OP(FUSE_SETLKW, fuse_op_setlkw, sizeof(struct fuse_lk_in), 0, 0),
    OP(FUSE_ACCESS, fuse_op_access, sizeof(struct fuse_access_in), OP_NODE, 0),
    OP(FUSE_CREATE, fuse_op_create, sizeof(struct fuse_create_in), OP_NODE | OP_WRITES,
       sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)),
    OP(FUSE_INTERRUPT, op_interrupt, sizeof(struct fuse_interrupt_in), OP_NOREPLY, 0),
    OP(FUSE_DESTROY, op_destroy, 0, 0, 0),
    OP(FUSE_BATCH_FORGET, fuse_op_batch_forget, sizeof(struct fuse_batch_forget_in), OP_NOREPLY, 0),
    OP(FUSE_FALLOCATE, fuse_op_fallocate, sizeof(struct fuse_fallocate_in), OP_WRITES, 0),
    OP(FUSE_READDIRPLUS, fuse_op_readdirplus, sizeof(struct fuse_read_in), 0, 0),
    OP(FUSE_RENAME2, fuse_op_rename2, sizeof(struct fuse_rename2_in), OP_NODE | OP_WRITES, 0),
    OP(FUSE_LSEEK, fuse_op_lseek, sizeof(struct fuse_lseek_in), 0, sizeof(struct fuse_lseek_out)),
    OP(FUSE_COPY_FILE_RANGE, fuse_op_copy_file_range, sizeof(struct fuse_copy_file_range_in),
       OP_WRITES, sizeof(struct fuse_write_out)),
};

static int op_init(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_init_in *in = &r->arg.init;
	struct fuse_init_out out = {
	    .major = FUSE_KERNEL_VERSION,
	    .minor = FUSE_KERNEL_MINOR_VERSION,
	};

	if (in->major < FUSE_KERNEL_VERSION)
		return -EPROTO;
	/* A newer major: say ours and the kernel asks again in our terms. */
	if (in->major > FUSE_KERNEL_VERSION)
		return fuse_reply(r, &out, sizeof(out));
	if (in->minor < FUSE_SERVER_MIN_MINOR)
		return -EPROTO;
	out.flags = in->flags & FUSE_SERVER_FLAGS & ~s->cache->init_unset;
	out.max_readahead = in->max_readahead;
	out.max_background = 64;
	out.congestion_threshold = 48;
	out.max_write = FUSE_SERVER_MAX_IO;
	out.time_gran = 1;
	out.max_pages = FUSE_SERVER_MAX_PAGES;
	__atomic_store_n(&s->initialized, 1, __ATOMIC_RELEASE);
	return fuse_reply(r, &out, sizeof(out));
}

/* Unmount: everything the guest held is dropped; a later INIT starts afresh. */
static int op_destroy(struct fuse_server *s, struct fuse_req *r)
{
	fuse_server_reset(s);
	return fuse_reply(r, NULL, 0);
}

/* Every request runs to completion quickly (SETLKW waits a bounded time), so there is
 * nothing to interrupt; virtio-fs drivers do not send INTERRUPT anyway. */
static int op_interrupt(struct fuse_server *s, struct fuse_req *r)
{
	return 0;
}

size_t fuse_server_handle(struct fuse_server *s, const struct iovec *in, unsigned nin,
			  const struct iovec *out, unsigned nout)
{
	const struct fuse_op *op = NULL;
	struct fuse_req r;
	int err;

	err = fuse_req_init(&r, in, nin, out, nout);
	if (!err && r.hdr.opcode < sizeof(fuse_ops) / sizeof(fuse_ops[0]) &&
	    fuse_ops[r.hdr.opcode].fn)
		op = &fuse_ops[r.hdr.opcode];
	if (op && (op->flags & OP_NOREPLY)) {
		if (__atomic_load_n(&s->initialized, __ATOMIC_ACQUIRE) &&
		    !fuse_req_read(&r, &r.arg, op->arg_size))
			op->fn(s, &r);
		return 0;
	}
	/* With no room for a reply the guest could not learn what we did: do nothing. */
	if (r.out_cap < sizeof(struct fuse_out_header))
		return 0;
	if (err)
		goto fail;
	err = -ENOSYS;
	if (!op)
		goto fail;
	err = -EIO;
	if (r.hdr.opcode != FUSE_INIT && !__atomic_load_n(&s->initialized, __ATOMIC_ACQUIRE))
		goto fail;
	err = -EINVAL;
	if (fuse_req_out_room(&r) < op->reply_size || fuse_req_read(&r, &r.arg, op->arg_size))
		goto fail;
	err = -EROFS;
	if ((op->flags & OP_WRITES) && s->readonly)
		goto fail;
	if (op->flags & OP_NODE) {
		r.node = fs_nodes_get(&s->nodes, r.hdr.nodeid);
		err = -ENOENT;
		if (!r.node)
			goto fail;
	}
	err = op->fn(s, &r);
	if (r.node)
		fs_nodes_put(&s->nodes, r.node);
	if (!err)
		return r.out_len;
fail:
	fuse_reply_err(&r, -err);
	return r.out_len;
}

/* The process umask, which the host applies to every file we create. */
static mode_t read_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned mask;
	mode_t m;

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "Umask: %o", &mask) == 1) {
				fclose(f);
				return (mode_t)mask;
			}
		}
		fclose(f);
	}
	m = umask(022); /* racy only against other threads, and none create files yet */
	umask(m);
	return m;
}

/*
 * Every node and open file costs a descriptor: all shares together may keep as many as the hard
 * limit allows, less a quarter left for the rest of smolvm.
 */
static struct fs_budget fd_budget;
static pthread_once_t fd_budget_once = PTHREAD_ONCE_INIT;

/* The most descriptors a process may have (fs.nr_open), or a safe guess. */
static rlim_t nr_open(void)
{
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	unsigned long n = 0;

	if (f) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 0;
		fclose(f);
	}
	return n ? (rlim_t)n : 1 << 20;
}

/*
 * A guest that walks a tree keeps a lookup, so a descriptor, on every file it has seen: 10,000
 * files need more than the usual 1024/4096. Raise the soft limit to the hard one, and, where we
 * may (root, CAP_SYS_RESOURCE), the hard limit too.
 */
static long raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t most = nr_open();

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 768;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < most) {
		struct rlimit want = {most, most};

		if (!setrlimit(RLIMIT_NOFILE, &want))
			rl = want;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1 << 24))
		rl.rlim_cur = 1 << 24;
	return (long)rl.rlim_cur / 4 * 3;
}

static void fd_budget_init(void)
{
	fd_budget.max = raise_fd_limit();
}

int fuse_server_new(const struct fuse_server_config *cfg, struct fuse_server **out)
{
	struct fuse_server *s;
	struct sigaction sa;
	struct stat st;
	int fd, err;

	if (!cfg || !cfg->root ||
	    (unsigned)cfg->cache >= sizeof(cache_policies) / sizeof(cache_policies[0]))
		return -EINVAL;
	fd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->cache = &cache_policies[cfg->cache];
	s->readonly = cfg->readonly;
	s->as_root = geteuid() == 0;
	s->umask = read_umask();
	pthread_once(&fd_budget_once, fd_budget_init);
	s->budget = &fd_budget;
	err = fs_nodes_init(&s->nodes, fd, &st, s->budget,
			    cfg->max_nodes > 0 ? cfg->max_nodes : FUSE_SERVER_MAX_NODES);
	if (err) {
		close(fd);
		free(s);
		return err;
	}
	err = fs_handles_init(&s->handles, &s->nodes, s->budget,
			      cfg->max_handles > 0 ? cfg->max_handles : FUSE_SERVER_MAX_HANDLES);
	if (err) {
		fs_nodes_destroy(&s->nodes);
		free(s);
		return err;
	}
	/* A guest write past RLIMIT_FSIZE must fail with EFBIG, not kill smolvm. */
	if (!sigaction(SIGXFSZ, NULL, &sa) && sa.sa_handler == SIG_DFL)
		signal(SIGXFSZ, SIG_IGN);
	*out = s;
	return 0;
}

void fuse_server_reset(struct fuse_server *s)
{
	__atomic_store_n(&s->initialized, 0, __ATOMIC_RELEASE);
	fs_handles_remove_all(&s->handles);
	fs_nodes_forget_all(&s->nodes);
}

void fuse_server_free(struct fuse_server *s)
{
	if (!s)
		return;
	fs_handles_destroy(&s->handles);
	fs_nodes_destroy(&s->nodes);
	free(s);
}
