/*
 * Fuzz the virtio-blk request executor with hostile request chains: the input lays out
 * chains of buffers (lengths, directions, contents) in a small guest RAM, a real split
 * virtqueue hands them out as a driver's would, and blk_request_execute runs each against
 * a small temporary image. Whatever the chain says, the executor must answer with a known
 * status (or refuse a chain without a status byte), stay inside guest RAM (ASan watches the
 * exact-size RAM; iovecs it passes to the kernel are checked by hand) and inside the image
 * (its size never changes; the readonly image is never modified).
 *
 * Input: one flags byte (FUZZ_F_*), then chains: a count byte (buffers, 1..8), per buffer
 * a little-endian u16 length and a direction byte (bit 0: device-writable), then the
 * contents of the chain's buffers in order. Ends when the input does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/blk_image.h"
#include "devices/blk_request.h"
#include "virtio/virtq.h"
#include "fuzz.h"

#define RAM_SIZE   0x40000u
#define QSIZE	   64
#define DESC_GPA   0x0000u
#define AVAIL_GPA  0x1000u
#define USED_GPA   0x2000u
#define DATA_GPA   0x3000u
#define IMG_SIZE   (256u << 10)
#define MAX_CHAINS 16
#define MAX_BUFS   8
#define MAX_BUF	   (16u << 10)

#define FUZZ_F_IMAGE	   3 /* 0, 3: writeback; 1: cache=none; 2: readonly */
#define FUZZ_F_RANGES	   4 /* DISCARD and WRITE_ZEROES negotiated */
#define FUZZ_F_NO_FLUSH	   8 /* FLUSH not negotiated: flush after each write */
#define FUZZ_F_NO_UNMAP	   16
#define FUZZ_F_SMALL_LIMIT 32 /* tight range limits */

static struct blk_image images[3];
static uint8_t *ram; /* one exact-size allocation for the process, zeroed for each input */
static uint8_t ro_digest[IMG_SIZE];
static struct virtq_chain chain;
static struct blk_req_scratch scratch;

static void make_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint8_t buf[4096];

	if (fd < 0)
		abort();
	for (unsigned off = 0; off < IMG_SIZE; off += sizeof(buf)) {
		memset(buf, off / sizeof(buf), sizeof(buf));
		if (pwrite(fd, buf, sizeof(buf), off) != sizeof(buf))
			abort();
	}
	close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/dev/shm/fuzz_virtio_blk.XXXXXX";
	static char paths[3][64];
	static const enum drive_cache cache[3] = {DRIVE_CACHE_WRITEBACK, DRIVE_CACHE_NONE,
						  DRIVE_CACHE_WRITEBACK};

	if (!mkdtemp(dir) && !mkdtemp(strcpy(dir, "/tmp/fuzz_virtio_blk.XXXXXX")))
		abort();
	for (int i = 0; i < 3; i++) {
		struct drive_config d = {.path = paths[i], .readonly = i == 2, .cache = cache[i]};
		snprintf(paths[i], sizeof(paths[i]), "%s/%d.img", dir, i);
		make_file(paths[i]);
		if (blk_image_open(&images[i], &d) != 0)
			abort();
		/* The open descriptors keep the files; nothing is left behind on exit. */
		unlink(paths[i]);
	}
	if (pread(images[2].fd_buffered, ro_digest, IMG_SIZE, 0) != IMG_SIZE)
		abort();
	rmdir(dir);
	ram = malloc(RAM_SIZE);
	if (!ram)
		abort();
	return 0;
}

static bool in_ram(const struct guest_mem *mem, const struct iovec *iov)
{
	const uint8_t *lo = mem->region[0].host, *p = iov->iov_base;
	return p >= lo && iov->iov_len <= RAM_SIZE &&
	       p - lo <= (ptrdiff_t)(RAM_SIZE - iov->iov_len);
}

