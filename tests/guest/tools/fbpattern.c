/*
 * fbpattern: draws a known picture into a Linux framebuffer (/dev/fb0) inside a test guest,
 * so a test can look for it on the host's side of a virtio-gpu. Busybox has no such tool.
 * Built static (make guest-tools) into build/guest-tools/.
 *
 * Usage: fbpattern [DEVICE]   (default /dev/fb0)
 * The picture, for a screen of W x H pixels: four quadrants, top left red (0xff0000), top
 * right green (0x00ff00), bottom left blue (0x0000ff), bottom right white (0xffffff), and a
 * 32 x 32 magenta (0xff00ff) square whose top left corner is at (W/8, H/8).
 * It is drawn through mmap, not write(): the DRM fbdev emulation's deferred I/O notices the
 * pages written through a mapping and flushes them to the device 1/20 s later, while Linux
 * 6.1 (Debian 12) never flushes what write() puts there. Then it is read back and compared.
 * Prints:
 *   fbpattern: WxH bpp=B stride=S
 *   fbpattern: readback ok            (or a line naming the first pixel that differs)
 * Exit status 0, or 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static uint32_t pattern_at(uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	if (x >= w / 8 && x < w / 8 + 32 && y >= h / 8 && y < h / 8 + 32)
		return 0xff00ff;
	if (y < h / 2)
		return x < w / 2 ? 0xff0000 : 0x00ff00;
	return x < w / 2 ? 0x0000ff : 0xffffff;
}

/* 0x00RRGGBB in the framebuffer's own layout of a 32-bit pixel. */
static uint32_t encode(const struct fb_var_screeninfo *v, uint32_t rgb)
{
	uint32_t r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff;

	return r >> (8 - v->red.length) << v->red.offset |
	       g >> (8 - v->green.length) << v->green.offset |
	       b >> (8 - v->blue.length) << v->blue.offset;
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/fb0";
	struct fb_var_screeninfo v;
	struct fb_fix_screeninfo f;
	int fd = open(dev, O_RDWR);

	if (fd < 0 || ioctl(fd, FBIOGET_VSCREENINFO, &v) != 0 ||
	    ioctl(fd, FBIOGET_FSCREENINFO, &f) != 0) {
		fprintf(stderr, "fbpattern: %s: %s\n", dev, strerror(errno));
		return 1;
	}
	printf("fbpattern: %ux%u bpp=%u stride=%u\n", v.xres, v.yres, v.bits_per_pixel,
	       f.line_length);
	if (v.bits_per_pixel != 32 || f.line_length < v.xres * 4 || v.red.length > 8 ||
	    v.green.length > 8 || v.blue.length > 8) {
		fprintf(stderr, "fbpattern: only 32-bit pixels of 8-bit channels are drawn\n");
		return 1;
	}
	size_t len = (size_t)f.line_length * v.yres;
	uint8_t *fb = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fb == MAP_FAILED) {
		fprintf(stderr, "fbpattern: mmap %s: %s\n", dev, strerror(errno));
		return 1;
	}
	for (uint32_t y = 0; y < v.yres; y++) {
		uint32_t *row = (uint32_t *)(fb + (size_t)y * f.line_length);
		for (uint32_t x = 0; x < v.xres; x++)
			row[x] = encode(&v, pattern_at(x, y, v.xres, v.yres));
	}
	for (uint32_t y = 0; y < v.yres; y++) {
		const uint32_t *row = (const uint32_t *)(fb + (size_t)y * f.line_length);
		for (uint32_t x = 0; x < v.xres; x++) {
			uint32_t want = encode(&v, pattern_at(x, y, v.xres, v.yres));
			if (row[x] != want) {
				printf("fbpattern: readback differs at (%u,%u): 0x%08x, not 0x%08x\n",
				       x, y, row[x], want);
				return 1;
			}
		}
	}
	printf("fbpattern: readback ok\n");
	return 0;
}
