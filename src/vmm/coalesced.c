#include "vmm/coalesced.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/bus.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* One ring per VM; the lock keeps two vCPUs from replaying the same entries. */
static struct {
	pthread_mutex_t lock;
	struct kvm_coalesced_mmio_ring *_Atomic ring;
	uint32_t max;
	int page_offset; /* KVM_CAP_COALESCED_MMIO: the ring's page in a vCPU's mapping */
} coalesced = {.lock = PTHREAD_MUTEX_INITIALIZER};

int coalesced_pio_add(struct vm *vm, uint16_t port, uint32_t size)
{
	struct kvm_coalesced_mmio_zone zone = {.addr = port, .size = size, .pio = 1};
	int offset = vm_check_extension(vm, KVM_CAP_COALESCED_MMIO);

	if (offset <= 0 || vm_check_extension(vm, KVM_CAP_COALESCED_PIO) <= 0)
		return -ENOTSUP;
	if (ioctl(vm->vm_fd, KVM_REGISTER_COALESCED_MMIO, &zone) < 0) {
		log_debug("KVM_REGISTER_COALESCED_MMIO port 0x%x: %s", port, strerror(errno));
		return -errno;
	}
	coalesced.page_offset = offset;
	return 0;
}

void coalesced_attach(struct vm *vm, void *vcpu_run, int mmap_size)
{
	long page = sysconf(_SC_PAGESIZE);

	(void)vm;
	if (!coalesced.page_offset || atomic_load(&coalesced.ring) ||
	    (long)(coalesced.page_offset + 1) * page > mmap_size)
		return;
	coalesced.max = (page - sizeof(struct kvm_coalesced_mmio_ring)) /
			sizeof(struct kvm_coalesced_mmio);
	atomic_store(&coalesced.ring,
		     (void *)((char *)vcpu_run + (long)coalesced.page_offset * page));
}

void coalesced_replay(struct kvm_coalesced_mmio_ring *ring, uint32_t max, struct bus *pio,
		      struct bus *mmio)
{
	uint32_t first = ring->first;

	/* The kernel owns last and the entries up to it; it only reads first. */
	while (first != atomic_load_explicit((_Atomic uint32_t *)&ring->last,
					      memory_order_acquire)) {
		struct kvm_coalesced_mmio *e;
		uint64_t value = 0;

		if (first >= max)
			first = 0; /* never from KVM; a bad index must not read past the page */
		e = &ring->coalesced_mmio[first];
		if (e->len && e->len <= sizeof(e->data)) {
			memcpy(&value, e->data, e->len);
			bus_write(e->pio ? pio : mmio, e->phys_addr, e->len, value);
		}
		first = (first + 1) % max;
		atomic_store_explicit((_Atomic uint32_t *)&ring->first, first,
				      memory_order_release);
	}
}

void coalesced_flush(struct vm *vm)
{
	struct kvm_coalesced_mmio_ring *ring = atomic_load(&coalesced.ring);

	if (!ring || ring->first == atomic_load_explicit((_Atomic uint32_t *)&ring->last,
							 memory_order_acquire))
		return;
	pthread_mutex_lock(&coalesced.lock);
	coalesced_replay(ring, coalesced.max, &vm->pio, &vm->mmio);
	pthread_mutex_unlock(&coalesced.lock);
}
