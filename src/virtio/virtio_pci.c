/*
 * virtio over PCI, modern interface only (virtio 1.2, 4.1). One 64-bit memory BAR holds
 * the common configuration, ISR, device configuration, notification area and the MSI-X
 * table. Queue notifications are ioeventfds at each queue's notify address, so a kick
 * wakes the device's thread inside KVM without leaving the vCPU's KVM_RUN.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pci/msix.h"
#include "pci/pci.h"
#include "virtio/virtio.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define PCI_VENDOR_REDHAT_QUMRANET 0x1af4
#define VIRTIO_PCI_DEVICE_BASE     0x1040

/* BAR 0 layout. */
#define BAR_COMMON     0x0000
#define BAR_COMMON_LEN 0x40
#define BAR_ISR        0x0800
#define BAR_DEVICE     0x1000
#define BAR_DEVICE_MAX 0x1000
#define BAR_NOTIFY     0x2000
#define BAR_MSIX_TABLE 0x3000
#define BAR_MSIX_PBA   0x3800
#define BAR_SIZE       0x4000
#define NOTIFY_MULT    4 /* each queue its own address: no data match needed */

/* Capability types (4.1.4). */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR    3
#define CAP_DEVICE 4
#define CAP_PCI    5
#define PCI_CAP_ID_VNDR 0x09

/* Common configuration fields (4.1.4.3). */
enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX = 0x10,
	CC_NUMQ = 0x12,
	CC_STATUS = 0x14,
	CC_CFGGEN = 0x15,
	CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a,
	CC_Q_ENABLE = 0x1c,
	CC_Q_NOFF = 0x1e,
	CC_Q_DESCLO = 0x20,
	CC_Q_DESCHI = 0x24,
	CC_Q_AVAILLO = 0x28,
	CC_Q_AVAILHI = 0x2c,
	CC_Q_USEDLO = 0x30,
	CC_Q_USEDHI = 0x34,
};

struct virtio_pci {
	struct pci_device pci;
	struct msix msix;
	struct virtio_device *vdev;
	struct vm *vm;
	pthread_mutex_t lock;
	uint32_t dfselect, gfselect;
	uint64_t driver_features;
	uint16_t queue_sel;
	_Atomic uint16_t config_vector;
	_Atomic uint8_t config_generation;
	_Atomic uint8_t isr;
	unsigned pci_cfg_cap; /* offset of the VIRTIO_PCI_CAP_PCI_CFG capability */
	bool activated;	      /* the device was started (or tried to) since the last reset */
};

static uint64_t virtio_pci_offered(const struct virtio_device *vdev)
{
	return vdev->features | 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_RING_F_INDIRECT_DESC |
	       1ULL << VIRTIO_RING_F_EVENT_IDX;
}

int virtio_device_init(struct virtio_device *vdev, unsigned nqueues, uint16_t max_size)
{
	vdev->nqueues = nqueues;
	vdev->queue = calloc(nqueues, sizeof(*vdev->queue));
	if (!vdev->queue)
		return -ENOMEM;
	for (unsigned i = 0; i < nqueues; i++) {
		vdev->queue[i].max_size = max_size;
		vdev->queue[i].vq.size = max_size;
		vdev->queue[i].msix_vector = VIRTIO_NO_VECTOR;
		vdev->queue[i].kick_fd = -1;
	}
	for (unsigned i = 0; i < nqueues; i++) {
		vdev->queue[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vdev->queue[i].kick_fd < 0) {
			int err = -errno;

			virtio_device_release(vdev);
			return err;
		}
	}
	return 0;
}

void virtio_device_release(struct virtio_device *vdev)
{
	for (unsigned i = 0; vdev->queue && i < vdev->nqueues; i++)
		if (vdev->queue[i].kick_fd >= 0)
			close(vdev->queue[i].kick_fd);
	free(vdev->queue);
	vdev->queue = NULL;
	vdev->nqueues = 0;
}

static void virtio_pci_msix_notify(struct virtio_pci *vp, uint16_t vector)
{
	if (vector != VIRTIO_NO_VECTOR)
		msix_notify(&vp->msix, vector);
}

