/*
 * Directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR.
 *
 * Entries come from getdents64 on the handle's descriptor. The guest resumes a listing with
 * the d_off cookie of the last entry it got; what getdents returned beyond that stays buffered
 * in the handle, so a listing costs one getdents per buffer, not one per request.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/fs_host.h"
#include "fs/fuse_server_priv.h"

int fuse_op_opendir(struct fuse_server *s, struct fuse_req *r)
{
	struct fuse_open_out out = {0};
	int64_t fh;
	int fd, err;

	if (r->node->type != S_IFDIR)
		return -ENOTDIR;
	err = fs_handles_take_slot(&s->handles);
	if (err)
		return err;
	fd = fs_host_reopen(&s->nodes, r->node, O_RDONLY);
	if (fd < 0) {
		fs_handles_give_slot(&s->handles);
		return fd;
	}
	fh = fs_handles_add(&s->handles, r->node, fd, O_RDONLY, true);
	if (fh < 0)
		return (int)fh;
	out.fh = (uint64_t)fh;
	out.open_flags = s->cache->dir_open;
	return fuse_reply(r, &out, sizeof(out));
}

struct dirent64_hdr {
	uint64_t d_ino;
	int64_t d_off;
	uint16_t d_reclen;
	uint8_t d_type;
	char d_name[];
};

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

/*
 * Writes one entry at reply offset `off` if it fits in `room`; returns its size, 0 if it
 * does not fit, or -errno (then nothing was written and no lookup counted).
 */
static int put_entry(struct fuse_server *s, struct fuse_req *r, struct fs_handle *hd, bool plus,
		     const struct dirent64_hdr *d, size_t namelen, size_t off, size_t room)
{
	char buf[sizeof(struct fuse_direntplus) + NAME_MAX + 8];
	struct fuse_direntplus *dp = (struct fuse_direntplus *)buf;
	struct fuse_dirent *de = plus ? &dp->dirent : (struct fuse_dirent *)buf;
	size_t head = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	size_t size = FUSE_DIRENT_ALIGN(head + namelen);
	uint64_t ino = d->d_ino;
	bool node = plus && !is_dot_or_dotdot(d->d_name);
	int err;

	if (size > room)
		return 0;
	memset(buf, 0, size); /* padding included: nothing of ours leaks */
	/* ".." of the share root would show the host directory above it. */
	if (hd->node->id == FUSE_ROOT_ID && namelen == 2 && !strcmp(d->d_name, ".."))
		ino = hd->node->ino;
	if (node) {
		err = fuse_entry_lookup(s, hd->node, d->d_name, d->d_ino, &dp->entry_out, NULL);
		/* At a node cap the name is still listed, without a node: a listing never fails
		 * for it, and the guest gets the ENFILE when it looks the name up itself. */
		if (err == -ENFILE)
			node = false;
		else if (err)
			return err;
	}
	if (plus && !node) {
		/* No node for ".", ".." or past a cap: nodeid 0 tells the kernel not to count a
		 * lookup. */
		dp->entry_out.attr.ino = ino;
		dp->entry_out.attr.mode = (uint32_t)d->d_type << 12;
	}
	de->ino = ino;
	de->off = (uint64_t)d->d_off;
	de->namelen = (uint32_t)namelen;
	de->type = d->d_type;
	memcpy(de->name, d->d_name, namelen);
	fuse_req_write(r, off, buf, size);
	return (int)size;
}

static int read_dir(struct fuse_server *s, struct fuse_req *r, bool plus)
{
	const struct fuse_read_in *a = &r->arg.read;
	size_t room = fuse_req_out_room(r), used = 0;
	struct fs_dirstream *ds;
	struct fs_handle *hd;
	int err = 0;

	if (a->offset > INT64_MAX)
		return -EINVAL;
	hd = fs_handles_get(&s->handles, a->fh, r->hdr.nodeid, true);
	if (!hd)
		return -EBADF;
	if (room > a->size)
		room = a->size;
	ds = hd->dir;
	pthread_mutex_lock(&ds->lock);
	if (a->offset != ds->pos) {
		if (lseek(hd->fd, (off_t)a->offset, SEEK_SET) < 0)
			err = -errno;
		ds->len = ds->cur = 0;
		ds->pos = a->offset;
	}
	while (!err) {
		const struct dirent64_hdr *d;
		size_t namelen, reclen;
		long got;

		if (ds->cur >= ds->len) {
			got = syscall(SYS_getdents64, hd->fd, ds->buf, sizeof(ds->buf));
			if (got <= 0) {
				err = got < 0 ? -errno : 0;
				break;
			}
			ds->len = (size_t)got;
			ds->cur = 0;
		}
		d = (const struct dirent64_hdr *)(ds->buf + ds->cur);
		reclen = d->d_reclen;
		if (reclen <= offsetof(struct dirent64_hdr, d_name) || reclen > ds->len - ds->cur) {
			err = -EIO; /* the host kernel's own records: never expected */
			break;
		}
		namelen = strnlen(d->d_name, reclen - offsetof(struct dirent64_hdr, d_name));
		if (namelen > NAME_MAX) {
			ds->cur += reclen;
			continue;
		}
		err = put_entry(s, r, hd, plus, d, namelen, sizeof(struct fuse_out_header) + used,
				room - used);
		if (err == -ENOENT) { /* gone since getdents saw it */
			err = 0;
		} else if (err <= 0) {
			break;
		} else {
			used += (size_t)err;
			err = 0;
		}
		ds->cur += reclen;
		ds->pos = (uint64_t)d->d_off;
	}
	pthread_mutex_unlock(&ds->lock);
	fs_handles_put(&s->handles, hd);
	/* An error after some entries: send those, the guest asks again for the rest. */
	if (err && !used)
		return err;
	return fuse_reply_written(r, used);
}

int fuse_op_readdir(struct fuse_server *s, struct fuse_req *r)
{
	return read_dir(s, r, false);
}

int fuse_op_readdirplus(struct fuse_server *s, struct fuse_req *r)
{
	return read_dir(s, r, true);
}

int fuse_op_releasedir(struct fuse_server *s, struct fuse_req *r)
{
	int err = fs_handles_remove(&s->handles, r->arg.release.fh, r->hdr.nodeid, true);

	return err ? err : fuse_reply(r, NULL, 0);
}

int fuse_op_fsyncdir(struct fuse_server *s, struct fuse_req *r)
{
	struct fs_handle *hd = fs_handles_get(&s->handles, r->arg.fsync.fh, r->hdr.nodeid, true);
	int err;

	if (!hd)
		return -EBADF;
	err = fs_host_sync(hd->fd, r->arg.fsync.fsync_flags & FUSE_FSYNC_FDATASYNC);
	fs_handles_put(&s->handles, hd);
	return err ? err : fuse_reply(r, NULL, 0);
}
