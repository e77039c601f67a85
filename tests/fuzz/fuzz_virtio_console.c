/*
 * Fuzz virtio-console (devices/virtio_console.c) as a hostile driver and a typing user drive
 * it at once: receive chains filled by the console sink (keyboard input, on this thread as on
 * the main loop), transmit chains written out by the device's thread, configuration reads and
 * emergency writes, raw status writes and raw guest RAM, interleaved. The device runs in the
 * machine of tests/unit/fake_machine.h, its output going to a memfd.
 *
 * While the input only uses the well-formed operations (chains the driver model lays out), the
 * device must behave exactly: the sink fills posted receive chains in order with the bytes
 * typed and returns their count (nothing while the driver is not running), and the output is
 * exactly the transmitted buffers plus emergency bytes. Once raw RAM or a raw status is
 * written, only safety holds: no crash, no access outside guest RAM, no thread or descriptor
 * left behind after a reset, the sink never claims more than it was given.
 *
 * Input: operations until the input ends, each an opcode byte and its operands.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "fuzz_machine.h"

#define CON	   FAKE_CONSOLE
#define RXQ	   0
#define TXQ	   1
#define RX_DATA	   0x200000u /* receive buffers, away from every ring */
#define TX_DATA	   0x280000u
#define DATA_SIZE  0x80000u
#define MAX_CHAINS 128
#define OUT_MAX	   (1u << 20)

static int out_fd;

/* The driver model: what it posted, what the device should have done with it. */
static struct model {
	bool running, hostile;
	uint16_t qsize;
	uint16_t next_desc[2], avail_idx[2];
	uint32_t data_next[2];
	/* Receive chains posted, not yet used: their buffers (at most 8 each). */
	struct rx_chain {
		unsigned nbufs;
		uint32_t gpa[8], len[8];
	} rx[MAX_CHAINS];
	unsigned rx_head, rx_count;
	uint16_t rx_used; /* used.idx of the receive queue as the model expects it */
	uint8_t *out;	  /* what the output should hold */
	size_t out_len;
	bool out_unordered; /* emergency bytes race the transmit thread: compare lengths */
} model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_machine_init();
	out_fd = memfd_create("fuzz-console-out", MFD_CLOEXEC);
	if (out_fd < 0 || dup2(out_fd, machine.console_out) < 0)
		abort();
	close(out_fd);
	out_fd = machine.console_out;
	/* Emergency bytes (this thread) and the transmit thread write at once: without
	 * O_APPEND both may write at the same file offset and one byte is lost. */
	if (fcntl(out_fd, F_SETFL, O_APPEND) != 0)
		abort();
	model.out = malloc(OUT_MAX);
	if (!model.out)
		abort();
	return 0;
}

static uint8_t *ram(uint64_t gpa)
{
	return machine.ram + gpa;
}

static uint16_t used_idx(unsigned q)
{
	return __atomic_load_n((uint16_t *)ram(fake_ring_base(CON, q) + 0x8000 + 2),
			       __ATOMIC_ACQUIRE);
}

/* The transmit thread has used every chain posted (within 2 s: a hang is a bug too). It
 * yields rather than sleeps: the thread is usually done within microseconds. */
static void tx_drain(void)
{
	struct timespec start, now;

	if (!model.running || model.hostile)
		return;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (unsigned i = 1; used_idx(TXQ) != model.avail_idx[TXQ]; i++) {
		sched_yield();
		if (i % 64 == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			fuzz_assert(now.tv_sec - start.tv_sec < 2);
		}
	}
}

static void model_reset(void)
{
	model.running = false;
	model.rx_head = model.rx_count = 0;
	memset(model.next_desc, 0, sizeof(model.next_desc));
	memset(model.avail_idx, 0, sizeof(model.avail_idx));
	model.data_next[RXQ] = RX_DATA;
	model.data_next[TXQ] = TX_DATA;
	model.rx_used = 0;
}

static void driver_reset(void)
{
	tx_drain();
	fake_set_status(&machine, CON, 0);
	model_reset();
}

static void driver_start(uint16_t size)
{
	tx_drain();
	fake_rings_clear(&machine, CON);
	model_reset();
	model.qsize = size;
	model.running = fake_driver_start(&machine, CON, size) & VIRTIO_STATUS_DRIVER_OK;
}

