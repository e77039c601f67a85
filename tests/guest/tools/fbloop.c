/*
 * fbloop: redraws a full frame again and again inside a test guest and counts the frames,
 * for make bench's display rows (bench/bench_display.py). Built static (make guest-tools).
 *
 * Usage: fbloop drm|fb SECONDS [WARMUP]
 *   drm  a DRM dumb buffer of the connector's first (preferred) mode, shown with SETCRTC;
 *        after each frame DRM_IOCTL_MODE_DIRTYFB names the whole frame, and virtio_gpu turns
 *        that into TRANSFER_TO_HOST_2D + RESOURCE_FLUSH at once. The driver does not wait
 *        for them to be answered, but a full control queue makes it wait for the device:
 *        once the queue has filled (WARMUP seconds, default 2, not counted), the count is
 *        the rate at which the device takes frames in. This is the number to compare.
 *   fb   /dev/fb0 through mmap. The fbdev emulation's deferred I/O flushes what was written
 *        at most 20 times a second whatever the device does, so the count is only how fast
 *        the guest's CPU writes memory (the bench counts the flushes from the driver's trace).
 * Each frame writes every pixel with a colour that changes from frame to frame (a guest
 * loop redrawing the screen, not a constant the device could skip).
 * Prints: fbloop: MODE WxH frames=N seconds=S fps=F
 * Exit status 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <libdrm/drm.h>
#include <libdrm/drm_mode.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct surface {
	uint8_t *pixels;
	uint32_t width, height, stride;
	int fd;
	uint32_t fb_id; /* drm only */
};

