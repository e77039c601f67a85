/*
 * virtio-gpu 2D through its real worker thread, driven by the fake driver
 * (tests/unit/fake_virtio.h) with the command stream Linux sends: a resource created,
 * backed by scattered guest pages, drawn, transferred, shown and flushed, then the host's
 * framebuffer and a screendump checked pixel by pixel; the cursor queue; fences; the
 * preferred size and its configuration event; every error a hostile driver can provoke,
 * and the caps on sizes, counts and host memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fake_machine.h"
#include "fake_virtio.h"
#include "ui/gpu_framebuffer.h"
#include "ui/gpu_resources.h"
#include "ui/virtio_gpu.h"
#include "ui/virtio_gpu_proto.h"
#include "unit.h"

#define QSIZE	 64
#define RAM_SIZE (32u << 20)
#define WAIT_MS	 5000
#define CONTROLQ 0
#define CURSORQ	 1

struct tdev {
	struct fake_driver d;
	struct virtio_gpu *gpu;
	struct virtio_device *vdev;
};

static void tdev_open(struct tdev *t, const struct gpu_limits *limits)
{
	t->gpu = virtio_gpu_new(limits);
	if (!t->gpu)
		abort();
	t->vdev = virtio_gpu_vdev(t->gpu);
	fake_driver_init(&t->d, RAM_SIZE);
	CHECK_EQ(fake_start(&t->d, t->vdev, 2, QSIZE, 0), 0);
}

static void tdev_close(struct tdev *t)
{
	virtio_gpu_free(t->gpu);
	fake_driver_destroy(&t->d);
}

/* A control command of req_len bytes (plus extra bytes in a second readable buffer);
 * the response goes to resp (resp_len bytes of room). Returns the used length. */
static long command_ex(struct tdev *t, const void *req, uint32_t req_len, const void *extra,
		       uint32_t extra_len, void *resp, uint32_t resp_len)
{
	uint64_t resp_gpa = fake_alloc(&t->d, resp_len ? resp_len : 1);
	struct fake_buf b[3];
	unsigned n = 0;
	long used;

	memset(fake_ptr(&t->d, resp_gpa), 0xee, resp_len);
	b[n++] = (struct fake_buf){fake_put(&t->d, req, req_len), req_len, 0};
	if (extra_len)
		b[n++] = (struct fake_buf){fake_put(&t->d, extra, extra_len), extra_len, 0};
	if (resp_len)
		b[n++] = (struct fake_buf){resp_gpa, resp_len, 1};
	used = fake_submit(&t->d, t->vdev, CONTROLQ, b, n, WAIT_MS);
	memcpy(resp, fake_ptr(&t->d, resp_gpa), resp_len);
	return used;
}

/* A fixed-size command; the response type (0 if none came back). */
static uint32_t command(struct tdev *t, const void *req, uint32_t req_len)
{
	struct virtio_gpu_ctrl_hdr resp;
	long used = command_ex(t, req, req_len, NULL, 0, &resp, sizeof(resp));

	return used == sizeof(resp) ? resp.type : 0;
}

static struct virtio_gpu_ctrl_hdr hdr(uint32_t type)
{
	return (struct virtio_gpu_ctrl_hdr){.type = type};
}

static uint32_t create(struct tdev *t, uint32_t id, uint32_t format, uint32_t w, uint32_t h)
{
	struct virtio_gpu_resource_create_2d c = {hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), id,
						   format, w, h};
	return command(t, &c, sizeof(c));
}

static uint32_t unref(struct tdev *t, uint32_t id)
{
	struct virtio_gpu_resource_ref r = {hdr(VIRTIO_GPU_CMD_RESOURCE_UNREF), id, 0};
	return command(t, &r, sizeof(r));
}

static uint32_t detach(struct tdev *t, uint32_t id)
{
	struct virtio_gpu_resource_ref r = {hdr(VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING), id, 0};
	return command(t, &r, sizeof(r));
}

static uint32_t attach(struct tdev *t, uint32_t id, const struct virtio_gpu_mem_entry *e,
		       uint32_t n)
{
	struct virtio_gpu_resource_attach_backing a = {
	    hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING), id, n};
	struct virtio_gpu_ctrl_hdr resp;
	long used = command_ex(t, &a, sizeof(a), e, n * sizeof(*e), &resp, sizeof(resp));

	return used == sizeof(resp) ? resp.type : 0;
}

static uint32_t transfer(struct tdev *t, uint32_t id, struct virtio_gpu_rect r, uint64_t offset)
{
	struct virtio_gpu_transfer_to_host_2d x = {hdr(VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D), r,
						   offset, id, 0};
	return command(t, &x, sizeof(x));
}

