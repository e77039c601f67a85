/* Host system calls on behalf of the guest: see fs_host.h for the rules they keep. */
#include "fs/fs_host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

/* Set once a kernel says a call does not exist, so we stop asking. */
static bool no_openat2, no_fchmodat2;

int fs_host_open_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
	};
	long fd;

	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != ENOSYS)
			return -errno;
		__atomic_store_n(&no_openat2, true, __ATOMIC_RELAXED);
	}
	/* Before Linux 5.6: a single checked component with O_NOFOLLOW cannot leave dirfd. */
	fd = openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW, mode);
	return fd < 0 ? -errno : (int)fd;
}

int fs_host_stat(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

int fs_host_sync(int fd, bool datasync)
{
	return (datasync ? fdatasync(fd) : fsync(fd)) ? -errno : 0;
}

int fs_host_reopen(struct fs_nodes *t, struct fs_node *n, int flags)
{
	char name[NAME_MAX + 1];
	struct fs_node *parent;
	bool trunc = flags & O_TRUNC;
	struct stat st;
	int fd, err;

	flags = (flags & ~O_TRUNC) | O_CLOEXEC | O_NOCTTY;
	if (n->type == S_IFDIR) {
		fd = openat(n->fd, ".", flags | O_DIRECTORY);
		return fd < 0 ? -errno : fd;
	}
	if (n->type != S_IFREG)
		return -ENXIO;
	err = fs_nodes_where(t, n, &parent, name);
	if (err)
		return err;
	fd = fs_host_open_beneath(parent->fd, name, flags | O_NOFOLLOW | O_NONBLOCK, 0);
	fs_nodes_put(t, parent);
	if (fd < 0) {
		/* The name no longer leads to a file we may open: not the file the guest meant. */
		if (fd == -ENOENT || fd == -ELOOP || fd == -ENXIO || fd == -EISDIR ||
		    fd == -ENOTDIR || fd == -EXDEV)
			return -ESTALE;
		return fd;
	}
	err = fs_host_stat(fd, &st);
	if (!err && (st.st_dev != n->dev || st.st_ino != n->ino))
		err = -ESTALE;
	if (!err && trunc && ftruncate(fd, 0))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

static void proc_path(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

int fs_host_chmod(int fd, mode_t mode)
{
	char path[32];

	if (!__atomic_load_n(&no_fchmodat2, __ATOMIC_RELAXED)) {
		if (!syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH))
			return 0;
		if (errno != ENOSYS)
			return -errno;
		__atomic_store_n(&no_fchmodat2, true, __ATOMIC_RELAXED);
	}
	/* Before Linux 6.6: chmod through our own descriptor's magic link, the same inode. */
	proc_path(fd, path);
	return chmod(path, mode) ? -errno : 0;
}

int fs_host_utimens(int fd, const struct timespec ts[2])
{
	char path[32];

	if (!utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return 0;
	if (errno != EINVAL)
		return -errno;
	proc_path(fd, path);
	return utimensat(AT_FDCWD, path, ts, 0) ? -errno : 0;
}

int fs_host_link(int fd, int newdir, const char *name)
{
	char path[32];

	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; without it the kernel says ENOENT. */
	if (!linkat(fd, "", newdir, name, AT_EMPTY_PATH))
		return 0;
	if (errno != ENOENT)
		return -errno;
	proc_path(fd, path);
	return linkat(AT_FDCWD, path, newdir, name, AT_SYMLINK_FOLLOW) ? -errno : 0;
}

/* struct fuse_attr carries rdev in the kernel's 32-bit new_encode_dev() layout. */
static uint32_t encode_dev(dev_t dev)
{
	uint32_t ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
}

void fs_host_attr(const struct stat *st, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->atime = (uint64_t)st->st_atim.tv_sec;
	a->mtime = (uint64_t)st->st_mtim.tv_sec;
	a->ctime = (uint64_t)st->st_ctim.tv_sec;
	a->atimensec = (uint32_t)st->st_atim.tv_nsec;
	a->mtimensec = (uint32_t)st->st_mtim.tv_nsec;
	a->ctimensec = (uint32_t)st->st_ctim.tv_nsec;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = encode_dev(st->st_rdev);
	a->blksize = (uint32_t)st->st_blksize;
}

void fs_host_entry(uint64_t id, const struct stat *st, uint64_t valid, struct fuse_entry_out *e)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = id;
	e->generation = 0; /* ids are never reused, so no generation is needed */
	e->entry_valid = valid;
	e->attr_valid = valid;
	fs_host_attr(st, &e->attr);
}
