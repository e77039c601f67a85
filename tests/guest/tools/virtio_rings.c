/*
 * virtio_rings: malformed split virtqueues, submitted to a virtio-pci device by a root guest
 * that drives the device itself, for tests/integration/test_virtio_rings.py. Static, no
 * dependencies; run as root on a device no driver is bound to.
 *
 * Usage: virtio_rings /sys/bus/pci/devices/0000:00:0N.0 QUEUE
 *
 * QUEUE is the queue the cases go to: one the device reads on a kick (blk 0, rng 0, net 1
 * (transmit), console 1 (port 0 transmit), fs 1 (requests)). Each case starts the device
 * afresh (reset, VERSION_1 and INDIRECT_DESC, every queue enabled, DRIVER_OK), submits a
 * chain, waits up to two seconds for a used element or DEVICE_NEEDS_RESET, and resets:
 *   good           a well-formed request for this kind of device (the control)
 *   loop2, loop1   descriptors whose next points back (to the first one, to itself)
 *   ring-loop      every descriptor of the ring chained, the last back to the first
 *   next-range     next past the queue size; head-range: a head past the queue size
 *   past-ram       a buffer that starts in RAM and ends past its end
 *   above-ram      a buffer at 1 TiB; wrap: one whose end wraps around 2^64
 *   len-4g         a buffer of 4 GiB - 1 in RAM's first page
 *   in-bar, lapic  buffers on the device's own registers and on the local APIC
 *   ind-bar        an indirect table in the device's own BAR
 *   ind-nested     an indirect table holding an indirect descriptor
 *   ind-odd, ind-zero  indirect table lengths 24 and 0
 *   ind-next       an indirect descriptor with NEXT
 *   ind-loop       a loop inside an indirect table
 *   ind-long       an indirect chain longer than the queue
 *   ind-next-range an indirect entry whose next is past its table
 *   write-read     a device-writable buffer before a readable one
 *   avail-jump     avail.idx a queue and 3 ahead; avail-far: 0x8000 ahead
 *   kick-storm     20000 notifications of every queue on empty rings, then good
 *   reset-busy     good requests each followed at once by a reset, then good
 *   flip           good, its head's address flipped to the BAR and back while it is read
 *   used-on-desc   the used ring on top of the descriptor table, then a good request
 *   size-after-ok  queue size, address and enable written after DRIVER_OK, then good
 *   size-3, size-0 queue sizes the device must refuse at DRIVER_OK
 *   ring-bar, ring-past-ram, ring-above-ram, used-odd  ring addresses it must refuse
 *   msix           MSI-X on, absurd vector numbers, table entries with junk addresses and
 *                  data unmasked, writes past the table and to the PBA, then good
 *   good-end       the control once more
 * One line per case, NAME being $VQ_SAMPLE (or "device"):
 *   RINGS NAME CASE case result=used|broken|none len=N status=0xNN reset=0xNN [detail]
 * (status: read before the reset; reset: read after it), each followed by vq_checkpoint()
 * (vq_driver.h), then RINGS NAME RINGS-DONE. Exit status 0, or 1
 * with a message when it cannot do its work.
 */
#include "vq_driver.h"

#define WAIT_MS 2000

static unsigned device_id;
static unsigned goods; /* console: a counter in each line sent */
static char detail[160];

/* A well-formed request for this kind of device in descriptors base.., its buffers in
 * pages 2 (readable) and 3 (writable). Returns its head. */
