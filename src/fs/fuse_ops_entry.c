/*
 * Names and attributes: LOOKUP, FORGET, BATCH_FORGET, GETATTR, SETATTR, READLINK, ACCESS and
 * STATFS, and the lookup counting every operation that hands out a node shares.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fs/fs_host.h"
#include "fs/fuse_server_priv.h"

/*
 * An O_PATH descriptor on `name` beneath parent, and its attributes, for a node slot the
 * caller took; on failure the slot is given back.
 */
static int node_fd_open(struct fuse_server *s, struct fs_node *parent, const char *name,
			struct stat *st)
{
	int fd, err;

	fd = fs_host_open_beneath(parent->fd, name, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0) {
		fs_nodes_give_slot(&s->nodes);
		return fd;
	}
	err = fs_host_stat(fd, st);
	if (err) {
		close(fd);
		fs_nodes_give_slot(&s->nodes);
		return err;
	}
	return fd;
}

/* Opens a node for `name` (no node is known for its inode yet) and counts the lookup. */
static int entry_open(struct fuse_server *s, struct fs_node *parent, const char *name,
		      struct fuse_entry_out *e, struct stat *st, struct fs_node **ref)
{
	int fd, err = fs_nodes_take_slot(&s->nodes);
	int64_t id;

	if (err)
		return err;
	fd = node_fd_open(s, parent, name, st);
	if (fd < 0)
		return fd;
	id = fs_nodes_adopt(&s->nodes, fd, st, parent, name, ref);
	if (id < 0)
		return (int)id;
	fs_host_entry((uint64_t)id, st, s->cache->valid, e);
	return 0;
}

int fuse_entry_lookup(struct fuse_server *s, struct fs_node *parent, const char *name, ino_t hint,
		      struct fuse_entry_out *e, struct fs_node **ref)
{
	struct fs_node *n;
	struct stat st;
	int err;

