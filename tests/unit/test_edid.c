/*
 * The EDID block (ui/edid.c) decoded field by field as a guest's parser reads it: header,
 * version, vendor, checksum, the preferred detailed timing back to the size asked for (and
 * to the largest fitting one past the 12-bit limit), the name and range descriptors, the
 * listed modes; then GET_EDID through the device and its worker, driven by the fake driver:
 * offered and negotiated, its response, a bad scanout, and the size it agrees on with
 * GET_DISPLAY_INFO (what -display none,width=1024,height=768 sets).
 */
#include <stdlib.h>

#include "fake_virtio.h"
#include "ui/edid.h"
#include "ui/virtio_gpu.h"
#include "ui/virtio_gpu_proto.h"
#include "unit.h"

#define RAM_SIZE (8u << 20)
#define WAIT_MS	 5000

/* What a parser makes of the preferred detailed timing (bytes 54-71). */
struct dtd {
	uint32_t clock_khz, hactive, hblank, vactive, vblank, hmm, vmm;
};

static struct dtd decode_dtd(const uint8_t *e)
{
	const uint8_t *d = e + 54;

	return (struct dtd){
	    .clock_khz = (d[0] | d[1] << 8) * 10u,
	    .hactive = d[2] | (d[4] >> 4) << 8,
	    .hblank = d[3] | (d[4] & 15) << 8,
	    .vactive = d[5] | (d[7] >> 4) << 8,
	    .vblank = d[6] | (d[7] & 15) << 8,
	    .hmm = d[12] | (d[14] >> 4) << 8,
	    .vmm = d[13] | (d[14] & 15) << 8,
	};
}

/* The descriptor (at 72, 90 or 108) with this display descriptor tag, or NULL. */
static const uint8_t *find_descriptor(const uint8_t *e, uint8_t tag)
{
	for (unsigned off = 72; off < 126; off += 18)
		if (e[off] == 0 && e[off + 1] == 0 && e[off + 2] == 0 && e[off + 3] == tag)
			return e + off;
	return NULL;
}

static unsigned checksum(const uint8_t *e)
{
	unsigned sum = 0;

	for (unsigned i = 0; i < EDID_BLOCK_SIZE; i++)
		sum += e[i];
	return sum % 256;
}

static void check_block(uint32_t w, uint32_t h, uint32_t want_w, uint32_t want_h)
{
	static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	uint8_t e[EDID_BLOCK_SIZE];
	struct dtd t;
	uint64_t frame;
	const uint8_t *range;

	memset(e, 0xcc, sizeof(e));
	edid_generate(e, w, h);
	CHECK(memcmp(e, header, 8) == 0);
	CHECK_EQ(e[18], 1);
	CHECK_EQ(e[19], 4);
	CHECK_EQ(checksum(e), 0);
	CHECK_EQ(e[126], 0);
	CHECK(e[20] & 0x80); /* digital */
	CHECK(e[24] & 0x02); /* the first detailed timing is the preferred one */
	t = decode_dtd(e);
	CHECK_EQ(t.hactive, want_w);
	CHECK_EQ(t.vactive, want_h);
	CHECK(t.clock_khz > 0);
	CHECK(t.hblank > 0 && t.vblank > 0);
	/* 96 dpi: 25.4 mm per 96 pixels, to a millimetre. */
	CHECK(t.hmm * 96 <= want_w * 254 / 10 + 96 && t.hmm * 96 + 96 >= want_w * 254 / 10);
	CHECK(t.vmm * 96 <= want_h * 254 / 10 + 96 && t.vmm * 96 + 96 >= want_h * 254 / 10);
	/* 60 Hz, unless the 16-bit clock field ran out (then lower, never higher). */
	frame = (uint64_t)(t.hactive + t.hblank) * (t.vactive + t.vblank);
	if (t.clock_khz < 655350) {
		CHECK((uint64_t)t.clock_khz * 1000 >= frame * 59);
		CHECK((uint64_t)t.clock_khz * 1000 <= frame * 61);
	} else {
		CHECK((uint64_t)t.clock_khz * 1000 <= frame * 61);
	}
	/* The range limits hold the preferred timing. */
	range = find_descriptor(e, 0xfd);
	CHECK(range != NULL);
	if (range) {
		uint64_t hz = (uint64_t)t.clock_khz * 1000 / frame;
		uint64_t hkhz = t.clock_khz / (t.hactive + t.hblank);

		CHECK(range[5] <= hz && hz <= range[6]);
		CHECK(range[7] <= hkhz && hkhz <= range[8]);
		CHECK(range[9] * 10000u >= t.clock_khz);
	}
}

static void test_block(void)
{
	uint8_t e[EDID_BLOCK_SIZE];

	check_block(800, 600, 800, 600);
	check_block(1024, 768, 1024, 768);
	check_block(1920, 1080, 1920, 1080);
	check_block(64, 64, 64, 64);
	edid_generate(e, 800, 600);
	/* "SMV": three 5-bit letters, big-endian. */
	CHECK_EQ('@' + (e[8] >> 2 & 31), 'S');
	CHECK_EQ('@' + ((e[8] & 3) << 3 | e[9] >> 5), 'M');
	CHECK_EQ('@' + (e[9] & 31), 'V');
	CHECK_EQ(e[10] | e[11] << 8, 1); /* product code */
}