static uint32_t set_scanout(struct tdev *t, uint32_t scanout, uint32_t id,
			    struct virtio_gpu_rect r)
{
	struct virtio_gpu_set_scanout s = {hdr(VIRTIO_GPU_CMD_SET_SCANOUT), r, scanout, id};
	return command(t, &s, sizeof(s));
}

static uint32_t flush(struct tdev *t, uint32_t id, struct virtio_gpu_rect r)
{
	struct virtio_gpu_resource_flush f = {hdr(VIRTIO_GPU_CMD_RESOURCE_FLUSH), r, id, 0};
	return command(t, &f, sizeof(f));
}

static void cursor_cmd(struct tdev *t, uint32_t type, uint32_t id, uint32_t x, uint32_t y,
		       uint32_t hot_x, uint32_t hot_y)
{
	struct virtio_gpu_update_cursor c = {hdr(type), {0, x, y, 0}, id, hot_x, hot_y, 0};
	struct fake_buf b = {fake_put(&t->d, &c, sizeof(c)), sizeof(c), 0};

	CHECK_EQ(fake_submit(&t->d, t->vdev, CURSORQ, &b, 1, WAIT_MS), 0);
}

#define OK VIRTIO_GPU_RESP_OK_NODATA
#define RECT(x, y, w, h) ((struct virtio_gpu_rect){(x), (y), (w), (h)})

/* The guest's picture: pixel (x, y) of a drawing, as B8G8R8X8 in memory. */
static uint32_t guest_pixel(uint32_t x, uint32_t y, uint32_t salt)
{
	return ((x * 7 + salt) & 0xff) << 16 | ((y * 13) & 0xff) << 8 | ((x + y + salt) & 0xff);
}

/* A W x H B8G8R8X8 framebuffer in guest RAM, in three backing entries of odd sizes at
 * scattered addresses (as shmem pages are); returns the number of entries in e[]. */
#define W 64
#define H 48
static unsigned make_backing(struct tdev *t, uint64_t *gpa_of_offset0,
			     struct virtio_gpu_mem_entry e[3], uint32_t salt)
{
	static const uint32_t cut[3] = {5000, 4096 + 12, W * H * 4 - 5000 - (4096 + 12)};
	uint8_t *img = malloc(W * H * 4);
	uint32_t off = 0;

	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++)
			memcpy(img + (y * W + x) * 4, &(uint32_t){guest_pixel(x, y, salt)}, 4);
	for (unsigned i = 0; i < 3; i++) {
		fake_alloc(&t->d, 4096 * (i + 1)); /* a gap: the entries are not contiguous */
		e[i] = (struct virtio_gpu_mem_entry){fake_put(&t->d, img + off, cut[i]), cut[i], 0};
		off += cut[i];
	}
	*gpa_of_offset0 = e[0].addr;
	free(img);
	return 3;
}

/* Rewrite the guest's drawing (salt) inside the three backing entries. */
static void redraw(struct tdev *t, const struct virtio_gpu_mem_entry e[3], uint32_t salt)
{
	uint32_t off = 0;

	for (unsigned i = 0; i < 3; i++)
		for (uint32_t k = 0; k < e[i].length; k += 4, off += 4) {
			uint32_t px = off / 4;
			uint32_t v = guest_pixel(px % W, px / W, salt);
			memcpy(fake_ptr(&t->d, e[i].addr + k), &v, 4);
		}
}

