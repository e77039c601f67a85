#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "vmm/log.h"
#include "vmm/stats.h"

/* KVM needs three pages for the TSS and one for the identity map (VMX real mode); they
 * sit in the MMIO hole below the last 16 MiB, where no RAM, device or firmware is (the
 * firmware machine maps its flash in those 16 MiB; QEMU uses the same addresses). */
#define KVM_TSS_ADDR          0xfeffd000ULL
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL

static int vm_open_kvm(struct vm *vm)
{
	int version;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int err = errno;
		log_error("cannot open /dev/kvm: %s%s", strerror(err),
			  err == ENOENT ? " (is KVM enabled? load kvm_intel or kvm_amd)"
			  : err == EACCES ? " (add yourself to the kvm group)"
					  : "");
		return -err;
	}
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version < 0) {
		log_error("/dev/kvm is not a KVM device: %s", strerror(errno));
		return -ENODEV;
	}
	if (version != KVM_API_VERSION) {
		log_error("/dev/kvm speaks KVM API version %d; smolvm needs %d", version,
			  KVM_API_VERSION);
		return -ENODEV;
	}
	return 0;
}

int vm_check_extension(struct vm *vm, long cap)
{
	int r = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, cap);
	return r < 0 ? 0 : r;
}

static int vm_require_caps(struct vm *vm)
{
	static const struct {
		long cap;
		const char *name;
	} caps[] = {
		{KVM_CAP_IRQCHIP, "in-kernel irqchip"},   {KVM_CAP_PIT2, "in-kernel PIT"},
		{KVM_CAP_IOEVENTFD, "ioeventfd"},         {KVM_CAP_IRQFD, "irqfd"},
		{KVM_CAP_USER_MEMORY, "user memory"},     {KVM_CAP_EXT_CPUID, "CPUID setting"},
		{KVM_CAP_IRQ_ROUTING, "interrupt routing"}, {KVM_CAP_SIGNAL_MSI, "MSI"},
		{KVM_CAP_IMMEDIATE_EXIT, "immediate exit"},
	};
	int max;

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (!vm_check_extension(vm, caps[i].cap)) {
			log_error("/dev/kvm lacks %s support", caps[i].name);
			return -ENOTSUP;
		}
	}
	max = vm_check_extension(vm, KVM_CAP_MAX_VCPUS);
	if (max == 0)
		max = vm_check_extension(vm, KVM_CAP_NR_VCPUS);
	if (max > 0 && vm->cfg->ncpus > (unsigned)max) {
		log_error("-smp %u: this host's KVM allows at most %d vCPUs", vm->cfg->ncpus, max);
		return -EINVAL;
	}
	return 0;
}

/*
 * Anonymous memory for guest RAM at a 2 MiB-aligned address, with transparent huge pages:
 * KVM maps a guest page with a huge EPT/NPT entry only when the host address has the same
 * offset in its 2 MiB page as the guest address (ours are all 2 MiB-aligned), and huge
 * entries mean far fewer nested page faults and TLB misses. NULL (errno set) on failure.
 */
static void *vm_alloc_ram(uint64_t size)
{
	const uint64_t huge = 2ULL << 20;
	uint8_t *raw, *host;
	uint64_t head;

	raw = mmap(NULL, size + huge, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	host = (uint8_t *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	head = host - raw;
	if (head)
		munmap(raw, head);
	munmap(host + size, huge - head);
	madvise(host, size, MADV_HUGEPAGE);
	/* A core dump of smolvm must not carry the guest's memory (its secrets, its size). */
	madvise(host, size, MADV_DONTDUMP);
	return host;
}

static int vm_add_ram(struct vm *vm, uint64_t gpa, uint64_t size)
{
	unsigned slot = vm->mem.nregions;
	struct kvm_userspace_memory_region region;
	void *host;

	host = vm_alloc_ram(size);
	if (!host) {
		log_error("cannot allocate %llu MiB of guest RAM: %s",
			  (unsigned long long)(size >> 20), strerror(errno));
		return -errno;
	}
	region = (struct kvm_userspace_memory_region){
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		log_error("KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
		munmap(host, size);
		return -errno;
	}
	vm->mem.region[slot] = (struct guest_mem_region){gpa, size, host};
	vm->mem.nregions++;
	return 0;
}

static int vm_map_ram(struct vm *vm)
{
	uint64_t size = vm->cfg->mem_size;
	uint64_t low = size < LAYOUT_MMIO_HOLE ? size : LAYOUT_MMIO_HOLE;
	int ret;

	ret = vm_add_ram(vm, 0, low);
	if (ret == 0 && size > low)
		ret = vm_add_ram(vm, LAYOUT_RAM_HIGH, size - low);
	return ret;
}

static int vm_create_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){KVM_IDENTITY_MAP_ADDR}) < 0) {
		log_error("cannot set up KVM's TSS area: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_error("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_error("KVM_CREATE_PIT2: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

static int vm_get_supported_cpuid(struct vm *vm)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			break;
	}
	log_error("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	return -errno;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->ncpus = cfg->ncpus;
	vm->vm_fd = -1;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return -errno;

	ret = vm_open_kvm(vm);
	if (ret)
		return ret;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		log_error("KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	vm->vcpu_mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->vcpu_mmap_size <= 0) {
		log_error("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -errno;
	}
	ret = vm_require_caps(vm);
	if (ret == 0)
		ret = vm_get_supported_cpuid(vm);
	if (ret == 0)
		ret = vm_create_irqchip(vm);
	if (ret == 0)
		ret = vm_map_ram(vm);
	return ret;
}

int vm_set_memory(struct vm *vm, unsigned slot, uint64_t gpa, uint64_t size, void *host,
		  bool readonly)
{
	struct kvm_userspace_memory_region region = {
		.slot = VM_SLOT_EXTRA + slot,
		.flags = readonly ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	if (readonly && !vm_check_extension(vm, KVM_CAP_READONLY_MEM)) {
		log_error("/dev/kvm lacks read-only memory support");
		return -ENOTSUP;
	}
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		int err = errno;
		log_error("KVM_SET_USER_MEMORY_REGION at 0x%llx: %s", (unsigned long long)gpa,
			  strerror(err));
		return -err;
	}
	return 0;
}

static const char *vm_stop_name(enum vm_stop reason)
{
	static const char *const names[] = {
		[VM_STOP_NONE] = "none",	 [VM_STOP_POWEROFF] = "poweroff",
		[VM_STOP_REBOOT] = "reboot",	 [VM_STOP_QUIT] = "quit",
		[VM_STOP_SIGNAL] = "signal",	 [VM_STOP_ERROR] = "error",
	};

	return (unsigned)reason < sizeof(names) / sizeof(names[0]) ? names[reason] : "?";
}

void vm_request_stop(struct vm *vm, enum vm_stop reason, int status)
{
	int none = VM_STOP_NONE;

	log_debug("stop requested: reason %d, status %d", reason, status);

	if (atomic_compare_exchange_strong(&vm->stop_reason, &none, reason)) {
		stats_note_stop(vm_stop_name(reason));
		vm->stop_status = status;
		eventfd_write(vm->stop_fd, 1);
	}
}

void vm_irq_line(struct vm *vm, unsigned irq, int level)
{
	struct kvm_irq_level l = {.irq = irq, .level = level};

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		log_warn("KVM_IRQ_LINE %u: %s", irq, strerror(errno));
}