/* Lay out a chain of n buffers on queue q and make it available. False if there is no room. */
static bool post_chain(unsigned q, unsigned n, const uint32_t *len, uint32_t *gpa, bool writable,
		       const uint8_t *data)
{
	uint64_t base = fake_ring_base(CON, q), total = 0;
	uint16_t head = model.next_desc[q];

	for (unsigned i = 0; i < n; i++)
		total += len[i];
	if (!model.running || model.next_desc[q] + n > model.qsize ||
	    model.data_next[q] + total > (q == RXQ ? RX_DATA : TX_DATA) + DATA_SIZE)
		return false;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *d = ram(base + 16 * (head + i));
		uint64_t addr = model.data_next[q];
		uint16_t flags = (i + 1 < n ? 1 : 0) | (writable ? 2 : 0), next = head + i + 1;

		gpa[i] = addr;
		memcpy(d, &addr, 8);
		memcpy(d + 8, &len[i], 4);
		memcpy(d + 12, &flags, 2);
		memcpy(d + 14, &next, 2);
		if (data) {
			memcpy(ram(addr), data, len[i]);
			data += len[i];
		} else {
			memset(ram(addr), 0, len[i]);
		}
		model.data_next[q] += len[i];
	}
	model.next_desc[q] += n;
	memcpy(ram(base + 0x4000 + 4 + 2 * (model.avail_idx[q] % model.qsize)), &head, 2);
	model.avail_idx[q]++;
	__atomic_store_n((uint16_t *)ram(base + 0x4000 + 2), model.avail_idx[q], __ATOMIC_RELEASE);
	return true;
}

static void out_expect(const uint8_t *p, size_t n)
{
	if (model.out_len + n > OUT_MAX)
		model.hostile = true; /* the model stops keeping count; the device goes on */
	else
		memcpy(model.out + model.out_len, p, n);
	model.out_len += n;
}

/* Type n bytes: the sink must fill the posted chains in order, exactly. */
static void type_bytes(const uint8_t *p, size_t n)
{
	size_t done = virtio_console_sink(machine.console, p, n), want = 0;

	fuzz_assert(done <= n);
	if (model.hostile)
		return;
	while (want < n && model.rx_count) {
		struct rx_chain *c = &model.rx[model.rx_head];
		size_t filled = 0;
		uint64_t used = fake_ring_base(CON, RXQ) + 0x8000;
		uint32_t ulen;

		for (unsigned i = 0; i < c->nbufs && want < n; i++) {
			size_t k = c->len[i] < n - want ? c->len[i] : n - want;

			fuzz_assert(memcmp(ram(c->gpa[i]), p + want, k) == 0);
			want += k;
			filled += k;
		}
		memcpy(&ulen, ram(used + 4 + 8 * (model.rx_used % model.qsize) + 4), 4);
		fuzz_assert(ulen == filled);
		model.rx_used++;
		model.rx_head = (model.rx_head + 1) % MAX_CHAINS;
		model.rx_count--;
	}
	fuzz_assert(done == want);
	/* Before a start, the rings hold whatever earlier inputs left. */
	fuzz_assert(!model.running || used_idx(RXQ) == model.rx_used);
}

/* Driver starts an input may ask for: each starts the transmit thread (and joins the last),
 * most of an input's time; more starts reach no new state. */
#define FUZZ_STARTS 4
static unsigned starts;

enum op {
	OP_RAM,	     /* offset (3), length (1), bytes: raw guest RAM, near the rings or not */
	OP_START,    /* size: a driver start with 2^(size % 8) entries (FUZZ_STARTS an input) */
	OP_RX_CHAIN, /* n, n lengths: a receive chain of n (1..8) buffers */
	OP_TX_CHAIN, /* n, n lengths, their bytes: a transmit chain, then a kick */
	OP_TYPE,     /* length, bytes: keyboard input through the sink */
	OP_NOTIFY,   /* queue (any, also ones the device lacks) */
	OP_CONFIG,   /* offset, size: a read; bit 7 of offset: write one emergency byte */
	OP_STATUS,   /* value: a raw status write (0: a reset the model follows) */
	OP_WAIT,     /* let the transmit thread run */
	OP_COUNT,
};

