/*
 * virtio-blk (virtio 1.2, 5.2): a raw image (devices/blk_image.c) as a disk, requests
 * parsed and executed by devices/blk_request.c.
 *
 * Queues: one per vCPU (VIRTIO_BLK_F_MQ), so Linux submits and completes each request on
 * the same CPU; a single queue would send every completion through an IPI to the CPU that
 * waits for it, which costs guest exits.
 *
 * Threads: each queue has its own workers (BLK_WORKERS shared out, at least two a queue).
 * Idle workers wait for a kick in their own epoll set holding the queue's kick eventfd
 * with EPOLLEXCLUSIVE, so a kick wakes one of them. A worker pops one chain under the queue
 * lock, executes it unlocked (preadv/pwritev straight on guest memory), then pushes the
 * result and interrupts the driver under the lock, and looks for the next chain. When it
 * pops a chain and more are waiting it kicks the eventfd itself so an idle worker starts on
 * the next one; so a burst of requests runs in parallel and completes out of order, while
 * a lone request is popped, executed and completed by the one thread the kick woke.
 *
 * Notifications: kicks are suppressed while every worker is busy (each looks at the ring
 * again before going idle, so none is missed), and re-enabled by the first worker to go
 * idle. Interrupts go through virtq_should_notify (event index), which coalesces the
 * completions the driver has not caught up with yet.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/blk_device.h"
#include "devices/blk_image.h"
#include "devices/blk_request.h"
#include "devices/virtio_devices.h"
#include "sandbox/sandbox.h"
#include "virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* Per-request limits advertised for DISCARD and WRITE_ZEROES. Both run as fallocate, so
 * large ranges are cheap; 4 KiB alignment matches what file systems can deallocate. */
#define BLK_MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB */
#define BLK_DISCARD_ALIGNMENT	8	   /* sectors */
#define BLK_MAX_ZEROES_SECTORS	(1u << 22)
#define BLK_MAX_ZEROES_SEG	16

struct blk_worker {
	struct blk_queue *q;
	pthread_t thread;
	char name[16]; /* the thread's; it names itself (the sandbox closes /proc) */
	int epoll_fd;
	bool started;
	struct virtq_chain chain;
	struct blk_req_scratch scratch;
};

/* One request queue and the workers that serve it. */
struct blk_queue {
	struct virtio_blk *blk;
	unsigned index;
	pthread_mutex_t lock; /* the virtq: pop, push, notify, kick suppression */
	unsigned idle;	      /* workers waiting for a kick */
	struct blk_worker *worker;
};

struct virtio_blk {
	struct virtio_device vdev;
	struct blk_image img;
	struct virtio_blk_config config;
	struct blk_req_ctx ctx;
	char name[8]; /* vda, vdb, ... as Linux will likely call it */

	unsigned nqueues, nworkers; /* workers per queue */
	struct blk_queue *queue;
	atomic_bool stopping;
	int stop_fd; /* readable while stopping: wakes every worker */
};

/* Sleep until a kick (or the stop) arrives. */
static void blk_worker_wait(struct blk_worker *w)
{
	struct epoll_event ev[2];
	eventfd_t v;

	while (epoll_wait(w->epoll_fd, ev, 2, -1) < 0 && errno == EINTR)
		;
	eventfd_read(w->q->blk->vdev.queue[w->q->index].kick_fd, &v);
}

/* Execute one popped chain (unlocked), then hand it back (locked). */
static void blk_worker_execute(struct blk_worker *w)
{
	struct blk_queue *q = w->q;
	struct virtio_blk *blk = q->blk;
	uint32_t used_len;
	int err;

	pthread_mutex_unlock(&q->lock);
	err = blk_request_execute(&blk->ctx, &w->chain, &w->scratch, &used_len);
	pthread_mutex_lock(&q->lock);
	if (err)
		virtio_device_broken(&blk->vdev, "request without a status byte");
	virtq_push(&blk->vdev.queue[q->index].vq, w->chain.head, used_len);
	virtio_queue_notify(&blk->vdev, q->index);
}

