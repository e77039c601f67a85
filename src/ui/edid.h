/*
 * An EDID 1.4 base block (VESA E-EDID, 128 bytes) describing a virtual monitor whose
 * preferred mode is a given size: what virtio-gpu's GET_EDID answers (virtio 1.2, 5.7.6.8).
 * Pure arithmetic on host values; nothing here comes from the guest.
 */
#ifndef SMOLVM_EDID_H
#define SMOLVM_EDID_H

#include <stdint.h>

#define EDID_BLOCK_SIZE 128
/* The detailed timing descriptor's active sizes are 12-bit fields. */
#define EDID_MAX_DIMENSION 4095

/* The size the preferred timing will describe for width x height: itself when both fit in
 * EDID_MAX_DIMENSION, else the largest size of the same aspect that fits (neither side
 * below 1). */
void edid_fit_size(uint32_t width, uint32_t height, uint32_t *fit_w, uint32_t *fit_h);

/* Fill out[] with a base block for a monitor named "smolvm" (manufacturer SMV) whose
 * preferred timing is edid_fit_size(width, height) at 60 Hz (lower when the pixel clock
 * would pass the field's 655.35 MHz), with a physical size of 96 dpi, established and
 * standard timings of the common modes that fit inside it, and a checksum. Different
 * sizes give different blocks. width and height must be at least 1. */
void edid_generate(uint8_t out[EDID_BLOCK_SIZE], uint32_t width, uint32_t height);

#endif
