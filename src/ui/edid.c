/*
 * The EDID 1.4 base block, laid out by hand from the VESA E-EDID 1.4 structure: header,
 * vendor and product, basic display parameters, chromaticity, established and standard
 * timings, four 18-byte descriptors (the preferred detailed timing, the monitor's name,
 * its range limits, a dummy), the extension count and the checksum.
 */
#include "ui/edid.h"

#include <string.h>

/* Reduced-blanking-like timing (CVT-RB style): a fixed 160-pixel horizontal blank, 3 lines
 * of vertical front porch, 6 of sync and at least 460 us of vertical blank. */
#define EDID_HFRONT	48
#define EDID_HSYNC	32
#define EDID_HBLANK	160
#define EDID_VFRONT	3
#define EDID_VSYNC	6
#define EDID_VBACK_MIN	6
#define EDID_VBLANK_NS	460000u
#define EDID_REFRESH	60
#define EDID_DPI	96
/* The descriptor's pixel clock: 16 bits of 10 kHz. */
#define EDID_CLOCK_MAX	65535u

struct edid_timing {
	uint32_t hactive, vactive, vblank;
	uint32_t clock_10khz;
	uint32_t htotal, vtotal;
};

void edid_fit_size(uint32_t width, uint32_t height, uint32_t *fit_w, uint32_t *fit_h)
{
	uint32_t longer = width > height ? width : height;

	*fit_w = width;
	*fit_h = height;
	if (longer <= EDID_MAX_DIMENSION)
		return;
	/* Scale the longer side to the limit; 64-bit products, rounded down so both fit. */
	*fit_w = (uint32_t)((uint64_t)width * EDID_MAX_DIMENSION / longer);
	*fit_h = (uint32_t)((uint64_t)height * EDID_MAX_DIMENSION / longer);
	if (*fit_w == 0)
		*fit_w = 1;
	if (*fit_h == 0)
		*fit_h = 1;
}

static struct edid_timing edid_timing(uint32_t w, uint32_t h)
{
	struct edid_timing t = {.hactive = w, .vactive = h};
	/* The line period if the frame's blank took exactly the minimum time. */
	uint64_t line_ns = (1000000000u / EDID_REFRESH - EDID_VBLANK_NS) / h;
	uint64_t clock;

	t.vblank = (uint32_t)(EDID_VBLANK_NS / (line_ns ? line_ns : 1)) + 1;
	if (t.vblank < EDID_VFRONT + EDID_VSYNC + EDID_VBACK_MIN)
		t.vblank = EDID_VFRONT + EDID_VSYNC + EDID_VBACK_MIN;
	t.htotal = w + EDID_HBLANK;
	t.vtotal = h + t.vblank;
	/* Rounded to the field's 10 kHz; past its maximum the refresh drops below 60 Hz. */
	clock = ((uint64_t)t.htotal * t.vtotal * EDID_REFRESH + 5000) / 10000;
	if (clock > EDID_CLOCK_MAX)
		clock = EDID_CLOCK_MAX;
	t.clock_10khz = clock ? (uint32_t)clock : 1;
	return t;
}

/* Millimetres of n pixels at EDID_DPI, rounded. */
static uint32_t edid_mm(uint32_t px)
{
	return (uint32_t)(((uint64_t)px * 254 + EDID_DPI * 5) / (EDID_DPI * 10));
}

static void edid_put_detailed(uint8_t d[18], const struct edid_timing *t)
{
	uint32_t hmm = edid_mm(t->hactive), vmm = edid_mm(t->vactive);

	d[0] = t->clock_10khz & 0xff;
	d[1] = t->clock_10khz >> 8;
	d[2] = t->hactive & 0xff;
	d[3] = EDID_HBLANK & 0xff;
	d[4] = (t->hactive >> 8) << 4 | EDID_HBLANK >> 8;
	d[5] = t->vactive & 0xff;
	d[6] = t->vblank & 0xff;
	d[7] = (t->vactive >> 8) << 4 | t->vblank >> 8;
	d[8] = EDID_HFRONT;
	d[9] = EDID_HSYNC;
	d[10] = EDID_VFRONT << 4 | EDID_VSYNC;
	d[11] = 0; /* the high bits of the four sync fields: all small */
	d[12] = hmm & 0xff;
	d[13] = vmm & 0xff;
	d[14] = (hmm >> 8) << 4 | vmm >> 8;
	d[15] = 0; /* no borders */
	d[16] = 0;
	d[17] = 0x18 | 0x02; /* digital separate sync, vsync negative, hsync positive */
}

/* A display descriptor: 3 zero bytes, the tag, a zero, then 13 bytes of data. */
static uint8_t *edid_put_descriptor(uint8_t d[18], uint8_t tag)
{
	memset(d, 0, 18);
	d[3] = tag;
	return d + 5;
}

static void edid_put_name(uint8_t d[18], const char *name)
{
	uint8_t *text = edid_put_descriptor(d, 0xfc);
	size_t n = strlen(name);

	/* Up to 13 characters, ended by a line feed and padded with spaces. */
	if (n > 13)
		n = 13;
	memset(text, ' ', 13);
	memcpy(text, name, n);
	if (n < 13)
		text[n] = '\n';
}

