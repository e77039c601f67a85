/*
 * Landlock: once setup has opened every file smolvm needs, the whole process (every thread)
 * can reach only the shares' directories (read-only for read-only shares) and the monitor
 * socket's directory (screendumps, and the socket's removal at exit). Files already open
 * stay usable: Landlock checks paths when they are opened, not descriptors.
 */
#ifndef SMOLVM_LANDLOCK_H
#define SMOLVM_LANDLOCK_H

struct vm_config;

/*
 * With cfg->sandbox, restrict every thread of this process to what cfg needs (see above);
 * call it from the main thread once setup is done and before threads that start later
 * (vCPUs, device workers) exist. A kernel without Landlock gets one warning line and 0.
 * 0, or -1 after one line. A guest reboot needs nothing more: the supervising parent
 * (vmm/supervise.c), never restricted, starts a fresh child that restricts itself again.
 */
int landlock_apply(const struct vm_config *cfg);

#endif
