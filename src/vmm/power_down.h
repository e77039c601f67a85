/*
 * What SIGTERM does to a running VM: press the guest's power button (devices/ged.c), as a
 * host shutting down would, and give the guest -shutdown-timeout seconds to power off. A
 * guest that powers off in time exits smolvm with 0, as any poweroff does; a second SIGTERM,
 * or the end of the grace period, stops the VM with status 128 + SIGTERM.
 */
#ifndef SMOLVM_POWER_DOWN_H
#define SMOLVM_POWER_DOWN_H

struct vm;

/* Take over SIGTERM from the main loop (needs vm->ged). 0, or -errno with a message. */
int power_down_init(struct vm *vm);

#endif