void virtio_queue_notify(struct virtio_device *vdev, unsigned q)
{
	/* No transport: a device model driven by a unit test. */
	if (q >= vdev->nqueues || !virtq_should_notify(&vdev->queue[q].vq) || !vdev->transport)
		return;
	atomic_fetch_or(&vdev->transport->isr, 1);
	virtio_pci_msix_notify(vdev->transport, vdev->queue[q].msix_vector);
}

void virtio_config_changed(struct virtio_device *vdev)
{
	struct virtio_pci *vp = vdev->transport;

	if (!vp)
		return;
	atomic_fetch_add(&vp->config_generation, 1);
	atomic_fetch_or(&vp->isr, 2);
	virtio_pci_msix_notify(vp, atomic_load(&vp->config_vector));
}

void virtio_device_broken(struct virtio_device *vdev, const char *why)
{
	unsigned reports;

	if (atomic_fetch_or(&vdev->status, VIRTIO_STATUS_NEEDS_RESET) & VIRTIO_STATUS_NEEDS_RESET)
		return;
	/* A guest that breaks and resets its device in a loop must not flood the terminal. */
	reports = atomic_fetch_add(&vdev->broken_reports, 1);
	if (reports < VIRTIO_BROKEN_REPORTS)
		log_warn("%s: the guest driver broke the device (%s); it needs a reset%s", vdev->name,
			 why, reports + 1 == VIRTIO_BROKEN_REPORTS ? " (no more such reports)" : "");
	virtio_config_changed(vdev);
}

/* Status 0: stop the device, forget the negotiation and the queues. Lock held. */
static void virtio_pci_reset(struct virtio_pci *vp)
{
	struct virtio_device *vdev = vp->vdev;

	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	for (unsigned i = 0; i < vdev->nqueues; i++) {
		struct virtio_queue *q = &vdev->queue[i];
		virtq_reset(&q->vq);
		q->vq.size = q->max_size;
		q->enabled = false;
		q->msix_vector = VIRTIO_NO_VECTOR;
		eventfd_read(q->kick_fd, &(eventfd_t){0});
	}
	vp->driver_features = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->queue_sel = 0;
	vdev->acked = 0;
	atomic_store(&vp->config_vector, VIRTIO_NO_VECTOR);
	atomic_store(&vp->isr, 0);
	atomic_store(&vdev->status, 0);
	vp->activated = false;
}

/* DRIVER_OK: validate the enabled queues against guest memory, then start the device.
 * Called at most once between resets. */
static void virtio_pci_activate(struct virtio_pci *vp)
{
	struct virtio_device *vdev = vp->vdev;

	vp->activated = true;
	for (unsigned i = 0; i < vdev->nqueues; i++) {
		struct virtio_queue *q = &vdev->queue[i];
		if (!q->enabled)
			continue;
		q->vq.event_idx = virtio_has_feature(vdev, VIRTIO_RING_F_EVENT_IDX);
		q->vq.indirect = virtio_has_feature(vdev, VIRTIO_RING_F_INDIRECT_DESC);
		if (virtq_enable(&q->vq, vdev->mem) != 0) {
			virtio_device_broken(vdev, "queue outside guest memory or of a bad size");
			return;
		}
	}
	if (vdev->ops->activate && vdev->ops->activate(vdev) != 0) {
		virtio_device_broken(vdev, "the device could not start");
		return;
	}
	/* Buffers the driver queued before DRIVER_OK may have had no kick of their own. */
	for (unsigned i = 0; i < vdev->nqueues; i++)
		if (vdev->queue[i].enabled)
			eventfd_write(vdev->queue[i].kick_fd, 1);
}

/* Each status bit the driver sets needs the one before it (virtio 1.2, 3.1.1). */
static bool virtio_pci_status_in_order(uint8_t status)
{
	if ((status & VIRTIO_STATUS_DRIVER) && !(status & VIRTIO_STATUS_ACKNOWLEDGE))
		return false;
	if ((status & VIRTIO_STATUS_FEATURES_OK) && !(status & VIRTIO_STATUS_DRIVER))
		return false;
	return !(status & VIRTIO_STATUS_DRIVER_OK) || (status & VIRTIO_STATUS_FEATURES_OK);
}

