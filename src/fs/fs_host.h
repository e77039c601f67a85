/*
 * Host file system calls made safe for names and nodes the guest picked.
 *
 * Every name the server resolves is a single checked component (fuse_req_read_name), resolved
 * relative to a node's O_PATH descriptor, never following a symlink or magic link, never
 * leaving that directory (openat2 RESOLVE_BENEATH). Only our own descriptors are ever used as
 * /proc/self/fd paths, as a fallback on kernels without the *at(AT_EMPTY_PATH) call.
 */
#ifndef SMOLVM_FS_FS_HOST_H
#define SMOLVM_FS_FS_HOST_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/fs_nodes.h"

/* openat2(dirfd, name, flags | O_CLOEXEC, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
 * RESOLVE_NO_SYMLINKS). Returns a descriptor or -errno. */
int fs_host_open_beneath(int dirfd, const char *name, int flags, mode_t mode);

/* fstat of any descriptor, O_PATH included; 0 or -errno. */
int fs_host_stat(int fd, struct stat *st);
/* fsync, or fdatasync when datasync: 0 or -errno. */
int fs_host_sync(int fd, bool datasync);

/*
 * Opens node n for I/O. Directories reopen as "." of their own descriptor, so no name is
 * involved. Regular files reopen by their last known name in their parent: the result must be
 * the node's own inode, else -ESTALE (the name now holds something else: a swapped-in symlink
 * is refused by the resolve flags, a FIFO cannot block because of O_NONBLOCK). Anything else
 * (FIFO, socket, device, symlink) is -ENXIO: the guest opens those itself, never through us.
 * O_TRUNC is applied only once the file is known to be the right one.
 */
int fs_host_reopen(struct fs_nodes *t, struct fs_node *n, int flags);

int fs_host_chmod(int fd, mode_t mode);
int fs_host_utimens(int fd, const struct timespec ts[2]);
/* Makes a new name newdir/name for the inode behind O_PATH descriptor fd. */
int fs_host_link(int fd, int newdir, const char *name);

void fs_host_attr(const struct stat *st, struct fuse_attr *a);
/* An entry for node id, valid (name and attributes) for `valid` seconds. */
void fs_host_entry(uint64_t id, const struct stat *st, uint64_t valid, struct fuse_entry_out *e);

#endif
