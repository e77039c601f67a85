/*
 * virtio-blk device model against a temporary image file (blk_test_device.h): data round
 * trips, flush, discard and write-zeroes on the file's allocation, readonly drives, GET_ID.
 * test_virtio_blk_hostile.c has the malformed requests, the workers and the image lock.
 */
#include "blk_test_device.h"

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

int main(void)
{
	if (blk_test_setup("test_virtio_blk"))
		return 1;
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
	return blk_test_finish();
}
