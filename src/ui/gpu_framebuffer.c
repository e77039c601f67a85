#include "ui/gpu_framebuffer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void gpu_framebuffer_init(struct gpu_framebuffer *fb)
{
	memset(fb, 0, sizeof(*fb));
	pthread_mutex_init(&fb->lock, NULL);
}

void gpu_framebuffer_destroy(struct gpu_framebuffer *fb)
{
	free(fb->pixels);
	fb->pixels = NULL;
	pthread_mutex_destroy(&fb->lock);
}

/* Byte places of red, green, blue and alpha in a pixel, by format (the format's name
 * spells the bytes in memory order); -1: no alpha. */
struct gpu_pixel_layout {
	int8_t r, g, b, a;
};

static struct gpu_pixel_layout gpu_pixel_layout(uint32_t format)
{
	switch (format) {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM: return (struct gpu_pixel_layout){2, 1, 0, 3};
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM: return (struct gpu_pixel_layout){2, 1, 0, -1};
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM: return (struct gpu_pixel_layout){1, 2, 3, 0};
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM: return (struct gpu_pixel_layout){1, 2, 3, -1};
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM: return (struct gpu_pixel_layout){0, 1, 2, 3};
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM: return (struct gpu_pixel_layout){3, 2, 1, -1};
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM: return (struct gpu_pixel_layout){3, 2, 1, 0};
	default:			       return (struct gpu_pixel_layout){0, 1, 2, -1};
	}
}

static uint8_t gpu_pixel_byte(uint32_t raw, int index)
{
	return raw >> (8 * index); /* memory byte i is bits 8i..8i+7 on a little-endian host */
}

uint32_t gpu_pixel_rgb(uint32_t format, uint32_t raw)
{
	struct gpu_pixel_layout l = gpu_pixel_layout(format);

	/* What Linux uses (XRGB8888) is already in place. */
	if (format == VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM || format == VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM)
		return raw & 0xffffff;
	return (uint32_t)gpu_pixel_byte(raw, l.r) << 16 | (uint32_t)gpu_pixel_byte(raw, l.g) << 8 |
	       gpu_pixel_byte(raw, l.b);
}

uint8_t gpu_pixel_alpha(uint32_t format, uint32_t raw)
{
	struct gpu_pixel_layout l = gpu_pixel_layout(format);

	return l.a < 0 ? 255 : gpu_pixel_byte(raw, l.a);
}

/* Copy rows of res's rect src into the framebuffer at (dx, dy). Lock held. */
static void gpu_framebuffer_copy(struct gpu_framebuffer *fb, const struct gpu_resource *res,
				 const struct virtio_gpu_rect *src, uint32_t dx, uint32_t dy)
{
	/* Linux's format (XRGB8888: B8G8R8X8 in memory) needs only its top byte cleared: a
	 * loop the compiler vectorizes, where the general one converts pixel by pixel. Every
	 * flush of a whole screen comes through here. */
	bool bgr = res->format == VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM ||
		   res->format == VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM;

	for (uint32_t y = 0; y < src->height; y++) {
		const uint32_t *from = res->pixels + (uint64_t)(src->y + y) * res->width + src->x;
		uint32_t *to = fb->pixels + (uint64_t)(dy + y) * fb->width + dx;

		if (bgr) {
			for (uint32_t x = 0; x < src->width; x++)
				to[x] = from[x] & 0xffffff;
		} else {
			for (uint32_t x = 0; x < src->width; x++)
				to[x] = gpu_pixel_rgb(res->format, from[x]);
		}
	}
}

int gpu_framebuffer_show(struct gpu_framebuffer *fb, const struct gpu_resource *res,
			 const struct virtio_gpu_rect *r)
{
	uint32_t *pixels = NULL, *old;

	/* Allocated before taking the lock, so readers never wait on malloc. */
	if (r->width != fb->width || r->height != fb->height) {
		pixels = malloc((uint64_t)r->width * r->height * sizeof(*pixels));
		if (!pixels)
			return -ENOMEM;
	}
	pthread_mutex_lock(&fb->lock);
	old = pixels ? fb->pixels : NULL;
	if (pixels) {
		fb->pixels = pixels;
		fb->width = r->width;
		fb->height = r->height;
	}
	gpu_framebuffer_copy(fb, res, r, 0, 0);
	atomic_fetch_add(&fb->generation, 1);
	pthread_mutex_unlock(&fb->lock);
	free(old);
	return 0;
}