static void run_op(struct fuzz_input *in)
{
	uint8_t op = fuzz_take(in, 1);
	uint32_t len[8], gpa[8];
	const uint8_t *p;
	unsigned n;
	size_t got;
	uint64_t off, v;

	switch (op % OP_COUNT) {
	case OP_RAM: {
		uint64_t base = (op & 0x80) ? fake_ring_base(CON, 0) : 0;

		off = (base + fuzz_take(in, 3)) % FAKE_RAM_SIZE;
		n = fuzz_take(in, 1);
		if (n > FAKE_RAM_SIZE - off)
			n = FAKE_RAM_SIZE - off;
		p = fuzz_take_bytes(in, n, &got);
		memcpy(machine.ram + off, p, got);
		model.hostile = true;
		break;
	}
	case OP_START:
		v = fuzz_take(in, 1);
		if (starts++ < FUZZ_STARTS)
			driver_start(1u << (v % 8));
		break;
	case OP_RX_CHAIN:
		n = fuzz_take(in, 1) % 8 + 1;
		for (unsigned i = 0; i < n; i++)
			len[i] = fuzz_take(in, 1) + 1;
		if (model.rx_count < MAX_CHAINS && post_chain(RXQ, n, len, gpa, true, NULL)) {
			struct rx_chain *c =
			    &model.rx[(model.rx_head + model.rx_count) % MAX_CHAINS];

			c->nbufs = n;
			memcpy(c->len, len, sizeof(len));
			memcpy(c->gpa, gpa, sizeof(gpa));
			model.rx_count++;
			fake_notify(&machine, CON, RXQ);
		}
		break;
	case OP_TX_CHAIN: {
		size_t total = 0;

		n = fuzz_take(in, 1) % 8 + 1;
		for (unsigned i = 0; i < n; i++) {
			len[i] = fuzz_take(in, 1) % 64 + 1;
			total += len[i];
		}
		if (total > in->left)
			break;
		if (post_chain(TXQ, n, len, gpa, false, in->p)) {
			out_expect(in->p, total);
			fake_notify(&machine, CON, TXQ);
		}
		in->p += total;
		in->left -= total;
		break;
	}
	case OP_TYPE:
		p = fuzz_take_bytes(in, fuzz_take(in, 1), &got);
		type_bytes(p, got);
		break;
	case OP_NOTIFY:
		fake_notify(&machine, CON, fuzz_take(in, 1) % 4);
		break;
	case OP_CONFIG:
		off = fuzz_take(in, 1);
		if (off & 0x80) {
			uint8_t c = fuzz_take(in, 1);

			fake_bar_write(&machine, CON, FAKE_BAR_DEVICE + 8, 4, c);
			out_expect(&c, 1);
			model.out_unordered = true;
		} else {
			static const unsigned sizes[3] = {1, 2, 4};
			unsigned size = sizes[(off >> 4) % 3];

			off %= 16;
			v = fake_bar_read(&machine, CON, FAKE_BAR_DEVICE + off, size);
			/* max_nr_ports: one port, whatever was written before. */
			if (off == 4 && size == 4)
				fuzz_assert(v == 1);
		}
		break;
	case OP_STATUS:
		v = fuzz_take(in, 1);
		if (v == 0) {
			driver_reset();
		} else {
			fake_set_status(&machine, CON, v);
			model.hostile = true;
		}
		break;
	case OP_WAIT:
		fuzz_machine_pause(fuzz_take(in, 1) % 8);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	unsigned ops = 0;
	struct stat st;

	fuzz_machine_begin();
	model.hostile = model.out_unordered = false;
	model.out_len = 0;
	starts = 0;
	model_reset();
	while (in.left && ops++ < 256)
		run_op(&in);
	driver_reset();
	fuzz_assert(fake_status(&machine, CON) == 0);
	fuzz_assert(virtio_console_sink(machine.console, (const uint8_t *)"x", 1) == 0);

	/* The output: exactly what was transmitted, unless raw writes made that unknowable. */
	fuzz_assert(fstat(out_fd, &st) == 0);
	if (!model.hostile) {
		fuzz_assert((size_t)st.st_size == model.out_len);
		if (!model.out_unordered) {
			uint8_t *got = malloc(model.out_len + 1);

			fuzz_assert(got &&
				    pread(out_fd, got, model.out_len, 0) == (ssize_t)model.out_len);
			fuzz_assert(memcmp(got, model.out, model.out_len) == 0);
			free(got);
		}
	}
	if (ftruncate(out_fd, 0) != 0)
		abort();
	lseek(out_fd, 0, SEEK_SET);

	fuzz_machine_check_quiet();
	return 0;
}
