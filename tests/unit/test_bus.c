/*
 * The bus's answer to accesses nobody claims: all-ones at every size, writes dropped, and
 * under SMOLVM_DEBUG a log line for the first few of each address, then at powers of two.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/bus.h"
#include "unit.h"

static uint64_t seen_value;

static uint64_t dev_read(void *opaque, uint64_t offset, unsigned size)
{
	return 0x1234 + offset;
}

static void dev_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	seen_value = value;
}

static const struct bus_ops dev_ops = {.read = dev_read, .write = dev_write};

static void test_unclaimed_reads_all_ones(void)
{
	struct bus bus;
	uint64_t v;

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x510, 2, &dev_ops, NULL), 0);
	CHECK(bus_read(&bus, 0x511, 1, &v));
	CHECK_EQ(v, 0x1235);
	CHECK(!bus_read(&bus, 0x512, 1, &v));
	CHECK_EQ(v, 0xff);
	CHECK(!bus_read(&bus, 0x50f, 2, &v));
	CHECK_EQ(v, 0xffff);
	CHECK(!bus_read(&bus, 0xb008, 4, &v));
	CHECK_EQ(v, 0xffffffffu);
	CHECK(!bus_read(&bus, 0xfed00000, 8, &v));
	CHECK_EQ(v, ~0ULL);
	seen_value = 0;
	CHECK(!bus_write(&bus, 0x512, 1, 0x55));
	CHECK_EQ(seen_value, 0);
	free(bus.ranges);
}

/* Lines of the log file that contain what. */
static unsigned count_lines(FILE *log, const char *what)
{
	char line[256];
	unsigned n = 0;

	rewind(log);
	while (fgets(line, sizeof(line), log))
		n += strstr(line, what) != NULL;
	return n;
}

static void test_unclaimed_logged_sparingly(void)
{
	FILE *log = tmpfile();
	int saved = dup(STDERR_FILENO);
	struct bus bus;
	uint64_t v;

	CHECK(log != NULL && saved >= 0);
	if (!log || saved < 0)
		return;
	bus_init(&bus, "mmio");
	fflush(stderr);
	dup2(fileno(log), STDERR_FILENO);
	for (unsigned i = 0; i < 100; i++)
		bus_read(&bus, 0xaf0c, 4, &v); /* a polling loop */
	bus_write(&bus, 0xaf00, 4, 0x1234);
	bus_read(&bus, 0xaf0c, 1, &v); /* another size: its own count */
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	/* 1, 2, 3, 4, then 8, 16, 32, 64. */
	CHECK_EQ(count_lines(log, "unclaimed mmio read 0xaf0c size 4 (all-ones)"), 8);
	CHECK_EQ(count_lines(log, "(all-ones), #64"), 1);
	CHECK_EQ(count_lines(log, "#100"), 0);
	CHECK_EQ(count_lines(log, "unclaimed mmio write 0xaf00 size 4 value 0x1234"), 1);
	CHECK_EQ(count_lines(log, "unclaimed mmio read 0xaf0c size 1"), 1);
	fclose(log);
}

int main(void)
{
	setenv("SMOLVM_DEBUG", "1", 1); /* read once, at the first debug message */
	RUN(test_unclaimed_reads_all_ones);
	RUN(test_unclaimed_logged_sparingly);
	return UNIT_RESULT();
}
