/*
 * The virtio-gpu 2D command set: one request chain in, one response out (virtio 1.2,
 * 5.7.6). Runs on the device's worker thread; a unit test or fuzzer may call it directly.
 *
 * The request is copied out of the chain once and checked before anything is done; a
 * request of the wrong size, an unknown command, a bad id or rectangle gets an error
 * response, never a crash. A fenced command (VIRTIO_GPU_FLAG_FENCE) is complete when its
 * response is written, so the response carries the fence back at once.
 */
#ifndef SMOLVM_GPU_COMMANDS_H
#define SMOLVM_GPU_COMMANDS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ui/gpu_framebuffer.h"
#include "ui/gpu_resources.h"
#include "virtio/virtq.h"

#define GPU_DEFAULT_WIDTH  800
#define GPU_DEFAULT_HEIGHT 600

/* The one scanout: which rectangle of which resource it shows (resource 0: none). */
struct gpu_scanout {
	uint32_t resource_id;
	struct virtio_gpu_rect r;
};

struct gpu_state {
	struct gpu_resources resources;
	struct gpu_framebuffer *fb;
	struct gpu_scanout scanout;
	/* The size GET_DISPLAY_INFO offers, width << 32 | height: set by any thread. */
	_Atomic uint64_t preferred;
	/* The driver accepted VIRTIO_GPU_F_EDID: GET_EDID is served (set at activation). */
	bool edid;
	/* Called on the worker thread after a flush changed what the scanout shows. */
	void (*on_frame)(void *opaque);
	void *frame_opaque;
};

void gpu_state_init(struct gpu_state *s, struct gpu_framebuffer *fb,
		    const struct gpu_limits *limits);
/* Forget every resource and the scanout (device reset). */
void gpu_state_reset(struct gpu_state *s);
void gpu_state_destroy(struct gpu_state *s);

/* Execute one control queue chain; returns the bytes of response written into its
 * writable part (0 when the driver left no room for a response). */
uint32_t gpu_control_execute(struct gpu_state *s, const struct virtq_chain *c);
/* Execute one cursor queue chain (no response: Linux gives none room); returns 0. */
uint32_t gpu_cursor_execute(struct gpu_state *s, const struct virtq_chain *c);

#endif