static void test_name(void)
{
	uint8_t e[EDID_BLOCK_SIZE];
	const uint8_t *name;

	edid_generate(e, 1280, 800);
	name = find_descriptor(e, 0xfc);
	CHECK(name != NULL);
	if (name)
		CHECK(memcmp(name + 5, "smolvm\n      ", 13) == 0);
}

static void test_listed_modes(void)
{
	uint8_t e[EDID_BLOCK_SIZE];
	unsigned n = 0;

	/* 1024x768: the three established 60 Hz modes, no standard timing (all bigger). */
	edid_generate(e, 1024, 768);
	CHECK_EQ(e[35], 0x21);
	CHECK_EQ(e[36], 0x08);
	for (unsigned i = 38; i < 54; i++)
		CHECK_EQ(e[i], 1);
	/* 640x480: only itself among the established ones. */
	edid_generate(e, 640, 480);
	CHECK_EQ(e[35], 0x20);
	CHECK_EQ(e[36], 0);
	/* 1920x1080: every standard timing but 1920x1200, each (w / 8 - 31, aspect, 60 Hz). */
	edid_generate(e, 1920, 1080);
	for (unsigned i = 38; i < 54; i += 2)
		if (e[i] != 1 || e[i + 1] != 1) {
			CHECK_EQ(e[i + 1] & 63, 0);
			CHECK((e[i] + 31) * 8 <= 1920);
			n++;
		}
	CHECK_EQ(n, 7);
}

static void test_limit(void)
{
	uint32_t w, h;

	edid_fit_size(4095, 4095, &w, &h);
	CHECK(w == 4095 && h == 4095);
	edid_fit_size(4096, 2160, &w, &h);
	CHECK(w == 4095 && h == 2159);
	edid_fit_size(16384, 16384, &w, &h);
	CHECK(w == 4095 && h == 4095);
	edid_fit_size(16384, 100, &w, &h);
	CHECK(w == 4095 && h == 24);
	edid_fit_size(1, 16384, &w, &h);
	CHECK(w == 1 && h == 4095);
	check_block(4095, 4095, 4095, 4095);
	check_block(4095, 64, 4095, 64);
	check_block(4096, 2160, 4095, 2159);
	check_block(16384, 16384, 4095, 4095);
	check_block(8192, 4608, 4095, 2303);
}

static void test_changes_with_size(void)
{
	uint8_t a[EDID_BLOCK_SIZE], b[EDID_BLOCK_SIZE];

	edid_generate(a, 1024, 768);
	edid_generate(b, 1024, 768);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	edid_generate(b, 1024, 769);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	edid_generate(b, 1280, 720);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
}

/* The device on the fake driver: one control command, its response into resp. */
struct tdev {
	struct fake_driver d;
	struct virtio_gpu *gpu;
	struct virtio_device *vdev;
};

static void tdev_open(struct tdev *t, uint64_t features)
{
	t->gpu = virtio_gpu_new(NULL);
	if (!t->gpu)
		abort();
	t->vdev = virtio_gpu_vdev(t->gpu);
	fake_driver_init(&t->d, RAM_SIZE);
	CHECK_EQ(fake_start(&t->d, t->vdev, 2, 16, features), 0);
}

static void tdev_close(struct tdev *t)
{
	virtio_gpu_free(t->gpu);
	fake_driver_destroy(&t->d);
}

static long command(struct tdev *t, const void *req, uint32_t req_len, void *resp,
		    uint32_t resp_len)
{
	uint64_t req_gpa = fake_alloc(&t->d, req_len), resp_gpa = fake_alloc(&t->d, resp_len);
	struct fake_buf b[2] = {{req_gpa, req_len, 0}, {resp_gpa, resp_len, 1}};
	uint16_t head;
	uint32_t id, len;

	memcpy(fake_ptr(&t->d, req_gpa), req, req_len);
	memset(fake_ptr(&t->d, resp_gpa), 0xee, resp_len);
	head = fake_queue_add(&t->d, 0, b, 2);
	fake_kick(t->vdev, 0);
	if (fake_wait_used(&t->d, 0, &id, &len, WAIT_MS) != 0)
		return -1;
	CHECK_EQ(id, head);
	memcpy(resp, fake_ptr(&t->d, resp_gpa), resp_len);
	return len;
}

static long get_edid(struct tdev *t, uint32_t scanout, struct virtio_gpu_resp_edid *resp)
{
	struct virtio_gpu_cmd_get_edid req = {{.type = VIRTIO_GPU_CMD_GET_EDID}, scanout, 0};

	return command(t, &req, sizeof(req), resp, sizeof(*resp));
}

