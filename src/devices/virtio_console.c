/*
 * virtio-console (virtio 1.2, 5.3): hvc0, a single port. Output goes to stdout from the
 * device's thread; keyboard input arrives from the main loop through the console sink.
 * The terminal size reaches the guest through VIRTIO_CONSOLE_F_SIZE.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/virtio_devices.h"
#include "term/console.h"
#include "virtio/virtio.h"
#include "virtio/virtio_worker.h"
#include "vmm/stats.h"

#define CONSOLE_F_SIZE        0
#define CONSOLE_F_EMERG_WRITE 2
#define CONSOLE_QUEUE_SIZE    128
#define CONSOLE_RX            0
#define CONSOLE_TX            1

struct virtio_console_config {
	uint16_t cols, rows;
	uint32_t max_nr_ports;
	uint32_t emerg_wr;
} __attribute__((packed));

struct virtio_console {
	struct virtio_device vdev;
	struct virtio_worker worker;
	int out_fd;
	pthread_mutex_t rx_lock; /* the rx queue is filled from the main thread */
	bool active;
	struct virtio_console_config config;
	struct virtq_chain rx_chain, tx_chain;
};

static void console_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	if (len)
		stats_note_first_output();
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* a closed terminal must not stop the guest */
		p += n;
		len -= n;
	}
}

static void console_tx(struct virtio_console *con)
{
	struct virtio_device *vdev = &con->vdev;
	struct virtq *vq = &vdev->queue[CONSOLE_TX].vq;
	struct virtq_chain *c = &con->tx_chain;
	int r;

	do {
		virtq_set_notify(vq, false);
		while ((r = virtq_pop(vq, c)) > 0) {
			for (unsigned i = 0; i < c->nout; i++)
				console_write_all(con->out_fd, c->iov[i].iov_base, c->iov[i].iov_len);
			virtq_push(vq, c->head, 0);
		}
		virtio_queue_notify(vdev, CONSOLE_TX);
		if (r < 0) {
			virtio_device_broken(vdev, "bad transmit chain");
			return;
		}
	} while (virtq_set_notify(vq, true));
}

static void console_kick(struct virtio_device *vdev, unsigned q)
{
	struct virtio_console *con = vdev->priv;

	if (q == CONSOLE_TX)
		console_tx(con);
	else
		console_input_ready(); /* new receive buffers: pending keystrokes can go */
}

/* The console sink: copy keyboard input into the guest's receive buffers. */
size_t virtio_console_sink(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *con = opaque;
	struct virtio_device *vdev = &con->vdev;
	struct virtq *vq = &vdev->queue[CONSOLE_RX].vq;
	struct virtq_chain *c = &con->rx_chain;
	size_t done = 0;
	int r = 0;

	pthread_mutex_lock(&con->rx_lock);
	while (con->active && done < len && (r = virtq_pop(vq, c)) > 0) {
		size_t n = virtq_chain_write(c, 0, buf + done, len - done);
		virtq_push(vq, c->head, n);
		done += n;
	}
	if (done)
		virtio_queue_notify(vdev, CONSOLE_RX);
	if (r < 0)
		virtio_device_broken(vdev, "bad receive chain");
	pthread_mutex_unlock(&con->rx_lock);
	return done;
}

static int console_activate(struct virtio_device *vdev)
{
	struct virtio_console *con = vdev->priv;

	pthread_mutex_lock(&con->rx_lock);
	con->active = true;
	pthread_mutex_unlock(&con->rx_lock);
	return virtio_worker_start(&con->worker, "virtio-console");
}

static void console_reset(struct virtio_device *vdev)
{
	struct virtio_console *con = vdev->priv;

	virtio_worker_stop(&con->worker);
	pthread_mutex_lock(&con->rx_lock);
	con->active = false;
	pthread_mutex_unlock(&con->rx_lock);
}

static void console_config_read(struct virtio_device *vdev, unsigned off, void *buf, unsigned len)
{
	struct virtio_console *con = vdev->priv;

	memcpy(buf, (uint8_t *)&con->config + off, len);
}

static void console_config_write(struct virtio_device *vdev, unsigned off, const void *buf,
				 unsigned len)
{
	struct virtio_console *con = vdev->priv;

	/* emerg_wr: one character written before the queues work (early boot, panics). */
	if (off == offsetof(struct virtio_console_config, emerg_wr) && len >= 1)
		console_write_all(con->out_fd, buf, 1);
}

static const struct virtio_device_ops console_ops = {
	.config_read = console_config_read,
	.config_write = console_config_write,
	.activate = console_activate,
	.reset = console_reset,
};

void virtio_console_resize(struct virtio_console *con)
{
	struct winsize ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
		return;
	con->config.cols = ws.ws_col;
	con->config.rows = ws.ws_row;
	virtio_config_changed(&con->vdev);
}

struct virtio_console *virtio_console_create(struct vm *vm, int out_fd)
{
	struct virtio_console *con = calloc(1, sizeof(*con));
	struct winsize ws;

	if (!con)
		return NULL;
	con->out_fd = out_fd;
	pthread_mutex_init(&con->rx_lock, NULL);
	con->config.max_nr_ports = 1;
	con->vdev = (struct virtio_device){
		.name = "virtio-console",
		.ops = &console_ops,
		.priv = con,
		.device_id = VIRTIO_ID_CONSOLE,
		.features = 1ULL << CONSOLE_F_EMERG_WRITE,
		.config_size = sizeof(con->config),
	};
	con->worker = (struct virtio_worker){
		.vdev = &con->vdev,
		.queues = 1u << CONSOLE_RX | 1u << CONSOLE_TX,
		.on_kick = console_kick,
	};
	if (isatty(STDIN_FILENO) && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col) {
		con->config.cols = ws.ws_col;
		con->config.rows = ws.ws_row;
		con->vdev.features |= 1ULL << CONSOLE_F_SIZE;
	}
	if (virtio_device_init(&con->vdev, 2, CONSOLE_QUEUE_SIZE) != 0 ||
	    virtio_pci_add(vm, &con->vdev) != 0)
		return NULL;
	return con;
}
