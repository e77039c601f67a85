/*
 * virtio-blk against a hostile driver and a shared host (blk_test_device.h): every malformed
 * request, a broken ring, parallel requests and multiqueue on the real worker threads, a
 * reset stopping them, the image lock and the open errors.
 */
#include "blk_test_device.h"

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
	if (blk_test_setup("test_virtio_blk_hostile"))
		return 1;
	RUN(test_malformed_requests);
	RUN(test_broken_ring);
	RUN(test_parallel_requests);
	RUN(test_multiqueue);
	RUN(test_reset_stops_workers);
	RUN(test_lock_and_open_errors);
	return blk_test_finish();
}
