/*
 * virtio-gpu (virtio 1.2, 5.7), 2D only: one scanout, a controlq and a cursorq served by
 * the device's worker thread, never by a vCPU. What the guest shows is kept in a host
 * framebuffer that other threads (a window, the monitor's screendump) read through the
 * functions below, each safe from any thread.
 */
#ifndef SMOLVM_VIRTIO_GPU_H
#define SMOLVM_VIRTIO_GPU_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/features.h"

struct vm;
struct virtio_device;
struct virtio_gpu;
struct gpu_limits;

/* The device as a PCI function of vm; NULL after one line naming the problem. */
struct virtio_gpu *virtio_gpu_create(struct vm *vm);

/* The device without its PCI function, for unit tests; limits NULL: the defaults. */
struct virtio_gpu *virtio_gpu_new(const struct gpu_limits *limits);
struct virtio_device *virtio_gpu_vdev(struct virtio_gpu *gpu);
void virtio_gpu_free(struct virtio_gpu *gpu);

/* The size the display offers the guest (a window's size): GET_DISPLAY_INFO and GET_EDID
 * (a block whose preferred timing is this size, ui/edid.h) answer it from now on, and the
 * driver is told with VIRTIO_GPU_EVENT_DISPLAY and a configuration interrupt. 0, or -EINVAL for a size outside 1..GPU_MAX_DIMENSION. */
int virtio_gpu_set_preferred_size(struct virtio_gpu *gpu, uint32_t width, uint32_t height);

/* The scanout as a binary PPM (P6) or a PNG at path: 0, -ENODATA while the guest shows
 * nothing, or -errno. */
int virtio_gpu_screendump(struct virtio_gpu *gpu, const char *path, enum screendump_format fmt);

/* A reader's view of the scanout, valid between virtio_gpu_frame_lock and _unlock (which
 * hold up the worker's next update: copy, then unlock). */
struct virtio_gpu_frame {
	uint32_t width, height;	 /* 0 x 0: nothing shown */
	const uint32_t *pixels;	 /* 0x00RRGGBB, rows of width pixels */
	uint64_t generation;
	bool cursor_visible;
	uint32_t cursor_x, cursor_y, cursor_hot_x, cursor_hot_y;
	const uint32_t *cursor;	 /* 64 x 64, 0xAARRGGBB */
};
void virtio_gpu_frame_lock(struct virtio_gpu *gpu, struct virtio_gpu_frame *frame);
void virtio_gpu_frame_unlock(struct virtio_gpu *gpu);
/* Bumped after every change of the picture or the cursor; read without a lock. */
uint64_t virtio_gpu_frame_generation(struct virtio_gpu *gpu);
/* fn(opaque) is called on the worker thread after each change of the picture (e.g. to wake
 * a window's thread); set it before the guest starts. It must not block. */
void virtio_gpu_set_frame_listener(struct virtio_gpu *gpu, void (*fn)(void *opaque),
				   void *opaque);

#endif