void gpu_framebuffer_update(struct gpu_framebuffer *fb, const struct gpu_resource *res,
			    const struct virtio_gpu_rect *shown, const struct virtio_gpu_rect *dirty)
{
	/* The intersection, in 64 bits: both rects lie inside the resource. */
	uint64_t x0 = dirty->x > shown->x ? dirty->x : shown->x;
	uint64_t y0 = dirty->y > shown->y ? dirty->y : shown->y;
	uint64_t x1 = (uint64_t)dirty->x + dirty->width, sx1 = (uint64_t)shown->x + shown->width;
	uint64_t y1 = (uint64_t)dirty->y + dirty->height, sy1 = (uint64_t)shown->y + shown->height;
	struct virtio_gpu_rect part;

	x1 = x1 < sx1 ? x1 : sx1;
	y1 = y1 < sy1 ? y1 : sy1;
	if (x0 >= x1 || y0 >= y1)
		return;
	part = (struct virtio_gpu_rect){x0, y0, x1 - x0, y1 - y0};
	pthread_mutex_lock(&fb->lock);
	/* The framebuffer has the shown rect's size (gpu_framebuffer_show came first). */
	if (fb->pixels && fb->width == shown->width && fb->height == shown->height)
		gpu_framebuffer_copy(fb, res, &part, x0 - shown->x, y0 - shown->y);
	atomic_fetch_add(&fb->generation, 1);
	pthread_mutex_unlock(&fb->lock);
}

void gpu_framebuffer_blank(struct gpu_framebuffer *fb)
{
	uint32_t *old;

	pthread_mutex_lock(&fb->lock);
	old = fb->pixels;
	fb->pixels = NULL;
	fb->width = fb->height = 0;
	fb->cursor.visible = false;
	atomic_fetch_add(&fb->generation, 1);
	pthread_mutex_unlock(&fb->lock);
	free(old);
}

void gpu_framebuffer_set_cursor(struct gpu_framebuffer *fb, const struct gpu_resource *res,
				uint32_t hot_x, uint32_t hot_y, uint32_t x, uint32_t y)
{
	struct gpu_cursor *c = &fb->cursor;

	pthread_mutex_lock(&fb->lock);
	c->visible = res != NULL;
	c->x = x;
	c->y = y;
	c->hot_x = hot_x < GPU_CURSOR_SIZE ? hot_x : 0;
	c->hot_y = hot_y < GPU_CURSOR_SIZE ? hot_y : 0;
	memset(c->image, 0, sizeof(c->image));
	for (uint32_t row = 0; res && row < res->height && row < GPU_CURSOR_SIZE; row++) {
		for (uint32_t col = 0; col < res->width && col < GPU_CURSOR_SIZE; col++) {
			uint32_t raw = res->pixels[(uint64_t)row * res->width + col];
			c->image[row * GPU_CURSOR_SIZE + col] =
			    (uint32_t)gpu_pixel_alpha(res->format, raw) << 24 |
			    gpu_pixel_rgb(res->format, raw);
		}
	}
	atomic_fetch_add(&fb->generation, 1);
	pthread_mutex_unlock(&fb->lock);
}

void gpu_framebuffer_move_cursor(struct gpu_framebuffer *fb, uint32_t x, uint32_t y)
{
	pthread_mutex_lock(&fb->lock);
	fb->cursor.x = x;
	fb->cursor.y = y;
	atomic_fetch_add(&fb->generation, 1);
	pthread_mutex_unlock(&fb->lock);
}

int gpu_framebuffer_copy_rgb(struct gpu_framebuffer *fb, uint32_t *width, uint32_t *height,
			     uint8_t **rgb)
{
	uint8_t *out = NULL;
	uint32_t w, h;

	/* Converted under the lock into a private copy; the guest's cursor is not part of the
	 * picture. */
	pthread_mutex_lock(&fb->lock);
	w = fb->width;
	h = fb->height;
	if (w && h && (out = malloc((size_t)w * h * 3))) {
		for (size_t i = 0; i < (size_t)w * h; i++) {
			out[3 * i] = fb->pixels[i] >> 16;
			out[3 * i + 1] = fb->pixels[i] >> 8;
			out[3 * i + 2] = fb->pixels[i];
		}
	}
	pthread_mutex_unlock(&fb->lock);
	if (!w || !h)
		return -ENODATA;
	if (!out)
		return -ENOMEM;
	*width = w;
	*height = h;
	*rgb = out;
	return 0;
}
