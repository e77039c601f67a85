/*
 * Every virtio device through many reset/activate cycles, driven through its BAR as a guest
 * driver drives it, including a driver that clears DRIVER_OK and sets it again without a
 * reset (status 0x0F, 0x0B, 0x0F), while another thread kicks every queue without pause.
 * Built with ThreadSanitizer: two threads serving one ring are a reported race. A device
 * started twice also leaves threads and descriptors behind, which the counts catch.
 *
 * The test writes guest RAM only while the device is stopped: a running device reading
 * rings the test writes would be a race of the test's own making (a real guest's writes
 * are invisible to the sanitizer).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "fake_machine.h"
#include "unit.h"

#define CYCLES	 40
#define RNG_BUFS 8

static struct fake_machine m;
static atomic_bool stop_kicking;

static void *kicker(void *arg)
{
	while (!atomic_load(&stop_kicking)) {
		for (unsigned d = 0; d < FAKE_NDEVS; d++)
			for (unsigned q = 0; q < 3; q++)
				fake_notify(&m, d, q);
		sched_yield();
	}
	return NULL;
}

/* RNG_BUFS device-writable buffers of 64 bytes in virtio-rng's queue, published. */
static void rng_queue_buffers(void)
{
	uint64_t base = fake_ring_base(FAKE_RNG, 0);
	struct virtq_desc *desc = (struct virtq_desc *)(m.ram + base);
	uint16_t *avail = (uint16_t *)(m.ram + base + 0x4000);

	for (unsigned i = 0; i < RNG_BUFS; i++) {
		desc[i] = (struct virtq_desc){.addr = 0x10000 + i * 64, .len = 64,
					      .flags = VIRTQ_DESC_F_WRITE};
		avail[2 + i] = i;
	}
	avail[1] = RNG_BUFS;
}

static uint16_t rng_used_idx(void)
{
	return *(uint16_t *)(m.ram + fake_ring_base(FAKE_RNG, 0) + 0x8000 + 2);
}

static void cycle(enum fake_dev d)
{
	uint8_t status;

	fake_set_status(&m, d, 0);
	fake_rings_clear(&m, d);
	if (d == FAKE_RNG)
		rng_queue_buffers();
	CHECK_EQ(fake_driver_start(&m, d, 16), 0x0f);
	/* virtio-rng answers its buffers at once; wait for the queue interrupt (ISR bit 0). */
	for (unsigned ms = 0; d == FAKE_RNG && ms < 5000; ms++) {
		if (fake_bar_read(&m, d, FAKE_BAR_ISR, 1) & 1)
			break;
		usleep(1000);
	}
	fake_bar_read(&m, d, FAKE_BAR_ISR, 1);
	/* The driver takes DRIVER_OK back without a reset, then sets it again, repeatedly: the
	 * device must not start a second time; it asks for a reset instead. */
	for (unsigned i = 0; i < 4; i++) {
		fake_set_status(&m, d, 0x0b);
		fake_set_status(&m, d, 0x0f);
	}
	status = fake_status(&m, d);
	CHECK_EQ(status & VIRTIO_STATUS_NEEDS_RESET, VIRTIO_STATUS_NEEDS_RESET);
	CHECK(fake_bar_read(&m, d, FAKE_BAR_ISR, 1) & 2); /* a configuration interrupt */
	fake_set_status(&m, d, 0);
	CHECK_EQ(fake_status(&m, d), 0);
	/* Stopped: every buffer was answered exactly once, by one thread. */
	if (d == FAKE_RNG)
		CHECK_EQ(rng_used_idx(), RNG_BUFS);
}

static void test_reset_activate_cycles_under_kicks(void)
{
	unsigned threads, fds;
	pthread_t t;

	/* Counted after a first round: the sanitizer starts a thread of its own on the way. */
	for (unsigned d = 0; d < FAKE_NDEVS; d++)
		cycle(d);
	threads = fake_count_dir("/proc/self/task", 0);
	fds = fake_count_dir("/proc/self/fd", 0);
	pthread_create(&t, NULL, kicker, NULL);
	for (unsigned i = 0; i < CYCLES; i++)
		for (unsigned d = 0; d < FAKE_NDEVS; d++)
			cycle(d);
	atomic_store(&stop_kicking, true);
	pthread_join(t, NULL);
	CHECK_EQ(fake_count_dir("/proc/self/task", threads), threads);
	CHECK_EQ(fake_count_dir("/proc/self/fd", fds), fds);
}

int main(void)
{
	fake_machine_init(&m);
	RUN(test_reset_activate_cycles_under_kicks);
	fake_machine_remove_files(&m);
	return UNIT_RESULT();
}
