#include "vmm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/vm.h"

#define IRQ_ISA_GSIS  24 /* IOAPIC pins; the first 16 also reach the PIC */
#define IRQ_MAX_GSIS  1024

struct irq_msi {
	uint64_t addr;
	uint32_t data;
	bool valid;
};

static struct {
	pthread_mutex_t lock;
	unsigned next_gsi;
	struct irq_msi msi[IRQ_MAX_GSIS];
} irq = {.lock = PTHREAD_MUTEX_INITIALIZER, .next_gsi = IRQ_ISA_GSIS};

/* KVM replaces its whole table on each update, so rebuild it: first the ISA routes exactly
 * as KVM's default table has them, then every valid MSI. Called with the lock held. */
static int irq_commit(struct vm *vm)
{
	unsigned max = 16 * 2 + (IRQ_ISA_GSIS - 16) + irq.next_gsi;
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + max * sizeof(t->entries[0]));
	unsigned n = 0;
	int ret = 0;

	if (!t)
		return -ENOMEM;
	for (unsigned gsi = 0; gsi < IRQ_ISA_GSIS; gsi++) {
		if (gsi < 16) {
			t->entries[n].gsi = gsi;
			t->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			t->entries[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
								  : KVM_IRQCHIP_PIC_SLAVE;
			t->entries[n].u.irqchip.pin = gsi % 8;
			n++;
		}
		t->entries[n].gsi = gsi;
		t->entries[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t->entries[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		t->entries[n].u.irqchip.pin = gsi;
		n++;
	}
	for (unsigned gsi = IRQ_ISA_GSIS; gsi < irq.next_gsi; gsi++) {
		if (!irq.msi[gsi].valid)
			continue;
		t->entries[n].gsi = gsi;
		t->entries[n].type = KVM_IRQ_ROUTING_MSI;
		t->entries[n].u.msi.address_lo = (uint32_t)irq.msi[gsi].addr;
		t->entries[n].u.msi.address_hi = irq.msi[gsi].addr >> 32;
		t->entries[n].u.msi.data = irq.msi[gsi].data;
		n++;
	}
	t->nr = n;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, t) < 0) {
		ret = -errno;
		log_warn("KVM_SET_GSI_ROUTING: %s", strerror(errno));
	}
	free(t);
	return ret;
}

int irq_msi_alloc(struct vm *vm, int *fd)
{
	struct kvm_irqfd irqfd = {0};
	int gsi;

	pthread_mutex_lock(&irq.lock);
	if (irq.next_gsi >= IRQ_MAX_GSIS) {
		pthread_mutex_unlock(&irq.lock);
		return -ENOSPC;
	}
	gsi = irq.next_gsi++;
	pthread_mutex_unlock(&irq.lock);

	*fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*fd < 0)
		return -errno;
	irqfd.fd = *fd;
	irqfd.gsi = gsi;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		int err = errno;
		log_error("KVM_IRQFD: %s", strerror(err));
		close(*fd);
		return -err;
	}
	return gsi;
}

int irq_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data, bool valid)
{
	int ret = 0;

	if (gsi < IRQ_ISA_GSIS || gsi >= IRQ_MAX_GSIS)
		return -EINVAL;
	pthread_mutex_lock(&irq.lock);
	if (irq.msi[gsi].valid != valid || irq.msi[gsi].addr != addr || irq.msi[gsi].data != data) {
		irq.msi[gsi] = (struct irq_msi){addr, data, valid};
		ret = irq_commit(vm);
	}
	pthread_mutex_unlock(&irq.lock);
	return ret;
}