static uint16_t good_request(unsigned base)
{
	uint8_t *out = vqd.page[2], *in = vqd.page[3];
	uint64_t opa = vqd.pa[2], ipa = vqd.pa[3];

	memset(in, 0xee, 4096);
	switch (device_id) {
	case 0x1042: { /* blk: read sector 0 */
		uint32_t hdr[4] = {0 /* VIRTIO_BLK_T_IN */, 0, 0, 0};
		memcpy(out, hdr, 16);
		vq_desc_set(base, opa, 16, VQ_F_NEXT, base + 1);
		vq_desc_set(base + 1, ipa, 512, VQ_F_WRITE | VQ_F_NEXT, base + 2);
		vq_desc_set(base + 2, ipa + 512, 1, VQ_F_WRITE, 0);
		break;
	}
	case 0x1043: /* console: a line to smolvm's output */
		snprintf((char *)out, 64, "RINGS-CONSOLE-TX-%u\n", ++goods);
		vq_desc_set(base, opa, strlen((char *)out), 0, 0);
		break;
	case 0x1041: { /* net: header, then an ARP request for the gateway, 10.0.2.2 */
		static const uint8_t arp[42] = {
		    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34,
		    0x99, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
		    0x52, 0x54, 0x00, 0x12, 0x34, 0x99, 10,   0,    2,	  15,	0,
		    0,	  0,	0,    0,    0,	  10,	0,    2,    2};
		memset(out, 0, 12);
		memcpy(out + 12, arp, sizeof(arp));
		vq_desc_set(base, opa, 12 + sizeof(arp), 0, 0);
		break;
	}
	case 0x105a: { /* fs: FUSE_INIT 7.31 */
		uint32_t req[14] = {56, 26 /* FUSE_INIT */, 1, 0, 0, 0, 0, 0, 0, 0, 7, 31, 0, 0};
		memcpy(out, req, sizeof(req));
		vq_desc_set(base, opa, sizeof(req), VQ_F_NEXT, base + 1);
		vq_desc_set(base + 1, ipa, 256, VQ_F_WRITE, 0);
		break;
	}
	default: /* rng: 64 bytes of entropy */
		vq_desc_set(base, ipa, 64, VQ_F_WRITE, 0);
	}
	return base;
}

/* What the control request got back, added to the detail field. */
static void good_detail(void)
{
	const uint8_t *in = vqd.page[3];
	size_t used = strlen(detail);
	size_t room = sizeof(detail) - used;
	char *end = detail + used;
	int32_t err;

	switch (device_id) {
	case 0x1042:
		snprintf(end, room, " blk-status=%u data=%.19s", in[512], in);
		break;
	case 0x105a:
		memcpy(&err, in + 4, 4);
		snprintf(end, room, " fuse-error=%d", err);
		break;
	case 0x1044: {
		unsigned nonzero = 0;
		for (int i = 0; i < 64; i++)
			nonzero += in[i] != 0xee;
		snprintf(end, room, " changed=%u", nonzero);
		break;
	}
	}
}

static void submit_good(void)
{
	vq_submit(good_request(0));
}

/* One readable 16-byte buffer of ours (page 2) for the broken chains. */
#define BUF vqd.pa[2]

static void c_loop2(void)
{
	vq_desc_set(0, BUF, 16, VQ_F_NEXT, 1);
	vq_desc_set(1, BUF, 16, VQ_F_NEXT, 0);
	vq_submit(0);
}

static void c_loop1(void)
{
	vq_desc_set(0, BUF, 16, VQ_F_NEXT, 0);
	vq_submit(0);
}

static void c_ring_loop(void)
{
	for (unsigned i = 0; i < vqd.q.size; i++)
		vq_desc_set(i, BUF, 16, VQ_F_NEXT, (i + 1) % vqd.q.size);
	vq_submit(0);
}

static void c_next_range(void)
{
	vq_desc_set(0, BUF, 16, VQ_F_NEXT, 0xffff);
	vq_submit(0);
}

static void c_head_range(void)
{
	vq_desc_set(0, BUF, 16, 0, 0);
	vq_submit(0xfff0);
}

static void one_buffer(uint64_t addr, uint32_t len, uint16_t flags)
{
	vq_desc_set(0, addr, len, flags, 0);
	vq_submit(0);
}

static void c_past_ram(void)
{
	one_buffer(vqd.ram_end - 16, 4096, 0);
}

static void c_above_ram(void)
{
	one_buffer(1ULL << 40, 16, 0);
}

static void c_wrap(void)
{
	one_buffer(0xfffffffffffff000ULL, 0x2000, 0);
}

static void c_len_4g(void)
{
	one_buffer(0x1000, 0xffffffffu, 0);
}

static void c_in_bar(void)
{
	one_buffer(vqd.bar_pa, 64, 0);
}

