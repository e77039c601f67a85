/*
 * A virtio-blk device on a temporary image file, driven by the fake driver
 * (tests/unit/fake_virtio.h) through the device's real worker threads, for
 * test_virtio_blk.c and test_virtio_blk_hostile.c. Everything is static: one copy per
 * test program.
 */
#ifndef SMOLVM_BLK_TEST_DEVICE_H
#define SMOLVM_BLK_TEST_DEVICE_H

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

static inline void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* A fully allocated image of size bytes, byte i of sector s holding (s * 7 + i) & 0xff. */
static inline void make_image(const char *path, uint64_t size)
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

static inline uint8_t pattern_byte(uint64_t off)
{
	return ((off / 512) * 7 + off % 512) & 0xff;
}

static inline long long blocks_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_blocks : -1;
}

static inline int tdev_open_ex(struct tdev *t, const char *path, bool ro,
			       enum drive_cache cache, unsigned index, unsigned nqueues,
			       uint64_t features)
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

static inline int tdev_open(struct tdev *t, const char *path, bool ro, enum drive_cache cache)
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

static inline void tdev_close(struct tdev *t)
{
	virtio_blk_free(t->blk);
	fake_driver_destroy(&t->d);
}

static inline uint64_t put(struct tdev *t, const void *data, uint32_t len)
{
	return fake_put(&t->d, data, len);
}

static inline uint64_t put_hdr(struct tdev *t, uint32_t type, uint64_t sector)
{
	struct virtio_blk_req_hdr h = {.type = type, .sector = sector};
	return put(t, &h, sizeof(h));
}

static inline uint64_t put_status(struct tdev *t)
{
	uint8_t s = NO_STATUS;
	return put(t, &s, 1);
}

static inline uint8_t status_at(struct tdev *t, uint64_t gpa)
{
	return *(uint8_t *)fake_ptr(&t->d, gpa);
}

/* Submit one chain on queue 0, kick, wait for it; the used length, or < 0 (fake_submit). */
static inline long submit(struct tdev *t, const struct fake_buf *b, unsigned n)
{
	return fake_submit(&t->d, t->vdev, 0, b, n, WAIT_MS);
}

/* The usual three-part request: header, data (if len), status. Returns the status byte
 * (NO_STATUS if never written, -1 on timeout); *used gets the used length. */
static inline int request(struct tdev *t, uint32_t type, uint64_t sector, uint64_t data,
			  uint32_t len, bool data_writable, long *used)
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

static inline int read_sectors(struct tdev *t, uint64_t sector, uint64_t gpa, uint32_t len)
{
	return request(t, VIRTIO_BLK_T_IN, sector, gpa, len, true, NULL);
}

static inline int write_sectors(struct tdev *t, uint64_t sector, uint64_t gpa, uint32_t len)
{
	return request(t, VIRTIO_BLK_T_OUT, sector, gpa, len, false, NULL);
}

static inline int ranges(struct tdev *t, uint32_t type, const struct virtio_blk_range *r,
			 unsigned n)
{
	return request(t, type, 0, put(t, r, n * sizeof(*r)), n * sizeof(*r), false, NULL);
}

static inline bool file_range_is(const char *path, uint64_t off, uint64_t len, int value)
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

static inline void config_read(struct tdev *t, unsigned off, void *buf, unsigned len)
{
	t->vdev->ops->config_read(t->vdev, off, buf, len);
}

/* The temporary directory of the images: made before the tests, removed after. 0 or 1. */
static inline int blk_test_setup(const char *name)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/%s.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	return 0;
}

static inline int blk_test_finish(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	return UNIT_RESULT();
}

#endif
