/*
 * SMOLVM_STATS's table: per-vCPU counters merged by reason and by device, the timeline's
 * steps, rows sorted by count, and the bus naming the device behind an address.
 */
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/stats.h"
#include "unit.h"

/* The table printed for r, in a string the caller frees. */
static char *print_report(const struct stats_report *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	stats_print(f, r);
	fclose(f);
	return text;
}

/* The line of text that starts (after its indentation) with what, or NULL. */
static const char *find_row(const char *text, const char *what)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *q = p + strspn(p, " ");
		if (strncmp(q, what, strlen(what)) == 0)
			return q;
	}
	return NULL;
}

/* The two numbers after a row's name: count and milliseconds. */
static int row_numbers(const char *text, const char *what, double *a, double *b)
{
	const char *row = find_row(text, what);

	return row ? sscanf(row + strlen(what), "%lf %lf", a, b) : 0;
}

static void test_merge_adds_reasons_and_devices(void)
{
	struct stats_vcpu a = {0}, b = {0}, total = {0};
	static const char serial[] = "serial";
	char serial_copy[] = "serial"; /* a different pointer, the same device */

	stats_count_exit(&a, KVM_EXIT_IO, 1000);
	stats_count_exit(&a, KVM_EXIT_IO, 3000);
	stats_count_exit(&b, KVM_EXIT_IO, 5000);
	stats_count_exit(&b, KVM_EXIT_MMIO, 7000);
	stats_count_exit(&b, 1000, 11); /* past the table: "others" */
	stats_count_device(&a, "pio", serial, 0x3f8, 1000);
	stats_count_device(&a, "pio", serial, 0x3f8, 3000);
	stats_count_device(&b, "pio", serial_copy, 0x3f8, 5000);
	stats_count_device(&b, "pio", NULL, 0x61, 2);     /* unclaimed port */
	stats_count_device(&b, "mmio", NULL, 0x61, 3);    /* another bus: another row */
	stats_count_device(&b, "pio", serial, 0x2f8, 4);  /* another range: another row */
	a.run_ns = 100;
	b.run_ns = 50;

	stats_merge(&total, &a);
	stats_merge(&total, &b);
	CHECK_EQ(total.run_ns, 150);
	CHECK_EQ(total.exits[KVM_EXIT_IO], 3);
	CHECK_EQ(total.exit_ns[KVM_EXIT_IO], 9000);
	CHECK_EQ(total.exits[KVM_EXIT_MMIO], 1);
	CHECK_EQ(total.exits[STATS_EXIT_REASONS], 1);
	CHECK_EQ(total.ndev, 4);
	CHECK_STR(total.dev[0].name, "serial");
	CHECK_EQ(total.dev[0].addr, 0x3f8);
	CHECK_EQ(total.dev[0].count, 3);
	CHECK_EQ(total.dev[0].ns, 9000);
	CHECK(total.dev[1].name == NULL);
	CHECK_STR(total.dev[1].bus, "pio");
	CHECK_STR(total.dev[2].bus, "mmio");
	CHECK_EQ(total.dev[3].addr, 0x2f8);
}

static void test_devices_past_the_table_count_as_others(void)
{
	struct stats_vcpu a = {0}, total = {0};

	for (unsigned i = 0; i < STATS_DEVICES + 5; i++)
		stats_count_device(&a, "pio", NULL, 0x100 + i, 10);
	CHECK_EQ(a.ndev, STATS_DEVICES);
	CHECK_EQ(a.dev_other_count, 5);
	CHECK_EQ(a.dev_other_ns, 50);
	stats_merge(&total, &a);
	stats_merge(&total, &a);
	CHECK_EQ(total.ndev, STATS_DEVICES);
	CHECK_EQ(total.dev[0].count, 2);
	CHECK_EQ(total.dev_other_count, 10);
}

