/*
 * virtio-gpu-pci, 2D (virtio 1.2, 5.7): the device glue. The commands themselves are in
 * ui/gpu_commands.c, the resources in ui/gpu_resources.c, the host's copy of the picture
 * in ui/gpu_framebuffer.c.
 *
 * Threads: one worker serves both queues, so resources and the scanout are only ever
 * touched by it (and by reset, after it stopped). The configuration space is read by vCPU
 * threads and changed by whoever sets the preferred size: config_lock guards it.
 */
#include "ui/virtio_gpu.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ui/gpu_commands.h"
#include "ui/screendump.h"
#include "ui/virtio_gpu_proto.h"
#include "virtio/virtio.h"
#include "virtio/virtio_worker.h"
#include "vmm/log.h"

#define GPU_QUEUE_SIZE 256
#define GPU_CONTROLQ   0
#define GPU_CURSORQ    1

struct virtio_gpu {
	struct virtio_device vdev;
	struct virtio_worker worker;
	struct virtq_chain chain;
	struct gpu_state state;
	struct gpu_framebuffer fb;
	pthread_mutex_t config_lock;
	struct virtio_gpu_config config;
};

static void gpu_kick(struct virtio_device *vdev, unsigned q)
{
	struct virtio_gpu *gpu = vdev->priv;
	struct virtq *vq = &vdev->queue[q].vq;
	int r;

	do {
		virtq_set_notify(vq, false);
		while ((r = virtq_pop(vq, &gpu->chain)) > 0) {
			uint32_t len = q == GPU_CONTROLQ ? gpu_control_execute(&gpu->state, &gpu->chain)
							 : gpu_cursor_execute(&gpu->state, &gpu->chain);
			virtq_push(vq, gpu->chain.head, len);
			/* Each response at once: Linux waits for its fences one by one. */
			virtio_queue_notify(vdev, q);
		}
		if (r < 0) {
			virtio_device_broken(vdev, "bad descriptor chain");
			return;
		}
	} while (virtq_set_notify(vq, true));
}

static int gpu_activate(struct virtio_device *vdev)
{
	struct virtio_gpu *gpu = vdev->priv;

	gpu->state.resources.mem = vdev->mem;
	gpu->state.edid = virtio_has_feature(vdev, VIRTIO_GPU_F_EDID);
	return virtio_worker_start(&gpu->worker, "virtio-gpu");
}

static void gpu_reset(struct virtio_device *vdev)
{
	struct virtio_gpu *gpu = vdev->priv;

	virtio_worker_stop(&gpu->worker);
	gpu_state_reset(&gpu->state);
}

static void gpu_config_read(struct virtio_device *vdev, unsigned off, void *buf, unsigned len)
{
	struct virtio_gpu *gpu = vdev->priv;

	/* The transport checked off + len <= config_size. */
	pthread_mutex_lock(&gpu->config_lock);
	memcpy(buf, (const uint8_t *)&gpu->config + off, len);
	pthread_mutex_unlock(&gpu->config_lock);
}

static void gpu_config_write(struct virtio_device *vdev, unsigned off, const void *buf,
			     unsigned len)
{
	struct virtio_gpu *gpu = vdev->priv;
	uint32_t clear;

	/* Only events_clear is writable: its set bits clear those of events_read. */
	if (off != offsetof(struct virtio_gpu_config, events_clear) || len != sizeof(clear))
		return;
	memcpy(&clear, buf, sizeof(clear));
	pthread_mutex_lock(&gpu->config_lock);
	gpu->config.events_read &= ~clear;
	pthread_mutex_unlock(&gpu->config_lock);
}

static const struct virtio_device_ops gpu_ops = {
	.config_read = gpu_config_read,
	.config_write = gpu_config_write,
	.activate = gpu_activate,
	.reset = gpu_reset,
};

struct virtio_gpu *virtio_gpu_new(const struct gpu_limits *limits)
{
	static const struct gpu_limits defaults = {
		.max_dimension = GPU_MAX_DIMENSION,
		.max_resources = GPU_MAX_RESOURCES,
		.max_host_bytes = GPU_MAX_HOST_BYTES,
		.max_backing_entries = GPU_MAX_BACKING_ENTRIES,
	};
	struct virtio_gpu *gpu = calloc(1, sizeof(*gpu));

