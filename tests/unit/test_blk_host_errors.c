/*
 * virtio-blk requests whose host I/O fails: a write the host file system refuses (the file
 * size limit stands in for a full disk: pwritev fails the same way, part-way or at once) and
 * a read past the end of an image that shrank. Each gets VIRTIO_BLK_S_IOERR, and once the
 * host is well again the next request on the same image succeeds: the device is not stuck.
 * tests/integration/test_faults.py does the same with a full tmpfs under a real guest.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "devices/blk_request.h"
#include "unit.h"

#define IMG_SIZE (1u << 20)
#define CHUNK	 (64u << 10)
#define LIMIT	 (256u << 10) /* the file size limit while the "disk is full" */

static char tmpdir[64];
static char image_path[128];
static uint8_t data[CHUNK], back[CHUNK];

/* One request as a driver lays it out: header, data, status byte. Returns the status. */
static int blk_rw(struct blk_req_ctx *ctx, uint32_t type, uint64_t off, uint8_t *buf,
		  size_t len)
{
	static struct virtq_chain c;
	static struct blk_req_scratch s;
	struct virtio_blk_req_hdr hdr = {.type = type, .sector = off / 512};
	uint8_t status = 0xff;
	uint32_t used;

	c = (struct virtq_chain){.nout = type == VIRTIO_BLK_T_OUT ? 2 : 1};
	c.iov[0] = (struct iovec){&hdr, sizeof(hdr)};
	c.iov[1] = (struct iovec){buf, len};
	c.iov[2] = (struct iovec){&status, 1};
	if (type == VIRTIO_BLK_T_OUT) {
		c.nin = 1;
		c.out_len = sizeof(hdr) + len;
		c.in_len = 1;
	} else if (type == VIRTIO_BLK_T_IN) {
		c.nin = 2;
		c.out_len = sizeof(hdr);
		c.in_len = len + 1;
	} else { /* FLUSH */
		c.iov[1] = c.iov[2];
		c.nin = 1;
		c.out_len = sizeof(hdr);
		c.in_len = 1;
	}
	if (blk_request_execute(ctx, &c, &s, &used) != 0)
		return -1;
	return status;
}

static void open_image(struct blk_image *img)
{
	struct drive_config dc = {.path = image_path, .cache = DRIVE_CACHE_WRITEBACK};
	int fd = open(image_path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || ftruncate(fd, IMG_SIZE) != 0)
		abort();
	close(fd);
	if (blk_image_open(img, &dc) != 0)
		abort();
}

static void test_write_refused_by_the_host_then_accepted(void)
{
	struct blk_image img;
	struct blk_req_ctx ctx;
	struct rlimit old, full;
	int before, straddle, past, read_past, after, flush;

	open_image(&img);
	ctx = (struct blk_req_ctx){.img = &img};
	for (unsigned i = 0; i < CHUNK; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	/* SIGXFSZ would kill us; ignored, the write fails with EFBIG instead. Nothing may
	 * print while the limit holds (stdout may be a file past it). */
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	full = (struct rlimit){.rlim_cur = LIMIT, .rlim_max = old.rlim_max};
	setrlimit(RLIMIT_FSIZE, &full);
	before = blk_rw(&ctx, VIRTIO_BLK_T_OUT, 0, data, CHUNK);
	straddle = blk_rw(&ctx, VIRTIO_BLK_T_OUT, LIMIT - CHUNK / 2, data, CHUNK);
	past = blk_rw(&ctx, VIRTIO_BLK_T_OUT, 2 * LIMIT, data, CHUNK);
	read_past = blk_rw(&ctx, VIRTIO_BLK_T_IN, 2 * LIMIT, back, CHUNK);
	setrlimit(RLIMIT_FSIZE, &old);
	after = blk_rw(&ctx, VIRTIO_BLK_T_OUT, 2 * LIMIT, data, CHUNK);
	flush = blk_rw(&ctx, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);

	CHECK_EQ(before, VIRTIO_BLK_S_OK);
	CHECK_EQ(straddle, VIRTIO_BLK_S_IOERR); /* part written, then refused */
	CHECK_EQ(past, VIRTIO_BLK_S_IOERR);
	CHECK_EQ(read_past, VIRTIO_BLK_S_OK); /* reads never needed the space */
	CHECK_EQ(after, VIRTIO_BLK_S_OK);
	CHECK_EQ(flush, VIRTIO_BLK_S_OK);
	memset(back, 0, sizeof(back));
	CHECK_EQ(blk_rw(&ctx, VIRTIO_BLK_T_IN, 2 * LIMIT, back, CHUNK), VIRTIO_BLK_S_OK);
	CHECK(memcmp(back, data, CHUNK) == 0);
	blk_image_close(&img);
}

static void test_read_past_a_shrunken_image_then_regrown(void)
{
	struct blk_image img;
	struct blk_req_ctx ctx;

	open_image(&img);
	ctx = (struct blk_req_ctx){.img = &img};
	/* Someone else truncates the file under the running VM: the guest's size is stale. */
	CHECK_EQ(truncate(image_path, IMG_SIZE / 4), 0);
	CHECK_EQ(blk_rw(&ctx, VIRTIO_BLK_T_IN, IMG_SIZE / 2, back, CHUNK), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(blk_rw(&ctx, VIRTIO_BLK_T_IN, 0, back, CHUNK), VIRTIO_BLK_S_OK);
	CHECK_EQ(truncate(image_path, IMG_SIZE), 0);
	CHECK_EQ(blk_rw(&ctx, VIRTIO_BLK_T_IN, IMG_SIZE / 2, back, CHUNK), VIRTIO_BLK_S_OK);
	blk_image_close(&img);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/smolvm-blkerr-XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(image_path, sizeof(image_path), "%s/disk.img", tmpdir);
	RUN(test_write_refused_by_the_host_then_accepted);
	RUN(test_read_past_a_shrunken_image_then_regrown);
	unlink(image_path);
	rmdir(tmpdir);
	return UNIT_RESULT();
}
