/*
 * The replay of KVM's coalesced-write ring: each entry between first and last reaches its bus
 * in order, first catches up with last, the index wraps at the ring's end, and entries
 * that no kernel writes (a bad length, an index past the ring) touch nothing outside it.
 */
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/coalesced.h"
#include "unit.h"

#define MAX 4 /* a small ring, to wrap */

static struct bus pio, mmio;
static struct {
	char bus; /* 'p' or 'm' */
	uint64_t offset, value;
	unsigned size;
} seen[16];
static unsigned nseen;

static void record(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	if (nseen < 16)
		seen[nseen++] = (typeof(seen[0])){*(char *)opaque, offset, value, size};
}

static uint64_t read_none(void *opaque, uint64_t offset, unsigned size)
{
	return 0;
}

static const struct bus_ops ops = {.read = read_none, .write = record, .name = "rec"};
static char p = 'p', m = 'm';
static union {
	struct kvm_coalesced_mmio_ring ring;
	char bytes[sizeof(struct kvm_coalesced_mmio_ring) + MAX * sizeof(struct kvm_coalesced_mmio)];
} r;

/* What the kernel does for a buffered write: the entry at last, then last moves on. */
static void kernel_write(uint64_t addr, unsigned len, uint64_t value, int is_pio)
{
	struct kvm_coalesced_mmio *e = &r.ring.coalesced_mmio[r.ring.last];

	e->phys_addr = addr;
	e->len = len;
	e->pio = is_pio;
	memcpy(e->data, &value, sizeof(e->data));
	r.ring.last = (r.ring.last + 1) % MAX;
}

static void setup(void)
{
	free(pio.ranges);
	free(mmio.ranges);
	bus_init(&pio, "pio");
	bus_init(&mmio, "mmio");
	CHECK_EQ(bus_register(&pio, 0xcf8, 8, &ops, &p), 0);
	CHECK_EQ(bus_register(&mmio, 0x1000, 0x100, &ops, &m), 0);
	memset(&r, 0, sizeof(r));
	nseen = 0;
}

static void test_replays_in_order_and_wraps(void)
{
	setup();
	r.ring.first = r.ring.last = 2; /* so the third entry wraps to 0 */
	kernel_write(0xcf8, 4, 0x80000800, 1);
	kernel_write(0x1010, 2, 0xbeef, 0);
	kernel_write(0xcf9, 1, 0x06, 1);
	coalesced_replay(&r.ring, MAX, &pio, &mmio);
	CHECK_EQ(nseen, 3);
	CHECK_EQ(seen[0].bus, 'p');
	CHECK_EQ(seen[0].offset, 0);
	CHECK_EQ(seen[0].size, 4);
	CHECK_EQ(seen[0].value, 0x80000800);
	CHECK_EQ(seen[1].bus, 'm');
	CHECK_EQ(seen[1].offset, 0x10);
	CHECK_EQ(seen[1].value, 0xbeef);
	CHECK_EQ(seen[2].offset, 1);
	CHECK_EQ(seen[2].value, 0x06);
	CHECK_EQ(r.ring.first, 1);
	CHECK_EQ(r.ring.first, r.ring.last);
	/* Nothing new: nothing replayed twice. */
	coalesced_replay(&r.ring, MAX, &pio, &mmio);
	CHECK_EQ(nseen, 3);
}

static void test_bad_entries_touch_nothing(void)
{
	setup();
	kernel_write(0xcf8, 0, 1, 1);  /* no length */
	kernel_write(0xcf8, 16, 1, 1); /* longer than the data */
	kernel_write(0xcf8, 4, 7, 1);
	coalesced_replay(&r.ring, MAX, &pio, &mmio);
	CHECK_EQ(nseen, 1);
	CHECK_EQ(seen[0].value, 7);
	/* An index past the ring restarts at 0 instead of reading beyond it. */
	setup();
	r.ring.first = 9;
	r.ring.last = 1;
	kernel_write(0xcf8, 4, 0, 1); /* entry 1 */
	r.ring.coalesced_mmio[0] = (struct kvm_coalesced_mmio){.phys_addr = 0xcf8, .len = 4,
							       .pio = 1, .data = {5}};
	coalesced_replay(&r.ring, MAX, &pio, &mmio);
	CHECK_EQ(nseen, 2);
	CHECK_EQ(seen[0].value, 5);
	CHECK_EQ(r.ring.first, r.ring.last);
}

int main(void)
{
	RUN(test_replays_in_order_and_wraps);
	RUN(test_bad_entries_touch_nothing);
	free(pio.ranges);
	free(mmio.ranges);
	return UNIT_RESULT();
}
