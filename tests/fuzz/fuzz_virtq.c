/*
 * Fuzz the split virtqueue walker with a hostile driver. The input supplies the queue
 * registers, a list of device operations (interleaved with driver writes to RAM) and the
 * initial RAM contents. Whatever the ring says, the walker must stay inside guest RAM
 * (ASan watches the exact-size buffers), report only the documented errors, and keep
 * reporting the same error once broken.
 *
 * Input: struct fuzz_hdr, then hdr.nops * 4 bytes of operations, then RAM contents
 * (region 0 first, then region 1).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/virtq.h"
#include "fuzz.h"

#define RAM0_SIZE 0x8000u
#define RAM1_GPA  (1ull << 32)
#define RAM1_SIZE 0x4000u
#define MAX_OPS	  64

struct fuzz_hdr {
	uint8_t size_log2; /* 0..10 is 1 << n; otherwise raw_size is used as is */
	uint8_t flags;	   /* FUZZ_F_* */
	uint16_t raw_size;
	uint32_t desc, avail, used; /* bit 31 selects region 1 */
	uint8_t nops;
} __attribute__((packed));

#define FUZZ_F_EVENT_IDX 1
#define FUZZ_F_INDIRECT	 2
#define FUZZ_F_ADJACENT	 4    /* region 1 right after region 0 */
#define FUZZ_F_SKEW	 0x38 /* region 1 gpa offset, 0..7: host alignment differs */

enum { OP_POP, OP_PUSH, OP_NOTIFY_ON, OP_NOTIFY_OFF, OP_SHOULD, OP_UNPOP, OP_POKE, OP_RESET, OP_N };

static struct virtq_chain chain;

/* Region 1 addresses are relative to its page, so with a skew an aligned gpa can sit at a
 * misaligned host address. */
static uint64_t fuzz_gpa(const struct guest_mem *mem, uint32_t v)
{
	return v & 0x80000000u ? (mem->region[1].gpa & ~0xfffull) + (v & 0x7fffffffu) : v;
}

static bool in_region(const struct guest_mem *mem, const struct iovec *iov)
{
	for (unsigned i = 0; i < mem->nregions; i++) {
		const uint8_t *lo = mem->region[i].host, *p = iov->iov_base;
		if (p >= lo && iov->iov_len <= mem->region[i].size &&
		    p - lo <= (ptrdiff_t)(mem->region[i].size - iov->iov_len))
			return true;
	}
	return false;
}

/* Everything a successful pop promises. */
static void check_chain(const struct virtq *q, const struct guest_mem *mem, size_t off)
{
	static uint8_t scratch[4096];
	size_t out = 0, in = 0;

	fuzz_assert(chain.head < q->size);
	fuzz_assert(chain.nout + chain.nin <= q->size);
	for (unsigned i = 0; i < chain.nout + chain.nin; i++) {
		fuzz_assert(chain.iov[i].iov_len > 0);
		fuzz_assert(in_region(mem, &chain.iov[i]));
		if (i < chain.nout)
			out += chain.iov[i].iov_len;
		else
			in += chain.iov[i].iov_len;
	}
	fuzz_assert(out == chain.out_len && in == chain.in_len);
	fuzz_assert(out <= UINT32_MAX && in <= UINT32_MAX);
	/* Touch the buffers so ASan checks them. */
	fuzz_assert(virtq_chain_read(&chain, off, scratch, sizeof(scratch)) ==
		    (off >= out			   ? 0
		     : out - off < sizeof(scratch) ? out - off
						   : sizeof(scratch)));
	fuzz_assert(virtq_chain_write(&chain, off, scratch, sizeof(scratch)) ==
		    (off >= in			  ? 0
		     : in - off < sizeof(scratch) ? in - off
						  : sizeof(scratch)));
}

static void setup(struct virtq *q, const struct guest_mem *mem, const struct fuzz_hdr *h)
{
	virtq_reset(q);
	q->size = h->size_log2 <= 10 ? 1u << h->size_log2 : h->raw_size;
	q->desc_gpa = fuzz_gpa(mem, h->desc);
	q->avail_gpa = fuzz_gpa(mem, h->avail);
	q->used_gpa = fuzz_gpa(mem, h->used);
	q->event_idx = h->flags & FUZZ_F_EVENT_IDX;
	q->indirect = h->flags & FUZZ_F_INDIRECT;
	int err = virtq_enable(q, mem);
	fuzz_assert(err == 0 || err == -EINVAL || err == -EFAULT);
	fuzz_assert(q->enabled == (err == 0));
}