static void test_draw_and_show(void)
{
	struct virtio_gpu_mem_entry e[3];
	struct virtio_gpu_frame f;
	uint64_t gpa0, gen;
	struct tdev t;
	bool same = true;

	tdev_open(&t, NULL);
	make_backing(&t, &gpa0, e, 0);
	CHECK_EQ(create(&t, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, W, H), OK);
	CHECK_EQ(attach(&t, 1, e, 3), OK);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, W, H), 0), OK);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK_EQ(f.width, 0); /* nothing shown before SET_SCANOUT */
	virtio_gpu_frame_unlock(t.gpu);

	CHECK_EQ(set_scanout(&t, 0, 1, RECT(0, 0, W, H)), OK);
	CHECK_EQ(flush(&t, 1, RECT(0, 0, W, H)), OK);
	virtio_gpu_frame_lock(&*t.gpu, &f);
	CHECK_EQ(f.width, W);
	CHECK_EQ(f.height, H);
	for (uint32_t y = 0; y < H && f.pixels; y++)
		for (uint32_t x = 0; x < W; x++)
			same &= f.pixels[y * W + x] == guest_pixel(x, y, 0);
	gen = f.generation;
	virtio_gpu_frame_unlock(t.gpu);
	CHECK(same);

	/* The guest redraws everything but transfers and flushes only a rectangle, with the
	 * offset Linux computes (the rectangle's first byte in the backing). */
	redraw(&t, e, 1);
	CHECK_EQ(transfer(&t, 1, RECT(10, 5, 20, 30), (5 * W + 10) * 4), OK);
	CHECK_EQ(flush(&t, 1, RECT(10, 5, 20, 30)), OK);
	CHECK(virtio_gpu_frame_generation(t.gpu) > gen);
	virtio_gpu_frame_lock(t.gpu, &f);
	same = true;
	for (uint32_t y = 0; y < H; y++)
		for (uint32_t x = 0; x < W; x++) {
			bool inside = x >= 10 && x < 30 && y >= 5 && y < 35;
			same &= f.pixels[y * W + x] == guest_pixel(x, y, inside ? 1 : 0);
		}
	virtio_gpu_frame_unlock(t.gpu);
	CHECK(same);

	/* A transfer without a flush changes the resource, not the picture. */
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, W, H), 0), OK);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK_EQ(f.pixels[0], guest_pixel(0, 0, 0));
	virtio_gpu_frame_unlock(t.gpu);

	/* A scanout showing part of the resource: the picture is that part. */
	CHECK_EQ(set_scanout(&t, 0, 1, RECT(8, 4, 32, 16)), OK);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK_EQ(f.width, 32);
	CHECK_EQ(f.height, 16);
	CHECK_EQ(f.pixels[0], guest_pixel(8, 4, 1));
	CHECK_EQ(f.pixels[15 * 32 + 31], guest_pixel(39, 19, 1));
	virtio_gpu_frame_unlock(t.gpu);

	CHECK_EQ(detach(&t, 1), OK);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, W, H), 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(unref(&t, 1), OK);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK_EQ(f.width, 0); /* the shown resource went away: so did the picture */
	virtio_gpu_frame_unlock(t.gpu);
	tdev_close(&t);
}

static void test_screendump(void)
{
	struct virtio_gpu_mem_entry e[3];
	char path[64], head[32];
	uint64_t gpa0;
	struct tdev t;
	uint8_t px[3];
	FILE *fp;

	snprintf(path, sizeof(path), "/tmp/smolvm-gpu-%d.ppm", (int)getpid());
	tdev_open(&t, NULL);
	CHECK_EQ(virtio_gpu_screendump(t.gpu, path, SCREENDUMP_PPM), -ENODATA);
	make_backing(&t, &gpa0, e, 3);
	CHECK_EQ(create(&t, 7, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, W, H), OK);
	CHECK_EQ(attach(&t, 7, e, 3), OK);
	CHECK_EQ(transfer(&t, 7, RECT(0, 0, W, H), 0), OK);
	CHECK_EQ(set_scanout(&t, 0, 7, RECT(0, 0, W, H)), OK);
	CHECK_EQ(virtio_gpu_screendump(t.gpu, path, SCREENDUMP_PPM), 0);
	fp = fopen(path, "rb");
	CHECK(fp != NULL);
	if (fp) {
		size_t n = fread(head, 1, 13, fp);
		CHECK_EQ(n, 13);
		head[13] = 0;
		CHECK_STR(head, "P6\n64 48\n255\n");
		/* Pixel (5, 2), as red, green, blue bytes. */
		fseek(fp, 13 + (2 * W + 5) * 3, SEEK_SET);
		CHECK_EQ(fread(px, 1, 3, fp), 3);
		uint32_t want = guest_pixel(5, 2, 3);
		CHECK_EQ(px[0], (want >> 16) & 0xff);
		CHECK_EQ(px[1], (want >> 8) & 0xff);
		CHECK_EQ(px[2], want & 0xff);
		fseek(fp, 0, SEEK_END);
		CHECK_EQ(ftell(fp), 13 + W * H * 3);
		fclose(fp);
	}
	unlink(path);
	CHECK_EQ(virtio_gpu_screendump(t.gpu, "/nonexistent-dir/x.ppm", SCREENDUMP_PPM), -ENOENT);
	tdev_close(&t);
}