static void edid_put_range(uint8_t d[18], const struct edid_timing *t)
{
	uint8_t *r = edid_put_descriptor(d, 0xfd);
	uint32_t vrate = (uint32_t)((uint64_t)t->clock_10khz * 10000 / t->htotal / t->vtotal);
	uint32_t hkhz = (uint32_t)((uint64_t)t->clock_10khz * 10 / t->htotal);
	uint32_t mhz10 = (t->clock_10khz + 999) / 1000;

	/* Wide enough for the preferred timing and the common 60 Hz modes listed. */
	r[0] = vrate < 50 ? (vrate ? vrate : 1) : 50;     /* min vertical, Hz */
	r[1] = 75;                                          /* max vertical, Hz */
	r[2] = hkhz < 30 ? (hkhz ? hkhz : 1) : 30;         /* min horizontal, kHz */
	r[3] = hkhz + 1 > 255 ? 255 : (hkhz + 1 < 80 ? 80 : hkhz + 1); /* max horizontal */
	r[4] = mhz10 < 25 ? 25 : mhz10;                     /* max pixel clock, 10 MHz */
	r[5] = 0x01;                                        /* range limits only */
	r[6] = '\n';
	memset(r + 7, ' ', 6);
}

/* The common modes other than the preferred one, as standard timings (EDID 1.4 aspect
 * codes: 0 16:10, 1 4:3, 2 5:4, 3 16:9), all at 60 Hz. */
static const struct {
	uint16_t w, h;
	uint8_t aspect;
} edid_standard[8] = {
	{1280, 720, 3},	 {1280, 800, 0}, {1280, 1024, 2}, {1440, 900, 0},
	{1600, 900, 3},	 {1680, 1050, 0}, {1920, 1080, 3}, {1920, 1200, 0},
};

void edid_generate(uint8_t out[EDID_BLOCK_SIZE], uint32_t width, uint32_t height)
{
	static const uint8_t header[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	/* sRGB primaries and D65 white as 10-bit binary fractions: Rx Ry Gx Gy Bx By Wx Wy. */
	static const uint16_t chroma[8] = {655, 338, 307, 614, 154, 61, 320, 337};
	/* Manufacturer "SMV": three letters of 5 bits ('A' = 1), big-endian. */
	const uint16_t vendor = ('S' - '@') << 10 | ('M' - '@') << 5 | ('V' - '@');
	uint32_t w, h;
	struct edid_timing t;
	unsigned n = 0;
	uint8_t sum = 0;

	edid_fit_size(width ? width : 1, height ? height : 1, &w, &h);
	t = edid_timing(w, h);
	memset(out, 0, EDID_BLOCK_SIZE);
	memcpy(out, header, sizeof(header));
	out[8] = vendor >> 8;
	out[9] = vendor & 0xff;
	out[10] = 0x01; /* product code 0x0001, little-endian */
	out[11] = 0x00;
	/* Serial number 0 (bytes 12-15); made in week 0 (unknown) of 2025. */
	out[17] = 2025 - 1990;
	out[18] = 1; /* EDID 1.4 */
	out[19] = 4;
	out[20] = 0x80 | 0x20; /* digital input, 8 bits per colour, interface not defined */
	out[21] = (uint8_t)((edid_mm(w) + 5) / 10); /* screen size in cm (at most 108) */
	out[22] = (uint8_t)((edid_mm(h) + 5) / 10);
	out[23] = 120;	       /* gamma 2.2: (gamma - 1) * 100 */
	/* RGB 4:4:4, sRGB is the default colour space, the preferred timing is native. No
	 * continuous-frequency bit: the guest infers no modes beyond those listed. */
	out[24] = 0x04 | 0x02;
	out[25] = (chroma[0] & 3) << 6 | (chroma[1] & 3) << 4 | (chroma[2] & 3) << 2 |
		  (chroma[3] & 3);
	out[26] = (chroma[4] & 3) << 6 | (chroma[5] & 3) << 4 | (chroma[6] & 3) << 2 |
		  (chroma[7] & 3);
	for (unsigned i = 0; i < 8; i++)
		out[27 + i] = chroma[i] >> 2;
	/* Established timings that fit: 640x480, 800x600 and 1024x768 at 60 Hz. */
	if (w >= 640 && h >= 480)
		out[35] |= 0x20;
	if (w >= 800 && h >= 600)
		out[35] |= 0x01;
	if (w >= 1024 && h >= 768)
		out[36] |= 0x08;
	for (unsigned i = 0; i < 8; i++) {
		out[38 + 2 * i] = 0x01; /* unused slot */
		out[39 + 2 * i] = 0x01;
	}
	for (unsigned i = 0; i < 8; i++) {
		if (edid_standard[i].w > w || edid_standard[i].h > h)
			continue;
		out[38 + 2 * n] = edid_standard[i].w / 8 - 31;
		out[39 + 2 * n] = edid_standard[i].aspect << 6 | (EDID_REFRESH - 60);
		n++;
	}
	edid_put_detailed(out + 54, &t);
	edid_put_name(out + 72, "smolvm");
	edid_put_range(out + 90, &t);
	edid_put_descriptor(out + 108, 0x10); /* dummy */
	out[126] = 0; /* no extension blocks */
	for (unsigned i = 0; i < EDID_BLOCK_SIZE - 1; i++)
		sum += out[i];
	out[127] = (uint8_t)(0x100 - sum);
}