	if (parent->type != S_IFDIR)
		return -ENOTDIR;
	if (hint) {
		/* From READDIRPLUS: a known inode needs one fstat, an unknown one no extra stat. */
		n = fs_nodes_find(&s->nodes, parent->dev, hint, parent, name);
		if (!n)
			return entry_open(s, parent, name, e, &st, ref);
		err = fs_host_stat(n->fd, &st);
		if (err)
			fs_nodes_forget(&s->nodes, n->id, 1);
		else
			fs_host_entry(n->id, &st, s->cache->valid, e);
		if (err || !ref)
			fs_nodes_put(&s->nodes, n);
		else
			*ref = n;
		return err;
	}
	/* Revalidations are the common case: one fstatat finds a node we already have. */
	if (fstatat(parent->fd, name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	n = fs_nodes_find(&s->nodes, st.st_dev, st.st_ino, parent, name);
	if (!n)
		return entry_open(s, parent, name, e, &st, ref);
	fs_host_entry(n->id, &st, s->cache->valid, e);
	if (ref)
		*ref = n;
	else
		fs_nodes_put(&s->nodes, n);
	return 0;
}

int fuse_entry_created(struct fuse_server *s, struct fuse_req *r, const char *name, mode_t mode,
		       struct fuse_entry_out *e, struct fs_node **ref)
{
	struct fs_node *parent = r->node;
	struct stat st, pst;
	mode_t have, want;
	int fd = node_fd_open(s, parent, name, &st), err = 0;
	int64_t id;

	if (fd < 0)
		return fd;
	if (s->as_root) {
		/* We made it as root; it belongs to the guest user, or to the group of a setgid
		 * directory, which the host already gave it. */
		gid_t gid = r->hdr.gid;

		if (!fs_host_stat(parent->fd, &pst) && (pst.st_mode & S_ISGID))
			gid = (gid_t)-1;
		if (fchownat(fd, "", r->hdr.uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			err = -errno;
		if (!err)
			err = fs_host_stat(fd, &st);
	}
	if (!err && !S_ISLNK(st.st_mode)) {
		/* Give back what our umask took (the guest applied its own) and the setuid bits a
		 * chown cleared. */
		have = st.st_mode & 07777;
		want = have | (mode & 0777 & s->umask);
		if (s->as_root && !S_ISDIR(st.st_mode))
			want |= mode & (S_ISUID | S_ISGID);
		if (want != have) {
			err = fs_host_chmod(fd, want);
			if (!err)
				err = fs_host_stat(fd, &st);
		}
	}
	if (err) {
		close(fd);
		fs_nodes_give_slot(&s->nodes);
		return err;
	}
	id = fs_nodes_adopt(&s->nodes, fd, &st, parent, name, ref);
	if (id < 0)
		return (int)id;
	fs_host_entry((uint64_t)id, &st, s->cache->valid, e);
	return 0;
}

int fuse_op_lookup(struct fuse_server *s, struct fuse_req *r)
{
	char name[NAME_MAX + 1];
	struct fuse_entry_out e;
	int err = fuse_req_read_name(r, name);

	if (!err)
		err = fuse_entry_lookup(s, r->node, name, 0, &e, NULL);
	if (err == -ENOENT && s->cache->negative) {
		/* nodeid 0: "no such name", which the guest may remember as long as a name */
		memset(&e, 0, sizeof(e));
		e.entry_valid = s->cache->valid;
		err = 0;
	}
	return err ? err : fuse_reply(r, &e, sizeof(e));
}

int fuse_op_forget(struct fuse_server *s, struct fuse_req *r)
{
	fs_nodes_forget(&s->nodes, r->hdr.nodeid, r->arg.forget.nlookup);
	return 0;
}

int fuse_op_batch_forget(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_forget_one one;

	/* As many as the guest really sent, however many it claims. */
	for (uint32_t i = 0; i < r->arg.batch_forget.count; i++) {
		if (fuse_req_read(r, &one, sizeof(one)))
			break;
		fs_nodes_forget(&s->nodes, one.nodeid, one.nlookup);
	}
	return 0;
}

static int reply_attr(struct fuse_server *s, struct fuse_req *r, int fd)
{
	struct fuse_attr_out out;
	struct stat st;
	int err = fs_host_stat(fd, &st);

	if (err)
		return err;
	memset(&out, 0, sizeof(out));
	out.attr_valid = s->cache->valid;
	fs_host_attr(&st, &out.attr);
	return fuse_reply(r, &out, sizeof(out));
}

int fuse_op_getattr(struct fuse_server *s, struct fuse_req *r)
{
	/* With FUSE_GETATTR_FH the handle is on this same inode: the node's fd will do. */
	return reply_attr(s, r, r->node->fd);
}

static int set_times(const struct fuse_setattr_in *a, struct fs_handle *hd, int fd)
{
	struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};

	if ((a->valid & FATTR_ATIME) && a->atimensec >= 1000000000)
		return -EINVAL;
	if ((a->valid & FATTR_MTIME) && a->mtimensec >= 1000000000)
		return -EINVAL;
	/* Times before 1970 arrive as the u64 of a negative time_t: the casts undo that. */
	if (a->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (a->valid & FATTR_ATIME)
		ts[0] = (struct timespec){(time_t)a->atime, a->atimensec};
	if (a->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (a->valid & FATTR_MTIME)
		ts[1] = (struct timespec){(time_t)a->mtime, a->mtimensec};
	if (hd)
		return futimens(hd->fd, ts) ? -errno : 0;
	return fs_host_utimens(fd, ts);
}

static int set_size(struct fuse_server *s, struct fs_node *n, struct fs_handle *hd, uint64_t size)
{
	int fd, err = 0;

	if (size > INT64_MAX)
		return -EINVAL;
	if (hd)
		return ftruncate(hd->fd, (off_t)size) ? -errno : 0;
	if (n->type == S_IFDIR)
		return -EISDIR;
	if (n->type != S_IFREG)
		return -EINVAL;
	/* truncate(2) needs write permission; so does opening for writing. */
	fd = fs_host_reopen(&s->nodes, n, O_WRONLY);
	if (fd < 0)
		return fd;
	if (ftruncate(fd, (off_t)size))
		err = -errno;
	close(fd);
	return err;
}

int fuse_op_setattr(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_setattr_in *a = &r->arg.setattr;
	struct fs_node *n = r->node;
	struct fs_handle *hd = NULL;
	int err = 0;

	if (a->valid & FATTR_FH) {
		hd = fs_handles_get(&s->handles, a->fh, n->id, false);
		if (!hd)
			return -EBADF;
	}
	if (a->valid & FATTR_MODE) {
		if (n->type == S_IFLNK)
			err = -EOPNOTSUPP;
		else if (hd)
			err = fchmod(hd->fd, a->mode & 07777) ? -errno : 0;
		else
			err = fs_host_chmod(n->fd, a->mode & 07777);
	}
	if (!err && (a->valid & (FATTR_UID | FATTR_GID))) {
		uid_t uid = (a->valid & FATTR_UID) ? a->uid : (uid_t)-1;
		gid_t gid = (a->valid & FATTR_GID) ? a->gid : (gid_t)-1;

		if (fchownat(n->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			err = -errno;
	}
	if (!err && (a->valid & FATTR_SIZE))
		err = set_size(s, n, hd, a->size);
	if (!err && (a->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW)))
		err = set_times(a, hd, n->fd);
	if (hd)
		fs_handles_put(&s->handles, hd);
	return err ? err : reply_attr(s, r, n->fd);
}

int fuse_op_readlink(struct fuse_server *s, struct fuse_req *r)
{
	char target[PATH_MAX];
	ssize_t len;

	if (r->node->type != S_IFLNK)
		return -EINVAL;
	len = readlinkat(r->node->fd, "", target, sizeof(target));
	if (len < 0)
		return -errno;
	return fuse_reply(r, target, (size_t)len);
}

/*
 * The guest kernel checks permissions itself (virtio-fs mounts use default_permissions), so
 * ACCESS rarely comes; answer it from the mode bits for the requester.
 */
int fuse_op_access(struct fuse_server *s, struct fuse_req *r)
{
	uint32_t mask = r->arg.access.mask;
	struct stat st;
	mode_t bits;
	int err;

	if (mask & ~(uint32_t)(R_OK | W_OK | X_OK))
		return -EINVAL;
	err = fs_host_stat(r->node->fd, &st);
	if (err)
		return err;
	if ((mask & W_OK) && s->readonly)
		return -EROFS;
	if (r->hdr.uid == 0) {
		if ((mask & X_OK) && !S_ISDIR(st.st_mode) && !(st.st_mode & 0111))
			return -EACCES;
		return fuse_reply(r, NULL, 0);
	}
	if (st.st_uid == r->hdr.uid)
		bits = (st.st_mode >> 6) & 7;
	else if (st.st_gid == r->hdr.gid)
		bits = (st.st_mode >> 3) & 7;
	else
		bits = st.st_mode & 7;
	if ((mask & bits) != mask)
		return -EACCES;
	return fuse_reply(r, NULL, 0);
}

int fuse_op_statfs(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_statfs_out out;
	struct statfs sf;

	if (fstatfs(r->node->fd, &sf))
		return -errno;
	memset(&out, 0, sizeof(out));
	out.st.blocks = sf.f_blocks;
	out.st.bfree = sf.f_bfree;
	out.st.bavail = sf.f_bavail;
	out.st.files = sf.f_files;
	out.st.ffree = sf.f_ffree;
	out.st.bsize = (uint32_t)sf.f_bsize;
	out.st.namelen = (uint32_t)sf.f_namelen;
	out.st.frsize = (uint32_t)sf.f_frsize;
	return fuse_reply(r, &out, sizeof(out));
}