static void c_lapic(void)
{
	one_buffer(0xfee00000ULL, 16, 0);
}

static void c_ind_bar(void)
{
	one_buffer(vqd.bar_pa, 64, VQ_F_INDIRECT);
}

static void c_ind_nested(void)
{
	vq_table_set(5, 0, BUF, 16, 0, 0);
	vq_table_set(4, 0, vqd.pa[5], 16, VQ_F_INDIRECT, 0);
	one_buffer(vqd.pa[4], 16, VQ_F_INDIRECT);
}

/* A valid two-entry indirect table in page 4. */
static void table_of_two(void)
{
	vq_table_set(4, 0, BUF, 16, VQ_F_NEXT, 1);
	vq_table_set(4, 1, BUF, 16, 0, 0);
}

static void c_ind_odd(void)
{
	table_of_two();
	one_buffer(vqd.pa[4], 24, VQ_F_INDIRECT);
}

static void c_ind_zero(void)
{
	table_of_two();
	one_buffer(vqd.pa[4], 0, VQ_F_INDIRECT);
}

static void c_ind_next(void)
{
	table_of_two();
	vq_desc_set(0, vqd.pa[4], 32, VQ_F_INDIRECT | VQ_F_NEXT, 1);
	vq_desc_set(1, BUF, 16, 0, 0);
	vq_submit(0);
}

static void c_ind_loop(void)
{
	vq_table_set(4, 0, BUF, 16, VQ_F_NEXT, 1);
	vq_table_set(4, 1, BUF, 16, VQ_F_NEXT, 0);
	one_buffer(vqd.pa[4], 32, VQ_F_INDIRECT);
}

static void c_ind_long(void)
{
	unsigned n = vqd.q.size + 1; /* at most 65 entries: 1040 bytes of page 4 */

	for (unsigned i = 0; i < n; i++)
		vq_table_set(4, i, BUF, 1, i + 1 < n ? VQ_F_NEXT : 0, i + 1);
	one_buffer(vqd.pa[4], n * 16, VQ_F_INDIRECT);
}

static void c_ind_next_range(void)
{
	vq_table_set(4, 0, BUF, 16, VQ_F_NEXT, 5);
	vq_table_set(4, 1, BUF, 16, 0, 0);
	one_buffer(vqd.pa[4], 32, VQ_F_INDIRECT);
}

static void c_write_read(void)
{
	vq_desc_set(0, vqd.pa[3], 16, VQ_F_WRITE | VQ_F_NEXT, 1);
	vq_desc_set(1, BUF, 16, 0, 0);
	vq_submit(0);
}

/* avail.idx moved by n with only zeroed ring entries behind it. */
static void avail_jump(uint16_t n)
{
	vq_desc_set(0, BUF, 16, 0, 0);
	vqd.q.avail[1] = n;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vq_notify(vqd.q.index);
}

static void c_avail_jump(void)
{
	avail_jump(vqd.q.size + 3);
}

static void c_avail_far(void)
{
	avail_jump(0x8000);
}

static void c_kick_storm(void)
{
	for (int i = 0; i < 20000; i++)
		vq_notify(i % vqd.nqueues);
	submit_good();
}

/* Resets while requests may be in flight, then one to wait for. */
static void c_reset_busy(void)
{
	for (int i = 0; i < 8; i++) {
		submit_good();
		vq_reset();
		vq_start(vqd.q.index);
	}
	submit_good();
}

/* The head descriptor's address flips between our buffer and the device's BAR while the
 * device may be reading it: either outcome is fine, as long as it is one of them. */
static void c_flip(void)
{
	uint64_t addr = vqd.q.desc[good_request(0)].addr;

	for (int i = 0; i < 1 << 20; i++) { /* a few milliseconds */
		vqd.q.desc[0].addr = i & 1 ? vqd.bar_pa : addr;
		if (i == 1000) /* the kick comes in the middle of the flipping */
			vq_submit(0);
	}
	vqd.q.desc[0].addr = addr;
}

/* The used ring (6 + 8 * 16 bytes) over descriptors 0..8 of a 16-entry queue; the request
 * sits in descriptors 12.. out of the way of what the device writes. */