/*
 * The driver wrote the status register (virtio 1.2, 2.1 and 3.1). 0 resets the device.
 * Otherwise the driver may only add bits, each after the one it needs; clearing a bit
 * without a reset, or setting one out of order, breaks the device (DEVICE_NEEDS_RESET and
 * a configuration interrupt) and changes nothing else. So a device starts at most once
 * between resets, and its features cannot change while it runs. FAILED is always taken:
 * it is how a driver gives up. Lock held.
 */
static void virtio_pci_set_status(struct virtio_pci *vp, uint8_t status)
{
	struct virtio_device *vdev = vp->vdev;
	uint8_t old = atomic_load(&vdev->status), add;

	if (status == 0) {
		virtio_pci_reset(vp);
		return;
	}
	/* NEEDS_RESET is the device's to set; the driver cannot clear it. */
	status &= ~VIRTIO_STATUS_NEEDS_RESET;
	if (old & ~status & ~VIRTIO_STATUS_NEEDS_RESET) {
		virtio_device_broken(vdev, "status bits cleared without a reset");
		return;
	}
	add = status & ~old;
	if (add & VIRTIO_STATUS_FAILED) {
		atomic_fetch_or(&vdev->status, VIRTIO_STATUS_FAILED);
		add &= ~VIRTIO_STATUS_FAILED;
	}
	if (!add || (old & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
		return; /* a broken or failed device takes nothing more until reset */
	if (!virtio_pci_status_in_order(old | add)) {
		virtio_device_broken(vdev, "status bits set out of order");
		return;
	}
	if (add & VIRTIO_STATUS_FEATURES_OK) {
		/* Refuse features we never offered, and legacy drivers (2.2.2): FEATURES_OK
		 * then reads back clear, which tells the driver (3.1.1, step 6). */
		if ((vp->driver_features & ~virtio_pci_offered(vdev)) ||
		    !(vp->driver_features & (1ULL << VIRTIO_F_VERSION_1))) {
			add &= ~VIRTIO_STATUS_FEATURES_OK;
			if (add & VIRTIO_STATUS_DRIVER_OK) {
				virtio_device_broken(vdev, "DRIVER_OK without accepted features");
				return;
			}
		} else {
			vdev->acked = vp->driver_features;
		}
	}
	atomic_fetch_or(&vdev->status, add);
	if ((add & VIRTIO_STATUS_DRIVER_OK) && !vp->activated)
		virtio_pci_activate(vp);
}

static struct virtio_queue *virtio_pci_selected(struct virtio_pci *vp)
{
	return vp->queue_sel < vp->vdev->nqueues ? &vp->vdev->queue[vp->queue_sel] : NULL;
}

static uint64_t virtio_pci_common_read(struct virtio_pci *vp, unsigned off, unsigned size)
{
	struct virtio_device *vdev = vp->vdev;
	struct virtio_queue *q = virtio_pci_selected(vp);
	uint64_t offered = virtio_pci_offered(vdev);

	switch (off) {
	case CC_DFSELECT:
		return vp->dfselect;
	case CC_DF:
		return vp->dfselect < 2 ? (uint32_t)(offered >> (32 * vp->dfselect)) : 0;
	case CC_GFSELECT:
		return vp->gfselect;
	case CC_GF:
		return vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0;
	case CC_MSIX:
		return atomic_load(&vp->config_vector);
	case CC_NUMQ:
		return vdev->nqueues;
	case CC_STATUS:
		return atomic_load(&vdev->status);
	case CC_CFGGEN:
		return atomic_load(&vp->config_generation);
	case CC_Q_SELECT:
		return vp->queue_sel;
	}
	if (!q)
		return 0;
	switch (off) {
	case CC_Q_SIZE:
		return q->vq.size;
	case CC_Q_MSIX:
		return q->msix_vector;
	case CC_Q_ENABLE:
		return q->enabled;
	case CC_Q_NOFF:
		return vp->queue_sel;
	case CC_Q_DESCLO:
		return (uint32_t)q->vq.desc_gpa;
	case CC_Q_DESCHI:
		return q->vq.desc_gpa >> 32;
	case CC_Q_AVAILLO:
		return (uint32_t)q->vq.avail_gpa;
	case CC_Q_AVAILHI:
		return q->vq.avail_gpa >> 32;
	case CC_Q_USEDLO:
		return (uint32_t)q->vq.used_gpa;
	case CC_Q_USEDHI:
		return q->vq.used_gpa >> 32;
	}
	return 0;
}

static void set_lo(uint64_t *v, uint32_t lo)
{
	*v = (*v & ~0xffffffffULL) | lo;
}

static void set_hi(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffULL) | (uint64_t)hi << 32;
}

static uint16_t virtio_pci_valid_vector(struct virtio_pci *vp, uint16_t v)
{
	/* An unknown vector reads back as NO_VECTOR, which tells the driver it failed. */
	return v < vp->msix.nvec ? v : VIRTIO_NO_VECTOR;
}

static bool virtio_pci_queue_setup_open(uint8_t status)
{
	return (status & VIRTIO_STATUS_FEATURES_OK) &&
	       !(status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET |
			   VIRTIO_STATUS_FAILED));
}