static void test_device_get_edid(void)
{
	static struct virtio_gpu_resp_edid resp;
	struct virtio_gpu_cmd_get_edid req = {
	    {.type = VIRTIO_GPU_CMD_GET_EDID, .flags = VIRTIO_GPU_FLAG_FENCE, .fence_id = 77}, 0, 0};
	uint8_t want[EDID_BLOCK_SIZE];
	struct tdev t;

	tdev_open(&t, 1ULL << VIRTIO_GPU_F_EDID);
	CHECK(t.vdev->features & 1ULL << VIRTIO_GPU_F_EDID);
	CHECK_EQ(get_edid(&t, 0, &resp), sizeof(resp));
	CHECK_EQ(resp.hdr.type, VIRTIO_GPU_RESP_OK_EDID);
	CHECK_EQ(resp.size, EDID_BLOCK_SIZE);
	edid_generate(want, 800, 600);
	CHECK(memcmp(resp.edid, want, sizeof(want)) == 0);
	CHECK_EQ(resp.edid[EDID_BLOCK_SIZE], 0); /* the rest of the array is zero */
	CHECK_EQ(resp.edid[1023], 0);
	/* Fenced: the fence comes back. */
	CHECK_EQ(command(&t, &req, sizeof(req), &resp, sizeof(resp)), sizeof(resp));
	CHECK_EQ(resp.hdr.flags, VIRTIO_GPU_FLAG_FENCE);
	CHECK_EQ(resp.hdr.fence_id, 77);
	/* Only scanout 0 exists. */
	CHECK_EQ(get_edid(&t, 1, &resp), sizeof(resp.hdr));
	CHECK_EQ(resp.hdr.type, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	CHECK_EQ(get_edid(&t, 0xffffffff, &resp), sizeof(resp.hdr));
	CHECK_EQ(resp.hdr.type, VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID);
	/* A request without its scanout field; a response buffer one byte short. */
	CHECK_EQ(command(&t, &req, sizeof(req.hdr), &resp, sizeof(resp)), sizeof(resp.hdr));
	CHECK_EQ(resp.hdr.type, VIRTIO_GPU_RESP_ERR_UNSPEC);
	CHECK_EQ(command(&t, &req, sizeof(req), &resp, sizeof(resp) - 1), 0);
	tdev_close(&t);

	/* Not negotiated: not served. */
	tdev_open(&t, 0);
	CHECK_EQ(get_edid(&t, 0, &resp), sizeof(resp.hdr));
	CHECK_EQ(resp.hdr.type, VIRTIO_GPU_RESP_ERR_UNSPEC);
	tdev_close(&t);
}

/* GET_DISPLAY_INFO and GET_EDID tell the same size, before and after it changes. */
static void test_device_sizes_agree(void)
{
	static struct virtio_gpu_resp_edid resp;
	static struct virtio_gpu_resp_display_info info;
	struct virtio_gpu_ctrl_hdr h = {.type = VIRTIO_GPU_CMD_GET_DISPLAY_INFO};
	static const uint32_t sizes[][2] = {{1024, 768}, {1280, 720}, {640, 480}, {5000, 3000}};
	uint8_t before[EDID_BLOCK_SIZE];
	struct tdev t;
	uint32_t w, h_fit;

	tdev_open(&t, 1ULL << VIRTIO_GPU_F_EDID);
	CHECK_EQ(get_edid(&t, 0, &resp), sizeof(resp));
	memcpy(before, resp.edid, sizeof(before));
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		/* As -display none,width=1024,height=768 does before the guest starts, and a
		 * window's resize does after. */
		CHECK_EQ(virtio_gpu_set_preferred_size(t.gpu, sizes[i][0], sizes[i][1]), 0);
		CHECK_EQ(command(&t, &h, sizeof(h), &info, sizeof(info)), sizeof(info));
		CHECK_EQ(info.pmodes[0].r.width, sizes[i][0]);
		CHECK_EQ(info.pmodes[0].r.height, sizes[i][1]);
		CHECK_EQ(get_edid(&t, 0, &resp), sizeof(resp));
		CHECK_EQ(resp.hdr.type, VIRTIO_GPU_RESP_OK_EDID);
		CHECK_EQ(checksum(resp.edid), 0);
		edid_fit_size(sizes[i][0], sizes[i][1], &w, &h_fit);
		CHECK_EQ(decode_dtd(resp.edid).hactive, w);
		CHECK_EQ(decode_dtd(resp.edid).vactive, h_fit);
		/* A new size, a new block: the guest's connector sees a changed EDID. */
		CHECK(memcmp(before, resp.edid, sizeof(before)) != 0);
		memcpy(before, resp.edid, sizeof(before));
	}
	tdev_close(&t);
}

int main(void)
{
	RUN(test_block);
	RUN(test_name);
	RUN(test_listed_modes);
	RUN(test_limit);
	RUN(test_changes_with_size);
	RUN(test_device_get_edid);
	RUN(test_device_sizes_agree);
	return UNIT_RESULT();
}
