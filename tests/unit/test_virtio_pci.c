/*
 * The virtio-pci transport as a driver sees it through the BAR (tests/unit/fake_machine.h):
 * the device status state machine of virtio 1.2 (2.1, 3.1), the registers that are only
 * writable in some states, MSI-X routes that follow only unmasked vectors, and device
 * configuration that a driver cannot write.
 */
#include "fake_machine.h"
#include "unit.h"

#define ACK	    VIRTIO_STATUS_ACKNOWLEDGE
#define DRIVER	    VIRTIO_STATUS_DRIVER
#define FEATURES_OK VIRTIO_STATUS_FEATURES_OK
#define DRIVER_OK   VIRTIO_STATUS_DRIVER_OK
#define NEEDS_RESET VIRTIO_STATUS_NEEDS_RESET
#define FAILED	    VIRTIO_STATUS_FAILED

static struct fake_machine m;

static void set_features(enum fake_dev d, uint64_t features)
{
	fake_bar_write(&m, d, FAKE_CC_GFSELECT, 4, 0);
	fake_bar_write(&m, d, FAKE_CC_GF, 4, (uint32_t)features);
	fake_bar_write(&m, d, FAKE_CC_GFSELECT, 4, 1);
	fake_bar_write(&m, d, FAKE_CC_GF, 4, features >> 32);
}

static uint64_t driver_features(enum fake_dev d)
{
	uint64_t lo, hi;

	fake_bar_write(&m, d, FAKE_CC_GFSELECT, 4, 0);
	lo = fake_bar_read(&m, d, FAKE_CC_GF, 4);
	fake_bar_write(&m, d, FAKE_CC_GFSELECT, 4, 1);
	hi = fake_bar_read(&m, d, FAKE_CC_GF, 4);
	return hi << 32 | lo;
}

/* Reset, then ACKNOWLEDGE, DRIVER, VERSION_1 and FEATURES_OK, as Linux does. */
static void negotiate(enum fake_dev d)
{
	fake_set_status(&m, d, 0);
	fake_set_status(&m, d, ACK);
	fake_set_status(&m, d, ACK | DRIVER);
	set_features(d, 1ULL << VIRTIO_F_VERSION_1);
	fake_set_status(&m, d, ACK | DRIVER | FEATURES_OK);
}

/* Status after writing each of the given values in turn, starting from a reset. */
static uint8_t status_after(enum fake_dev d, const uint8_t *writes, unsigned n)
{
	negotiate(d);
	fake_set_status(&m, d, 0);
	for (unsigned i = 0; i < n; i++)
		fake_set_status(&m, d, writes[i]);
	return fake_status(&m, d);
}

