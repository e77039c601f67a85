/*
 * virtio-blk device model against a temporary image file, driven by the fake driver
 * (tests/unit/fake_virtio.h) through the device's real worker threads: data round trips,
 * flush, discard and write-zeroes on the file's allocation, readonly drives, GET_ID, every
 * malformed request a hostile driver can send, the image lock and the open errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/blk_device.h"
#include "devices/blk_request.h"
/* fake_virtio.h has a comment with "/" "*" inside one (the lead is told). */
#include "fake_virtio.h"
#include "unit.h"
#include "virtio/virtio.h"

#define QSIZE	  256
#define RAM_SIZE  (64u << 20)
#define IMG_SIZE  (4u << 20)
#define WAIT_MS	  5000
#define NO_STATUS 0x5a /* what the status byte holds until the device writes it */
#define SLACK	  64   /* st_blocks a file system may spend on metadata after punching */

static char tmpdir[64];

struct tdev {
	struct fake_driver d;
	struct virtio_blk *blk;
	struct virtio_device *vdev;
};

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* A fully allocated image of size bytes, byte i of sector s holding (s * 7 + i) & 0xff. */
static void make_image(const char *path, uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t buf[4096];

	if (fd < 0)
		abort();
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = (((off + i) / 512) * 7 + (off + i) % 512) & 0xff;
		if (pwrite(fd, buf, n, off) != (ssize_t)n)
			abort();
	}
	fsync(fd);
	close(fd);
}

static uint8_t pattern_byte(uint64_t off)
{
	return ((off / 512) * 7 + off % 512) & 0xff;
}

static long long blocks_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_blocks : -1;
}

static int tdev_open_ex(struct tdev *t, const char *path, bool ro, enum drive_cache cache,
			unsigned index, unsigned nqueues, uint64_t features)
{
	struct drive_config dc = {.path = path, .readonly = ro, .cache = cache};
	int err = virtio_blk_new(&dc, index, nqueues, &t->blk);

	if (err)
		return err;
	t->vdev = virtio_blk_vdev(t->blk);
	fake_driver_init(&t->d, RAM_SIZE);
	CHECK_EQ(fake_start(&t->d, t->vdev, nqueues, QSIZE, features), 0);
	return 0;
}

static int tdev_open(struct tdev *t, const char *path, bool ro, enum drive_cache cache)
{
	struct drive_config dc = {.path = path, .readonly = ro, .cache = cache};
	struct virtio_blk *probe;
	uint64_t features;
	int err = virtio_blk_new(&dc, 0, 1, &probe);

	/* Negotiate everything offered, as Linux does: learn the offer from a first open. */
	if (err)
		return err;
	features = virtio_blk_vdev(probe)->features | 1ULL << VIRTIO_RING_F_EVENT_IDX |
		   1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	virtio_blk_free(probe);
	return tdev_open_ex(t, path, ro, cache, 0, 1, features);
}

static void tdev_close(struct tdev *t)
{
	virtio_blk_free(t->blk);
	fake_driver_destroy(&t->d);
}

static uint64_t put(struct tdev *t, const void *data, uint32_t len)
{
	return fake_put(&t->d, data, len);
}

static uint64_t put_hdr(struct tdev *t, uint32_t type, uint64_t sector)
{
	struct virtio_blk_req_hdr h = {.type = type, .sector = sector};
	return put(t, &h, sizeof(h));
}

static uint64_t put_status(struct tdev *t)
{
	uint8_t s = NO_STATUS;
	return put(t, &s, 1);
}

static uint8_t status_at(struct tdev *t, uint64_t gpa)
{
	return *(uint8_t *)fake_ptr(&t->d, gpa);
}

/* Submit one chain on queue 0, kick, wait for it; the used length, or < 0 (fake_submit). */
static long submit(struct tdev *t, const struct fake_buf *b, unsigned n)
{
	return fake_submit(&t->d, t->vdev, 0, b, n, WAIT_MS);
}

/* The usual three-part request: header, data (if len), status. Returns the status byte
 * (NO_STATUS if never written, -1 on timeout); *used gets the used length. */
static int request(struct tdev *t, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		   bool data_writable, long *used)
{
	struct fake_buf b[3];
	unsigned n = 0;
	uint64_t st = put_status(t);
	long u;

	b[n++] = (struct fake_buf){put_hdr(t, type, sector), 16, 0};
	if (len)
		b[n++] = (struct fake_buf){data, len, data_writable};
	b[n++] = (struct fake_buf){st, 1, 1};
	u = submit(t, b, n);
	if (used)
		*used = u;
	return u < 0 ? -1 : status_at(t, st);
}

