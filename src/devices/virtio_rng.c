/* virtio-rng (virtio 1.2, 5.4): entropy from getrandom(2), so guests never stall for it. */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "devices/virtio_devices.h"
#include "virtio/virtio.h"
#include "virtio/virtio_worker.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_PER_REQUEST 65536 /* a hostile driver cannot make us fill gigabytes at once */

struct virtio_rng {
	struct virtio_device vdev;
	struct virtio_worker worker;
	struct virtq_chain chain;
};

static size_t rng_fill(const struct virtq_chain *c)
{
	size_t done = 0;

	for (unsigned i = c->nout; i < c->nout + c->nin && done < RNG_MAX_PER_REQUEST; i++) {
		size_t len = c->iov[i].iov_len, off = 0;
		if (len > RNG_MAX_PER_REQUEST - done)
			len = RNG_MAX_PER_REQUEST - done;
		while (off < len) {
			ssize_t n = getrandom((char *)c->iov[i].iov_base + off, len - off, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return done;
			off += n;
		}
		done += len;
	}
	return done;
}

static void rng_kick(struct virtio_device *vdev, unsigned q)
{
	struct virtio_rng *rng = vdev->priv;
	struct virtq *vq = &vdev->queue[0].vq;
	int r;

	do {
		virtq_set_notify(vq, false);
		while ((r = virtq_pop(vq, &rng->chain)) > 0)
			virtq_push(vq, rng->chain.head, rng_fill(&rng->chain));
		virtio_queue_notify(vdev, 0);
		if (r < 0) {
			virtio_device_broken(vdev, "bad descriptor chain");
			return;
		}
	} while (virtq_set_notify(vq, true));
}

static int rng_activate(struct virtio_device *vdev)
{
	struct virtio_rng *rng = vdev->priv;

	return virtio_worker_start(&rng->worker, "virtio-rng");
}

static void rng_reset(struct virtio_device *vdev)
{
	struct virtio_rng *rng = vdev->priv;

	virtio_worker_stop(&rng->worker);
}

/* No configuration space (config_size 0): no config_read or config_write. */
static const struct virtio_device_ops rng_ops = {
	.activate = rng_activate,
	.reset = rng_reset,
};

int virtio_rng_create(struct vm *vm)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	int ret;

	if (!rng)
		return -ENOMEM;
	rng->vdev = (struct virtio_device){
		.name = "virtio-rng",
		.ops = &rng_ops,
		.priv = rng,
		.device_id = VIRTIO_ID_RNG,
	};
	rng->worker = (struct virtio_worker){.vdev = &rng->vdev, .queues = 1, .on_kick = rng_kick};
	ret = virtio_device_init(&rng->vdev, 1, RNG_QUEUE_SIZE);
	return ret ? ret : virtio_pci_add(vm, &rng->vdev);
}
