/*
 * Fuzz virtio-input (ui/virtio_input.c) with a hostile driver: configuration-space writes
 * and reads at any offset and length, statusq and eventq rings whose descriptors and
 * buffers the input writes, reports queued from the host side, and resets, interleaved.
 * Whatever the driver does: a configuration read never shows a size above 128 nor
 * a non-zero byte of the union past that size; while the rings and buffers stay apart, no
 * used entry of the eventq claims more than one event and the statusq never writes into
 * guest memory; and no report is split or
 * grows the pending queue past its bound (a send after VIRTIO_INPUT_PENDING_MAX events
 * without delivery fails). ASan watches the guest RAM buffer, LeakSanitizer the rest.
 *
 * Input: operations until the input ends, each
 *   op (u8): 0 config write: off (u8), len (u8 % 9), bytes; 1 config read: off, len;
 *            2 send a report: n (u8 % 8 + 1), n * 8 bytes of events; 3 statusq: 64 bytes
 *            of descriptors and avail ring, then serve it; 4 eventq: the same; 5 reset;
 *            6 poke 16 bytes at a RAM offset (u16) then serve both queues.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ui/virtio_input.h"
#include "virtio/virtio.h"
#include "fuzz.h"

#define RAM_SIZE  0x10000u
#define QSIZE	  4
#define CFG_SIZE  136
#define DATA_BASE 0x8000u /* where buffers usually point: the rings stay below */

static uint8_t *ram;
static struct guest_mem mem = {.nregions = 1};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ram = malloc(RAM_SIZE);
	if (!ram)
		abort();
	mem.region[0] = (struct guest_mem_region){.gpa = 0, .size = RAM_SIZE, .host = ram};
	return 0;
}

static uint64_t ring_base(unsigned q)
{
	return 0x1000 + q * 0x1000;
}

/* Lay the queue out at its fixed place and enable it, as the transport would. */
static void queue_enable(struct virtio_device *vdev, unsigned q)
{
	struct virtq *vq = &vdev->queue[q].vq;

	virtq_reset(vq);
	vq->size = QSIZE;
	vq->desc_gpa = ring_base(q);
	vq->avail_gpa = ring_base(q) + 16 * QSIZE;
	vq->used_gpa = ring_base(q) + 0x800;
	virtq_enable(vq, &mem);
}

/* 64 input bytes become the queue's descriptor table (4 x 16) and its avail ring (the
 * table's first bytes reused as ring entries, the index from the last byte). Whether
 * every buffer lies in the data area (else the device may rightly write anywhere, the
 * rings included, as the guest asked). */
static bool write_ring(unsigned q, const uint8_t *b)
{
	bool tame = true;

	uint8_t *desc = ram + ring_base(q);
	uint16_t *avail = (uint16_t *)(ram + ring_base(q) + 16 * QSIZE);

	memcpy(desc, b, 16 * QSIZE);
	/* Mostly buffers in the data area, of sane lengths; sometimes raw. */
	for (unsigned i = 0; i < QSIZE; i++) {
		uint64_t addr;
		uint32_t len;
		memcpy(&addr, desc + 16 * i, 8);
		memcpy(&len, desc + 16 * i + 8, 4);
		if (!(b[16 * i + 15] & 0x80)) {
			addr = DATA_BASE + addr % (RAM_SIZE - DATA_BASE);
			len %= 64;
			memcpy(desc + 16 * i, &addr, 8);
			memcpy(desc + 16 * i + 8, &len, 4);
		} else {
			tame = false;
		}
	}
	avail[0] = 0;
	for (unsigned i = 0; i < QSIZE; i++)
		avail[2 + i] = b[i] % (QSIZE + 1);
	avail[1] = (uint16_t)(avail[1] + b[63] % 8);
	return tame;
}

static void check_config(struct virtio_device *vdev)
{
	uint8_t cfg[CFG_SIZE];

	vdev->ops->config_read(vdev, 0, cfg, sizeof(cfg));
	fuzz_assert(cfg[2] <= 128);
	for (unsigned i = 8 + cfg[2]; i < CFG_SIZE; i++)
		fuzz_assert(cfg[i] == 0);
}

