/*
 * Record locks and flock: GETLK, SETLK, SETLKW.
 *
 * POSIX record locks become OFD locks on the handle's host descriptor and flock() locks
 * become flock() on it, so locks taken through different guest opens conflict with each other
 * and with host processes as they should. Locks are per guest open file, not per guest process:
 * two processes sharing one open file (after fork) share its locks, as with flock().
 *
 * SETLKW cannot block: the request queue has other requests behind it (and a 6.1 guest uses a
 * single queue for all of them), and we must answer. So it retries for a bounded time, up to
 * FS_LOCK_WAIT_MS, then gives up with EAGAIN. Short waits behave; a lock held longer looks to
 * the guest like a failed F_SETLKW / flock() with "Resource temporarily unavailable".
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <time.h>

#include "fs/fuse_server_priv.h"

#define FS_LOCK_WAIT_MS 500

static int to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
	if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
		return -EINVAL;
	if (lk->start > INT64_MAX || lk->end < lk->start)
		return -EINVAL;
	*fl = (struct flock){.l_type = (short)lk->type, .l_whence = SEEK_SET};
	fl->l_start = (off_t)lk->start;
	/* The kernel's OFFSET_MAX (or anything past it) means "to the end of the file". */
	fl->l_len = lk->end >= INT64_MAX ? 0 : (off_t)(lk->end - lk->start + 1);
	return 0;
}

static struct fs_handle *lock_handle(struct fuse_server *s, struct fuse_req *r)
{
	return fs_handles_get(&s->handles, r->arg.lk.fh, r->hdr.nodeid, false);
}

int fuse_op_getlk(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_lk_out out = {0};
	struct fs_handle *hd;
	struct flock fl;
	int err = to_flock(&r->arg.lk.lk, &fl);

	if (err)
		return err;
	hd = lock_handle(s, r);
	if (!hd)
		return -EBADF;
	err = fcntl(hd->fd, F_OFD_GETLK, &fl) ? -errno : 0;
	fs_handles_put(&s->handles, hd);
	if (err)
		return err;
	out.lk.type = (uint32_t)fl.l_type;
	if (fl.l_type != F_UNLCK) {
		out.lk.start = (uint64_t)fl.l_start;
		out.lk.end = fl.l_len ? (uint64_t)(fl.l_start + fl.l_len - 1) : (uint64_t)INT64_MAX;
	}
	/* pid 0: the holder is no guest process (the kernel refuses pids it cannot find). */
	return fuse_reply(r, &out, sizeof(out));
}

static int try_lock(struct fs_handle *hd, const struct fuse_lk_in *a, struct flock *fl)
{
	int op;

	if (!(a->lk_flags & FUSE_LK_FLOCK))
		return fcntl(hd->fd, F_OFD_SETLK, fl) ? -errno : 0;
	op = fl->l_type == F_RDLCK ? LOCK_SH : fl->l_type == F_WRLCK ? LOCK_EX : LOCK_UN;
	return flock(hd->fd, op | LOCK_NB) ? -errno : 0;
}

static int set_lock(struct fuse_server *s, struct fuse_req *r, bool wait)
{
	const struct fuse_lk_in *a = &r->arg.lk;
	struct timespec delay = {0, 1000000};
	long waited_ns = 0;
	struct fs_handle *hd;
	struct flock fl;
	int err = to_flock(&a->lk, &fl);

	if (err)
		return err;
	hd = lock_handle(s, r);
	if (!hd)
		return -EBADF;
	for (;;) {
		err = try_lock(hd, a, &fl);
		if ((err != -EAGAIN && err != -EACCES) || !wait ||
		    waited_ns >= FS_LOCK_WAIT_MS * 1000000L)
			break;
		nanosleep(&delay, NULL);
		waited_ns += delay.tv_nsec;
		if (delay.tv_nsec < 32000000)
			delay.tv_nsec *= 2;
	}
	if (!err && !(a->lk_flags & FUSE_LK_FLOCK) && fl.l_type != F_UNLCK) {
		__atomic_store_n(&hd->lock_owner, a->owner, __ATOMIC_RELAXED);
		__atomic_store_n(&hd->locked, true, __ATOMIC_RELEASE);
	}
	fs_handles_put(&s->handles, hd);
	if (err == -EACCES)
		err = -EAGAIN;
	return err ? err : fuse_reply(r, NULL, 0);
}

int fuse_op_setlk(struct fuse_server *s, struct fuse_req *r)
{
	return set_lock(s, r, false);
}

int fuse_op_setlkw(struct fuse_server *s, struct fuse_req *r)
{
	return set_lock(s, r, true);
}