static void test_display_info_and_resize(void)
{
	struct virtio_gpu_ctrl_hdr h = hdr(VIRTIO_GPU_CMD_GET_DISPLAY_INFO);
	struct virtio_gpu_resp_display_info info;
	struct virtio_gpu_config cfg;
	uint32_t clear = VIRTIO_GPU_EVENT_DISPLAY;
	struct tdev t;

	tdev_open(&t, NULL);
	t.vdev->ops->config_read(t.vdev, 0, &cfg, sizeof(cfg));
	CHECK_EQ(cfg.num_scanouts, 1);
	CHECK_EQ(cfg.num_capsets, 0);
	CHECK_EQ(cfg.events_read, 0);
	CHECK_EQ(command_ex(&t, &h, sizeof(h), NULL, 0, &info, sizeof(info)), sizeof(info));
	CHECK_EQ(info.hdr.type, VIRTIO_GPU_RESP_OK_DISPLAY_INFO);
	CHECK_EQ(info.pmodes[0].enabled, 1);
	CHECK_EQ(info.pmodes[0].r.width, 800);
	CHECK_EQ(info.pmodes[0].r.height, 600);
	CHECK_EQ(info.pmodes[1].enabled, 0);

	CHECK_EQ(virtio_gpu_set_preferred_size(t.gpu, 1280, 720), 0);
	t.vdev->ops->config_read(t.vdev, 0, &cfg, sizeof(cfg));
	CHECK_EQ(cfg.events_read, VIRTIO_GPU_EVENT_DISPLAY);
	CHECK_EQ(command_ex(&t, &h, sizeof(h), NULL, 0, &info, sizeof(info)), sizeof(info));
	CHECK_EQ(info.pmodes[0].r.width, 1280);
	CHECK_EQ(info.pmodes[0].r.height, 720);
	/* Writing events_clear clears the event; other config writes are ignored. */
	t.vdev->ops->config_write(t.vdev, 8, &clear, 4); /* num_scanouts: read-only */
	t.vdev->ops->config_write(t.vdev, 4, &clear, 4);
	t.vdev->ops->config_read(t.vdev, 0, &cfg, sizeof(cfg));
	CHECK_EQ(cfg.events_read, 0);
	CHECK_EQ(cfg.num_scanouts, 1);

	CHECK_EQ(virtio_gpu_set_preferred_size(t.gpu, 0, 600), -EINVAL);
	CHECK_EQ(virtio_gpu_set_preferred_size(t.gpu, 800, GPU_MAX_DIMENSION + 1), -EINVAL);
	/* A response buffer too small for the display info gets nothing. */
	CHECK_EQ(command_ex(&t, &h, sizeof(h), NULL, 0, &info, sizeof(info) - 1), 0);
	tdev_close(&t);
}

static void test_fences(void)
{
	struct virtio_gpu_resource_create_2d c = {hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), 3,
						   VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 16, 16};
	struct virtio_gpu_ctrl_hdr resp;
	struct tdev t;

	tdev_open(&t, NULL);
	for (uint64_t i = 0; i < 5; i++) {
		c.hdr.flags = VIRTIO_GPU_FLAG_FENCE;
		c.hdr.fence_id = 0x123456789aULL + i;
		c.hdr.ctx_id = 7;
		c.resource_id = 3 + (i == 4 ? 0 : i); /* the last one fails: still fenced */
		CHECK_EQ(command_ex(&t, &c, sizeof(c), NULL, 0, &resp, sizeof(resp)), sizeof(resp));
		CHECK_EQ(resp.type, i == 4 ? VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID : OK);
		CHECK_EQ(resp.flags, VIRTIO_GPU_FLAG_FENCE);
		CHECK_EQ(resp.fence_id, 0x123456789aULL + i);
		CHECK_EQ(resp.ctx_id, 7);
	}
	/* Without the flag there is no fence in the response. */
	c.hdr.flags = 0;
	c.resource_id = 20;
	CHECK_EQ(command_ex(&t, &c, sizeof(c), NULL, 0, &resp, sizeof(resp)), sizeof(resp));
	CHECK_EQ(resp.type, OK);
	CHECK_EQ(resp.flags, 0);
	CHECK_EQ(resp.fence_id, 0);
	tdev_close(&t);
}