static void check_used(unsigned q)
{
	const uint8_t *used = ram + ring_base(q) + 0x800;

	for (unsigned i = 0; i < QSIZE; i++) {
		uint32_t len;
		memcpy(&len, used + 4 + 8 * i + 4, 4);
		fuzz_assert(q == 0 ? len <= sizeof(struct virtio_input_event) : len == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_input *in = virtio_input_new(size && data[0] & 1 ? VIRTIO_INPUT_TABLET
								       : VIRTIO_INPUT_KEYBOARD);
	struct virtio_device *vdev;
	unsigned queued = 0; /* events sent since the eventq last had a chance */
	bool hostile = false;	/* a buffer outside the data area, or a stray write, seen */

	if (!in)
		abort();
	vdev = virtio_input_vdev(in);
	memset(ram, 0, RAM_SIZE);
	vdev->mem = &mem;
	queue_enable(vdev, 0);
	queue_enable(vdev, 1);
	while (size >= 3) {
		uint8_t op = data[0] % 7, a = data[1], b = data[2];
		uint8_t buf[8 * 8] = {0};
		size_t need;

		data += 3;
		size -= 3;
		switch (op) {
		case 0: /* config write: off a, len b % 9 */
		case 1: {
			unsigned off = a % (CFG_SIZE + 1), len = b % 9;
			if (off + len > CFG_SIZE)
				len = CFG_SIZE - off; /* the transport's check */
			if (op == 0) {
				need = len < size ? len : size;
				memcpy(buf, data, need);
				data += need;
				size -= need;
				vdev->ops->config_write(vdev, off, buf, len);
			} else {
				vdev->ops->config_read(vdev, off, buf, len);
			}
			check_config(vdev);
			break;
		}
		case 2: { /* a report of n events */
			unsigned n = a % 8 + 1;
			need = 8 * n < size ? 8 * n : size;
			memcpy(buf, data, need);
			data += need;
			size -= need;
			int r = virtio_input_send(in, (struct virtio_input_event *)buf, n);
			fuzz_assert(r == 0 || r == -ENOSPC);
			if (r == 0)
				queued += n;
			/* Nothing delivered since: the bound holds. */
			fuzz_assert(queued <= VIRTIO_INPUT_PENDING_MAX || r == -ENOSPC);
			break;
		}
		case 3: /* statusq, then eventq: rings from the input */
		case 4: {
			unsigned q = op == 3 ? 1 : 0;
			need = 64 < size ? 64 : size;
			memset(buf, 0, sizeof(buf));
			memcpy(buf, data, need);
			data += need;
			size -= need;
			if (!write_ring(q, buf))
				hostile = true;
			if (q == 1 && !hostile) {
				/* The statusq's buffers must come back untouched. */
				uint8_t before[RAM_SIZE - DATA_BASE];
				memcpy(before, ram + DATA_BASE, sizeof(before));
				virtio_input_serve_queue(in, 1);
				fuzz_assert(memcmp(before, ram + DATA_BASE, sizeof(before)) == 0);
			} else {
				virtio_input_serve_queue(in, q);
				if (q == 0)
					queued = 0;
			}
			if (!hostile)
				check_used(q);
			break;
		}
		case 5: /* the driver resets and sets the device up again */
			vdev->ops->reset(vdev);
			queue_enable(vdev, 0);
			queue_enable(vdev, 1);
			queued = 0;
			break;
		case 6: { /* a stray write anywhere in RAM, then both queues served */
			unsigned off = (a | b << 8) % (RAM_SIZE - 16);
			need = 16 < size ? 16 : size;
			memcpy(ram + off, data, need);
			hostile = true;
			data += need;
			size -= need;
			virtio_input_serve_queue(in, 1);
			virtio_input_serve_queue(in, 0);
			queued = 0;
			break;
		}
		}
	}
	virtio_input_free(in);
	return 0;
}
