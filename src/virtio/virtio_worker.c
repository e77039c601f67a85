#include "virtio/virtio_worker.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "virtio/virtio.h"
#include "vmm/log.h"


static void *virtio_worker_thread(void *arg)
{
	struct virtio_worker *w = arg;
	struct virtio_device *vdev = w->vdev;
	struct pollfd fds[1 + 64 + VIRTIO_WORKER_MAX_FDS];
	unsigned qidx[64], nq = 0, n = 0;

	/* Named from inside: naming another thread writes its /proc comm file, which the
	 * sandbox closes. */
	pthread_setname_np(pthread_self(), w->name);
	sandbox_enter(SANDBOX_DEVICE);

	fds[n++] = (struct pollfd){w->stop_fd, POLLIN, 0};
	for (unsigned q = 0; q < vdev->nqueues && q < 64; q++) {
		if (!(w->queues & (1ULL << q)))
			continue;
		qidx[nq++] = q;
		fds[n++] = (struct pollfd){vdev->queue[q].kick_fd, POLLIN, 0};
	}
	for (unsigned i = 0; i < w->nextra; i++)
		fds[n++] = (struct pollfd){w->extra_fd[i], POLLIN, 0};

	for (;;) {
		if (poll(fds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("%s: poll: %s", vdev->name, strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		for (unsigned i = 0; i < nq; i++) {
			if (fds[1 + i].revents & POLLIN) {
				eventfd_t v;
				eventfd_read(fds[1 + i].fd, &v);
				w->on_kick(vdev, qidx[i]);
			}
		}
		for (unsigned i = 0; i < w->nextra; i++)
			if (fds[1 + nq + i].revents)
				w->on_extra(vdev, fds[1 + nq + i].fd);
	}
	return NULL;
}

int virtio_worker_start(struct virtio_worker *w, const char *name)
{
	pthread_attr_t attr;
	int ret;

	/* Two threads on one queue would pop and push it unlocked: never. The transport
	 * starts a device at most once between resets, so this is a host bug. */
	assert(!w->running);
	if (w->running) {
		log_error("%s: its worker is already running", w->vdev->name);
		return -EBUSY;
	}
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0)
		return -errno;
	w->name = name;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ret = pthread_create(&w->thread, &attr, virtio_worker_thread, w);
	pthread_attr_destroy(&attr);
	if (ret) {
		close(w->stop_fd);
		return -ret;
	}
	w->running = true;
	return 0;
}

void virtio_worker_stop(struct virtio_worker *w)
{
	if (!w->running)
		return;
	eventfd_write(w->stop_fd, 1);
	pthread_join(w->thread, NULL);
	close(w->stop_fd);
	w->running = false;
}