static void c_used_on_desc(void)
{
	vq_start_at(vqd.q.index, 0, 0, vqd.pa[1], 16);
	vqd.q.size = 16;
	vqd.q.used = (volatile uint32_t *)vqd.page[1];
	vq_submit(good_request(12));
}

static void c_size_after_ok(void)
{
	volatile struct vq_common *cc = vqd.cc;
	uint16_t size;
	uint32_t desc;

	cc->queue_select = vqd.q.index;
	cc->queue_size = vqd.q.size / 2;
	cc->queue_desc_lo = (uint32_t)vqd.bar_pa;
	cc->queue_enable = 0;
	size = cc->queue_size;
	desc = cc->queue_desc_lo;
	snprintf(detail, sizeof(detail), "size=%u(%u) desc-moved=%d enable=%u", size, vqd.q.size,
		 desc != (uint32_t)vqd.q.desc_pa, cc->queue_enable);
	submit_good();
}

static void c_size_3(void)
{
	vq_start_at(vqd.q.index, 0, 0, 0, 3);
}

static void c_size_0(void)
{
	vq_start_at(vqd.q.index, 0, 0, 0, 0);
}

static void c_ring_bar(void)
{
	vq_start_at(vqd.q.index, vqd.bar_pa, 0, 0, -1);
}

static void c_ring_past_ram(void)
{
	vq_start_at(vqd.q.index, vqd.ram_end - 64, 0, 0, -1);
}

static void c_ring_above_ram(void)
{
	vq_start_at(vqd.q.index, 1ULL << 40, 0, 0, -1);
}

static void c_used_odd(void)
{
	vq_start_at(vqd.q.index, 0, 0, vqd.pa[1] + 1280 + 2, -1);
}

static void msix_entry(volatile uint32_t *t, unsigned i, uint32_t lo, uint32_t hi, uint32_t data,
		       uint32_t ctrl)
{
	t[4 * i] = lo;
	t[4 * i + 1] = hi;
	t[4 * i + 2] = data;
	t[4 * i + 3] = ctrl;
}

/* Vector numbers, written while the queue's registers are still open: the absurd ones
 * must read back as NO_VECTOR (4.1.4.3.2, 4.1.5.1.2). */
static void msix_vectors(void)
{
	volatile struct vq_common *cc = vqd.cc;
	unsigned bad_q, bad_cfg, ok_q;

	cc->queue_msix_vector = 0x7ff;
	bad_q = cc->queue_msix_vector;
	cc->queue_msix_vector = 0;
	ok_q = cc->queue_msix_vector;
	cc->config_msix_vector = 0xfffe;
	bad_cfg = cc->config_msix_vector;
	cc->config_msix_vector = 1;
	snprintf(detail, sizeof(detail), "qvec-bad=0x%x qvec=0x%x cfgvec-bad=0x%x", bad_q, ok_q,
		 bad_cfg);
}

/* MSI-X on with junk in the table and vectors; the request's interrupt goes nowhere. */
static void c_msix(void)
{
	uint32_t table, pba;
	uint16_t ctrl, on;
	volatile uint32_t *t;

	if (!vqd.msix_cap) {
		snprintf(detail, sizeof(detail), "no-msix");
		return;
	}
	vq_config(0, vqd.msix_cap + 2, &ctrl, 2);
	vq_config(0, vqd.msix_cap + 4, &table, 4);
	vq_config(0, vqd.msix_cap + 8, &pba, 4);
	t = (volatile uint32_t *)(vqd.bar + (table & ~7u));
	on = ctrl | 0xc000; /* enabled, function masked while we write */
	vq_config(1, vqd.msix_cap + 2, &on, 2);
	msix_entry(t, 0, 0xdeadbeec, 0xffffffff, 0xffffffff, 0);
	msix_entry(t, 1, 0xfeefe000, 0, 0x30, 0);   /* APIC ID 0xfe: nobody */
	msix_entry(t, 100, 0xfee00000, 0, 0x31, 0); /* past the table */
	((volatile uint8_t *)t)[2 * 16 + 3] = 0xff; /* byte and word writes: ignored */
	((volatile uint16_t *)t)[2 * 8 + 6] = 0;
	*(volatile uint64_t *)(vqd.bar + (pba & ~7u)) = ~0ULL; /* the PBA is read-only */
	on = ctrl | 0x8000;
	vq_config(1, vqd.msix_cap + 2, &on, 2);
	for (int i = 0; i < 200; i++) { /* mask and unmask: a route change each time */
		t[3] = i & 1;
		t[0] = 0xdeadbeec + (i << 4);
	}
	vqd.before_enable = msix_vectors;
	vq_start(vqd.q.index);
	vqd.before_enable = NULL;
	submit_good();
	/* Leave the table masked and MSI-X as Linux left it, for its driver to take back. */
	if (vq_wait(WAIT_MS, &(uint32_t){0}) >= 0)
		vqd.q.used_seen--; /* the caller waits for the same element */
	for (int i = 0; i < 3; i++)
		t[4 * i + 3] = 1;
	vq_config(1, vqd.msix_cap + 2, &ctrl, 2);
}