	if (!gpu)
		return NULL;
	gpu->vdev = (struct virtio_device){
		.name = "virtio-gpu",
		.ops = &gpu_ops,
		.priv = gpu,
		.device_id = VIRTIO_ID_GPU,
		/* An EDID that follows the preferred size: Linux reads it again on every
		 * display event and gives the connector its modes from it. */
		.features = 1ULL << VIRTIO_GPU_F_EDID,
		.config_size = sizeof(gpu->config),
	};
	gpu->worker = (struct virtio_worker){
		.vdev = &gpu->vdev,
		.queues = 1u << GPU_CONTROLQ | 1u << GPU_CURSORQ,
		.on_kick = gpu_kick,
	};
	gpu->config.num_scanouts = 1;
	pthread_mutex_init(&gpu->config_lock, NULL);
	gpu_framebuffer_init(&gpu->fb);
	gpu_state_init(&gpu->state, &gpu->fb, limits ? limits : &defaults);
	if (virtio_device_init(&gpu->vdev, 2, GPU_QUEUE_SIZE) != 0) {
		virtio_gpu_free(gpu);
		return NULL;
	}
	return gpu;
}

struct virtio_device *virtio_gpu_vdev(struct virtio_gpu *gpu)
{
	return &gpu->vdev;
}

void virtio_gpu_free(struct virtio_gpu *gpu)
{
	virtio_worker_stop(&gpu->worker);
	gpu_state_destroy(&gpu->state);
	gpu_framebuffer_destroy(&gpu->fb);
	pthread_mutex_destroy(&gpu->config_lock);
	virtio_device_release(&gpu->vdev);
	free(gpu);
}

struct virtio_gpu *virtio_gpu_create(struct vm *vm)
{
	struct virtio_gpu *gpu = virtio_gpu_new(NULL);
	int err = gpu ? virtio_pci_add(vm, &gpu->vdev) : -ENOMEM;

	if (err) {
		log_error("cannot create the virtio-gpu device: %s", strerror(-err));
		if (gpu)
			virtio_gpu_free(gpu);
		return NULL;
	}
	return gpu;
}

int virtio_gpu_set_preferred_size(struct virtio_gpu *gpu, uint32_t width, uint32_t height)
{
	if (width == 0 || height == 0 || width > GPU_MAX_DIMENSION || height > GPU_MAX_DIMENSION)
		return -EINVAL;
	atomic_store(&gpu->state.preferred, (uint64_t)width << 32 | height);
	pthread_mutex_lock(&gpu->config_lock);
	gpu->config.events_read |= VIRTIO_GPU_EVENT_DISPLAY;
	pthread_mutex_unlock(&gpu->config_lock);
	/* The driver reads events_read, asks GET_EDID (which now describes this size) and
	 * GET_DISPLAY_INFO again, and clears the event. */
	virtio_config_changed(&gpu->vdev);
	return 0;
}

int virtio_gpu_screendump(struct virtio_gpu *gpu, const char *path, enum screendump_format fmt)
{
	uint32_t width, height;
	uint8_t *rgb;
	int err = gpu_framebuffer_copy_rgb(&gpu->fb, &width, &height, &rgb);

	if (err)
		return err;
	/* Written without the framebuffer's lock: a slow disk never holds up the worker. */
	err = screendump_write(path, fmt, width, height, rgb);
	free(rgb);
	return err;
}

void virtio_gpu_frame_lock(struct virtio_gpu *gpu, struct virtio_gpu_frame *frame)
{
	struct gpu_framebuffer *fb = &gpu->fb;

	pthread_mutex_lock(&fb->lock);
	*frame = (struct virtio_gpu_frame){
		.width = fb->width,
		.height = fb->height,
		.pixels = fb->pixels,
		.generation = atomic_load(&fb->generation),
		.cursor_visible = fb->cursor.visible,
		.cursor_x = fb->cursor.x,
		.cursor_y = fb->cursor.y,
		.cursor_hot_x = fb->cursor.hot_x,
		.cursor_hot_y = fb->cursor.hot_y,
		.cursor = fb->cursor.image,
	};
}

void virtio_gpu_frame_unlock(struct virtio_gpu *gpu)
{
	pthread_mutex_unlock(&gpu->fb.lock);
}

uint64_t virtio_gpu_frame_generation(struct virtio_gpu *gpu)
{
	return atomic_load(&gpu->fb.generation);
}

void virtio_gpu_set_frame_listener(struct virtio_gpu *gpu, void (*fn)(void *opaque),
				   void *opaque)
{
	gpu->state.on_frame = fn;
	gpu->state.frame_opaque = opaque;
}
