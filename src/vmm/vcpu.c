#include "vmm/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arch/x86/cpu.h"
#include "sandbox/sandbox.h"
#include "vmm/log.h"
#include "vmm/stats.h"
#include "vmm/vm.h"

/* Sent to a vCPU thread to interrupt KVM_RUN; its handler does nothing. */
#define SIG_VCPU_KICK SIGUSR1

int vcpu_create(struct vm *vm, unsigned id, struct vcpu *vcpu)
{
	int ret;

	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (vcpu->fd < 0) {
		log_error("KVM_CREATE_VCPU %u: %s", id, strerror(errno));
		return -errno;
	}
	vcpu->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		log_error("mmap of vCPU %u: %s", id, strerror(errno));
		return -errno;
	}
	vcpu->stats = stats_vcpu_new();
	ret = cpu_setup_cpuid(vm, vcpu->fd, id);
	if (ret == 0)
		ret = cpu_setup_msrs(vcpu->fd);
	if (ret == 0)
		ret = cpu_setup_lapic(vcpu->fd);
	return ret;
}

/* Port I/O, including string instructions (count > 1). */
static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	unsigned size = run->io.size;

	/* What nobody claims reads all-ones and is logged by the bus (SMOLVM_DEBUG). */
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		uint64_t v = 0;
		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&v, data, size);
			bus_write(&vcpu->vm->pio, run->io.port, size, v);
		} else {
			bus_read(&vcpu->vm->pio, run->io.port, size, &v);
			memcpy(data, &v, size);
		}
	}
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned size = run->mmio.len;
	uint64_t v = 0;

	if (size == 0 || size > 8)
		return;
	if (run->mmio.is_write) {
		memcpy(&v, run->mmio.data, size);
		bus_write(&vcpu->vm->mmio, run->mmio.phys_addr, size, v);
	} else {
		bus_read(&vcpu->vm->mmio, run->mmio.phys_addr, size, &v);
		memcpy(run->mmio.data, &v, size);
	}
}

static void vcpu_fail(struct vcpu *vcpu, const char *what)
{
	log_error("vCPU %u: %s", vcpu->id, what);
	cpu_dump_state(vcpu->fd, vcpu->id);
	vm_request_stop(vcpu->vm, VM_STOP_ERROR, EXIT_GUEST_ERROR);
}

/* One case per exit reason; devices answer through the buses. Returns false to stop. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[128];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; keep the loop going. */
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_fail(vcpu, "triple fault (shutdown)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			vm_request_stop(vcpu->vm, VM_STOP_REBOOT, 0);
		} else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vm_request_stop(vcpu->vm, VM_STOP_POWEROFF, 0);
		} else {
			snprintf(what, sizeof(what), "system event %u", run->system_event.type);
			vcpu_fail(vcpu, what);
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error, suberror %u%s",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				 ? " (instruction emulation failed)"
				 : "");
		vcpu_fail(vcpu, what);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fail(vcpu, what);
		return false;
	default:
		snprintf(what, sizeof(what), "unexpected KVM exit reason %u", run->exit_reason);
		vcpu_fail(vcpu, what);
		return false;
	}
}

/* Which device an IO or MMIO exit reached, for SMOLVM_STATS. */
static void vcpu_count_device(struct vcpu *vcpu, uint64_t ns)
{
	struct kvm_run *run = vcpu->run;
	struct bus *bus;
	const char *name;
	uint64_t addr, base;

	if (run->exit_reason == KVM_EXIT_IO) {
		bus = &vcpu->vm->pio;
		addr = run->io.port;
	} else if (run->exit_reason == KVM_EXIT_MMIO) {
		bus = &vcpu->vm->mmio;
		addr = run->mmio.phys_addr;
	} else {
		return;
	}
	bus_describe(bus, addr, &name, &base);
	stats_count_device(vcpu->stats, bus->name, name, base, ns);
}

/* The run loop with SMOLVM_STATS's clocks around KVM_RUN and each exit's handling. */
static void vcpu_run_counted(struct vcpu *vcpu)
{
	stats_note_first_run();
	while (atomic_load(&vcpu->vm->stop_reason) == VM_STOP_NONE) {
		uint64_t t0 = stats_now_ns(), t1, t2;
		int r = ioctl(vcpu->fd, KVM_RUN, 0);
		bool go_on;

		t1 = stats_now_ns();
		vcpu->stats->run_ns += t1 - t0;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				stats_count_exit(vcpu->stats, KVM_EXIT_INTR, 0);
				continue;
			}
			log_error("vCPU %u: KVM_RUN: %s", vcpu->id, strerror(errno));
			vm_request_stop(vcpu->vm, VM_STOP_ERROR, EXIT_GUEST_ERROR);
			break;
		}
		go_on = vcpu_handle_exit(vcpu);
		t2 = stats_now_ns();
		stats_count_exit(vcpu->stats, vcpu->run->exit_reason, t2 - t1);
		vcpu_count_device(vcpu, t2 - t1);
		if (!go_on)
			break;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t kick;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&kick);
	sigaddset(&kick, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	sandbox_enter(SANDBOX_VCPU);

	if (vcpu->stats) {
		vcpu_run_counted(vcpu);
		return NULL;
	}
	while (atomic_load(&vcpu->vm->stop_reason) == VM_STOP_NONE) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("vCPU %u: KVM_RUN: %s", vcpu->id, strerror(errno));
			vm_request_stop(vcpu->vm, VM_STOP_ERROR, EXIT_GUEST_ERROR);
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

static void vcpu_kick_handler(int sig)
{
}

int vcpu_start(struct vcpu *vcpu)
{
	static bool handler_installed;
	pthread_attr_t attr;
	int ret;

	if (!handler_installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = vcpu_kick_handler; /* no SA_RESTART: KVM_RUN must return EINTR */
		sigaction(SIG_VCPU_KICK, &sa, NULL);
		handler_installed = true;
	}
	/* vCPU threads need little stack; a small one keeps smolvm's own memory small. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	ret = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (ret) {
		log_error("cannot start vCPU %u: %s", vcpu->id, strerror(ret));
		return -ret;
	}
	vcpu->started = true;
	return 0;
}

void vcpu_stop_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		if (!v->started)
			continue;
		/* immediate_exit covers a kick that lands just before KVM_RUN is entered. */
		v->run->immediate_exit = 1;
		pthread_kill(v->thread, SIG_VCPU_KICK);
	}
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].started = false;
	}
}
