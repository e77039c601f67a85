/*
 * PPM and PNG writers. PNG through zlib (Debian's zlib1g, on every system): deflate is the
 * one part of PNG worth not writing by hand, and a stored-only encoder would make files as
 * large as a PPM. The picture is deflated row by row into IDAT chunks of at most
 * SCREENDUMP_CHUNK bytes, so no second copy of the whole picture is ever held.
 */
#include "ui/screendump.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define SCREENDUMP_CHUNK (64u << 10)

static int screendump_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

static int screendump_ppm(int fd, uint32_t width, uint32_t height, const uint8_t *rgb)
{
	char header[48];
	int n = snprintf(header, sizeof(header), "P6\n%u %u\n255\n", width, height);
	int err = screendump_write_all(fd, header, n);

	return err ? err : screendump_write_all(fd, rgb, (size_t)width * height * 3);
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* One PNG chunk: length, type, data, and the CRC-32 of type and data. */
static int screendump_png_chunk(int fd, const char type[4], const uint8_t *data, uint32_t len)
{
	uint8_t head[8], tail[4];
	uLong crc = crc32(0, (const Bytef *)type, 4);
	int err;

	put_be32(head, len);
	memcpy(head + 4, type, 4);
	if (len)
		crc = crc32(crc, data, len);
	put_be32(tail, (uint32_t)crc);
	err = screendump_write_all(fd, head, sizeof(head));
	if (!err && len)
		err = screendump_write_all(fd, data, len);
	return err ? err : screendump_write_all(fd, tail, sizeof(tail));
}

/* Deflate what z holds (with flush) into IDAT chunks, one whenever out fills. */
static int screendump_png_deflate(int fd, z_stream *z, uint8_t *out, int flush)
{
	int zr;

	do {
		zr = deflate(z, flush);
		if (zr == Z_STREAM_ERROR)
			return -EIO;
		if (z->avail_out == 0 || (flush == Z_FINISH && z->next_out != out)) {
			int err = screendump_png_chunk(fd, "IDAT", out, z->next_out - out);
			if (err)
				return err;
			z->next_out = out;
			z->avail_out = SCREENDUMP_CHUNK;
		}
	} while (z->avail_in > 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

static int screendump_png(int fd, uint32_t width, uint32_t height, const uint8_t *rgb)
{
	static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	/* Width, height, 8 bits a channel, colour type 2 (RGB), deflate, no filtering
	 * method beyond the standard one, no interlace. */
	uint8_t ihdr[13] = {[8] = 8, [9] = 2};
	uint8_t filter = 0; /* each row as it is: GUI pictures deflate well enough */
	z_stream z = {0};
	uint8_t *out = malloc(SCREENDUMP_CHUNK);
	int err;

	if (!out)
		return -ENOMEM;
	/* The fastest level: the monitor's thread waits for it. */
	if (deflateInit(&z, Z_BEST_SPEED) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	put_be32(ihdr, width);
	put_be32(ihdr + 4, height);
	err = screendump_write_all(fd, signature, sizeof(signature));
	if (!err)
		err = screendump_png_chunk(fd, "IHDR", ihdr, sizeof(ihdr));
	z.next_out = out;
	z.avail_out = SCREENDUMP_CHUNK;
	for (uint32_t y = 0; !err && y < height; y++) {
		z.next_in = &filter;
		z.avail_in = 1;
		err = screendump_png_deflate(fd, &z, out, Z_NO_FLUSH);
		/* A row is below 2^32 bytes: width is at most the device's GPU_MAX_DIMENSION. */
		z.next_in = (Bytef *)(rgb + (size_t)y * width * 3);
		z.avail_in = width * 3;
		if (!err)
			err = screendump_png_deflate(fd, &z, out, Z_NO_FLUSH);
	}
	if (!err)
		err = screendump_png_deflate(fd, &z, out, Z_FINISH);
	if (!err)
		err = screendump_png_chunk(fd, "IEND", NULL, 0);
	deflateEnd(&z);
	free(out);
	return err;
}

int screendump_write(const char *path, enum screendump_format fmt, uint32_t width, uint32_t height,
		     const uint8_t *rgb)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int err;

	if (fd < 0)
		return -errno;
	err = fmt == SCREENDUMP_PNG ? screendump_png(fd, width, height, rgb)
				    : screendump_ppm(fd, width, height, rgb);
	if (close(fd) != 0 && !err)
		err = -errno;
	return err;
}
