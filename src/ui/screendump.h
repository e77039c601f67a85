/*
 * A picture written to a file, for the monitor's screendump: a binary PPM (P6) or a PNG
 * (8-bit RGB, deflated with zlib), both of the same pixels.
 */
#ifndef SMOLVM_SCREENDUMP_H
#define SMOLVM_SCREENDUMP_H

#include <stdint.h>

#include "vmm/features.h"

/* Write width x height pixels (rgb: 3 bytes each, red first, rows of width pixels, both
 * sizes at least 1) to path as fmt. 0 or -errno. */
int screendump_write(const char *path, enum screendump_format fmt, uint32_t width, uint32_t height,
		     const uint8_t *rgb);

#endif
