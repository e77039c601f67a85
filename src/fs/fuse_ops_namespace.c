/* Making and removing names: MKNOD, MKDIR, SYMLINK, UNLINK, RMDIR, RENAME, RENAME2, LINK. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_host.h"
#include "fs/fuse_server_priv.h"

/*
 * Replies to a creation made with a node slot taken first (so a share at its node cap gets
 * ENFILE and nothing is made); err is how making the file went.
 */
static int reply_created(struct fuse_server *s, struct fuse_req *r, const char *name, mode_t mode,
			 int err)
{
	struct fuse_entry_out e;

	if (err) {
		fs_nodes_give_slot(&s->nodes);
		return err;
	}
	err = fuse_entry_created(s, r, name, mode, &e, NULL);
	return err ? err : fuse_reply(r, &e, sizeof(e));
}

/*
 * Regular files, FIFOs and sockets are just names with a type; the guest kernel opens FIFOs
 * and sockets itself, we never do. Device nodes would be host devices: refused.
 */
int fuse_op_mknod(struct fuse_server *s, struct fuse_req *r)
{
	const struct fuse_mknod_in *a = &r->arg.mknod;
	mode_t type = a->mode & S_IFMT, mode = a->mode & 07777;
	char name[NAME_MAX + 1];
	int err;

	if (type == S_IFCHR || type == S_IFBLK)
		return -EPERM;
	if (type == 0)
		type = S_IFREG;
	if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK)
		return -EINVAL;
	err = fuse_req_read_name(r, name);
	if (!err)
		err = fs_nodes_take_slot(&s->nodes);
	if (err)
		return err;
	err = mknodat(r->node->fd, name, type | mode, 0) ? -errno : 0;
	return reply_created(s, r, name, mode, err);
}

int fuse_op_mkdir(struct fuse_server *s, struct fuse_req *r)
{
	mode_t mode = r->arg.mkdir.mode & 07777;
	char name[NAME_MAX + 1];
	int err = fuse_req_read_name(r, name);

	if (!err)
		err = fs_nodes_take_slot(&s->nodes);
	if (err)
		return err;
	err = mkdirat(r->node->fd, name, mode) ? -errno : 0;
	return reply_created(s, r, name, mode, err);
}

/* The target is only text: we never follow symlinks, so it may point anywhere. */
int fuse_op_symlink(struct fuse_server *s, struct fuse_req *r)
{
	char name[NAME_MAX + 1], target[PATH_MAX];
	int err = fuse_req_read_name(r, name);

	if (!err)
		err = fuse_req_read_str(r, target, sizeof(target), -ENAMETOOLONG);
	if (!err && !target[0])
		err = -ENOENT;
	if (!err)
		err = fs_nodes_take_slot(&s->nodes);
	if (err)
		return err;
	err = symlinkat(target, r->node->fd, name) ? -errno : 0;
	return reply_created(s, r, name, 0, err);
}

static int remove_name(struct fuse_req *r, int flags)
{
	char name[NAME_MAX + 1];
	int err = fuse_req_read_name(r, name);

	if (err)
		return err;
	if (unlinkat(r->node->fd, name, flags))
		return -errno;
	return fuse_reply(r, NULL, 0);
}

int fuse_op_unlink(struct fuse_server *s, struct fuse_req *r)
{
	return remove_name(r, 0);
}

int fuse_op_rmdir(struct fuse_server *s, struct fuse_req *r)
{
	return remove_name(r, AT_REMOVEDIR);
}

/* Points the node now called `name` in dir at its new place, so reopening it finds it. */
static void note_moved(struct fuse_server *s, struct fs_node *dir, const char *name)
{
	struct stat st;

	if (!fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW))
		fs_nodes_moved(&s->nodes, st.st_dev, st.st_ino, dir, name);
}

static int do_rename(struct fuse_server *s, struct fuse_req *r, uint64_t newdir, uint32_t flags)
{
	char oldname[NAME_MAX + 1], newname[NAME_MAX + 1];
	struct fs_node *nd;
	int err;

	/* RENAME_WHITEOUT makes a device node: refused like MKNOD of one. */
	if (flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	err = fuse_req_read_name(r, oldname);
	if (!err)
		err = fuse_req_read_name(r, newname);
	if (err)
		return err;
	nd = fs_nodes_get(&s->nodes, newdir);
	if (!nd)
		return -ENOENT;
	if (renameat2(r->node->fd, oldname, nd->fd, newname, flags)) {
		err = -errno;
	} else {
		note_moved(s, nd, newname);
		if (flags & RENAME_EXCHANGE)
			note_moved(s, r->node, oldname);
	}
	fs_nodes_put(&s->nodes, nd);
	return err ? err : fuse_reply(r, NULL, 0);
}

int fuse_op_rename(struct fuse_server *s, struct fuse_req *r)
{
	return do_rename(s, r, r->arg.rename.newdir, 0);
}

int fuse_op_rename2(struct fuse_server *s, struct fuse_req *r)
{
	return do_rename(s, r, r->arg.rename2.newdir, r->arg.rename2.flags);
}

int fuse_op_link(struct fuse_server *s, struct fuse_req *r)
{
	char name[NAME_MAX + 1];
	struct fuse_entry_out e;
	struct fs_node *old;
	int err = fuse_req_read_name(r, name);

	if (err)
		return err;
	old = fs_nodes_get(&s->nodes, r->arg.link.oldnodeid);
	if (!old)
		return -ENOENT;
	if (old->type == S_IFDIR)
		err = -EPERM;
	else
		err = fs_host_link(old->fd, r->node->fd, name);
	fs_nodes_put(&s->nodes, old);
	if (!err)
		err = fuse_entry_lookup(s, r->node, name, 0, &e, NULL);
	return err ? err : fuse_reply(r, &e, sizeof(e));
}