static void test_table_rows(void)
{
	static const uint64_t run_ns[] = {1500000000ULL, 250000000ULL};
	struct stats_report r = {
		.marks = {{"options", 100000}, {"VM and guest RAM", 2600000}},
		.nmarks = 2,
		.first_run_ns = 3000000,
		.first_output_ns = 400000000,
		.stop_ns = 1700000000,
		.stop_what = "poweroff",
		.exit_ns = 1710000000,
		.vcpu_run_ns = run_ns,
		.nvcpus = 2,
	};
	double a = 0, b = 0;
	char *text;

	stats_count_exit(&r.total, KVM_EXIT_IO, 2000000);
	stats_count_exit(&r.total, KVM_EXIT_IO, 2000000);
	stats_count_exit(&r.total, KVM_EXIT_HLT, 500000);
	stats_count_exit(&r.total, 45, 1); /* a reason without a name */
	stats_count_device(&r.total, "pio", "rtc", 0x70, 1000000);
	stats_count_device(&r.total, "pio", "serial", 0x3f8, 1000000);
	stats_count_device(&r.total, "pio", "serial", 0x3f8, 1000000);
	stats_count_device(&r.total, "pio", NULL, 0x87, 1000);
	text = print_report(&r);

	CHECK(strncmp(text, "smolvm: stats", 13) == 0);
	/* Each mark's time from main and the step since the mark before it. */
	CHECK_EQ(row_numbers(text, "options", &a, &b), 2);
	CHECK(a == 0.1 && b == 0.1);
	CHECK_EQ(row_numbers(text, "VM and guest RAM", &a, &b), 2);
	CHECK(a == 2.6 && b == 2.5);
	CHECK_EQ(row_numbers(text, "first KVM_RUN", &a, &b), 1);
	CHECK(a == 3.0);
	CHECK_EQ(row_numbers(text, "first console output", &a, &b), 1);
	CHECK(a == 400.0);
	CHECK_EQ(row_numbers(text, "stop (poweroff)", &a, &b), 1);
	CHECK(a == 1700.0);
	CHECK_EQ(row_numbers(text, "exit", &a, &b), 1);
	CHECK(a == 1710.0);
	/* Exits by reason: count and milliseconds handling them. */
	CHECK_EQ(row_numbers(text, "IO", &a, &b), 2);
	CHECK(a == 2 && b == 4.0);
	CHECK_EQ(row_numbers(text, "HLT", &a, &b), 2);
	CHECK(a == 1 && b == 0.5);
	CHECK(find_row(text, "reason 45") != NULL);
	CHECK(find_row(text, "MMIO") == NULL); /* no exits, no row */
	/* Devices, most exits first; an unclaimed port shows its address. */
	CHECK_EQ(row_numbers(text, "pio serial 0x3f8", &a, &b), 2);
	CHECK(a == 2 && b == 2.0);
	CHECK(find_row(text, "pio serial 0x3f8") < find_row(text, "pio rtc 0x70"));
	CHECK(find_row(text, "pio rtc 0x70") < find_row(text, "pio unclaimed 0x87"));
	CHECK_EQ(row_numbers(text, "vCPU 0", &a, &b), 1);
	CHECK(a == 1500.0);
	CHECK_EQ(row_numbers(text, "vCPU 1", &a, &b), 1);
	CHECK(a == 250.0);
	free(text);
}

static void test_missing_events_have_no_rows(void)
{
	struct stats_report r = {0};
	char *text = print_report(&r);

	CHECK(find_row(text, "first KVM_RUN") == NULL);
	CHECK(find_row(text, "first console output") == NULL);
	CHECK(find_row(text, "stop (") == NULL);
	free(text);
}

static uint64_t dev_read(void *opaque, uint64_t offset, unsigned size)
{
	return 0;
}

static const char *dev_label(void *opaque)
{
	return opaque;
}

static const struct bus_ops named_ops = {.read = dev_read, .name = "uart"};
static const struct bus_ops labelled_ops = {.read = dev_read, .name = "x", .label = dev_label};
static const struct bus_ops anonymous_ops = {.read = dev_read};

static void test_bus_names_the_device(void)
{
	struct bus bus;
	const char *name;
	uint64_t base;

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, &named_ops, NULL), 0);
	CHECK_EQ(bus_register(&bus, 0x1000, 0x100, &labelled_ops, "virtio-net"), 0);
	CHECK_EQ(bus_register(&bus, 0x70, 2, &anonymous_ops, NULL), 0);
	CHECK(bus_describe(&bus, 0x3fd, &name, &base));
	CHECK_STR(name, "uart");
	CHECK_EQ(base, 0x3f8);
	CHECK(bus_describe(&bus, 0x10ff, &name, &base));
	CHECK_STR(name, "virtio-net");
	CHECK_EQ(base, 0x1000);
	CHECK(bus_describe(&bus, 0x71, &name, &base));
	CHECK_STR(name, "?");
	CHECK(!bus_describe(&bus, 0x1100, &name, &base));
	CHECK(name == NULL);
	CHECK_EQ(base, 0x1100);
	free(bus.ranges);
}

static void test_env_turns_stats_on(void)
{
	unsetenv("SMOLVM_STATS");
	stats_init();
	CHECK(!stats_on);
	CHECK(stats_vcpu_new() == NULL);
	setenv("SMOLVM_STATS", "0", 1);
	stats_init();
	CHECK(!stats_on);
	setenv("SMOLVM_STATS", "1", 1);
	stats_init();
	CHECK(stats_on);
	CHECK(stats_now_ns() > 0);
	unsetenv("SMOLVM_STATS");
	stats_init();
}

int main(void)
{
	RUN(test_merge_adds_reasons_and_devices);
	RUN(test_devices_past_the_table_count_as_others);
	RUN(test_table_rows);
	RUN(test_missing_events_have_no_rows);
	RUN(test_bus_names_the_device);
	RUN(test_env_turns_stats_on);
	return UNIT_RESULT();
}