static void test_cursor(void)
{
	struct virtio_gpu_mem_entry e;
	struct virtio_gpu_frame f;
	uint32_t img[64 * 64];
	struct tdev t;

	for (unsigned i = 0; i < 64 * 64; i++)
		img[i] = 0x80000000u | i; /* B8G8R8A8: alpha 0x80 */
	tdev_open(&t, NULL);
	e = (struct virtio_gpu_mem_entry){fake_put(&t.d, img, sizeof(img)), sizeof(img), 0};
	CHECK_EQ(create(&t, 9, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 64, 64), OK);
	CHECK_EQ(attach(&t, 9, &e, 1), OK);
	CHECK_EQ(transfer(&t, 9, RECT(0, 0, 64, 64), 0), OK);
	cursor_cmd(&t, VIRTIO_GPU_CMD_UPDATE_CURSOR, 9, 100, 50, 3, 4);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK(f.cursor_visible);
	CHECK_EQ(f.cursor_x, 100);
	CHECK_EQ(f.cursor_y, 50);
	CHECK_EQ(f.cursor_hot_x, 3);
	CHECK_EQ(f.cursor_hot_y, 4);
	CHECK_EQ(f.cursor[0], 0x80000000u);
	CHECK_EQ(f.cursor[64 * 64 - 1], 0x80000000u | (64 * 64 - 1));
	virtio_gpu_frame_unlock(t.gpu);

	cursor_cmd(&t, VIRTIO_GPU_CMD_MOVE_CURSOR, 0, 7, 8, 0, 0);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK(f.cursor_visible);
	CHECK_EQ(f.cursor_x, 7);
	CHECK_EQ(f.cursor_y, 8);
	CHECK_EQ(f.cursor_hot_x, 3);
	virtio_gpu_frame_unlock(t.gpu);

	/* Unknown resources, resources larger than a cursor and garbage are ignored. */
	CHECK_EQ(create(&t, 10, VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, 65, 64), OK);
	cursor_cmd(&t, VIRTIO_GPU_CMD_UPDATE_CURSOR, 10, 1, 1, 0, 0);
	cursor_cmd(&t, VIRTIO_GPU_CMD_UPDATE_CURSOR, 77, 1, 1, 0, 0);
	cursor_cmd(&t, VIRTIO_GPU_CMD_RESOURCE_CREATE_2D, 77, 1, 1, 0, 0);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK(f.cursor_visible);
	CHECK_EQ(f.cursor_x, 7);
	virtio_gpu_frame_unlock(t.gpu);

	cursor_cmd(&t, VIRTIO_GPU_CMD_UPDATE_CURSOR, 0, 0, 0, 0, 0);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK(!f.cursor_visible);
	virtio_gpu_frame_unlock(t.gpu);
	tdev_close(&t);
}

static void test_pixel_formats(void)
{
	/* Memory bytes 0x11 0x22 0x33 0x44, read as a little-endian word. */
	const uint32_t raw = 0x44332211;

	CHECK_EQ(gpu_pixel_rgb(VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, raw), 0x332211);
	CHECK_EQ(gpu_pixel_rgb(VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, raw), 0x332211);
	CHECK_EQ(gpu_pixel_alpha(VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM, raw), 0x44);
	CHECK_EQ(gpu_pixel_alpha(VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, raw), 0xff);
	CHECK_EQ(gpu_pixel_rgb(VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM, raw), 0x223344);
	CHECK_EQ(gpu_pixel_rgb(VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, raw), 0x223344);
	CHECK_EQ(gpu_pixel_alpha(VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM, raw), 0x11);
	CHECK_EQ(gpu_pixel_rgb(VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM, raw), 0x112233);
	CHECK_EQ(gpu_pixel_rgb(VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM, raw), 0x112233);
	CHECK_EQ(gpu_pixel_rgb(VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM, raw), 0x443322);
	CHECK_EQ(gpu_pixel_rgb(VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, raw), 0x443322);
	CHECK_EQ(gpu_pixel_alpha(VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM, raw), 0x11);
	CHECK(!gpu_format_supported(0));
	CHECK(!gpu_format_supported(5));
}