static void virtio_pci_common_write(struct virtio_pci *vp, unsigned off, unsigned size,
				    uint32_t v)
{
	struct virtio_device *vdev = vp->vdev;
	struct virtio_queue *q = virtio_pci_selected(vp);
	uint8_t status = atomic_load(&vdev->status);

	switch (off) {
	case CC_DFSELECT:
		vp->dfselect = v;
		return;
	case CC_GFSELECT:
		vp->gfselect = v;
		return;
	case CC_GF:
		/* Features are fixed once FEATURES_OK is set (3.1.1), and by a broken device. */
		if (vp->gfselect < 2 &&
		    !(status & (VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_NEEDS_RESET))) {
			if (vp->gfselect == 0)
				set_lo(&vp->driver_features, v);
			else
				set_hi(&vp->driver_features, v);
		}
		return;
	case CC_MSIX:
		atomic_store(&vp->config_vector, virtio_pci_valid_vector(vp, v));
		return;
	case CC_STATUS:
		virtio_pci_set_status(vp, v);
		return;
	case CC_Q_SELECT:
		vp->queue_sel = v;
		return;
	}
	/* Queue registers are the driver's to set after feature negotiation (3.1.1, step 7)
	 * and until it enables the queue or the device; other writes are ignored. */
	if (!q || q->enabled || !virtio_pci_queue_setup_open(status))
		return;
	switch (off) {
	case CC_Q_SIZE:
		q->vq.size = v <= q->max_size ? v : q->max_size;
		break;
	case CC_Q_MSIX:
		q->msix_vector = virtio_pci_valid_vector(vp, v);
		break;
	case CC_Q_ENABLE:
		q->enabled = v == 1; /* writing 0 is not allowed (4.1.4.3.2): it changes nothing */
		break;
	case CC_Q_DESCLO:
		set_lo(&q->vq.desc_gpa, v);
		break;
	case CC_Q_DESCHI:
		set_hi(&q->vq.desc_gpa, v);
		break;
	case CC_Q_AVAILLO:
		set_lo(&q->vq.avail_gpa, v);
		break;
	case CC_Q_AVAILHI:
		set_hi(&q->vq.avail_gpa, v);
		break;
	case CC_Q_USEDLO:
		set_lo(&q->vq.used_gpa, v);
		break;
	case CC_Q_USEDHI:
		set_hi(&q->vq.used_gpa, v);
		break;
	}
}

static uint64_t virtio_pci_bar_read(void *opaque, uint64_t off, unsigned size)
{
	struct virtio_pci *vp = opaque;
	struct virtio_device *vdev = vp->vdev;
	uint64_t v = 0;

	if (off < BAR_COMMON + BAR_COMMON_LEN) {
		pthread_mutex_lock(&vp->lock);
		v = virtio_pci_common_read(vp, off, size);
		pthread_mutex_unlock(&vp->lock);
		return size == 1 ? (uint8_t)v : size == 2 ? (uint16_t)v : v;
	}
	if (off == BAR_ISR)
		return atomic_exchange(&vp->isr, 0); /* reading acknowledges */
	if (off >= BAR_DEVICE && off - BAR_DEVICE + size <= vdev->config_size) {
		vdev->ops->config_read(vdev, off - BAR_DEVICE, &v, size);
		return v;
	}
	if (off >= BAR_MSIX_TABLE && off < BAR_MSIX_PBA)
		return msix_table_read(&vp->msix, off - BAR_MSIX_TABLE, size);
	if (off >= BAR_MSIX_PBA && off < BAR_SIZE)
		return msix_pba_read(&vp->msix, off - BAR_MSIX_PBA, size);
	return 0;
}