static void *blk_worker_main(void *arg)
{
	struct blk_worker *w = arg;
	struct blk_queue *q = w->q;
	struct virtio_blk *blk = q->blk;
	struct virtq *vq = &blk->vdev.queue[q->index].vq;

	pthread_setname_np(pthread_self(), w->name);
	sandbox_enter(SANDBOX_DEVICE);
	pthread_mutex_lock(&q->lock);
	while (!atomic_load(&blk->stopping)) {
		int r = virtq_pop(vq, &w->chain);

		if (r > 0) {
			if (q->idle == 0)
				virtq_set_notify(vq, false); /* all others are busy too */
			else if (virtq_has_work(vq))
				eventfd_write(blk->vdev.queue[q->index].kick_fd, 1); /* next one */
			blk_worker_execute(w);
			continue;
		}
		if (r < 0) {
			/* The ring is unusable until the driver resets the device. */
			virtio_device_broken(&blk->vdev, "bad descriptor chain");
		} else if (virtq_set_notify(vq, true)) {
			continue; /* a chain arrived while kicks were off */
		}
		q->idle++;
		pthread_mutex_unlock(&q->lock);
		blk_worker_wait(w);
		pthread_mutex_lock(&q->lock);
		q->idle--;
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* Stop and join every started worker; no thread touches the queues afterwards. */
static void blk_workers_stop(struct virtio_blk *blk)
{
	atomic_store(&blk->stopping, true);
	eventfd_write(blk->stop_fd, 1);
	for (unsigned i = 0; i < blk->nqueues; i++) {
		struct blk_queue *q = &blk->queue[i];
		for (unsigned j = 0; j < blk->nworkers; j++) {
			struct blk_worker *w = &q->worker[j];
			if (w->started)
				pthread_join(w->thread, NULL);
			if (w->epoll_fd >= 0)
				close(w->epoll_fd);
			w->started = false;
			w->epoll_fd = -1;
		}
		q->idle = 0;
	}
	eventfd_read(blk->stop_fd, &(eventfd_t){0});
	atomic_store(&blk->stopping, false);
}

static int blk_worker_start(struct blk_queue *q, struct blk_worker *w, unsigned i)
{
	struct virtio_blk *blk = q->blk;
	struct epoll_event kick = {.events = EPOLLIN | EPOLLEXCLUSIVE};
	struct epoll_event stop = {.events = EPOLLIN};
	pthread_attr_t attr;
	int ret;

	/* Started at most once between resets (the transport sees to it). */
	assert(!w->started);
	if (w->started)
		return -EBUSY;
	w->q = q;
	w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epoll_fd < 0)
		return -errno;
	if (epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, blk->vdev.queue[q->index].kick_fd, &kick) != 0 ||
	    epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, blk->stop_fd, &stop) != 0)
		return -errno;
	snprintf(w->name, sizeof(w->name), "blk-%.4s-%u.%u", blk->name, q->index % 100, i % 10);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ret = pthread_create(&w->thread, &attr, blk_worker_main, w);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	w->started = true;
	return 0;
}

static int blk_activate(struct virtio_device *vdev)
{
	struct virtio_blk *blk = vdev->priv;
	struct blk_req_ctx *ctx = &blk->ctx;
	int err = 0;

	ctx->discard = virtio_has_feature(vdev, VIRTIO_BLK_F_DISCARD);
	ctx->write_zeroes = virtio_has_feature(vdev, VIRTIO_BLK_F_WRITE_ZEROES);
	/* Without FLUSH the driver believes in a write-through disk (5.2.5). */
	ctx->flush_each_write = !virtio_has_feature(vdev, VIRTIO_BLK_F_FLUSH);
	/* Only the queues the driver enabled get workers (one, without VIRTIO_BLK_F_MQ). */
	for (unsigned i = 0; i < blk->nqueues && !err; i++)
		for (unsigned j = 0; vdev->queue[i].enabled && j < blk->nworkers && !err; j++)
			err = blk_worker_start(&blk->queue[i], &blk->queue[i].worker[j], j);
	if (err) {
		log_error("%s: cannot start its threads: %s", vdev->name, strerror(-err));
		blk_workers_stop(blk);
	}
	return err;
}

static void blk_reset(struct virtio_device *vdev)
{
	blk_workers_stop(vdev->priv);
}

static void blk_config_read(struct virtio_device *vdev, unsigned off, void *buf, unsigned len)
{
	struct virtio_blk *blk = vdev->priv;

	/* The transport checked off + len <= config_size. */
	memcpy(buf, (const uint8_t *)&blk->config + off, len);
}

/* No config_write: nothing is writable (writeback would need VIRTIO_BLK_F_CONFIG_WCE). */
static const struct virtio_device_ops blk_ops = {
    .config_read = blk_config_read,
    .activate = blk_activate,
    .reset = blk_reset,
};