static int read_sectors(struct tdev *t, uint64_t sector, uint64_t gpa, uint32_t len)
{
	return request(t, VIRTIO_BLK_T_IN, sector, gpa, len, true, NULL);
}

static int write_sectors(struct tdev *t, uint64_t sector, uint64_t gpa, uint32_t len)
{
	return request(t, VIRTIO_BLK_T_OUT, sector, gpa, len, false, NULL);
}

static int ranges(struct tdev *t, uint32_t type, const struct virtio_blk_range *r, unsigned n)
{
	return request(t, type, 0, put(t, r, n * sizeof(*r)), n * sizeof(*r), false, NULL);
}

static bool file_range_is(const char *path, uint64_t off, uint64_t len, int value)
{
	int fd = open(path, O_RDONLY);
	uint8_t buf[4096];
	bool ok = fd >= 0;

	for (uint64_t done = 0; ok && done < len;) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		if (pread(fd, buf, n, off + done) != (ssize_t)n)
			ok = false;
		for (size_t i = 0; ok && i < n; i++)
			ok = buf[i] == (value < 0 ? pattern_byte(off + done + i) : value);
		done += n;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static void config_read(struct tdev *t, unsigned off, void *buf, unsigned len)
{
	t->vdev->ops->config_read(t->vdev, off, buf, len);
}

static void test_config_and_features(void)
{
	char path[128];
	struct tdev t;
	uint64_t cap = 0;
	uint32_t v = 0;
	uint8_t b = 0;

	tmp_path(path, sizeof(path), "config.img");
	make_image(path, IMG_SIZE + 1000); /* not a multiple of 512: rounded down */
	CHECK_EQ(tdev_open(&t, path, false, DRIVE_CACHE_WRITEBACK), 0);
	CHECK_EQ(t.vdev->device_id, VIRTIO_ID_BLOCK);
	CHECK_EQ(t.vdev->config_size, sizeof(struct virtio_blk_config));
	config_read(&t, offsetof(struct virtio_blk_config, capacity), &cap, 8);
	CHECK_EQ(cap, IMG_SIZE / 512 + 1);
	config_read(&t, offsetof(struct virtio_blk_config, seg_max), &v, 4);
	CHECK_EQ(v, BLK_SEG_MAX);
	CHECK(v + 2 <= BLK_QUEUE_SIZE); /* header + data + status fit in a chain */
	config_read(&t, offsetof(struct virtio_blk_config, blk_size), &v, 4);
	CHECK_EQ(v, 512);
	config_read(&t, offsetof(struct virtio_blk_config, max_discard_seg), &v, 4);
	CHECK_EQ(v, BLK_MAX_RANGES);
	config_read(&t, offsetof(struct virtio_blk_config, write_zeroes_may_unmap), &b, 1);
	CHECK_EQ(b, 1);
	for (unsigned f = 0; f < 64; f++) {
		bool want = f == VIRTIO_BLK_F_SEG_MAX || f == VIRTIO_BLK_F_BLK_SIZE ||
			    f == VIRTIO_BLK_F_FLUSH || f == VIRTIO_BLK_F_DISCARD ||
			    f == VIRTIO_BLK_F_WRITE_ZEROES;
		CHECK_EQ(!!(t.vdev->features & (1ULL << f)), want);
	}
	/* The partial last sector is out of reach; the one before is not. */
	CHECK_EQ(read_sectors(&t, IMG_SIZE / 512, fake_alloc(&t.d, 512), 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(read_sectors(&t, IMG_SIZE / 512 + 1, fake_alloc(&t.d, 512), 512),
		 VIRTIO_BLK_S_IOERR);
	tdev_close(&t);
}

static void check_round_trip(enum drive_cache cache, unsigned misalign)
{
	char path[128];
	struct tdev t;
	uint8_t *src, *dst;
	uint64_t g1, g2, g3, st;
	long used = 0;

	tmp_path(path, sizeof(path), "rw.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open(&t, path, false, cache), 0);

	/* Write 4 KiB at sector 3 from two buffers (1 KiB + 3 KiB), maybe misaligned. */
	g1 = fake_alloc(&t.d, 8192) + misalign;
	g2 = fake_alloc(&t.d, 8192) + misalign;
	src = fake_ptr(&t.d, g1);
	for (int i = 0; i < 1024; i++)
		src[i] = i * 13 + 1;
	src = fake_ptr(&t.d, g2);
	for (int i = 0; i < 3072; i++)
		src[i] = (i + 1024) * 13 + 1;
	st = put_status(&t);
	{
		struct fake_buf b[] = {{put_hdr(&t, VIRTIO_BLK_T_OUT, 3), 16, 0},
				       {g1, 1024, 0},
				       {g2, 3072, 0},
				       {st, 1, 1}};
		CHECK_EQ(submit(&t, b, 4), 1);
		CHECK_EQ(status_at(&t, st), VIRTIO_BLK_S_OK);
	}
	{
		int fd = open(path, O_RDONLY);
		uint8_t buf[4096];
		CHECK_EQ(pread(fd, buf, 4096, 3 * 512), 4096);
		for (int i = 0; i < 4096; i++)
			if (buf[i] != (uint8_t)(i * 13 + 1)) {
				CHECK_EQ(buf[i], (uint8_t)(i * 13 + 1));
				break;
			}
		close(fd);
	}
	CHECK(file_range_is(path, 0, 3 * 512, -1));
	CHECK(file_range_is(path, 3 * 512 + 4096, 64 * 1024, -1));

	/* Read it back through three writable buffers, status in a fourth. */
	g3 = fake_alloc(&t.d, 8192) + misalign;
	memset(fake_ptr(&t.d, g3), 0, 4096);
	st = put_status(&t);
	{
		struct fake_buf b[] = {{put_hdr(&t, VIRTIO_BLK_T_IN, 3), 16, 0},
				       {g3, 512, 1},
				       {g3 + 512, 2560, 1},
				       {g3 + 3072, 1024, 1},
				       {st, 1, 1}};
		used = submit(&t, b, 5);
		CHECK_EQ(used, 4096 + 1);
		CHECK_EQ(status_at(&t, st), VIRTIO_BLK_S_OK);
	}
	dst = fake_ptr(&t.d, g3);
	for (int i = 0; i < 4096; i++)
		if (dst[i] != (uint8_t)(i * 13 + 1)) {
			CHECK_EQ(dst[i], (uint8_t)(i * 13 + 1));
			break;
		}

	/* Data the host put in the file (sector 100 onwards) reaches the guest. */
	g3 = fake_alloc(&t.d, 65536);
	CHECK_EQ(read_sectors(&t, 100, g3, 65536), VIRTIO_BLK_S_OK);
	dst = fake_ptr(&t.d, g3);
	for (int i = 0; i < 65536; i++)
		if (dst[i] != pattern_byte(100 * 512 + i)) {
			CHECK_EQ(dst[i], pattern_byte(100 * 512 + i));
			break;
		}

	/* The last sector is readable and writable, the one after it is not. */
	CHECK_EQ(write_sectors(&t, IMG_SIZE / 512 - 1, g3, 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(write_sectors(&t, IMG_SIZE / 512 - 1, g3, 1024), VIRTIO_BLK_S_IOERR);

	CHECK_EQ(request(&t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 1);
	tdev_close(&t);
}

static void test_round_trip_writeback(void)
{
	check_round_trip(DRIVE_CACHE_WRITEBACK, 0);
}

static void test_round_trip_cache_none_aligned(void)
{
	check_round_trip(DRIVE_CACHE_NONE, 0);
}

static void test_round_trip_cache_none_misaligned(void)
{
	/* O_DIRECT refuses these buffers; the device must fall back, not fail. */
	check_round_trip(DRIVE_CACHE_NONE, 8);
}

static void test_round_trip_other_modes(void)
{
	check_round_trip(DRIVE_CACHE_UNSAFE, 0);
	check_round_trip(DRIVE_CACHE_DIRECTSYNC, 0);
	check_round_trip(DRIVE_CACHE_WRITETHROUGH, 0);
}

/* The driver may split a request over descriptors as it likes: a write with header and data
 * in one readable descriptor, a read with data and status in one writable one. */
static void test_merged_descriptors(void)
{
	char path[128];
	struct tdev t;
	uint8_t buf[16 + 512];
	uint64_t g, st;

	tmp_path(path, sizeof(path), "merged.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open(&t, path, false, DRIVE_CACHE_WRITEBACK), 0);
	struct virtio_blk_req_hdr h = {.type = VIRTIO_BLK_T_OUT, .sector = 9};
	memcpy(buf, &h, 16);
	memset(buf + 16, 0xab, 512);
	g = put(&t, buf, sizeof(buf));
	st = put_status(&t);
	{
		struct fake_buf b[] = {{g, sizeof(buf), 0}, {st, 1, 1}};
		CHECK_EQ(submit(&t, b, 2), 1);
	}
	CHECK_EQ(status_at(&t, st), VIRTIO_BLK_S_OK);
	CHECK(file_range_is(path, 9 * 512, 512, 0xab));

	/* Read: data and status share one writable buffer of 513 bytes. */
	g = fake_alloc(&t.d, 513);
	memset(fake_ptr(&t.d, g), 0, 513);
	*((uint8_t *)fake_ptr(&t.d, g) + 512) = NO_STATUS;
	{
		struct fake_buf b[] = {{put_hdr(&t, VIRTIO_BLK_T_IN, 9), 16, 0}, {g, 513, 1}};
		CHECK_EQ(submit(&t, b, 2), 513);
	}
	CHECK_EQ(*((uint8_t *)fake_ptr(&t.d, g) + 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(*(uint8_t *)fake_ptr(&t.d, g), 0xab);
	CHECK_EQ(*((uint8_t *)fake_ptr(&t.d, g) + 511), 0xab);
	tdev_close(&t);
}

static void test_discard_deallocates(void)
{
	char path[128];
	struct tdev t;
	long long before, after;

	tmp_path(path, sizeof(path), "discard.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open(&t, path, false, DRIVE_CACHE_WRITEBACK), 0);
	before = blocks_of(path);
	{
		/* 1 MiB at 0 and 512 KiB at 2 MiB. */
		struct virtio_blk_range r[] = {{0, 2048, 0}, {4096, 1024, 0}};
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_DISCARD, r, 2), VIRTIO_BLK_S_OK);
	}
	after = blocks_of(path);
	CHECK(after <= before - 3072 + SLACK);
	CHECK(file_range_is(path, 0, 1 << 20, 0));
	CHECK(file_range_is(path, 1 << 20, 1 << 20, -1));
	CHECK(file_range_is(path, 2 << 20, 512 << 10, 0));
	CHECK(file_range_is(path, (2 << 20) + (512 << 10), 512 << 10, -1));
	{
		struct stat st;
		CHECK(stat(path, &st) == 0 && st.st_size == IMG_SIZE); /* never resized */
	}
	tdev_close(&t);
}

static void test_write_zeroes(void)
{
	char path[128];
	struct tdev t;
	long long before, mid, after;

	tmp_path(path, sizeof(path), "zeroes.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open(&t, path, false, DRIVE_CACHE_WRITEBACK), 0);
	before = blocks_of(path);
	{
		/* Without UNMAP: zeroes, and the space stays allocated. */
		struct virtio_blk_range r = {16, 2048, 0};
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_WRITE_ZEROES, &r, 1), VIRTIO_BLK_S_OK);
	}
	CHECK(file_range_is(path, 16 * 512, 1 << 20, 0));
	CHECK(file_range_is(path, 0, 16 * 512, -1));
	CHECK(file_range_is(path, 16 * 512 + (1 << 20), 4096, -1));
	mid = blocks_of(path);
	CHECK(mid >= before);
	{
		/* With UNMAP (and may_unmap advertised): zeroes and deallocated. */
		struct virtio_blk_range r = {4096, 2048, VIRTIO_BLK_RANGE_F_UNMAP};
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_WRITE_ZEROES, &r, 1), VIRTIO_BLK_S_OK);
	}
	after = blocks_of(path);
	/* (The file system may take a block or two back for its extent tree.) */
	CHECK(after <= mid - 2048 + SLACK);
	CHECK(file_range_is(path, 2 << 20, 1 << 20, 0));
	CHECK(file_range_is(path, 3 << 20, 4096, -1));
	tdev_close(&t);
}

static void test_readonly_refuses_writes(void)
{
	char path[128];
	struct tdev t;
	uint64_t g;
	long used;

	tmp_path(path, sizeof(path), "ro.img");
	make_image(path, IMG_SIZE);
	chmod(path, 0444);
	CHECK_EQ(tdev_open(&t, path, true, DRIVE_CACHE_WRITEBACK), 0);
	CHECK(t.vdev->features & (1ULL << VIRTIO_BLK_F_RO));
	CHECK(!(t.vdev->features & (1ULL << VIRTIO_BLK_F_DISCARD)));
	CHECK(!(t.vdev->features & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES)));
	g = fake_alloc(&t.d, 4096);
	memset(fake_ptr(&t.d, g), 0xee, 4096);
	CHECK_EQ(request(&t, VIRTIO_BLK_T_OUT, 0, g, 4096, false, &used), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(used, 1);
	{
		struct virtio_blk_range r = {0, 8, 0};
		/* Not offered on a readonly disk, so not supported. */
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_DISCARD, &r, 1), VIRTIO_BLK_S_UNSUPP);
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_WRITE_ZEROES, &r, 1), VIRTIO_BLK_S_UNSUPP);
	}
	CHECK(file_range_is(path, 0, IMG_SIZE, -1));
	CHECK_EQ(read_sectors(&t, 1, g, 4096), VIRTIO_BLK_S_OK);
	CHECK_EQ(*(uint8_t *)fake_ptr(&t.d, g), pattern_byte(512));
	CHECK_EQ(request(&t, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false, NULL), VIRTIO_BLK_S_OK);
	tdev_close(&t);
	chmod(path, 0644);
}

static void test_get_id(void)
{
	char path[128];
	struct tdev t;
	uint64_t g;
	long used;
	char want[20] = "smolvm-vdc";

	tmp_path(path, sizeof(path), "id.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open_ex(&t, path, false, DRIVE_CACHE_WRITEBACK, 2, 1, 0), 0);
	g = fake_alloc(&t.d, 20);
	memset(fake_ptr(&t.d, g), 0x77, 20);
	CHECK_EQ(request(&t, VIRTIO_BLK_T_GET_ID, 0, g, 20, true, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 21);
	CHECK(memcmp(fake_ptr(&t.d, g), want, 20) == 0);
	/* A shorter buffer gets what fits. */
	g = fake_alloc(&t.d, 20);
	memset(fake_ptr(&t.d, g), 0x77, 20);
	CHECK_EQ(request(&t, VIRTIO_BLK_T_GET_ID, 0, g, 6, true, &used), VIRTIO_BLK_S_OK);
	CHECK_EQ(used, 7);
	CHECK(memcmp(fake_ptr(&t.d, g), "smolvm", 6) == 0);
	CHECK_EQ(*((uint8_t *)fake_ptr(&t.d, g) + 6), 0x77);
	/* Nothing negotiated but VERSION_1: no FLUSH means every write is flushed; still OK. */
	CHECK_EQ(write_sectors(&t, 0, g, 0), VIRTIO_BLK_S_OK);
	tdev_close(&t);
}

static void test_malformed_requests(void)
{
	char path[128];
	struct tdev t;
	uint64_t g, st, hdr;
	long used;

	tmp_path(path, sizeof(path), "bad.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open(&t, path, false, DRIVE_CACHE_WRITEBACK), 0);
	g = fake_alloc(&t.d, 8192);
	memset(fake_ptr(&t.d, g), 0xcd, 8192);

	/* Header too short: 8 readable bytes. */
	st = put_status(&t);
	{
		struct fake_buf b[] = {{put_hdr(&t, VIRTIO_BLK_T_IN, 0), 8, 0}, {st, 1, 1}};
		CHECK_EQ(submit(&t, b, 2), 1);
		CHECK_EQ(status_at(&t, st), VIRTIO_BLK_S_IOERR);
	}
	/* Header device-writable (so not readable), data and status writable too. */
	st = put_status(&t);
	{
		struct fake_buf b[] = {
		    {put_hdr(&t, VIRTIO_BLK_T_IN, 0), 16, 1}, {g, 512, 1}, {st, 1, 1}};
		CHECK_EQ(submit(&t, b, 3), 1);
		CHECK_EQ(status_at(&t, st), VIRTIO_BLK_S_IOERR);
	}
	/* A read into a device-readable buffer. */
	CHECK_EQ(request(&t, VIRTIO_BLK_T_IN, 0, g, 512, false, &used), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(used, 1);
	/* A write from a device-writable buffer. */
	CHECK_EQ(request(&t, VIRTIO_BLK_T_OUT, 0, g, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	/* Data lengths that are not whole sectors. */
	CHECK_EQ(request(&t, VIRTIO_BLK_T_IN, 0, g, 511, true, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(&t, VIRTIO_BLK_T_OUT, 0, g, 1000, false, NULL), VIRTIO_BLK_S_IOERR);
	/* Flush carrying data. */
	CHECK_EQ(request(&t, VIRTIO_BLK_T_FLUSH, 0, g, 512, false, NULL), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(request(&t, VIRTIO_BLK_T_FLUSH, 0, g, 512, true, NULL), VIRTIO_BLK_S_IOERR);
	/* Sectors beyond the capacity, and ones whose byte offset overflows. */
	CHECK_EQ(read_sectors(&t, IMG_SIZE / 512, g, 512), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(read_sectors(&t, IMG_SIZE / 512 - 1, g, 1024), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(write_sectors(&t, IMG_SIZE / 512 + 1, g, 512), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(read_sectors(&t, UINT64_MAX, g, 512), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(read_sectors(&t, UINT64_MAX / 512 + 1, g, 512), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(write_sectors(&t, (1ULL << 55) + 1, g, 512), VIRTIO_BLK_S_IOERR);
	/* Unknown and unoffered types. */
	CHECK_EQ(request(&t, 99, 0, g, 512, true, NULL), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(request(&t, 10 /* GET_LIFETIME */, 0, g, 16, true, NULL), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(request(&t, 14 /* SECURE_ERASE */, 0, g, 16, false, NULL), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(request(&t, 0x80000000u, 0, g, 512, true, NULL), VIRTIO_BLK_S_UNSUPP);
	/* GET_ID with readable data. */
	CHECK_EQ(request(&t, VIRTIO_BLK_T_GET_ID, 0, g, 20, false, NULL), VIRTIO_BLK_S_IOERR);
	/* Nothing above touched the image. */
	CHECK(file_range_is(path, 0, IMG_SIZE, -1));
	CHECK(!(t.vdev->status & VIRTIO_STATUS_NEEDS_RESET));

	/* Discard and write-zeroes range lists. */
	{
		static struct virtio_blk_range r[BLK_MAX_RANGES + 1];
		for (unsigned i = 0; i <= BLK_MAX_RANGES; i++)
			r[i] = (struct virtio_blk_range){i * 8, 8, 0};
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_DISCARD, r, BLK_MAX_RANGES + 1),
			 VIRTIO_BLK_S_IOERR);
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_WRITE_ZEROES, r, 17), VIRTIO_BLK_S_IOERR);
		CHECK(file_range_is(path, 0, IMG_SIZE, -1));
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_DISCARD, r, 0), VIRTIO_BLK_S_IOERR);
		/* A range list that is not whole ranges. */
		CHECK_EQ(request(&t, VIRTIO_BLK_T_DISCARD, 0, put(&t, r, 24), 24, false, NULL),
			 VIRTIO_BLK_S_IOERR);
		/* Discard knows no flags, not even UNMAP; write zeroes knows only UNMAP. */
		struct virtio_blk_range f = {0, 8, VIRTIO_BLK_RANGE_F_UNMAP};
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_DISCARD, &f, 1), VIRTIO_BLK_S_UNSUPP);
		f.flags = 2;
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_WRITE_ZEROES, &f, 1), VIRTIO_BLK_S_UNSUPP);
		/* Ranges past the end or overflowing, after a good one: nothing is done. */
		struct virtio_blk_range past[] = {{0, 8, 0}, {IMG_SIZE / 512 - 4, 8, 0}};
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_WRITE_ZEROES, past, 2), VIRTIO_BLK_S_IOERR);
		struct virtio_blk_range ovf[] = {{0, 8, 0}, {UINT64_MAX - 3, 8, 0}};
		CHECK_EQ(ranges(&t, VIRTIO_BLK_T_DISCARD, ovf, 2), VIRTIO_BLK_S_IOERR);
		/* Range data that is device-writable. */
		CHECK_EQ(request(&t, VIRTIO_BLK_T_DISCARD, 0, put(&t, r, 16), 16, true, NULL),
			 VIRTIO_BLK_S_IOERR);
		CHECK(file_range_is(path, 0, IMG_SIZE, -1));
	}
	CHECK(!(t.vdev->status & VIRTIO_STATUS_NEEDS_RESET));
	/* The device still works. */
	CHECK_EQ(read_sectors(&t, 2, g, 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(*(uint8_t *)fake_ptr(&t.d, g), pattern_byte(1024));

	/* No status byte at all: nothing to answer with, so the device needs a reset; the
	 * chain still comes back (used length 0). */
	hdr = put_hdr(&t, VIRTIO_BLK_T_IN, 0);
	{
		struct fake_buf b[] = {{hdr, 16, 0}, {g, 512, 0}};
		CHECK_EQ(submit(&t, b, 2), 0);
	}
	CHECK(t.vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	tdev_close(&t);
}

/* A descriptor index outside the ring breaks the queue: NEEDS_RESET, no crash, no spin. */
static void test_broken_ring(void)
{
	char path[128];
	struct tdev t;
	uint16_t *avail;

	tmp_path(path, sizeof(path), "ring.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open(&t, path, false, DRIVE_CACHE_WRITEBACK), 0);
	avail = fake_ptr(&t.d, t.d.q[0].avail);
	avail[2] = QSIZE + 5;
	__atomic_store_n(&avail[1], 1, __ATOMIC_RELEASE);
	t.d.q[0].avail_idx = 1;
	fake_kick(t.vdev, 0);
	for (int i = 0; i < WAIT_MS && !(t.vdev->status & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	CHECK(t.vdev->status & VIRTIO_STATUS_NEEDS_RESET);
	/* More kicks find the queue broken again and sleep; the reset below joins them. */
	fake_kick(t.vdev, 0);
	usleep(20000);
	tdev_close(&t);
}

/* Many requests at once: workers run them in parallel and each completes once, right. */
static void test_parallel_requests(void)
{
	enum { N = 64, LEN = 16384 };
	char path[128];
	struct tdev t;
	uint64_t data[N], st[N];
	uint16_t head[N];
	bool seen[N] = {false};

	tmp_path(path, sizeof(path), "par.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open(&t, path, false, DRIVE_CACHE_WRITEBACK), 0);
	for (int i = 0; i < N; i++) {
		struct fake_buf b[3];
		uint64_t sector = (uint64_t)i * (LEN / 512);
		bool write = i % 2;
		data[i] = fake_alloc(&t.d, LEN);
		memset(fake_ptr(&t.d, data[i]), write ? i : 0, LEN);
		st[i] = put_status(&t);
		b[0] = (struct fake_buf){
		    put_hdr(&t, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN, sector), 16, 0};
		b[1] = (struct fake_buf){data[i], LEN, !write};
		b[2] = (struct fake_buf){st[i], 1, 1};
		head[i] = fake_queue_add(&t.d, 0, b, 3);
	}
	fake_kick(t.vdev, 0);
	for (int n = 0; n < N; n++) {
		uint32_t id, len;
		int i;
		if (fake_wait_used(&t.d, 0, &id, &len, WAIT_MS) != 0) {
			CHECK(!"a request never completed");
			break;
		}
		for (i = 0; i < N && head[i] != id; i++)
			;
		CHECK(i < N);
		if (i == N)
			continue;
		CHECK(!seen[i]);
		seen[i] = true;
		CHECK_EQ(len, i % 2 ? 1 : LEN + 1);
		CHECK_EQ(status_at(&t, st[i]), VIRTIO_BLK_S_OK);
	}
	for (int i = 0; i < N; i++) {
		uint64_t off = (uint64_t)i * LEN;
		if (i % 2) {
			CHECK(file_range_is(path, off, LEN, i));
		} else {
			uint8_t *p = fake_ptr(&t.d, data[i]);
			CHECK(p[0] == pattern_byte(off) &&
			      p[LEN - 1] == pattern_byte(off + LEN - 1));
		}
	}
	tdev_close(&t);
}

/* With VIRTIO_BLK_F_MQ every queue is served, each on its own. */
static void test_multiqueue(void)
{
	char path[128];
	struct tdev t, one;
	uint16_t nq = 0;
	uint64_t g, st;

	tmp_path(path, sizeof(path), "mq.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open_ex(&t, path, false, DRIVE_CACHE_WRITEBACK, 0, 3,
			      1ULL << VIRTIO_BLK_F_MQ | 1ULL << VIRTIO_BLK_F_FLUSH),
		 0);
	CHECK(t.vdev->features & (1ULL << VIRTIO_BLK_F_MQ));
	CHECK_EQ(t.vdev->nqueues, 3);
	config_read(&t, offsetof(struct virtio_blk_config, num_queues), &nq, 2);
	CHECK_EQ(nq, 3);
	for (unsigned qi = 0; qi < 3; qi++) {
		g = fake_alloc(&t.d, 512);
		st = put_status(&t);
		struct fake_buf b[] = {
		    {put_hdr(&t, VIRTIO_BLK_T_IN, qi), 16, 0}, {g, 512, 1}, {st, 1, 1}};
		CHECK_EQ(fake_submit(&t.d, t.vdev, qi, b, 3, WAIT_MS), 513);
		CHECK_EQ(status_at(&t, st), VIRTIO_BLK_S_OK);
		CHECK_EQ(*(uint8_t *)fake_ptr(&t.d, g), pattern_byte(qi * 512));
	}
	tdev_close(&t);

	/* One queue: no MQ offered. */
	CHECK_EQ(tdev_open_ex(&one, path, false, DRIVE_CACHE_WRITEBACK, 0, 1, 0), 0);
	CHECK(!(one.vdev->features & (1ULL << VIRTIO_BLK_F_MQ)));
	tdev_close(&one);
}

/* After a reset no thread serves the queue. */
static void test_reset_stops_workers(void)
{
	char path[128];
	struct tdev t;
	uint64_t g, st;
	uint32_t id, len;

	tmp_path(path, sizeof(path), "reset.img");
	make_image(path, IMG_SIZE);
	CHECK_EQ(tdev_open(&t, path, false, DRIVE_CACHE_WRITEBACK), 0);
	g = fake_alloc(&t.d, 512);
	CHECK_EQ(read_sectors(&t, 0, g, 512), VIRTIO_BLK_S_OK);
	t.vdev->ops->reset(t.vdev);
	st = put_status(&t);
	{
		struct fake_buf b[] = {
		    {put_hdr(&t, VIRTIO_BLK_T_IN, 0), 16, 0}, {g, 512, 1}, {st, 1, 1}};
		fake_queue_add(&t.d, 0, b, 3);
	}
	fake_kick(t.vdev, 0);
	CHECK_EQ(fake_wait_used(&t.d, 0, &id, &len, 100), -1);
	CHECK_EQ(status_at(&t, st), NO_STATUS);
	tdev_close(&t);
}

static int open_err(const char *path, bool ro)
{
	struct drive_config dc = {.path = path, .readonly = ro};
	struct virtio_blk *blk;
	int err = virtio_blk_new(&dc, 0, 1, &blk);

	if (!err)
		virtio_blk_free(blk);
	return err;
}

static void test_lock_and_open_errors(void)
{
	char path[128], ro_path[128], missing[128];
	struct drive_config rw = {.path = path}, ro = {.path = ro_path, .readonly = true};
	struct virtio_blk *a, *b, *c;

	tmp_path(path, sizeof(path), "locked.img");
	tmp_path(ro_path, sizeof(ro_path), "shared.img");
	tmp_path(missing, sizeof(missing), "missing.img");
	make_image(path, IMG_SIZE);
	make_image(ro_path, IMG_SIZE);

	CHECK_EQ(virtio_blk_new(&rw, 0, 1, &a), 0);
	/* A second writer, or a reader, of a writable image is refused. */
	CHECK_EQ(open_err(path, false), -EBUSY);
	CHECK_EQ(open_err(path, true), -EBUSY);
	virtio_blk_free(a);
	/* Freed: the lock is gone with it. */
	CHECK_EQ(open_err(path, false), 0);

	/* Readers share an image; a writer cannot join them. */
	CHECK_EQ(virtio_blk_new(&ro, 0, 1, &b), 0);
	CHECK_EQ(virtio_blk_new(&ro, 1, 2, &c), 0);
	CHECK_EQ(open_err(ro_path, false), -EBUSY);
	virtio_blk_free(b);
	virtio_blk_free(c);

	CHECK_EQ(open_err(missing, false), -ENOENT);
	CHECK_EQ(open_err(missing, true), -ENOENT);
	CHECK_EQ(open_err(tmpdir, false), -EISDIR);
	CHECK_EQ(open_err(tmpdir, true), -EISDIR);
	CHECK_EQ(open_err("/dev/null", true), -EINVAL); /* a character device */
	{
		char fifo[128];
		tmp_path(fifo, sizeof(fifo), "fifo");
		CHECK_EQ(mkfifo(fifo, 0600), 0);
		CHECK_EQ(open_err(fifo, true), -EINVAL); /* refused, not waited on */
	}
	if (geteuid() != 0) {
		chmod(path, 0444);
		CHECK_EQ(open_err(path, false), -EACCES);
		CHECK_EQ(open_err(path, true), 0);
		chmod(path, 0644);
	}
}

int main(void)
{
	char cmd[128];

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_virtio_blk.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_config_and_features);
	RUN(test_round_trip_writeback);
	RUN(test_round_trip_cache_none_aligned);
	RUN(test_round_trip_cache_none_misaligned);
	RUN(test_round_trip_other_modes);
	RUN(test_merged_descriptors);
	RUN(test_discard_deallocates);
	RUN(test_write_zeroes);
	RUN(test_readonly_refuses_writes);
	RUN(test_get_id);
	RUN(test_malformed_requests);
	RUN(test_broken_ring);
	RUN(test_parallel_requests);
	RUN(test_multiqueue);
	RUN(test_reset_stops_workers);
	RUN(test_lock_and_open_errors);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return UNIT_RESULT();
}