static void test_errors(void)
{
	const uint32_t INVALID_ID = VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	const uint32_t INVALID = VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	const uint32_t UNSPEC = VIRTIO_GPU_RESP_ERR_UNSPEC;
	const uint32_t OOM = VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	const uint32_t FMT = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM;
	struct virtio_gpu_mem_entry e[2];
	struct virtio_gpu_resource_create_2d c = {hdr(VIRTIO_GPU_CMD_RESOURCE_CREATE_2D), 50, FMT,
						   8, 8};
	struct virtio_gpu_ctrl_hdr resp;
	uint8_t big[128] = {0};
	struct tdev t;

	tdev_open(&t, NULL);
	/* Resource ids: 0, taken, unknown. */
	CHECK_EQ(create(&t, 0, FMT, 8, 8), INVALID_ID);
	CHECK_EQ(create(&t, 1, FMT, 8, 8), OK);
	CHECK_EQ(create(&t, 1, FMT, 8, 8), INVALID_ID);
	CHECK_EQ(unref(&t, 2), INVALID_ID);
	CHECK_EQ(detach(&t, 2), INVALID_ID);
	CHECK_EQ(flush(&t, 2, RECT(0, 0, 1, 1)), INVALID_ID);
	CHECK_EQ(transfer(&t, 2, RECT(0, 0, 1, 1), 0), INVALID_ID);
	CHECK_EQ(set_scanout(&t, 0, 2, RECT(0, 0, 1, 1)), INVALID_ID);
	e[0] = (struct virtio_gpu_mem_entry){fake_alloc(&t.d, 256), 256, 0};
	CHECK_EQ(attach(&t, 2, e, 1), INVALID_ID);

	/* Formats and sizes. */
	CHECK_EQ(create(&t, 3, 0, 8, 8), INVALID);
	CHECK_EQ(create(&t, 3, 1000, 8, 8), INVALID);
	CHECK_EQ(create(&t, 3, FMT, 0, 8), INVALID);
	CHECK_EQ(create(&t, 3, FMT, 8, 0), INVALID);
	CHECK_EQ(create(&t, 3, FMT, GPU_MAX_DIMENSION + 1, 1), OOM);
	CHECK_EQ(create(&t, 3, FMT, 1, 0xffffffff), OOM);

	/* Scanouts and rectangles, including ones whose end wraps around 2^32. */
	CHECK_EQ(set_scanout(&t, 1, 1, RECT(0, 0, 8, 8)), VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(set_scanout(&t, 0xffffffff, 1, RECT(0, 0, 8, 8)),
		 VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(set_scanout(&t, 0, 1, RECT(0, 0, 9, 8)), INVALID);
	CHECK_EQ(set_scanout(&t, 0, 1, RECT(0, 0, 0, 8)), INVALID);
	CHECK_EQ(set_scanout(&t, 0, 1, RECT(0xffffffff, 0, 2, 8)), INVALID);
	CHECK_EQ(set_scanout(&t, 0, 1, RECT(4, 0xfffffffc, 4, 8)), INVALID);
	CHECK_EQ(flush(&t, 1, RECT(7, 7, 2, 1)), INVALID);
	CHECK_EQ(flush(&t, 1, RECT(1, 0, 0xffffffff, 1)), INVALID);
	CHECK_EQ(set_scanout(&t, 0, 0, RECT(0, 0, 0, 0)), OK); /* disabling is always fine */

	/* Backing: entries outside RAM or straddling its end, empty, twice. */
	e[0] = (struct virtio_gpu_mem_entry){fake_alloc(&t.d, 200), 200, 0};
	e[1] = (struct virtio_gpu_mem_entry){RAM_SIZE - 16, 32, 0};
	CHECK_EQ(attach(&t, 1, e, 2), INVALID);
	e[1] = (struct virtio_gpu_mem_entry){0xfffffffffffff000ULL, 0x2000, 0};
	CHECK_EQ(attach(&t, 1, e, 2), INVALID);
	e[1] = (struct virtio_gpu_mem_entry){RAM_SIZE, 1, 0};
	CHECK_EQ(attach(&t, 1, e, 2), INVALID);
	e[1] = (struct virtio_gpu_mem_entry){4096, 0, 0};
	CHECK_EQ(attach(&t, 1, e, 2), INVALID);
	CHECK_EQ(attach(&t, 1, e, 0), INVALID);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 8, 8), 0), UNSPEC); /* no backing after all that */
	CHECK_EQ(attach(&t, 1, e, 1), OK);		       /* 200 bytes: 6 rows and a bit */
	CHECK_EQ(attach(&t, 1, e, 1), INVALID);

	/* Transfers past the backing's end, past the resource, or with a wrapping offset. */
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 8, 6), 0), OK);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 8, 7), 0), INVALID);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 8, 6), 8), OK);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 8, 6), 9), INVALID);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 8, 6), 0xfffffffffffffff0ULL), INVALID);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 9, 1), 0), INVALID);
	CHECK_EQ(transfer(&t, 1, RECT(0, 8, 1, 1), 0), INVALID);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 0, 0), 0xffffffffffffffffULL), OK); /* nothing */

	/* Requests of the wrong size: short, no header at all; attach with fewer entries than
	 * nr_entries. None is read past what the guest gave. A longer request is served with
	 * its tail ignored (here: resource 50 exists afterwards). */
	CHECK_EQ(command(&t, &c, sizeof(c) - 1), UNSPEC);
	CHECK_EQ(command(&t, &c, 8), UNSPEC);
	memset(big, 0xff, sizeof(big));
	memcpy(big, &c, sizeof(c));
	CHECK_EQ(command(&t, big, sizeof(c) + 1), OK);
	CHECK_EQ(command(&t, big, sizeof(big)), INVALID_ID);
	CHECK_EQ(unref(&t, 50), OK);
	{
		struct virtio_gpu_resource_attach_backing a = {
		    hdr(VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING), 50, 2};
		CHECK_EQ(command_ex(&t, &a, sizeof(a), e, sizeof(e[0]), &resp, sizeof(resp)),
			 sizeof(resp));
		CHECK_EQ(resp.type, UNSPEC);
		a.nr_entries = 0x10000000; /* its entries would be 4 GiB */
		CHECK_EQ(command_ex(&t, &a, sizeof(a), e, sizeof(e), &resp, sizeof(resp)),
			 sizeof(resp));
		CHECK_EQ(resp.type, UNSPEC);
		CHECK_EQ(command(&t, &a, 20), UNSPEC);
	}
	/* Unknown commands: 3D, capsets and EDID (none offered), cursor commands on the
	 * control queue, nonsense. */
	static const uint32_t unknown[] = {0,
					   VIRTIO_GPU_CMD_GET_CAPSET_INFO,
					   VIRTIO_GPU_CMD_GET_CAPSET,
					   VIRTIO_GPU_CMD_GET_EDID,
					   0x0200,
					   0x0207,
					   VIRTIO_GPU_CMD_UPDATE_CURSOR,
					   VIRTIO_GPU_CMD_MOVE_CURSOR,
					   0xdeadbeef};
	for (unsigned i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		memset(big, 0, sizeof(big));
		((struct virtio_gpu_ctrl_hdr *)big)->type = unknown[i];
		CHECK_EQ(command(&t, big, 24), UNSPEC);
		CHECK_EQ(command(&t, big, 56), UNSPEC);
	}
	/* No room for a response: the chain comes back with nothing written. */
	CHECK_EQ(command_ex(&t, &c, sizeof(c), NULL, 0, &resp, sizeof(resp) - 1), 0);
	CHECK_EQ(command_ex(&t, &c, sizeof(c), NULL, 0, &resp, 0), 0);
	/* The device is still fine. */
	CHECK_EQ(create(&t, 51, FMT, 8, 8), OK);
	CHECK(!(t.vdev->status & VIRTIO_STATUS_NEEDS_RESET));
	tdev_close(&t);
}

