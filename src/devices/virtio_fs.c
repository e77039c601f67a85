/*
 * virtio-fs (virtio 1.2, 5.11): a host directory shared with the guest, served in-process by
 * the FUSE server (fs/fuse_server.h). One device per -share.
 *
 * Queue 0 is hiprio: FORGET and BATCH_FORGET, which take no reply; a thread of its own serves
 * it so a forget never waits behind slow requests. Queues 1..N carry every other request; each
 * has a small pool of threads that take chains from the ring, handle them in parallel and
 * return them in whatever order they finish (FUSE matches replies by their unique id).
 *
 * No thread dispatches work to another: whichever worker a kick wakes takes a chain itself, so
 * a lone request costs one wake-up. The ring is shared under the queue's mutex; the FUSE
 * handling runs outside it. With EVENT_IDX (Linux always takes it) the driver kicks only once
 * we have caught up with the ring, so an idle worker sleeping on the kick eventfd is woken
 * exactly when new work arrives while the others are busy. A worker that finds more chains
 * behind the one it took kicks the eventfd itself, so a burst spreads over the pool.
 *
 * No DAX: no shared memory region is offered, so the guest copies all file data through the
 * queues. No notification queue (VIRTIO_FS_F_NOTIFICATION is not offered).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/virtio_devices.h"
#include "fs/fuse_server.h"
#include "sandbox/sandbox.h"
#include "virtio/virtio.h"
#include "virtio/virtio_worker.h"
#include "vmm/log.h"

/* A 1 MiB WRITE is 256 pages plus headers in one chain (INDIRECT_DESC keeps it one slot). */
#define FS_QUEUE_SIZE	     1024
#define FS_REQUEST_QUEUES    1 /* Linux before 6.11 sends everything on the first one */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define FS_WORKERS_PER_QUEUE 2 /* started for each input: the fewest that still race */
#else
#define FS_WORKERS_PER_QUEUE 4
#endif
#define FS_HIPRIO_QUEUE	     0
#define FS_WORKER_STACK	     (512 * 1024)

/* Device configuration (5.11.4), little-endian as x86 is. */
struct virtio_fs_config {
	uint8_t tag[36];
	uint32_t num_request_queues;
} __attribute__((packed));

struct virtio_fs;

/* One request queue and the workers serving it. */
struct fs_request_queue {
	struct virtio_fs *fs;
	unsigned index;	      /* virtio queue number */
	pthread_mutex_t lock; /* the ring: pop, push and notify */
	int stop_fd;	      /* eventfd: readable once the workers must end */
	bool stopping;	      /* under lock */
	pthread_t thread[FS_WORKERS_PER_QUEUE];
	unsigned nthreads;
};

struct virtio_fs {
	struct virtio_device vdev;
	struct virtio_fs_config config;
	struct fuse_server *server;
	struct virtio_worker hiprio;
	struct virtq_chain hiprio_chain;
	struct fs_request_queue rq[FS_REQUEST_QUEUES];
	char name[48];
};

/* Hiprio: forgets. The server acts on them only with no reply buffer, which is how the
 * driver sends them; anything else put here is returned untouched. */
static void fs_hiprio_kick(struct virtio_device *vdev, unsigned q)
{
	struct virtio_fs *fs = vdev->priv;
	struct virtq *vq = &vdev->queue[FS_HIPRIO_QUEUE].vq;
	struct virtq_chain *c = &fs->hiprio_chain;
	int r;

	do {
		while ((r = virtq_pop(vq, c)) > 0) {
			fuse_server_handle(fs->server, c->iov, c->nout, NULL, 0);
			virtq_push(vq, c->head, 0);
		}
		virtio_queue_notify(vdev, FS_HIPRIO_QUEUE);
		if (r < 0) {
			virtio_device_broken(vdev, "bad descriptor chain on the hiprio queue");
			return;
		}
	} while (virtq_set_notify(vq, true));
}

/* One chain, start to finish: the FUSE request in its readable part, the reply into its
 * writable part. Called without the queue lock. */
static uint32_t fs_handle_chain(struct virtio_fs *fs, const struct virtq_chain *c)
{
	return (uint32_t)fuse_server_handle(fs->server, c->iov, c->nout, c->iov + c->nout, c->nin);
}

/* Sleeps until a kick or the stop; one sleeping worker per kick (EPOLLEXCLUSIVE). */
static bool fs_worker_wait(struct fs_request_queue *rq, int ep, int kick_fd)
{
	struct epoll_event ev;
	eventfd_t v;
	int n;

	do
		n = epoll_wait(ep, &ev, 1, -1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		log_error("%s: epoll_wait: %s", rq->fs->name, strerror(errno));
		return false;
	}
	if (ev.data.fd == rq->stop_fd)
		return false;
	eventfd_read(kick_fd, &v); /* EAGAIN if a sibling took it: nothing lost */
	return true;
}

