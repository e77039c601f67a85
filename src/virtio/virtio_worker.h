/*
 * The usual shape of a device's I/O thread: sleep until a queue is kicked (or an extra
 * file descriptor of the device's backend is readable), then let the device serve it.
 * Started at DRIVER_OK, stopped at reset.
 */
#ifndef SMOLVM_VIRTIO_WORKER_H
#define SMOLVM_VIRTIO_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct virtio_device;

#define VIRTIO_WORKER_MAX_FDS 8

struct virtio_worker {
	struct virtio_device *vdev;
	uint64_t queues; /* bit q: this worker serves queue q's kicks */
	void (*on_kick)(struct virtio_device *vdev, unsigned q);
	/* Optional backend descriptors polled for input beside the kicks. */
	int extra_fd[VIRTIO_WORKER_MAX_FDS];
	unsigned nextra;
	void (*on_extra)(struct virtio_device *vdev, int fd);

	pthread_t thread;
	const char *name; /* the thread's, for ps and top */
	int stop_fd;
	bool running;
};

/* Start the thread (named name); 0 or -errno (-EBUSY if it is running already). The
 * fields above are set once, when the device is made; start and stop may then repeat. */
int virtio_worker_start(struct virtio_worker *w, const char *name);
/* Ask the thread to finish its current work and end; returns after it has. */
void virtio_worker_stop(struct virtio_worker *w);

#endif