static void test_caps(void)
{
	const uint32_t OOM = VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	const uint32_t FMT = VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM;
	struct gpu_limits lim = {.max_dimension = 1024,
				 .max_resources = 4,
				 .max_host_bytes = 1 << 20,
				 .max_backing_entries = 8};
	struct virtio_gpu_mem_entry e[9];
	struct tdev t;

	/* The host memory of all resources together. */
	tdev_open(&t, &lim);
	CHECK_EQ(create(&t, 1, FMT, 256, 512), OK); /* 512 KiB */
	CHECK_EQ(create(&t, 2, FMT, 256, 511), OK); /* 511 KiB */
	CHECK_EQ(create(&t, 3, FMT, 256, 2), OOM);  /* 2 KiB more than the cap */
	CHECK_EQ(create(&t, 3, FMT, 256, 1), OK);   /* exactly up to it */
	CHECK_EQ(create(&t, 4, FMT, 1, 1), OOM);
	/* Backing tables count too (a struct gpu_backing_entry an entry). */
	for (unsigned i = 0; i < 9; i++)
		e[i] = (struct virtio_gpu_mem_entry){fake_alloc(&t.d, 4096), 4096, 0};
	CHECK_EQ(attach(&t, 3, e, 1), OOM);
	CHECK_EQ(unref(&t, 3), OK);
	/* Leaves room for one entry. */
	CHECK_EQ(create(&t, 3, FMT, (1024 - sizeof(struct gpu_backing_entry)) / 4, 1), OK);
	CHECK_EQ(attach(&t, 3, e, 2), OOM);
	CHECK_EQ(attach(&t, 3, e, 1), OK);
	CHECK_EQ(detach(&t, 3), OK);
	CHECK_EQ(unref(&t, 1), OK);
	/* The number of backing entries, and of resources. */
	CHECK_EQ(attach(&t, 3, e, 9), OOM);
	CHECK_EQ(attach(&t, 3, e, 8), OK);
	CHECK_EQ(create(&t, 10, FMT, 1, 1), OK);
	CHECK_EQ(create(&t, 11, FMT, 1, 1), OK);
	CHECK_EQ(create(&t, 12, FMT, 1, 1), OOM); /* a fifth */
	CHECK_EQ(unref(&t, 10), OK);
	CHECK_EQ(create(&t, 12, FMT, 1, 1), OK);
	/* The largest side. */
	CHECK_EQ(unref(&t, 2), OK);
	CHECK_EQ(create(&t, 13, FMT, 1025, 1), OOM);
	CHECK_EQ(create(&t, 13, FMT, 1, 1025), OOM);
	tdev_close(&t);

	/* The defaults: 256 MiB of resources, and not a byte more. */
	tdev_open(&t, NULL);
	CHECK_EQ(create(&t, 1, FMT, GPU_MAX_DIMENSION, GPU_MAX_DIMENSION), OOM);
	CHECK_EQ(create(&t, 1, FMT, 8192, 8192), OK);
	CHECK_EQ(create(&t, 2, FMT, 1, 1), OOM);
	CHECK_EQ(unref(&t, 1), OK);
	for (uint32_t id = 1; id <= GPU_MAX_RESOURCES; id++)
		if (create(&t, id, FMT, 1, 1) != OK)
			CHECK_EQ(id, 0);
	CHECK_EQ(create(&t, GPU_MAX_RESOURCES + 1, FMT, 1, 1), OOM);
	tdev_close(&t);
}

