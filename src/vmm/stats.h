/*
 * SMOLVM_STATS=1: where a run's time goes, as a table printed on stderr at exit.
 *
 * A timeline from the start of main (each setup step, the first KVM_RUN, the guest's first
 * console byte, the stop request), vCPU exits by reason and, for port I/O and MMIO, by the
 * device that claims the address, each with its count and the time smolvm spent handling
 * it, and each vCPU's time inside KVM_RUN. Every vCPU counts into its own struct stats_vcpu;
 * they are merged once the vCPU threads have ended. With stats off (the default) the hooks
 * cost one branch on stats_on.
 */
#ifndef SMOLVM_STATS_H
#define SMOLVM_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct vm;

#define STATS_EXIT_REASONS 64 /* KVM_EXIT_* numbers below this are counted one by one */
#define STATS_DEVICES 48      /* device rows per vCPU; the rest count as "other" */
#define STATS_MARKS 32

/* Accesses to one device's range (name set) or to one address nobody claims (name NULL). */
struct stats_device {
	const char *bus;  /* the bus's name: "pio" or "mmio" */
	const char *name; /* the device's, from its bus_ops */
	uint64_t addr;    /* the range's base, or the unclaimed address */
	uint64_t count, ns;
};

/* One vCPU's counters, written by its thread alone. */
struct stats_vcpu {
	uint64_t run_ns; /* inside KVM_RUN */
	uint64_t exits[STATS_EXIT_REASONS + 1], exit_ns[STATS_EXIT_REASONS + 1]; /* last: others */
	struct stats_device dev[STATS_DEVICES];
	unsigned ndev;
	uint64_t dev_other_count, dev_other_ns;
};

struct stats_mark {
	const char *name;
	uint64_t ns; /* since the start of main */
};

/* What the table shows: the timeline, the merged counters, each vCPU's time in KVM_RUN. */
struct stats_report {
	struct stats_mark marks[STATS_MARKS];
	unsigned nmarks;
	uint64_t first_run_ns, first_output_ns, stop_ns, exit_ns; /* 0: did not happen */
	const char *stop_what;
	struct stats_vcpu total;
	const uint64_t *vcpu_run_ns;
	unsigned nvcpus;
};

extern bool stats_on;

/* Reads SMOLVM_STATS and takes the start time; first thing in main. */
void stats_init(void);
/* The setup step called name ended now (main thread only; name must stay valid). */
void stats_mark(const char *name);
/* A new vCPU's counters (NULL with stats off or out of memory: that vCPU is not counted). */
struct stats_vcpu *stats_vcpu_new(void);
uint64_t stats_now_ns(void);

/* The vCPU thread's hooks, called only with stats on. */
void stats_note_first_run(void);
void stats_count_exit(struct stats_vcpu *s, unsigned reason, uint64_t ns);
void stats_count_device(struct stats_vcpu *s, const char *bus, const char *name, uint64_t addr,
			uint64_t ns);
void stats_note_first_output_slow(void);
void stats_note_stop_slow(const char *what);

/* Any thread: the guest wrote its first byte to a console. */
static inline void stats_note_first_output(void)
{
	if (__builtin_expect(stats_on, 0))
		stats_note_first_output_slow();
}

/* Any thread: the VM was asked to stop, why in a word ("poweroff", "reboot", ...). */
static inline void stats_note_stop(const char *what)
{
	if (__builtin_expect(stats_on, 0))
		stats_note_stop_slow(what);
}

/* Adds from's counters to into's, device rows matched by bus, name and address. */
void stats_merge(struct stats_vcpu *into, const struct stats_vcpu *from);
/* Prints the table. */
void stats_print(FILE *out, const struct stats_report *r);
/* At exit, once the vCPU threads have ended: merge every vCPU's counters, print the table on
 * stderr and free the counters. Nothing with stats off. */
void stats_report_vm(struct vm *vm);

#endif
