#include "vmm/stats.h"

#include <inttypes.h>
#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/vcpu.h"
#include "vmm/vm.h"

bool stats_on;

static uint64_t start_ns; /* CLOCK_MONOTONIC at stats_init */
static struct stats_mark marks[STATS_MARKS];
static unsigned nmarks;
/* Set once each, from any thread; 0 until then. */
static _Atomic uint64_t first_run_ns, first_output_ns, stop_ns;
static const char *_Atomic stop_what;

static uint64_t stats_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Nanoseconds since stats_init, at least 1 so that 0 can mean "not yet". */
uint64_t stats_now_ns(void)
{
	uint64_t t = stats_clock_ns() - start_ns;

	return t ? t : 1;
}

void stats_init(void)
{
	const char *v = getenv("SMOLVM_STATS");

	start_ns = stats_clock_ns();
	stats_on = v && *v && strcmp(v, "0") != 0;
}

void stats_mark(const char *name)
{
	if (!stats_on || nmarks == STATS_MARKS)
		return;
	marks[nmarks++] = (struct stats_mark){name, stats_now_ns()};
}

struct stats_vcpu *stats_vcpu_new(void)
{
	return stats_on ? calloc(1, sizeof(struct stats_vcpu)) : NULL;
}

static void stats_set_once(_Atomic uint64_t *slot)
{
	uint64_t none = 0;

	if (atomic_load_explicit(slot, memory_order_relaxed) == 0)
		atomic_compare_exchange_strong(slot, &none, stats_now_ns());
}

void stats_note_first_run(void)
{
	stats_set_once(&first_run_ns);
}

void stats_note_first_output_slow(void)
{
	stats_set_once(&first_output_ns);
}

void stats_note_stop_slow(const char *what)
{
	uint64_t none = 0;

	if (atomic_compare_exchange_strong(&stop_ns, &none, stats_now_ns()))
		atomic_store(&stop_what, what);
}

void stats_count_exit(struct stats_vcpu *s, unsigned reason, uint64_t ns)
{
	unsigned i = reason < STATS_EXIT_REASONS ? reason : STATS_EXIT_REASONS;

	s->exits[i]++;
	s->exit_ns[i] += ns;
}

static bool stats_same_device(const struct stats_device *d, const char *bus, const char *name,
			      uint64_t addr)
{
	if (d->addr != addr || strcmp(d->bus, bus) != 0)
		return false;
	if (!d->name || !name)
		return d->name == name;
	return d->name == name || strcmp(d->name, name) == 0;
}

static void stats_add_device(struct stats_vcpu *s, const char *bus, const char *name,
			     uint64_t addr, uint64_t count, uint64_t ns)
{
	for (unsigned i = 0; i < s->ndev; i++) {
		if (stats_same_device(&s->dev[i], bus, name, addr)) {
			s->dev[i].count += count;
			s->dev[i].ns += ns;
			return;
		}
	}
	if (s->ndev == STATS_DEVICES) {
		s->dev_other_count += count;
		s->dev_other_ns += ns;
		return;
	}
	s->dev[s->ndev++] = (struct stats_device){bus, name, addr, count, ns};
}

void stats_count_device(struct stats_vcpu *s, const char *bus, const char *name, uint64_t addr,
			uint64_t ns)
{
	stats_add_device(s, bus, name, addr, 1, ns);
}

void stats_merge(struct stats_vcpu *into, const struct stats_vcpu *from)
{
	into->run_ns += from->run_ns;
	for (unsigned i = 0; i <= STATS_EXIT_REASONS; i++) {
		into->exits[i] += from->exits[i];
		into->exit_ns[i] += from->exit_ns[i];
	}
	for (unsigned i = 0; i < from->ndev; i++)
		stats_add_device(into, from->dev[i].bus, from->dev[i].name, from->dev[i].addr,
				 from->dev[i].count, from->dev[i].ns);
	into->dev_other_count += from->dev_other_count;
	into->dev_other_ns += from->dev_other_ns;
}

static const char *const exit_names[STATS_EXIT_REASONS] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	[KVM_EXIT_IOAPIC_EOI] = "IOAPIC_EOI",
	[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
};

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* Device rows by count, most first; ties by name, so the order is stable. */
static int stats_device_cmp(const void *a, const void *b)
{
	const struct stats_device *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return strcmp(x->bus, y->bus);
}