static int fs_worker_epoll(struct fs_request_queue *rq, int kick_fd)
{
	struct epoll_event kick = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = kick_fd};
	struct epoll_event stop = {.events = EPOLLIN, .data.fd = rq->stop_fd};
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		return -errno;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, kick_fd, &kick) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, rq->stop_fd, &stop)) {
		int err = -errno;
		close(ep);
		return err;
	}
	return ep;
}

static void *fs_worker_thread(void *arg)
{
	struct fs_request_queue *rq = arg;
	struct virtio_device *vdev = &rq->fs->vdev;
	struct virtio_queue *q = &vdev->queue[rq->index];
	struct virtq_chain *c = malloc(sizeof(*c));
	int ep = fs_worker_epoll(rq, q->kick_fd);
	uint32_t len;
	bool more;
	int r;

	/* Named from inside: naming another thread writes its /proc comm file, which the
	 * sandbox closes. */
	pthread_setname_np(pthread_self(), "virtio-fs");
	sandbox_enter(SANDBOX_DEVICE);
	if (!c || ep < 0) {
		log_error("%s: cannot start a worker: %s", rq->fs->name,
			  strerror(ep < 0 ? -ep : ENOMEM));
		goto out;
	}
	for (;;) {
		pthread_mutex_lock(&rq->lock);
		if (rq->stopping) {
			pthread_mutex_unlock(&rq->lock);
			break;
		}
		r = virtq_pop(&q->vq, c);
		if (r > 0) {
			more = virtq_has_work(&q->vq);
			pthread_mutex_unlock(&rq->lock);
			if (more) /* wake a sibling for the next chain */
				eventfd_write(q->kick_fd, 1);
			len = fs_handle_chain(rq->fs, c);
			pthread_mutex_lock(&rq->lock);
			virtq_push(&q->vq, c->head, len);
			virtio_queue_notify(vdev, rq->index);
			pthread_mutex_unlock(&rq->lock);
			continue;
		}
		if (r < 0)
			virtio_device_broken(vdev, "bad descriptor chain on a request queue");
		/* Publish how far we got, then look again: a chain added meanwhile either shows
		 * now or kicks us (2.7.10). A broken queue never shows work again. */
		more = r == 0 && virtq_set_notify(&q->vq, true);
		pthread_mutex_unlock(&rq->lock);
		if (!more && !fs_worker_wait(rq, ep, q->kick_fd))
			break;
	}
out:
	if (ep >= 0)
		close(ep);
	free(c);
	return NULL;
}

static void fs_queue_stop(struct fs_request_queue *rq)
{
	pthread_mutex_lock(&rq->lock);
	rq->stopping = true;
	pthread_mutex_unlock(&rq->lock);
	eventfd_write(rq->stop_fd, 1);
	for (unsigned i = 0; i < rq->nthreads; i++)
		pthread_join(rq->thread[i], NULL);
	rq->nthreads = 0;
	eventfd_read(rq->stop_fd, &(eventfd_t){0});
}

static int fs_queue_start(struct fs_request_queue *rq)
{
	pthread_attr_t attr;
	int err = 0;

	/* Started at most once between resets (the transport sees to it): a second pool
	 * would overrun thread[]. */
	assert(rq->nthreads == 0);
	if (rq->nthreads)
		return -EBUSY;
	rq->stopping = false;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, FS_WORKER_STACK);
	for (unsigned i = 0; i < FS_WORKERS_PER_QUEUE && !err; i++) {
		err = -pthread_create(&rq->thread[i], &attr, fs_worker_thread, rq);
		if (!err)
			rq->nthreads++;
	}
	pthread_attr_destroy(&attr);
	if (err)
		fs_queue_stop(rq);
	return err;
}

static void fs_stop(struct virtio_fs *fs)
{
	virtio_worker_stop(&fs->hiprio);
	for (unsigned i = 0; i < FS_REQUEST_QUEUES; i++)
		fs_queue_stop(&fs->rq[i]);
}

static int fs_activate(struct virtio_device *vdev)
{
	struct virtio_fs *fs = vdev->priv;
	int err;

	err = virtio_worker_start(&fs->hiprio, "virtio-fs-hi");
	for (unsigned i = 0; i < FS_REQUEST_QUEUES && !err; i++)
		if (vdev->queue[fs->rq[i].index].enabled)
			err = fs_queue_start(&fs->rq[i]);
	if (err) {
		log_error("%s: cannot start its threads: %s", fs->name, strerror(-err));
		fs_stop(fs);
	}
	return err;
}

