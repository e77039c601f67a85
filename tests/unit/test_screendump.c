/*
 * Screendump files (ui/screendump.c): the same pixels written as PPM and as PNG, the PNG
 * read back by a decoder of its own here (signature, chunk CRCs, IHDR, the IDAT chunks
 * concatenated and inflated with zlib, filter bytes) and compared byte for byte with the
 * PPM. Noise that deflate cannot shrink spreads the picture over several IDAT chunks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "ui/screendump.h"
#include "unit.h"

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n ? n : 1);
	if (buf && fread(buf, 1, n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The pixels of a PNG as RGB bytes (width x height), or NULL after a failed CHECK.
 * *nidat: how many IDAT chunks it had. */
static uint8_t *png_decode(const uint8_t *png, size_t len, uint32_t *w, uint32_t *h,
			   unsigned *nidat)
{
	static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	uint8_t *idat = NULL, *raw = NULL, *rgb = NULL;
	size_t idat_len = 0, pos = 8;
	bool ended = false;
	uLongf raw_len;

	*nidat = 0;
	CHECK(len >= 8 && memcmp(png, signature, 8) == 0);
	while (pos + 12 <= len && !ended) {
		uint32_t n = be32(png + pos);
		const uint8_t *type = png + pos + 4, *data = png + pos + 8;

		if (n > len - pos - 12) {
			CHECK(!"a chunk runs past the end of the file");
			goto out;
		}
		CHECK_EQ(be32(data + n), crc32(0, type, n + 4));
		if (pos == 8) {
			CHECK(memcmp(type, "IHDR", 4) == 0 && n == 13);
			*w = be32(data);
			*h = be32(data + 4);
			/* 8-bit RGB, deflate, standard filters, no interlace. */
			CHECK(data[8] == 8 && data[9] == 2 && !data[10] && !data[11] && !data[12]);
		} else if (memcmp(type, "IDAT", 4) == 0) {
			idat = realloc(idat, idat_len + n + 1);
			memcpy(idat + idat_len, data, n);
			idat_len += n;
			(*nidat)++;
		} else {
			CHECK(memcmp(type, "IEND", 4) == 0 && n == 0);
			ended = true;
		}
		pos += 12 + n;
	}
	CHECK(ended && pos == len);
	if (!ended || !idat)
		goto out;
	raw_len = (uLongf)*h * (1 + 3 * (size_t)*w);
	raw = malloc(raw_len + 1);
	{
		uLongf got = raw_len + 1; /* one spare byte: the stream must not hold more */
		CHECK_EQ(uncompress(raw, &got, idat, idat_len), Z_OK);
		CHECK_EQ(got, raw_len);
		if (got != raw_len)
			goto out;
	}
	rgb = malloc((size_t)*w * *h * 3);
	for (uint32_t y = 0; y < *h; y++) {
		const uint8_t *row = raw + (size_t)y * (1 + 3 * (size_t)*w);
		CHECK_EQ(row[0], 0); /* the writer filters no row */
		memcpy(rgb + (size_t)y * *w * 3, row + 1, (size_t)*w * 3);
	}
out:
	free(idat);
	free(raw);
	return rgb;
}

/* PPM and PNG of rgb (w x h): both hold exactly those pixels. */
static void check_both(uint32_t w, uint32_t h, const uint8_t *rgb, unsigned min_idat)
{
	char ppm[64], png[64], head[32];
	size_t ppm_len = 0, png_len = 0, hlen;
	uint8_t *p, *q, *pixels;
	uint32_t pw = 0, ph = 0;
	unsigned nidat;

	snprintf(ppm, sizeof(ppm), "/tmp/smolvm-dump-%d.ppm", (int)getpid());
	snprintf(png, sizeof(png), "/tmp/smolvm-dump-%d.png", (int)getpid());
	CHECK_EQ(screendump_write(ppm, SCREENDUMP_PPM, w, h, rgb), 0);
	CHECK_EQ(screendump_write(png, SCREENDUMP_PNG, w, h, rgb), 0);
	p = read_file(ppm, &ppm_len);
	q = read_file(png, &png_len);
	CHECK(p && q);
	if (p && q) {
		hlen = snprintf(head, sizeof(head), "P6\n%u %u\n255\n", w, h);
		CHECK(ppm_len == hlen + (size_t)w * h * 3 && memcmp(p, head, hlen) == 0);
		pixels = png_decode(q, png_len, &pw, &ph, &nidat);
		CHECK(pixels != NULL);
		CHECK_EQ(pw, w);
		CHECK_EQ(ph, h);
		CHECK(nidat >= min_idat);
		if (pixels && pw == w && ph == h && ppm_len == hlen + (size_t)w * h * 3)
			CHECK(memcmp(pixels, p + hlen, (size_t)w * h * 3) == 0);
		free(pixels);
	}
	free(p);
	free(q);
	unlink(ppm);
	unlink(png);
}

static void test_one_pixel(void)
{
	const uint8_t rgb[3] = {0x12, 0x34, 0x56};

	check_both(1, 1, rgb, 1);
}

/* What a screen looks like: flat areas (deflate shrinks them to one small chunk). */
static void test_flat_picture(void)
{
	uint32_t w = 800, h = 600;
	uint8_t *rgb = malloc((size_t)w * h * 3);

	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			uint8_t *px = rgb + ((size_t)y * w + x) * 3;
			px[0] = y < h / 2 ? 0xff : 0;
			px[1] = x < w / 2 ? 0x80 : 0x10;
			px[2] = (x / 100 + y / 100) & 1 ? 0xff : 0;
		}
	check_both(w, h, rgb, 1);
	free(rgb);
}

/* Noise: about 180 KiB that deflate cannot shrink, so several 64 KiB IDAT chunks. */
static void test_noise_spans_chunks(void)
{
	uint32_t w = 301, h = 200, state = 1;
	uint8_t *rgb = malloc((size_t)w * h * 3);

	for (size_t i = 0; i < (size_t)w * h * 3; i++) {
		state = state * 1103515245u + 12345u;
		rgb[i] = state >> 16;
	}
	check_both(w, h, rgb, 3);
	free(rgb);
}

static void test_errors(void)
{
	const uint8_t rgb[3] = {0};

	CHECK_EQ(screendump_write("/nonexistent-dir/x.png", SCREENDUMP_PNG, 1, 1, rgb), -ENOENT);
	CHECK_EQ(screendump_write("/nonexistent-dir/x.ppm", SCREENDUMP_PPM, 1, 1, rgb), -ENOENT);
	/* A full disk, as /dev/full plays it: the error, not a short file called a success. */
	if (access("/dev/full", W_OK) == 0)
		CHECK_EQ(screendump_write("/dev/full", SCREENDUMP_PNG, 1, 1, rgb), -ENOSPC);
}

int main(void)
{
	RUN(test_one_pixel);
	RUN(test_flat_picture);
	RUN(test_noise_spans_chunks);
	RUN(test_errors);
	return UNIT_RESULT();
}
