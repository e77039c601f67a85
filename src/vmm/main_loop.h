/* The main thread's loop while the VM runs: keyboard input, signals, stop requests. */
#ifndef SMOLVM_MAIN_LOOP_H
#define SMOLVM_MAIN_LOOP_H

#include "vmm/vm.h"

/* Block the signals the loop handles (call before any thread exists, so all inherit it). */
void main_loop_block_signals(void);

/* Run until the VM is asked to stop; returns the reason (status in vm->stop_status). */
enum vm_stop main_loop_run(struct vm *vm);

#endif
