/*
 * The host's copy of what the guest shows: the scanout's pixels and the cursor, written by
 * the device's worker thread (at SET_SCANOUT, RESOURCE_FLUSH and UPDATE/MOVE_CURSOR) and
 * read by other threads: a window's, the monitor's screendump. A mutex guards the pixels
 * and the cursor; a generation counter, read without it, tells a reader whether anything
 * changed since it last looked.
 */
#ifndef SMOLVM_GPU_FRAMEBUFFER_H
#define SMOLVM_GPU_FRAMEBUFFER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ui/gpu_resources.h"

#define GPU_CURSOR_SIZE 64 /* what Linux's driver uses, and the most we keep */

struct gpu_cursor {
	bool visible;
	uint32_t x, y;		/* the hot spot's place on the scanout */
	uint32_t hot_x, hot_y;	/* inside the image */
	uint32_t image[GPU_CURSOR_SIZE * GPU_CURSOR_SIZE]; /* 0xAARRGGBB, rows of 64 */
};

struct gpu_framebuffer {
	pthread_mutex_t lock;
	uint32_t width, height; /* 0 x 0: the guest shows nothing */
	uint32_t *pixels;	/* 0x00RRGGBB, rows of width pixels */
	struct gpu_cursor cursor;
	_Atomic uint64_t generation; /* bumped after every change */
};

void gpu_framebuffer_init(struct gpu_framebuffer *fb);
void gpu_framebuffer_destroy(struct gpu_framebuffer *fb);

/* The worker's side. */
/* Show rect r of res (inside it), all of it: the framebuffer becomes r's size. 0 or -ENOMEM. */
int gpu_framebuffer_show(struct gpu_framebuffer *fb, const struct gpu_resource *res,
			 const struct virtio_gpu_rect *r);
/* Copy the part of res's rect dirty that the scanout rect shown shows. */
void gpu_framebuffer_update(struct gpu_framebuffer *fb, const struct gpu_resource *res,
			    const struct virtio_gpu_rect *shown, const struct virtio_gpu_rect *dirty);
/* Show nothing (scanout disabled, device reset). */
void gpu_framebuffer_blank(struct gpu_framebuffer *fb);
/* A new cursor image from res (at most 64 x 64), or hidden when res is NULL. */
void gpu_framebuffer_set_cursor(struct gpu_framebuffer *fb, const struct gpu_resource *res,
				uint32_t hot_x, uint32_t hot_y, uint32_t x, uint32_t y);
void gpu_framebuffer_move_cursor(struct gpu_framebuffer *fb, uint32_t x, uint32_t y);

/* The readers' side. */
/* A copy of the pixels as red, green, blue bytes (rows of *width pixels) in *rgb, which the
 * caller frees. 0, -ENODATA when nothing is shown, or -ENOMEM. */
int gpu_framebuffer_copy_rgb(struct gpu_framebuffer *fb, uint32_t *width, uint32_t *height,
			     uint8_t **rgb);

/* One pixel of a 32-bit format as 0x00RRGGBB, and its alpha (255 for the X formats). */
uint32_t gpu_pixel_rgb(uint32_t format, uint32_t raw);
uint8_t gpu_pixel_alpha(uint32_t format, uint32_t raw);

#endif
