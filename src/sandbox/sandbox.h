/*
 * The sandbox: what each thread may still do once setup is over.
 *
 * Every thread enters it at its start, after its own setup, with the filter of its kind:
 * a seccomp allowlist (the window's thread: a deny list, as SDL, X11 and GL call what they
 * like), no new privileges, and no capability it does not use. A forbidden system call
 * prints one line naming the thread's kind and the call, and ends the process with
 * SANDBOX_EXIT_VIOLATION. Filters are per thread (no TSYNC); a thread started later inherits
 * its creator's filter and narrows it with its own.
 */
#ifndef SMOLVM_SANDBOX_H
#define SMOLVM_SANDBOX_H

#include <stdbool.h>

#include "cli/options.h"

/* The exit status after a forbidden system call: 128 + SIGSYS, as if SIGSYS had killed it. */
#define SANDBOX_EXIT_VIOLATION 159

enum sandbox_kind {
	SANDBOX_VCPU,	/* KVM_RUN and the devices' register handlers (vmm/vcpu.c) */
	SANDBOX_DEVICE, /* the devices' queue workers: console, rng, block, virtio-fs, gpu */
	SANDBOX_NET,	/* the network thread: virtio-net and its backend */
	SANDBOX_MAIN,	/* the main loop: terminal, signals, monitor */
	SANDBOX_WINDOW, /* the window's thread (the ui feature) */
	SANDBOX_KINDS,
};

/* "vcpu", "device", "net", "main", "window". */
const char *sandbox_kind_name(enum sandbox_kind kind);
/* The kind of that name, or -1. */
int sandbox_kind_parse(const char *name);

/* Once, in the main thread before any other thread exists: remembers cfg->sandbox and which
 * capabilities the shares need, compiles every filter to BPF once (errors show early, and
 * threads install theirs without libseccomp), and installs the SIGSYS handler. 0, or
 * after a message -EINVAL (a bad SMOLVM_SANDBOX_SELFTEST) or -1. */
int sandbox_init(const struct vm_config *cfg);

/* The calling thread enters the sandbox of its kind; on failure the process exits with a
 * message (a thread that could not be confined must not run). Nothing without sandbox_init
 * (the device models' threads in unit tests and fuzzers). */
void sandbox_enter(enum sandbox_kind kind);

/* The system calls a kind's filter allows (its deny list's length for the window), for
 * tests and docs. -1 if the filter cannot be built. */
int seccomp_filter_count(enum sandbox_kind kind);

#endif
