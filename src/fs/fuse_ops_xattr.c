/*
 * Extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.
 *
 * Only the user.* namespace passes through. security.* and trusted.* written by a guest would
 * be trusted by the host (a security.capability on a host binary is a privilege), and
 * system.posix_acl_* would grant host users access, so writes there are refused with EPERM;
 * reads of them say ENODATA and listings leave them out, so the guest sees files without
 * capabilities or ACLs. (EOPNOTSUPP is avoided on purpose: the guest kernel takes it to mean
 * no xattr support at all and stops asking, user.* included.)
 *
 * Only regular files and directories carry user.* attributes on Linux; they are opened
 * through fs_host_reopen since O_PATH descriptors refuse xattr calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fs_host.h"
#include "fs/fuse_server_priv.h"

#define XATTR_USER_PREFIX "user."

static bool is_user_name(const char *name)
{
	return !strncmp(name, XATTR_USER_PREFIX, strlen(XATTR_USER_PREFIX));
}

static int read_xattr_name(struct fuse_req *r, char name[XATTR_NAME_MAX + 1])
{
	int err = fuse_req_read_str(r, name, XATTR_NAME_MAX + 1, -ERANGE);

	if (!err && !name[0])
		err = -ERANGE;
	return err;
}

static int open_for_xattr(struct fuse_server *s, struct fs_node *n)
{
	if (n->type != S_IFREG && n->type != S_IFDIR)
		return -ENODATA;
	return fs_host_reopen(&s->nodes, n, O_RDONLY);
}

int fuse_op_setxattr(struct fuse_server *s, struct fuse_req *r)
{
	/* Without FUSE_SETXATTR_EXT the kernel sends the 8-byte form: size and flags. */
	const struct fuse_setxattr_in *a = &r->arg.setxattr;
	char name[XATTR_NAME_MAX + 1];
	void *value = NULL;
	int fd, err;

	if (a->size > XATTR_SIZE_MAX)
		return -E2BIG;
	if (a->flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	err = read_xattr_name(r, name);
	if (err)
		return err;
	if (!is_user_name(name))
		return -EPERM;
	if (r->node->type != S_IFREG && r->node->type != S_IFDIR)
		return -EPERM;
	value = malloc(a->size ? a->size : 1);
	if (!value)
		return -ENOMEM;
	err = fuse_req_read(r, value, a->size);
	fd = err ? err : open_for_xattr(s, r->node);
	if (fd >= 0) {
		err = fsetxattr(fd, name, value, a->size, (int)a->flags) ? -errno : 0;
		close(fd);
	} else {
		err = fd;
	}
	free(value);
	return err ? err : fuse_reply(r, NULL, 0);
}

int fuse_op_getxattr(struct fuse_server *s, struct fuse_req *r)
{
	size_t want = r->arg.getxattr.size, room = fuse_req_out_room(r);
	char name[XATTR_NAME_MAX + 1];
	char *buf = NULL;
	ssize_t len;
	int fd, err;

	err = read_xattr_name(r, name);
	if (err)
		return err;
	if (!is_user_name(name))
		return -ENODATA;
	fd = open_for_xattr(s, r->node);
	if (fd < 0)
		return fd;
	if (want > XATTR_SIZE_MAX)
		want = XATTR_SIZE_MAX;
	if (want > room)
		want = room;
	if (want)
		buf = malloc(want);
	if (want && !buf) {
		close(fd);
		return -ENOMEM;
	}
	/* Size 0 asks how big the value is. */
	len = fgetxattr(fd, name, buf, want);
	err = len < 0 ? -errno : 0;
	close(fd);
	if (!err && r->arg.getxattr.size == 0) {
		struct fuse_getxattr_out out = {.size = (uint32_t)len};

		err = fuse_reply(r, &out, sizeof(out));
	} else if (!err) {
		err = fuse_reply(r, buf, (size_t)len);
	}
	free(buf);
	return err;
}

/* Keeps the user.* names of a NUL-separated list; returns the new length. */
static size_t keep_user_names(char *list, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		size_t n = strnlen(list + in, len - in) + 1;

		if (in + n > len)
			break; /* unterminated tail: drop it */
		if (is_user_name(list + in)) {
			memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

/* The user.* names of a regular file or directory, in a malloc'd list. */
static int list_user_names(struct fuse_server *s, struct fs_node *n, char **list, size_t *len)
{
	ssize_t got;
	int fd, err;

	fd = open_for_xattr(s, n);
	if (fd < 0)
		return fd;
	/* The whole list is needed to filter it, whatever size the guest asked for. */
	*list = malloc(XATTR_LIST_MAX);
	if (!*list) {
		close(fd);
		return -ENOMEM;
	}
	got = flistxattr(fd, *list, XATTR_LIST_MAX);
	err = got < 0 ? -errno : 0;
	close(fd);
	if (err) {
		free(*list);
		*list = NULL;
		return err;
	}
	*len = keep_user_names(*list, (size_t)got);
	return 0;
}

int fuse_op_listxattr(struct fuse_server *s, struct fuse_req *r)
{
	size_t want = r->arg.getxattr.size, len = 0;
	char *list = NULL;
	int err = 0;

	/* Other kinds of file have nothing a guest may see. */
	if (r->node->type == S_IFREG || r->node->type == S_IFDIR) {
		err = list_user_names(s, r->node, &list, &len);
		if (err)
			return err;
	}
	if (!want) {
		struct fuse_getxattr_out out = {.size = (uint32_t)len};

		err = fuse_reply(r, &out, sizeof(out));
	} else if (len > want) {
		err = -ERANGE;
	} else {
		err = fuse_reply(r, list, len);
	}
	free(list);
	return err;
}

int fuse_op_removexattr(struct fuse_server *s, struct fuse_req *r)
{
	char name[XATTR_NAME_MAX + 1];
	int fd, err = read_xattr_name(r, name);

	if (err)
		return err;
	if (!is_user_name(name) || (r->node->type != S_IFREG && r->node->type != S_IFDIR))
		return -EPERM;
	fd = open_for_xattr(s, r->node);
	if (fd < 0)
		return fd;
	err = fremovexattr(fd, name) ? -errno : 0;
	close(fd);
	return err ? err : fuse_reply(r, NULL, 0);
}