static void test_status_in_order(void)
{
	CHECK_EQ(fake_driver_start(&m, FAKE_RNG, 16), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	fake_set_status(&m, FAKE_RNG, 0);
	CHECK_EQ(fake_status(&m, FAKE_RNG), 0);
	/* Several bits in one write are fine when each has the one before it. */
	CHECK_EQ(status_after(FAKE_RNG, (uint8_t[]){ACK | DRIVER}, 1), ACK | DRIVER);
	/* A driver that gives up may say so at any time. */
	CHECK_EQ(status_after(FAKE_RNG, (uint8_t[]){ACK, ACK | FAILED}, 2), ACK | FAILED);
	fake_set_status(&m, FAKE_RNG, 0);
}

static void test_status_out_of_order_breaks_the_device(void)
{
	static const struct {
		uint8_t writes[3];
		unsigned n;
	} cases[] = {
	    {{DRIVER}, 1},			     /* DRIVER without ACKNOWLEDGE */
	    {{ACK, ACK | FEATURES_OK}, 2},	     /* FEATURES_OK without DRIVER */
	    {{ACK, ACK | DRIVER, ACK | DRIVER | DRIVER_OK}, 3}, /* DRIVER_OK, no FEATURES_OK */
	    {{ACK, ACK | DRIVER, ACK}, 3},	     /* DRIVER cleared without a reset */
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t got = status_after(FAKE_RNG, cases[i].writes, cases[i].n);

		if (!(got & NEEDS_RESET))
			fprintf(stderr, "case %u: status %#x\n", i, got);
		CHECK(got & NEEDS_RESET);
	}
	fake_set_status(&m, FAKE_RNG, 0);
	CHECK_EQ(fake_status(&m, FAKE_RNG), 0);
}

/* The crash of issue 9: DRIVER_OK taken back and set again, with no reset between. */
static void test_live_device_is_never_restarted(void)
{
	for (enum fake_dev d = 0; d < FAKE_NDEVS; d++) {
		uint8_t live = ACK | DRIVER | FEATURES_OK | DRIVER_OK;

		fake_rings_clear(&m, d);
		CHECK_EQ(fake_driver_start(&m, d, 16), live);
		fake_bar_read(&m, d, FAKE_BAR_ISR, 1);
		fake_set_status(&m, d, ACK | DRIVER | FEATURES_OK);
		CHECK_EQ(fake_status(&m, d), live | NEEDS_RESET);
		CHECK(fake_bar_read(&m, d, FAKE_BAR_ISR, 1) & 2); /* a configuration interrupt */
		/* Setting it again, or clearing FEATURES_OK, changes nothing any more. */
		fake_set_status(&m, d, live);
		fake_set_status(&m, d, ACK | DRIVER | DRIVER_OK);
		CHECK_EQ(fake_status(&m, d), live | NEEDS_RESET);
		/* Only a reset brings it back, and then it starts again normally. */
		fake_set_status(&m, d, 0);
		CHECK_EQ(fake_status(&m, d), 0);
		CHECK_EQ(fake_driver_start(&m, d, 16), live);
		fake_set_status(&m, d, 0);
	}
}

static void test_feature_negotiation(void)
{
	/* A feature never offered (bit 31 is reserved): FEATURES_OK reads back clear, the
	 * device is not broken, and the driver can say FAILED. */
	fake_set_status(&m, FAKE_RNG, 0);
	fake_set_status(&m, FAKE_RNG, ACK | DRIVER);
	set_features(FAKE_RNG, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << 31);
	fake_set_status(&m, FAKE_RNG, ACK | DRIVER | FEATURES_OK);
	CHECK_EQ(fake_status(&m, FAKE_RNG), ACK | DRIVER);
	fake_set_status(&m, FAKE_RNG, ACK | DRIVER | FAILED);
	CHECK_EQ(fake_status(&m, FAKE_RNG), ACK | DRIVER | FAILED);
	/* A legacy driver (no VERSION_1) is refused the same way. */
	fake_set_status(&m, FAKE_RNG, 0);
	fake_set_status(&m, FAKE_RNG, ACK | DRIVER);
	set_features(FAKE_RNG, 0);
	fake_set_status(&m, FAKE_RNG, ACK | DRIVER | FEATURES_OK);
	CHECK_EQ(fake_status(&m, FAKE_RNG), ACK | DRIVER);
	/* FEATURES_OK and DRIVER_OK at once with refused features: no start. */
	fake_set_status(&m, FAKE_RNG, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	CHECK(fake_status(&m, FAKE_RNG) & NEEDS_RESET);
	/* Accepted features are fixed: a later write does not change them. */
	negotiate(FAKE_RNG);
	CHECK_EQ(fake_status(&m, FAKE_RNG), ACK | DRIVER | FEATURES_OK);
	set_features(FAKE_RNG, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_EVENT_IDX);
	CHECK_EQ(driver_features(FAKE_RNG), 1ULL << VIRTIO_F_VERSION_1);
	fake_set_status(&m, FAKE_RNG, 0);
	CHECK_EQ(driver_features(FAKE_RNG), 0);
}

static uint16_t queue_size(enum fake_dev d)
{
	return fake_bar_read(&m, d, FAKE_CC_Q_SIZE, 2);
}

static void test_queue_registers_follow_the_state(void)
{
	enum fake_dev d = FAKE_BLK;
	uint16_t max;

	fake_set_status(&m, d, 0);
	fake_bar_write(&m, d, FAKE_CC_Q_SELECT, 2, 0);
	max = queue_size(d);
	CHECK(max >= 16);
	/* Before FEATURES_OK the queue is not the driver's to set up (3.1.1). */
	fake_set_status(&m, d, ACK | DRIVER);
	fake_bar_write(&m, d, FAKE_CC_Q_SIZE, 2, 16);
	fake_bar_write(&m, d, FAKE_CC_Q_ENABLE, 2, 1);
	CHECK_EQ(queue_size(d), max);
	CHECK_EQ(fake_bar_read(&m, d, FAKE_CC_Q_ENABLE, 2), 0);
	/* After it, it is, until the queue is enabled. */
	negotiate(d);
	fake_bar_write(&m, d, FAKE_CC_Q_SELECT, 2, 0);
	fake_bar_write(&m, d, FAKE_CC_Q_SIZE, 2, 16);
	CHECK_EQ(queue_size(d), 16);
	fake_bar_write(&m, d, FAKE_CC_Q_SIZE, 2, 0xffff);
	CHECK_EQ(queue_size(d), max); /* never more than the device offers */
	fake_bar_write(&m, d, FAKE_CC_Q_SIZE, 2, 16);
	fake_bar_write(&m, d, FAKE_CC_Q_DESC, 4, fake_ring_base(d, 0));
	fake_bar_write(&m, d, FAKE_CC_Q_AVAIL, 4, fake_ring_base(d, 0) + 0x4000);
	fake_bar_write(&m, d, FAKE_CC_Q_USED, 4, fake_ring_base(d, 0) + 0x8000);
	fake_bar_write(&m, d, FAKE_CC_Q_ENABLE, 2, 1);
	fake_bar_write(&m, d, FAKE_CC_Q_SIZE, 2, 32);
	fake_bar_write(&m, d, FAKE_CC_Q_DESC, 4, 0x1000);
	fake_bar_write(&m, d, FAKE_CC_Q_ENABLE, 2, 0);
	CHECK_EQ(queue_size(d), 16);
	CHECK_EQ(fake_bar_read(&m, d, FAKE_CC_Q_DESC, 4), fake_ring_base(d, 0));
	CHECK_EQ(fake_bar_read(&m, d, FAKE_CC_Q_ENABLE, 2), 1);
	/* A running device's other queues are fixed too. */
	fake_set_status(&m, d, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	CHECK_EQ(fake_status(&m, d), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	fake_bar_write(&m, d, FAKE_CC_Q_SELECT, 2, 1);
	fake_bar_write(&m, d, FAKE_CC_Q_SIZE, 2, 16);
	fake_bar_write(&m, d, FAKE_CC_Q_ENABLE, 2, 1);
	CHECK_EQ(queue_size(d), max);
	CHECK_EQ(fake_bar_read(&m, d, FAKE_CC_Q_ENABLE, 2), 0);
	/* A reset gives everything back. */
	fake_set_status(&m, d, 0);
	fake_bar_write(&m, d, FAKE_CC_Q_SELECT, 2, 0);
	CHECK_EQ(queue_size(d), max);
	CHECK_EQ(fake_bar_read(&m, d, FAKE_CC_Q_ENABLE, 2), 0);
	CHECK_EQ(fake_bar_read(&m, d, FAKE_CC_Q_DESC, 4), 0);
}

/* Offset of the MSI-X capability in configuration space, found as a driver finds it. */
static unsigned msix_cap(enum fake_dev d)
{
	unsigned at = pci_config_read(&m.vm, m.devfn[d], PCI_CAP_PTR, 1);

	while (at && pci_config_read(&m.vm, m.devfn[d], at, 1) != 0x11)
		at = pci_config_read(&m.vm, m.devfn[d], at + 1, 1);
	return at;
}

/* Write a vector's entry: masked first and then the message (as Linux rewrites a live
 * vector), or the message and then unmasked. */
static void msix_entry(enum fake_dev d, unsigned vec, uint32_t data, bool masked)
{
	uint64_t at = FAKE_BAR_MSIX + vec * 16;

	if (masked)
		fake_bar_write(&m, d, at + 12, 4, 1);
	fake_bar_write(&m, d, at, 4, 0xfee00000);
	fake_bar_write(&m, d, at + 4, 4, 0);
	fake_bar_write(&m, d, at + 8, 4, data);
	if (!masked)
		fake_bar_write(&m, d, at + 12, 4, 0);
}

static void test_msix_routes_follow_unmasked_vectors(void)
{
	enum fake_dev d = FAKE_CONSOLE;
	unsigned cap = msix_cap(d), before;

	CHECK(cap != 0);
	/* Enabled with the function masked, entries programmed masked, as Linux does. */
	pci_config_write(&m.vm, m.devfn[d], cap + 2, 2, 0xc000);
	before = fake_irq.route_changes;
	for (unsigned i = 0; i < 100; i++)
		msix_entry(d, 0, 0x4000 + i, true);
	pci_config_write(&m.vm, m.devfn[d], cap + 2, 2, 0x8000);
	CHECK_EQ(fake_irq.route_changes, before); /* nothing could fire: nothing routed */
	/* Unmasking routes it once; the same message again costs nothing. */
	msix_entry(d, 0, 0x4063, false);
	CHECK_EQ(fake_irq.route_changes, before + 1);
	msix_entry(d, 0, 0x4063, false);
	CHECK_EQ(fake_irq.route_changes, before + 1);
	/* A new message on an unmasked vector is routed at once. */
	msix_entry(d, 0, 0x4064, false);
	CHECK_EQ(fake_irq.route_changes, before + 2);
	/* Masked rewrites, however many, wait for the unmask. */
	for (unsigned i = 0; i < 100; i++)
		msix_entry(d, 0, 0x5000 + i, true);
	CHECK_EQ(fake_irq.route_changes, before + 2);
	fake_bar_write(&m, d, FAKE_BAR_MSIX + 12, 4, 0);
	CHECK_EQ(fake_irq.route_changes, before + 3);
	/* Masking the function, then unmasking it, with the message unchanged: no update. */
	pci_config_write(&m.vm, m.devfn[d], cap + 2, 2, 0xc000);
	pci_config_write(&m.vm, m.devfn[d], cap + 2, 2, 0x8000);
	CHECK_EQ(fake_irq.route_changes, before + 3);
	pci_config_write(&m.vm, m.devfn[d], cap + 2, 2, 0);
}

/* Devices without config_write (blk, fs) ignore the driver's writes to their configuration;
 * rng has no configuration space, so its device window reads as zeros. */
static void test_read_only_configuration(void)
{
	static const enum fake_dev ro[] = {FAKE_BLK, FAKE_FS};

	for (unsigned i = 0; i < 2; i++) {
		uint64_t before = fake_bar_read(&m, ro[i], FAKE_BAR_DEVICE, 8);

		fake_bar_write(&m, ro[i], FAKE_BAR_DEVICE, 8, ~before);
		fake_bar_write(&m, ro[i], FAKE_BAR_DEVICE + 4, 4, 0x12345678);
		CHECK_EQ(fake_bar_read(&m, ro[i], FAKE_BAR_DEVICE, 8), before);
	}
	fake_bar_write(&m, FAKE_RNG, FAKE_BAR_DEVICE, 4, 0xffffffff);
	CHECK_EQ(fake_bar_read(&m, FAKE_RNG, FAKE_BAR_DEVICE, 4), 0);
}

int main(void)
{
	fake_machine_init(&m);
	RUN(test_status_in_order);
	RUN(test_status_out_of_order_breaks_the_device);
	RUN(test_live_device_is_never_restarted);
	RUN(test_feature_negotiation);
	RUN(test_queue_registers_follow_the_state);
	RUN(test_msix_routes_follow_unmasked_vectors);
	RUN(test_read_only_configuration);
	fake_machine_remove_files(&m);
	return UNIT_RESULT();
}
