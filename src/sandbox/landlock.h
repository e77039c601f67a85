/*
 * Landlock: once setup has opened every file smolvm needs, the whole process (every thread)
 * can reach only the shares' directories (read-only for read-only shares) and the monitor
 * socket's directory (screendumps, and the socket's removal at exit). Files already open
 * stay usable: Landlock checks paths when they are opened, not descriptors.
 */
#ifndef SMOLVM_LANDLOCK_H
#define SMOLVM_LANDLOCK_H

#include <stdbool.h>
#include <stdint.h>

struct vm_config;

/* Landlock access rights newer than some kernel headers (Debian 12's stop at ABI 2). */
#define LANDLOCK_FS_TRUNCATE_V3 (1ULL << 14)

/*
 * With cfg->sandbox, restrict every thread of this process to what cfg needs (see above);
 * call it from the main thread once setup is done and before threads that start later
 * (vCPUs, device workers) exist. A kernel without Landlock gets one warning line and 0.
 * 0, or -1 after one line.
 */
int landlock_apply(const struct vm_config *cfg);

/* Whether landlock_apply restricted this process. A guest reboot needs nothing more: the
 * supervising parent (vmm/supervise.c), never restricted, starts a fresh child that opens
 * its files and restricts itself again. */
bool landlock_active(void);

/* Add a rule: path (a directory and all beneath it, or one file) gets access. The rights a
 * file cannot have are dropped for files. 0, or -errno (a path that does not exist gives
 * -ENOENT, which callers may ignore). */
int landlock_allow_path(int ruleset, const char *path, uint64_t access);

#endif
