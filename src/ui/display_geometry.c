#include "ui/display_geometry.h"

struct display_rect display_letterbox(uint32_t fw, uint32_t fh, uint32_t dw, uint32_t dh)
{
	struct display_rect r = {0, 0, 0, 0};

	if (fw == 0 || fh == 0 || dw == 0 || dh == 0)
		return r;
	/* Compare the aspects as dw/fw <= dh/fh without division; 64 bits: no overflow. */
	if ((uint64_t)dw * fh <= (uint64_t)dh * fw) {
		r.w = dw;
		r.h = (uint32_t)((uint64_t)fh * dw / fw);
	} else {
		r.h = dh;
		r.w = (uint32_t)((uint64_t)fw * dh / fh);
	}
	if (r.w == 0)
		r.w = 1;
	if (r.h == 0)
		r.h = 1;
	r.x = (int32_t)((dw - r.w) / 2);
	r.y = (int32_t)((dh - r.h) / 2);
	return r;
}

static uint32_t display_axis_to_abs(int32_t p, int32_t start, uint32_t len)
{
	int64_t off = (int64_t)p - start;

	if (off <= 0 || len <= 1)
		return 0;
	if (off >= (int64_t)len - 1)
		return DISPLAY_ABS_MAX;
	/* Rounded, so the last pixel maps to the maximum and the first to 0. */
	return (uint32_t)((off * DISPLAY_ABS_MAX + (len - 1) / 2) / (len - 1));
}

bool display_point_to_abs(const struct display_rect *shown, int32_t px, int32_t py,
			  uint32_t *ax, uint32_t *ay)
{
	if (shown->w == 0 || shown->h == 0)
		return false;
	*ax = display_axis_to_abs(px, shown->x, shown->w);
	*ay = display_axis_to_abs(py, shown->y, shown->h);
	return true;
}