/* The driver forgot every node and handle it had: so do we. */
static void fs_reset(struct virtio_device *vdev)
{
	struct virtio_fs *fs = vdev->priv;

	fs_stop(fs);
	fuse_server_reset(fs->server);
}

static void fs_config_read(struct virtio_device *vdev, unsigned off, void *buf, unsigned len)
{
	struct virtio_fs *fs = vdev->priv;

	memcpy(buf, (const uint8_t *)&fs->config + off, len);
}

/* No config_write: every field is read-only for the driver. */
static const struct virtio_device_ops fs_ops = {
    .config_read = fs_config_read,
    .activate = fs_activate,
    .reset = fs_reset,
};

static int fs_init_queues(struct virtio_fs *fs)
{
	for (unsigned i = 0; i < FS_REQUEST_QUEUES; i++) {
		struct fs_request_queue *rq = &fs->rq[i];

		rq->fs = fs;
		rq->index = FS_HIPRIO_QUEUE + 1 + i;
		pthread_mutex_init(&rq->lock, NULL);
		rq->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (rq->stop_fd < 0)
			return -errno;
	}
	return virtio_device_init(&fs->vdev, 1 + FS_REQUEST_QUEUES, FS_QUEUE_SIZE);
}

/* NULL (and a message) on failure; virtio_fs_create adds the PCI function. */

static enum fuse_server_cache fs_cache_mode(enum share_cache cache)
{
	switch (cache) {
	case SHARE_CACHE_ALWAYS:
		return FUSE_SERVER_CACHE_ALWAYS;
	case SHARE_CACHE_NEVER:
		return FUSE_SERVER_CACHE_NEVER;
	case SHARE_CACHE_AUTO:
		break;
	}
	return FUSE_SERVER_CACHE_AUTO;
}

struct virtio_device *virtio_fs_new(const struct share_config *share)
{
	struct fuse_server_config scfg = {
	    .root = share->path, .readonly = share->readonly, .cache = fs_cache_mode(share->cache)};
	struct virtio_fs *fs = calloc(1, sizeof(*fs));
	int err;

	if (!fs) {
		log_error("-share %s: %s", share->tag, strerror(ENOMEM));
		return NULL;
	}
	snprintf(fs->name, sizeof(fs->name), "virtio-fs %s", share->tag);
	/* The tag fills the field; a 36-byte tag has no NUL (5.11.4). */
	memcpy(fs->config.tag, share->tag, strnlen(share->tag, sizeof(fs->config.tag)));
	fs->config.num_request_queues = FS_REQUEST_QUEUES;
	fs->vdev = (struct virtio_device){
	    .name = fs->name,
	    .ops = &fs_ops,
	    .priv = fs,
	    .device_id = VIRTIO_ID_FS,
	    .config_size = sizeof(fs->config),
	};
	fs->hiprio = (struct virtio_worker){
	    .vdev = &fs->vdev, .queues = 1u << FS_HIPRIO_QUEUE, .on_kick = fs_hiprio_kick};
	for (unsigned i = 0; i < FS_REQUEST_QUEUES; i++)
		fs->rq[i].stop_fd = -1;
	err = fuse_server_new(&scfg, &fs->server);
	if (err) {
		log_error("-share %s: %s: %s", share->tag, share->path, strerror(-err));
		free(fs);
		return NULL;
	}
	err = fs_init_queues(fs);
	if (err) {
		log_error("-share %s: %s", share->tag, strerror(-err));
		virtio_fs_free(&fs->vdev);
		return NULL;
	}
	return &fs->vdev;
}

void virtio_fs_free(struct virtio_device *vdev)
{
	struct virtio_fs *fs = vdev->priv;

	fs_stop(fs);
	for (unsigned i = 0; i < FS_REQUEST_QUEUES; i++) {
		if (fs->rq[i].stop_fd >= 0)
			close(fs->rq[i].stop_fd);
		pthread_mutex_destroy(&fs->rq[i].lock);
	}
	virtio_device_release(vdev);
	fuse_server_free(fs->server);
	free(fs);
}

int virtio_fs_create(struct vm *vm, const struct share_config *share)
{
	struct virtio_device *vdev = virtio_fs_new(share);
	int err;

	if (!vdev)
		return -EINVAL;
	err = virtio_pci_add(vm, vdev);
	if (err)
		log_error("-share %s: cannot add the device: %s", share->tag, strerror(-err));
	return err;
}