static int fail(const char *what)
{
	fprintf(stderr, "fbloop: %s: %s\n", what, strerror(errno));
	return 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void draw(const struct surface *s, uint32_t frame)
{
	uint32_t colour = frame * 0x00030507u & 0xffffff;

	for (uint32_t y = 0; y < s->height; y++) {
		uint32_t *row = (uint32_t *)(s->pixels + (size_t)y * s->stride);
		for (uint32_t x = 0; x < s->width; x++)
			row[x] = colour ^ x;
	}
}

static int open_fb(struct surface *s)
{
	struct fb_var_screeninfo v;
	struct fb_fix_screeninfo f;

	s->fd = open("/dev/fb0", O_RDWR);
	if (s->fd < 0 || ioctl(s->fd, FBIOGET_VSCREENINFO, &v) != 0 ||
	    ioctl(s->fd, FBIOGET_FSCREENINFO, &f) != 0)
		return fail("/dev/fb0");
	if (v.bits_per_pixel != 32) {
		fprintf(stderr, "fbloop: /dev/fb0 has %u bits per pixel, not 32\n", v.bits_per_pixel);
		return 1;
	}
	s->width = v.xres;
	s->height = v.yres;
	s->stride = f.line_length;
	s->pixels = mmap(NULL, (size_t)s->stride * s->height, PROT_READ | PROT_WRITE, MAP_SHARED,
			 s->fd, 0);
	return s->pixels == MAP_FAILED ? fail("mmap /dev/fb0") : 0;
}

/* The first connected connector, its first mode, its encoder's CRTC: a dumb buffer of that
 * size on it. */
static int open_drm(struct surface *s)
{
	uint32_t conn_ids[8], crtc_ids[8], enc_ids[8];
	struct drm_mode_card_res res = {0};
	struct drm_mode_get_connector conn = {0};
	struct drm_mode_modeinfo modes[64];
	struct drm_mode_get_encoder enc = {0};
	struct drm_mode_create_dumb dumb = {0};
	struct drm_mode_fb_cmd fb = {0};
	struct drm_mode_map_dumb map = {0};
	struct drm_mode_crtc crtc = {0};
	uint32_t enc_id;

	s->fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
	if (s->fd < 0)
		return fail("/dev/dri/card0");
	res.connector_id_ptr = (uintptr_t)conn_ids;
	res.count_connectors = 8;
	res.crtc_id_ptr = (uintptr_t)crtc_ids;
	res.count_crtcs = 8;
	res.encoder_id_ptr = (uintptr_t)enc_ids;
	res.count_encoders = 8;
	if (ioctl(s->fd, DRM_IOCTL_MODE_GETRESOURCES, &res) != 0)
		return fail("GETRESOURCES");
	if (res.count_connectors == 0 || res.count_crtcs == 0) {
		fprintf(stderr, "fbloop: no connector or CRTC\n");
		return 1;
	}
	conn.connector_id = conn_ids[0];
	conn.modes_ptr = (uintptr_t)modes;
	conn.count_modes = 64;
	conn.encoders_ptr = (uintptr_t)&enc_id;
	conn.count_encoders = 1;
	if (ioctl(s->fd, DRM_IOCTL_MODE_GETCONNECTOR, &conn) != 0)
		return fail("GETCONNECTOR");
	if (conn.count_modes == 0) {
		fprintf(stderr, "fbloop: the connector has no mode\n");
		return 1;
	}
	enc.encoder_id = conn.encoder_id ? conn.encoder_id : enc_id;
	if (ioctl(s->fd, DRM_IOCTL_MODE_GETENCODER, &enc) != 0)
		return fail("GETENCODER");
	dumb.width = modes[0].hdisplay;
	dumb.height = modes[0].vdisplay;
	dumb.bpp = 32;
	if (ioctl(s->fd, DRM_IOCTL_MODE_CREATE_DUMB, &dumb) != 0)
		return fail("CREATE_DUMB");
	fb.width = dumb.width;
	fb.height = dumb.height;
	fb.pitch = dumb.pitch;
	fb.bpp = 32;
	fb.depth = 24;
	fb.handle = dumb.handle;
	if (ioctl(s->fd, DRM_IOCTL_MODE_ADDFB, &fb) != 0)
		return fail("ADDFB");
	map.handle = dumb.handle;
	if (ioctl(s->fd, DRM_IOCTL_MODE_MAP_DUMB, &map) != 0)
		return fail("MAP_DUMB");
	s->pixels = mmap(NULL, dumb.size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, map.offset);
	if (s->pixels == MAP_FAILED)
		return fail("mmap the dumb buffer");
	s->width = dumb.width;
	s->height = dumb.height;
	s->stride = dumb.pitch;
	s->fb_id = fb.fb_id;
	crtc.crtc_id = enc.crtc_id ? enc.crtc_id : crtc_ids[0];
	crtc.fb_id = fb.fb_id;
	crtc.set_connectors_ptr = (uintptr_t)&conn.connector_id;
	crtc.count_connectors = 1;
	crtc.mode = modes[0];
	crtc.mode_valid = 1;
	if (ioctl(s->fd, DRM_IOCTL_MODE_SETCRTC, &crtc) != 0)
		return fail("SETCRTC");
	return 0;
}

/* Tell the device the whole frame changed (drm); 0 or 1 after a message. */
static int flush(const struct surface *s)
{
	struct drm_clip_rect clip = {0, 0, s->width, s->height};
	struct drm_mode_fb_dirty_cmd dirty = {
		.fb_id = s->fb_id,
		.num_clips = 1,
		.clips_ptr = (uintptr_t)&clip,
	};

	if (!s->fb_id)
		return 0;
	while (ioctl(s->fd, DRM_IOCTL_MODE_DIRTYFB, &dirty) != 0)
		if (errno != EINTR)
			return fail("DIRTYFB");
	return 0;
}

int main(int argc, char **argv)
{
	struct surface s = {0};
	double seconds, warmup, start, end, t;
	uint32_t frame = 0, counted = 0;
	int drm;

	if (argc < 3 || (strcmp(argv[1], "drm") != 0 && strcmp(argv[1], "fb") != 0) ||
	    (seconds = atof(argv[2])) <= 0) {
		fprintf(stderr, "usage: fbloop drm|fb SECONDS [WARMUP]\n");
		return 1;
	}
	warmup = argc > 3 ? atof(argv[3]) : 2;
	drm = strcmp(argv[1], "drm") == 0;
	if (drm ? open_drm(&s) : open_fb(&s))
		return 1;
	start = now() + warmup;
	end = start + seconds;
	do {
		draw(&s, frame++);
		if (flush(&s))
			return 1;
		t = now();
		counted += t >= start;
	} while (t < end);
	/* The last frame counted ended at t, a little past end. */
	printf("fbloop: %s %ux%u frames=%u seconds=%.2f fps=%.2f\n", argv[1], s.width, s.height,
	       counted, t - start, counted / (t - start));
	return 0;
}
