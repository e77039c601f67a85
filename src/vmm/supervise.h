/*
 * The supervising parent: smolvm's first process only waits. The VM runs in a child, which
 * exits with SUPERVISE_EXIT_REBOOT when the guest reboots; the parent then starts a fresh
 * child with the same configuration. So no process ever needs execve (the sandbox forbids it).
 */
#ifndef SMOLVM_SUPERVISE_H
#define SMOLVM_SUPERVISE_H

/* A child's status asking for a fresh VM: not one smolvm otherwise exits with. */
#define SUPERVISE_EXIT_REBOOT 190

/* Returns in the child, which runs the VM. The parent never returns: it forwards the
 * signals meant for smolvm to the child, starts a new child after a reboot, and otherwise
 * exits as its child did (the same status, or killed by the same signal). */
void supervise_start(void);

#endif