static void virtio_pci_bar_write(void *opaque, uint64_t off, unsigned size, uint64_t value)
{
	struct virtio_pci *vp = opaque;
	struct virtio_device *vdev = vp->vdev;

	if (off < BAR_COMMON + BAR_COMMON_LEN) {
		pthread_mutex_lock(&vp->lock);
		virtio_pci_common_write(vp, off, size, value);
		pthread_mutex_unlock(&vp->lock);
	} else if (off >= BAR_DEVICE && off - BAR_DEVICE + size <= vdev->config_size) {
		if (vdev->ops->config_write)
			vdev->ops->config_write(vdev, off - BAR_DEVICE, &value, size);
	} else if (off >= BAR_NOTIFY && off < BAR_NOTIFY + vdev->nqueues * NOTIFY_MULT) {
		/* Reaches us only when the access missed the ioeventfd (odd size). */
		eventfd_write(vdev->queue[(off - BAR_NOTIFY) / NOTIFY_MULT].kick_fd, 1);
	} else if (off >= BAR_MSIX_TABLE && off < BAR_MSIX_PBA) {
		msix_table_write(&vp->msix, off - BAR_MSIX_TABLE, size, value);
	}
}

static const char *virtio_pci_bar_label(void *opaque)
{
	struct virtio_pci *vp = opaque;

	return vp->vdev->name;
}

static const struct bus_ops virtio_pci_bar_ops = {
	.read = virtio_pci_bar_read,
	.write = virtio_pci_bar_write,
	.label = virtio_pci_bar_label,
};

/* Follow the BAR: the notify addresses are ioeventfds inside KVM. */
static void virtio_pci_bar_moved(struct pci_device *dev, unsigned bar, uint64_t addr, bool mapped)
{
	struct virtio_pci *vp = (struct virtio_pci *)dev;

	/* A machine without KVM (unit tests, fuzzers): kicks reach the BAR's bus handler. */
	if (vp->vm->vm_fd < 0)
		return;
	for (unsigned i = 0; i < vp->vdev->nqueues; i++) {
		struct kvm_ioeventfd ioev = {
			.addr = addr + BAR_NOTIFY + i * NOTIFY_MULT,
			.len = 2,
			.fd = vp->vdev->queue[i].kick_fd,
			.flags = mapped ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
		};
		if (ioctl(vp->vm->vm_fd, KVM_IOEVENTFD, &ioev) < 0)
			log_warn("%s: KVM_IOEVENTFD: %s", vp->vdev->name, strerror(errno));
	}
}

/* VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): a window onto the BAR through configuration space. */
struct pci_cfg_window {
	uint8_t bar;
	uint32_t offset, length;
};

static struct pci_cfg_window virtio_pci_cfg_window(const struct virtio_pci *vp)
{
	struct pci_cfg_window w;
	const uint8_t *cap = vp->pci.cfg + vp->pci_cfg_cap;

	w.bar = cap[4];
	memcpy(&w.offset, cap + 8, 4);
	memcpy(&w.length, cap + 12, 4);
	return w;
}

static bool virtio_pci_cfg_window_ok(const struct pci_cfg_window *w)
{
	return w->bar == 0 && (w->length == 1 || w->length == 2 || w->length == 4) &&
	       w->offset < BAR_SIZE && w->offset % w->length == 0;
}

static void virtio_pci_config_reading(struct pci_device *dev, unsigned offset, unsigned size)
{
	struct virtio_pci *vp = (struct virtio_pci *)dev;
	unsigned data = vp->pci_cfg_cap + 16;
	struct pci_cfg_window w = virtio_pci_cfg_window(vp);
	uint32_t v;

	if (offset + size <= data || offset >= data + 4 || !virtio_pci_cfg_window_ok(&w))
		return;
	v = virtio_pci_bar_read(vp, w.offset, w.length);
	memcpy(dev->cfg + data, &v, 4);
}

