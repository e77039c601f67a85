/*
 * Where the guest's picture goes in a window, and where a point of the window is on the
 * picture: plain arithmetic, kept apart from SDL so unit tests can check it.
 */
#ifndef SMOLVM_DISPLAY_GEOMETRY_H
#define SMOLVM_DISPLAY_GEOMETRY_H

#include <stdbool.h>
#include <stdint.h>

/* The absolute pointer's range (virtio-input ABS_X/ABS_Y): 0..DISPLAY_ABS_MAX. */
#define DISPLAY_ABS_MAX 32767

struct display_rect {
	int32_t x, y;
	uint32_t w, h;
};

/* The largest rectangle of the picture's aspect (fw x fh) that fits in dw x dh, centred:
 * one scale for both axes, so never stretched unevenly. 0 x 0 when either size is 0. */
struct display_rect display_letterbox(uint32_t fw, uint32_t fh, uint32_t dw, uint32_t dh);

/* The point (px, py), in the same pixels as shown, as absolute pointer coordinates over the
 * picture shown in shown (0..DISPLAY_ABS_MAX each; points outside are clamped to its edge).
 * False when nothing is shown. */
bool display_point_to_abs(const struct display_rect *shown, int32_t px, int32_t py,
			  uint32_t *ax, uint32_t *ay);

#endif