/* A driver reset forgets every resource and the picture; the device works again after. */
static void test_reset(void)
{
	struct virtio_gpu_frame f;
	struct tdev t;
	uint32_t px = 0x00abcdef;
	struct virtio_gpu_mem_entry e;

	tdev_open(&t, NULL);
	e = (struct virtio_gpu_mem_entry){fake_put(&t.d, &px, 4), 4, 0};
	CHECK_EQ(create(&t, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1), OK);
	CHECK_EQ(attach(&t, 1, &e, 1), OK);
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 1, 1), 0), OK);
	CHECK_EQ(set_scanout(&t, 0, 1, RECT(0, 0, 1, 1)), OK);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK_EQ(f.width, 1);
	CHECK_EQ(f.pixels[0], 0xabcdef);
	virtio_gpu_frame_unlock(t.gpu);

	fake_reset(&t.d, t.vdev);
	virtio_gpu_frame_lock(t.gpu, &f);
	CHECK_EQ(f.width, 0);
	virtio_gpu_frame_unlock(t.gpu);
	CHECK_EQ(fake_start(&t.d, t.vdev, 2, QSIZE, 0), 0);
	CHECK_EQ(create(&t, 1, VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM, 1, 1), OK); /* id 1 is free */
	CHECK_EQ(transfer(&t, 1, RECT(0, 0, 1, 1), 0), VIRTIO_GPU_RESP_ERR_UNSPEC);
	tdev_close(&t);
}

/* What -display none adds: a PCI function with virtio-gpu's ids and class, whose
 * configuration a driver reads through BAR 0, and whose preferred-size change raises a
 * configuration interrupt (ISR bit 1). */
static void test_pci_function(void)
{
	static struct fake_machine m;
	unsigned devfn = (FAKE_NDEVS + 1) << 3;
	struct virtio_gpu *gpu;
	uint64_t bar, v = 0;

	fake_machine_init(&m);
	gpu = virtio_gpu_create(&m.vm);
	CHECK(gpu != NULL);
	CHECK_EQ(pci_config_read(&m.vm, devfn, 0, 4), 0x1050u << 16 | 0x1af4);
	CHECK_EQ(pci_config_read(&m.vm, devfn, 8, 4) >> 8, 0x038000);
	pci_config_write(&m.vm, devfn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	bar = (uint64_t)pci_config_read(&m.vm, devfn, PCI_BAR0 + 4, 4) << 32 |
	      (pci_config_read(&m.vm, devfn, PCI_BAR0, 4) & ~0xfu);
	bus_read(&m.vm.mmio, bar + FAKE_BAR_DEVICE + 8, 4, &v);
	CHECK_EQ(v, 1); /* num_scanouts */
	bus_read(&m.vm.mmio, bar + FAKE_BAR_COMMON + FAKE_CC_NUMQ, 2, &v);
	CHECK_EQ(v, 2); /* controlq, cursorq */
	bus_read(&m.vm.mmio, bar + FAKE_BAR_ISR, 1, &v); /* reading acknowledges */
	CHECK_EQ(virtio_gpu_set_preferred_size(gpu, 1024, 768), 0);
	bus_read(&m.vm.mmio, bar + FAKE_BAR_DEVICE, 4, &v);
	CHECK_EQ(v, VIRTIO_GPU_EVENT_DISPLAY);
	bus_read(&m.vm.mmio, bar + FAKE_BAR_ISR, 1, &v);
	CHECK_EQ(v & 2, 2);
	fake_machine_remove_files(&m);
}

int main(void)
{
	RUN(test_pixel_formats);
	RUN(test_draw_and_show);
	RUN(test_screendump);
	RUN(test_display_info_and_resize);
	RUN(test_fences);
	RUN(test_cursor);
	RUN(test_errors);
	RUN(test_caps);
	RUN(test_reset);
	RUN(test_pci_function);
	return UNIT_RESULT();
}