static void blk_setup_config(struct virtio_blk *blk)
{
	struct virtio_blk_config *cfg = &blk->config;
	struct virtio_device *vdev = &blk->vdev;

	vdev->features = 1ULL << VIRTIO_BLK_F_SEG_MAX | 1ULL << VIRTIO_BLK_F_BLK_SIZE |
			 1ULL << VIRTIO_BLK_F_FLUSH;
	cfg->capacity = blk->img.size / BLK_SECTOR_SIZE;
	cfg->seg_max = BLK_SEG_MAX;
	cfg->blk_size = BLK_SECTOR_SIZE;
	cfg->num_queues = blk->nqueues;
	if (blk->nqueues > 1)
		vdev->features |= 1ULL << VIRTIO_BLK_F_MQ;
	if (blk->img.readonly) {
		vdev->features |= 1ULL << VIRTIO_BLK_F_RO;
	} else {
		vdev->features |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
		cfg->max_discard_sectors = BLK_MAX_DISCARD_SECTORS;
		cfg->max_discard_seg = BLK_MAX_RANGES;
		cfg->discard_sector_alignment = BLK_DISCARD_ALIGNMENT;
		cfg->max_write_zeroes_sectors = BLK_MAX_ZEROES_SECTORS;
		cfg->max_write_zeroes_seg = BLK_MAX_ZEROES_SEG;
		cfg->write_zeroes_may_unmap = 1;
	}
	blk->ctx = (struct blk_req_ctx){
	    .img = &blk->img,
	    .may_unmap = cfg->write_zeroes_may_unmap,
	    .max_discard_sectors = cfg->max_discard_sectors,
	    .max_discard_seg = cfg->max_discard_seg,
	    .max_write_zeroes_sectors = cfg->max_write_zeroes_sectors,
	    .max_write_zeroes_seg = cfg->max_write_zeroes_seg,
	};
	/* The serial number Linux shows in /sys/block/vdX/serial (20 bytes, NUL-padded). */
	snprintf(blk->ctx.id, sizeof(blk->ctx.id), "smolvm-%s", blk->name);
}

/* The queues and their (not yet started) workers. */
static int blk_alloc_queues(struct virtio_blk *blk, unsigned nqueues)
{
	blk->nqueues = nqueues;
	blk->nworkers = BLK_WORKERS / nqueues > 2 ? BLK_WORKERS / nqueues : 2;
	blk->queue = calloc(nqueues, sizeof(*blk->queue));
	if (!blk->queue)
		return -ENOMEM;
	for (unsigned i = 0; i < nqueues; i++) {
		struct blk_queue *q = &blk->queue[i];
		q->blk = blk;
		q->index = i;
		pthread_mutex_init(&q->lock, NULL);
		q->worker = calloc(blk->nworkers, sizeof(*q->worker));
		if (!q->worker)
			return -ENOMEM;
		for (unsigned j = 0; j < blk->nworkers; j++)
			q->worker[j].epoll_fd = -1;
	}
	return 0;
}

int virtio_blk_new(const struct drive_config *drive, unsigned index, unsigned nqueues,
		   struct virtio_blk **out)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));
	int err;

	if (!blk)
		return -ENOMEM;
	if (nqueues < 1)
		nqueues = 1;
	if (nqueues > BLK_MAX_QUEUES)
		nqueues = BLK_MAX_QUEUES;
	blk->stop_fd = -1;
	if (index < 26)
		snprintf(blk->name, sizeof(blk->name), "vd%c", 'a' + index);
	else
		snprintf(blk->name, sizeof(blk->name), "vd%u", index % 10000);
	err = blk_image_open(&blk->img, drive);
	if (err) {
		free(blk);
		return err;
	}
	blk->vdev = (struct virtio_device){
	    .name = "virtio-blk",
	    .ops = &blk_ops,
	    .priv = blk,
	    .device_id = VIRTIO_ID_BLOCK,
	    .config_size = sizeof(blk->config),
	};
	blk->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	err = blk->stop_fd < 0 ? -errno : blk_alloc_queues(blk, nqueues);
	if (!err)
		err = virtio_device_init(&blk->vdev, nqueues, BLK_QUEUE_SIZE);
	if (err) {
		log_error("drive %s: cannot set up its device: %s", drive->path, strerror(-err));
		virtio_blk_free(blk);
		return err;
	}
	blk_setup_config(blk);
	*out = blk;
	return 0;
}

struct virtio_device *virtio_blk_vdev(struct virtio_blk *blk)
{
	return &blk->vdev;
}

void virtio_blk_free(struct virtio_blk *blk)
{
	if (blk->queue)
		blk_workers_stop(blk);
	virtio_device_release(&blk->vdev);
	for (unsigned i = 0; blk->queue && i < blk->nqueues; i++) {
		pthread_mutex_destroy(&blk->queue[i].lock);
		free(blk->queue[i].worker);
	}
	free(blk->queue);
	if (blk->stop_fd >= 0)
		close(blk->stop_fd);
	blk_image_close(&blk->img);
	free(blk);
}

int virtio_blk_create(struct vm *vm, const struct drive_config *drive)
{
	/* main.c passes &cfg->drive[i]: i names the disk (vda, vdb, ...). */
	uintptr_t at = (uintptr_t)drive, first = (uintptr_t)vm->cfg->drive;
	unsigned index =
	    at >= first && at < first + sizeof(vm->cfg->drive) ? (at - first) / sizeof(*drive) : 0;
	struct virtio_blk *blk;
	/* A queue per vCPU: Linux completes each request on the CPU that sent it. */
	int err = virtio_blk_new(drive, index, vm->ncpus, &blk);

	if (err)
		return err;
	err = virtio_pci_add(vm, &blk->vdev);
	if (err)
		log_error("drive %s: cannot add its PCI device: %s", drive->path, strerror(-err));
	return err;
}