struct ring_case {
	const char *name;
	void (*run)(void);
};

static const struct ring_case cases[] = {
    {"good", submit_good},
    {"loop2", c_loop2},
    {"loop1", c_loop1},
    {"ring-loop", c_ring_loop},
    {"next-range", c_next_range},
    {"head-range", c_head_range},
    {"past-ram", c_past_ram},
    {"above-ram", c_above_ram},
    {"wrap", c_wrap},
    {"len-4g", c_len_4g},
    {"in-bar", c_in_bar},
    {"lapic", c_lapic},
    {"ind-bar", c_ind_bar},
    {"ind-nested", c_ind_nested},
    {"ind-odd", c_ind_odd},
    {"ind-zero", c_ind_zero},
    {"ind-next", c_ind_next},
    {"ind-loop", c_ind_loop},
    {"ind-long", c_ind_long},
    {"ind-next-range", c_ind_next_range},
    {"write-read", c_write_read},
    {"avail-jump", c_avail_jump},
    {"avail-far", c_avail_far},
    {"kick-storm", c_kick_storm},
    {"reset-busy", c_reset_busy},
    {"flip", c_flip},
    {"used-on-desc", c_used_on_desc},
    {"size-after-ok", c_size_after_ok},
    {"size-3", c_size_3},
    {"size-0", c_size_0},
    {"ring-bar", c_ring_bar},
    {"ring-past-ram", c_ring_past_ram},
    {"ring-above-ram", c_ring_above_ram},
    {"used-odd", c_used_odd},
    {"msix", c_msix},
    {"good-end", submit_good},
};

int main(int argc, char **argv)
{
	const char *name = getenv("VQ_SAMPLE") ? getenv("VQ_SAMPLE") : "device";
	char path[512];
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: virtio_rings /sys/bus/pci/devices/DDDD:BB:DD.F QUEUE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(path, sizeof(path), "%s/device", argv[1]);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%x", &device_id) != 1)
		vq_die(path);
	fclose(f);
	vq_open(argv[1]);
	printf("RINGS %s ram-end=0x%llx bar=0x%llx\n", name, (unsigned long long)vqd.ram_end,
	       (unsigned long long)vqd.bar_pa);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t len = 0;
		uint8_t status, after;
		int r;

		detail[0] = 0;
		for (int p = 2; p < VQ_PAGES; p++)
			memset(vqd.page[p], 0, 4096);
		vq_start((unsigned)strtoul(argv[2], NULL, 0));
		cases[i].run();
		r = vq_wait(WAIT_MS, &len);
		status = vq_status();
		if (r > 0)
			good_detail();
		after = vq_reset();
		printf("RINGS %s CASE %s result=%s len=%u status=0x%02x reset=0x%02x %s\n", name,
		       cases[i].name, r > 0 ? "used" : (r == 0 ? "broken" : "none"), len, status,
		       after, detail);
		vq_checkpoint(cases[i].name);
	}
	printf("RINGS %s RINGS-DONE\n", name);
	return 0;
}