static void check_image(const struct blk_image *img)
{
	struct stat st;
	fuzz_assert(fstat(img->fd_buffered, &st) == 0 && st.st_size == IMG_SIZE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem = {.nregions = 1};
	struct virtq q = {0};
	struct blk_req_ctx ctx;
	struct blk_image *img;
	uint64_t next = DATA_GPA;
	uint16_t avail_idx = 0, desc_next = 0;
	uint8_t flags;
	int r;

	if (size < 1)
		return 0;
	flags = *data++;
	size--;
	img = &images[(flags & FUZZ_F_IMAGE) == 3 ? 0 : flags & FUZZ_F_IMAGE];
	ctx = (struct blk_req_ctx){
	    .img = img,
	    .id = "fuzz-vda",
	    .discard = (flags & FUZZ_F_RANGES) && !img->readonly,
	    .write_zeroes = (flags & FUZZ_F_RANGES) && !img->readonly,
	    .may_unmap = !(flags & FUZZ_F_NO_UNMAP),
	    .flush_each_write = flags & FUZZ_F_NO_FLUSH,
	    .max_discard_sectors = flags & FUZZ_F_SMALL_LIMIT ? 8 : 1u << 22,
	    .max_discard_seg = flags & FUZZ_F_SMALL_LIMIT ? 2 : BLK_MAX_RANGES,
	    .max_write_zeroes_sectors = flags & FUZZ_F_SMALL_LIMIT ? 8 : 1u << 22,
	    .max_write_zeroes_seg = flags & FUZZ_F_SMALL_LIMIT ? 1 : 16,
	};

	memset(ram, 0, RAM_SIZE);
	mem.region[0] = (struct guest_mem_region){.gpa = 0, .size = RAM_SIZE, .host = ram};
	q.size = QSIZE;
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	fuzz_assert(virtq_enable(&q, &mem) == 0);

	/* Lay out the chains as a driver would. */
	struct virtq_desc *desc = (struct virtq_desc *)(mem.region[0].host + DESC_GPA);
	uint16_t *avail = (uint16_t *)(mem.region[0].host + AVAIL_GPA);
	for (int c = 0; c < MAX_CHAINS && size > 0; c++) {
		struct {
			uint32_t len;
			bool writable;
		} buf[MAX_BUFS];
		unsigned nbufs = 1 + *data++ % MAX_BUFS, head = desc_next, k = 0;
		size--;
		if (desc_next + nbufs > QSIZE)
			break;
		for (unsigned b = 0; b < nbufs; b++) {
			buf[b].len = 1;
			buf[b].writable = true;
			if (size >= 3) {
				buf[b].len = (data[0] | data[1] << 8) % (MAX_BUF + 1);
				buf[b].writable = data[2] & 1;
				data += 3;
				size -= 3;
			}
		}
		/* Readable buffers first, as the ring demands (virtq's own fuzzer covers the
		 * rest): what the blk device sees is any split of any lengths. */
		for (int pass = 0; pass < 2; pass++) {
			for (unsigned b = 0; b < nbufs; b++) {
				uint32_t len = buf[b].len;
				if (buf[b].writable != (pass == 1))
					continue;
				if (next + len > RAM_SIZE)
					len = 0;
				desc[desc_next] = (struct virtq_desc){
				    .addr = next,
				    .len = len,
				    .flags = (pass ? VIRTQ_DESC_F_WRITE : 0) |
					     (++k < nbufs ? VIRTQ_DESC_F_NEXT : 0),
				    .next = desc_next + 1,
				};
				/* Contents, readable or not: the device must trust neither. */
				size_t fill = len < size ? len : size;
				memcpy(mem.region[0].host + next, data, fill);
				data += fill;
				size -= fill;
				next += len;
				desc_next++;
			}
		}
		avail[2 + avail_idx % QSIZE] = head;
		avail_idx++;
	}
	avail[1] = avail_idx;

	while ((r = virtq_pop(&q, &chain)) == 1) {
		uint32_t used_len = 0xdeadbeef;
		uint8_t *status = NULL;
		memset(scratch.iov, 0, sizeof(scratch.iov));
		if (chain.in_len) {
			const struct iovec *last = &chain.iov[chain.nout + chain.nin - 1];
			status = (uint8_t *)last->iov_base + last->iov_len - 1;
			*status = 0xff;
		}
		r = blk_request_execute(&ctx, &chain, &scratch, &used_len);
		if (r == 0) {
			fuzz_assert(status && *status <= VIRTIO_BLK_S_UNSUPP);
			fuzz_assert(used_len >= 1 && used_len <= chain.in_len);
		} else {
			fuzz_assert(r == -EINVAL && chain.in_len == 0 && used_len == 0);
		}
		/* Whatever went to the kernel pointed into guest RAM. */
		for (unsigned i = 0; i < VIRTQ_MAX_SIZE && scratch.iov[i].iov_base; i++)
			fuzz_assert(in_ram(&mem, &scratch.iov[i]));
		virtq_push(&q, chain.head, used_len);
	}
	fuzz_assert(r == 0); /* the chains above are all well-formed for the ring */
	check_image(img);
	if (img->readonly) {
		static uint8_t now[IMG_SIZE];
		fuzz_assert(pread(img->fd_buffered, now, IMG_SIZE, 0) == IMG_SIZE);
		fuzz_assert(memcmp(now, ro_digest, IMG_SIZE) == 0);
	}
	return 0;
}