static void run_ops(struct virtq *q, const struct guest_mem *mem, const struct fuzz_hdr *h,
		    const uint8_t *ops, unsigned nops)
{
	uint16_t inflight[VIRTQ_MAX_SIZE];
	unsigned ninflight = 0;
	bool popped = false;

	for (unsigned i = 0; i < nops; i++) {
		const uint8_t *op = ops + 4 * i;
		bool just_popped = false;
		int r;

		switch (op[0] % OP_N) {
		case OP_POP:
			r = virtq_pop(q, &chain);
			fuzz_assert(r == 1 || r == 0 || r == -EINVAL || r == -ELOOP ||
				    r == -EFAULT);
			if (r < 0) {
				fuzz_assert(q->broken);
				fuzz_assert(virtq_pop(q, &chain) == r);
				fuzz_assert(!virtq_has_work(q));
			} else if (r == 1) {
				check_chain(q, mem, op[1] | op[2] << 8);
				if (ninflight < VIRTQ_MAX_SIZE)
					inflight[ninflight++] = chain.head;
				just_popped = true;
			}
			break;
		case OP_PUSH:
			if (ninflight)
				virtq_push(q, inflight[--ninflight], op[1] | op[2] << 8);
			break;
		case OP_NOTIFY_ON:
			virtq_set_notify(q, true);
			break;
		case OP_NOTIFY_OFF:
			fuzz_assert(!virtq_set_notify(q, false));
			break;
		case OP_SHOULD:
			virtq_should_notify(q);
			virtq_has_work(q);
			break;
		case OP_UNPOP:
			/* Only right after a pop, as the API requires. */
			if (popped && ninflight) {
				virtq_unpop(q);
				ninflight--;
			}
			break;
		case OP_POKE:
			/* The driver changes RAM behind the device's back. */
			mem->region[0].host[(op[1] | op[2] << 8) % RAM0_SIZE] = op[3];
			break;
		case OP_RESET:
			setup(q, mem, h);
			ninflight = 0;
			break;
		}
		popped = just_popped;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem = {.nregions = 2};
	struct virtq q = {0};
	struct fuzz_hdr h;
	size_t nops, ram_len;

	if (size < sizeof(h))
		return 0;
	memcpy(&h, data, sizeof(h));
	data += sizeof(h);
	size -= sizeof(h);
	nops = h.nops % (MAX_OPS + 1);
	if (nops * 4 > size)
		nops = size / 4;

	mem.region[0] = (struct guest_mem_region){.gpa = 0, .size = RAM0_SIZE};
	mem.region[1] =
	    (struct guest_mem_region){.gpa = (h.flags & FUZZ_F_ADJACENT ? RAM0_SIZE : RAM1_GPA) +
					     ((h.flags & FUZZ_F_SKEW) >> 3),
				      .size = RAM1_SIZE};
	mem.region[0].host = calloc(1, RAM0_SIZE);
	mem.region[1].host = calloc(1, RAM1_SIZE);
	if (!mem.region[0].host || !mem.region[1].host)
		abort();
	ram_len = size - nops * 4;
	if (ram_len > RAM0_SIZE + RAM1_SIZE)
		ram_len = RAM0_SIZE + RAM1_SIZE;
	memcpy(mem.region[0].host, data + nops * 4, ram_len < RAM0_SIZE ? ram_len : RAM0_SIZE);
	if (ram_len > RAM0_SIZE)
		memcpy(mem.region[1].host, data + nops * 4 + RAM0_SIZE, ram_len - RAM0_SIZE);

	setup(&q, &mem, &h);
	run_ops(&q, &mem, &h, data, nops);
	/* Drain what is left, as a device would after a kick. */
	for (int i = 0; i < 8 && virtq_pop(&q, &chain) == 1; i++) {
		check_chain(&q, &mem, 0);
		virtq_push(&q, chain.head, 0);
		virtq_should_notify(&q);
	}
	virtq_set_notify(&q, true);

	free(mem.region[0].host);
	free(mem.region[1].host);
	return 0;
}