static void stats_print_timeline(FILE *out, const struct stats_report *r)
{
	uint64_t prev = 0;

	fprintf(out, "%-32s %10s %10s\n", "timeline (from main)", "ms", "step ms");
	for (unsigned i = 0; i < r->nmarks; i++) {
		fprintf(out, "  %-30s %10.1f %10.1f\n", r->marks[i].name, ms(r->marks[i].ns),
			ms(r->marks[i].ns - prev));
		prev = r->marks[i].ns;
	}
	if (r->first_run_ns)
		fprintf(out, "  %-30s %10.1f\n", "first KVM_RUN", ms(r->first_run_ns));
	if (r->first_output_ns)
		fprintf(out, "  %-30s %10.1f\n", "first console output", ms(r->first_output_ns));
	if (r->stop_ns) {
		char what[40];

		snprintf(what, sizeof(what), "stop (%s)", r->stop_what ? r->stop_what : "?");
		fprintf(out, "  %-30s %10.1f\n", what, ms(r->stop_ns));
	}
	if (r->exit_ns)
		fprintf(out, "  %-30s %10.1f\n", "exit", ms(r->exit_ns));
}

static void stats_print_exits(FILE *out, const struct stats_vcpu *t)
{
	fprintf(out, "%-32s %10s %10s\n", "vCPU exits by reason", "count", "handling ms");
	for (unsigned i = 0; i <= STATS_EXIT_REASONS; i++) {
		char other[24];
		const char *name = i < STATS_EXIT_REASONS ? exit_names[i] : "others";

		if (!t->exits[i])
			continue;
		if (!name) {
			snprintf(other, sizeof(other), "reason %u", i);
			name = other;
		}
		fprintf(out, "  %-30s %10" PRIu64 " %10.1f\n", name, t->exits[i], ms(t->exit_ns[i]));
	}
}

static void stats_print_devices(FILE *out, const struct stats_vcpu *t)
{
	struct stats_device dev[STATS_DEVICES];

	memcpy(dev, t->dev, t->ndev * sizeof(dev[0]));
	qsort(dev, t->ndev, sizeof(dev[0]), stats_device_cmp);
	fprintf(out, "%-32s %10s %10s\n", "IO/MMIO exits by device", "count", "handling ms");
	for (unsigned i = 0; i < t->ndev; i++) {
		char what[64];

		snprintf(what, sizeof(what), "%s %s 0x%" PRIx64, dev[i].bus,
			 dev[i].name ? dev[i].name : "unclaimed", dev[i].addr);
		fprintf(out, "  %-30s %10" PRIu64 " %10.1f\n", what, dev[i].count, ms(dev[i].ns));
	}
	if (t->dev_other_count)
		fprintf(out, "  %-30s %10" PRIu64 " %10.1f\n", "others", t->dev_other_count,
			ms(t->dev_other_ns));
}

void stats_print(FILE *out, const struct stats_report *r)
{
	fprintf(out, "smolvm: stats (SMOLVM_STATS)\n");
	stats_print_timeline(out, r);
	stats_print_exits(out, &r->total);
	stats_print_devices(out, &r->total);
	fprintf(out, "%-32s %10s\n", "time in KVM_RUN", "ms");
	for (unsigned i = 0; i < r->nvcpus; i++) {
		char what[24];

		snprintf(what, sizeof(what), "vCPU %u", i);
		fprintf(out, "  %-30s %10.1f\n", what, ms(r->vcpu_run_ns[i]));
	}
	fflush(out);
}

void stats_report_vm(struct vm *vm)
{
	struct stats_report *r;
	uint64_t *run_ns;

	if (!stats_on)
		return;
	r = calloc(1, sizeof(*r));
	run_ns = calloc(vm->ncpus ? vm->ncpus : 1, sizeof(*run_ns));
	if (!r || !run_ns)
		goto out;
	memcpy(r->marks, marks, sizeof(marks));
	r->nmarks = nmarks;
	r->first_run_ns = atomic_load(&first_run_ns);
	r->first_output_ns = atomic_load(&first_output_ns);
	r->stop_ns = atomic_load(&stop_ns);
	r->stop_what = atomic_load(&stop_what);
	r->exit_ns = stats_now_ns();
	for (unsigned i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct stats_vcpu *s = vm->vcpus[i].stats;

		if (!s)
			continue;
		stats_merge(&r->total, s);
		run_ns[i] = s->run_ns;
		free(s);
		vm->vcpus[i].stats = NULL;
	}
	r->vcpu_run_ns = run_ns;
	r->nvcpus = vm->vcpus ? vm->ncpus : 0;
	stats_print(stderr, r);
out:
	free(run_ns);
	free(r);
}