static void virtio_pci_config_written(struct pci_device *dev, unsigned offset, unsigned size)
{
	struct virtio_pci *vp = (struct virtio_pci *)dev;
	unsigned data = vp->pci_cfg_cap + 16;
	struct pci_cfg_window w = virtio_pci_cfg_window(vp);

	msix_config_written(&vp->msix, offset, size);
	if (offset + size > data && offset < data + 4 && virtio_pci_cfg_window_ok(&w)) {
		uint32_t v;
		memcpy(&v, dev->cfg + data, 4);
		virtio_pci_bar_write(vp, w.offset, w.length, v);
	}
}

static const struct pci_device_ops virtio_pci_dev_ops = {
	.bar_moved = virtio_pci_bar_moved,
	.config_written = virtio_pci_config_written,
	.config_reading = virtio_pci_config_reading,
};

static void virtio_pci_add_cap(struct virtio_pci *vp, uint8_t type, uint32_t off, uint32_t len,
			       uint32_t extra, unsigned cap_len)
{
	uint8_t cap[20] = {PCI_CAP_ID_VNDR, 0, cap_len, type, 0 /* bar */};
	uint8_t wmask[20] = {0};
	unsigned at;

	memcpy(cap + 8, &off, 4);
	memcpy(cap + 12, &len, 4);
	memcpy(cap + 16, &extra, 4);
	if (type == CAP_PCI) { /* bar, offset, length and data are the driver's to set */
		wmask[4] = 0xff;
		memset(wmask + 8, 0xff, 12);
	}
	at = pci_device_add_cap(&vp->pci, cap, cap_len, wmask);
	if (type == CAP_PCI)
		vp->pci_cfg_cap = at;
}

static uint32_t virtio_pci_class(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* Ethernet controller */
	case VIRTIO_ID_BLOCK:
		return 0x010000; /* SCSI storage: what Linux and QEMU expect */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* other communication controller */
	case VIRTIO_ID_GPU:
		return 0x038000; /* other display controller */
	case VIRTIO_ID_INPUT:
		return 0x098000; /* other input device */
	default:
		return 0xff0000; /* unassigned class */
	}
}

int virtio_pci_add(struct vm *vm, struct virtio_device *vdev)
{
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	unsigned nvec = vdev->nqueues + 1;
	int ret;

	if (!vp)
		return -ENOMEM;
	if (vdev->config_size > BAR_DEVICE_MAX || vdev->nqueues * NOTIFY_MULT > 0x1000)
		return -EINVAL;
	if (nvec > MSIX_MAX_VECTORS)
		nvec = MSIX_MAX_VECTORS;
	vp->vdev = vdev;
	vp->vm = vm;
	pthread_mutex_init(&vp->lock, NULL);
	atomic_store(&vp->config_vector, VIRTIO_NO_VECTOR);
	vdev->transport = vp;
	vdev->mem = &vm->mem;

	pci_device_init(&vp->pci, PCI_VENDOR_REDHAT_QUMRANET, VIRTIO_PCI_DEVICE_BASE + vdev->device_id,
			virtio_pci_class(vdev->device_id), PCI_VENDOR_REDHAT_QUMRANET,
			VIRTIO_PCI_DEVICE_BASE + vdev->device_id);
	vp->pci.ops = &virtio_pci_dev_ops;
	vp->pci.vm = vm;
	ret = pci_device_add_bar(&vp->pci, 0, PCI_BAR_MEM64, BAR_SIZE, &virtio_pci_bar_ops, vp);
	if (ret)
		return ret;
	virtio_pci_add_cap(vp, CAP_COMMON, BAR_COMMON, BAR_COMMON_LEN, 0, 16);
	virtio_pci_add_cap(vp, CAP_ISR, BAR_ISR, 1, 0, 16);
	if (vdev->config_size)
		virtio_pci_add_cap(vp, CAP_DEVICE, BAR_DEVICE, vdev->config_size, 0, 16);
	virtio_pci_add_cap(vp, CAP_NOTIFY, BAR_NOTIFY, vdev->nqueues * NOTIFY_MULT, NOTIFY_MULT,
			   20);
	virtio_pci_add_cap(vp, CAP_PCI, 0, 0, 0, 20);
	ret = msix_init(&vp->msix, &vp->pci, nvec, 0, BAR_MSIX_TABLE, BAR_MSIX_PBA);
	if (ret)
		return ret;
	return pci_device_register(vm, &vp->pci);
}
