/*
 * smolvm: read the options, build the machine, run it.
 *
 * Two machines share the devices below. The direct-kernel machine (-kernel) loads the kernel
 * and its ACPI tables into guest memory and starts the boot vCPU at the kernel's entry. The
 * firmware machine (-cd, or a -drive alone; the cd feature, src/cd/) adds the chipset an EFI
 * firmware expects, maps the firmware below 4 GiB, hands it the memory map and ACPI tables
 * through fw_cfg, and starts the boot vCPU where a CPU starts after reset.
 *
 * A guest's port or MMIO access leaves KVM_RUN in a vCPU thread (vmm/vcpu.c), goes to the
 * PIO or MMIO bus (vmm/bus.c), and reaches the device registered for that range below:
 * the UART at 0x3f8 (devices/serial.c), the RTC at 0x70 (devices/rtc.c), the i8042 reset
 * line (devices/i8042.c), the ACPI power registers (devices/acpi_pm.c), the power button's
 * event register (devices/ged.c), PCI configuration space (pci/pci.c) and, through it, the
 * BARs of the PCI devices.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acpi/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/e820.h"
#include "arch/x86/layout.h"
#include "boot/kernel.h"
#include "cli/options.h"
#include "devices/ged.h"
#include "devices/legacy.h"
#include "devices/serial.h"
#include "devices/virtio_devices.h"
#include "monitor/monitor.h"
#include "net/net_backend.h"
#include "pci/pci.h"
#include "sandbox/landlock.h"
#include "sandbox/sandbox.h"
#include "term/console.h"
#include "term/term.h"
#include "vmm/features.h"
#include "vmm/log.h"
#include "vmm/main_loop.h"
#include "vmm/power_down.h"
#include "vmm/stats.h"
#include "vmm/supervise.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

static size_t serial_sink(void *opaque, const uint8_t *buf, size_t len)
{
	return serial_receive(opaque, buf, len);
}

static void console_resized(void *opaque)
{
	virtio_console_resize(opaque);
}

/* Keyboard input goes where the guest's shell reads it: /dev/console, which Linux makes the
 * last console= of its command line. */
static bool cmdline_console_is_hvc(const char *cmdline)
{
	const char *p, *last = NULL;

	for (p = cmdline; p && (p = strstr(p, "console=")); p += 8)
		if (p == cmdline || p[-1] == ' ')
			last = p + 8;
	return last && strncmp(last, "hvc", 3) == 0;
}

/* The platform devices every machine has. */
static int machine_add_devices(struct vm *vm)
{
	struct serial *com1 = serial_create(vm, PORT_COM1, IRQ_COM1, STDOUT_FILENO);
	struct virtio_console *hvc;

	if (!com1 || rtc_create(vm) || i8042_create(vm) || acpi_pm_create(vm) ||
	    post_port_create(vm) || pci_host_create(vm, vm->cfg->pci_ports) ||
	    !(vm->ged = ged_create(vm))) {
		log_error("cannot create the platform devices");
		return -1;
	}
	/* The firmware's chipset takes the PCI slots after the host bridge's. */
	if (vm->cfg->firmware && features_firmware_add_platform(vm) != 0)
		return -1;
	hvc = virtio_console_create(vm, STDOUT_FILENO);
	if (!hvc || virtio_rng_create(vm) != 0) {
		log_error("cannot create the virtio devices");
		return -1;
	}
	if (cmdline_console_is_hvc(vm->cfg->append ? vm->cfg->append : ""))
		console_set_sink(virtio_console_sink, hvc);
	else
		console_set_sink(serial_sink, com1);
	console_set_resize_handler(console_resized, hvc);
	return 0;
}

/* The devices the user asked for; their failures are about the user's files, ports and
 * interfaces, so they exit with EXIT_USAGE. */
static int machine_add_user_devices(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	for (unsigned i = 0; i < cfg->ndrives; i++)
		if (virtio_blk_create(vm, &cfg->drive[i]) != 0)
			return -1;
	if (cfg->net.mode != NET_NONE && virtio_net_create(vm, &cfg->net) != 0)
		return -1;
	for (unsigned i = 0; i < cfg->nshares; i++)
		if (virtio_fs_create(vm, &cfg->share[i]) != 0)
			return -1;
	/* The optional features' devices (vmm/features.c), e.g. the display of -display. */
	return features_add_devices(vm);
}

static int machine_write_acpi(struct vm *vm)
{
	struct acpi_config acfg = {
		.ncpus = vm->ncpus,
		.pci_ecam_base = LAYOUT_PCI_ECAM,
		.pci_mmio32_base = LAYOUT_PCI_MMIO32,
		.pci_mmio32_size = LAYOUT_PCI_MMIO32_SIZE,
		.pci_mmio64_base = pci_mmio64_base(vm),
		.pci_mmio64_size = LAYOUT_PCI_MMIO64_SIZE,
		.pci_io_base = PORT_PCI_IO,
		.pci_io_size = PORT_PCI_IO_SIZE,
	};
	void *buf = guest_mem_ptr(&vm->mem, LAYOUT_ACPI, LAYOUT_ACPI_SIZE);
	int ret = buf ? acpi_build(buf, LAYOUT_ACPI_SIZE, LAYOUT_ACPI, &acfg) : -EFAULT;

	if (ret < 0)
		log_error("cannot build the ACPI tables: %s", strerror(-ret));
	return ret < 0 ? ret : 0;
}

static int machine_load_kernel(struct vm *vm, const struct kernel_image *kernel, int initrd_fd,
			       uint64_t initrd_size, struct boot_entry *entry)
{
	struct e820_entry e820[E820_MAX];
	struct boot_args args = {
		.cmdline = vm->cfg->append ? vm->cfg->append : "",
		.initrd_fd = initrd_fd,
		.initrd_size = initrd_size,
		.e820 = e820,
		.e820_count = e820_build(&vm->mem, e820),
		.rsdp = LAYOUT_ACPI,
	};
	const char *why = NULL;

	if (cpu_install_reset_vector(&vm->mem) != 0) {
		log_error("no guest RAM for the reset vector");
		return -1;
	}
	if (kernel_load(kernel, &vm->mem, &args, entry, &why) != 0) {
		log_error("%s", why);
		return -1;
	}
	return 0;
}

/* entry: where the boot vCPU starts, or NULL to leave it in the reset state KVM gives a new
 * vCPU (f000:fff0, the firmware's reset vector just below 4 GiB). */
static int machine_create_vcpus(struct vm *vm, const struct boot_entry *entry)
{
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vcpu_create(vm, i, &vm->vcpus[i]) != 0)
			return -1;
	/* The others wait for the boot CPU's INIT/SIPI, as on real hardware. */
	if (entry && cpu_setup_boot_state(vm->vcpus[0].fd, &vm->mem, entry) != 0) {
		log_error("cannot set the boot vCPU's registers");
		return -1;
	}
	return 0;
}

/* What the monitor's commands act on. */
static void machine_press_power_button(void *opaque)
{
	struct vm *vm = opaque;

	ged_press_power_button(vm->ged);
}

static const char *machine_status(void *opaque)
{
	return "running"; /* the main loop, which runs the monitor, stops with the VM */
}

static int machine_screendump(void *opaque, const char *path, enum screendump_format fmt)
{
	return features_screendump(opaque, path, fmt);
}

static void machine_quit(void *opaque)
{
	vm_request_stop(opaque, VM_STOP_QUIT, 0);
}

/* SIGTERM presses the power button; the monitor, if asked for, starts answering. */
static int machine_start_control(struct vm *vm, struct monitor *mon)
{
	const struct monitor_target target = {
		.press_power_button = machine_press_power_button,
		.status = machine_status,
		.quit = machine_quit,
		.screendump = machine_screendump,
		.opaque = vm,
	};

	if (power_down_init(vm) != 0)
		return -1;
	return mon ? monitor_start(mon, &target) : 0;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct kernel_image kernel;
	struct boot_entry entry;
	struct vm vm;
	struct monitor *mon = NULL;
	bool window_console;
	int initrd_fd = -1;
	uint64_t initrd_size = 0;
	enum vm_stop stop;
	int ret;

	switch (options_parse(argc, argv, &cfg)) {
	case OPTIONS_EXIT:
		return 0;
	case OPTIONS_ERROR:
		return EXIT_USAGE;
	case OPTIONS_RUN:
		break;
	}
	/* Loaded once, before the VM's process is forked: every VM process finds it mapped. */
	if (slirp_backend_preload(&cfg.net) != 0)
		return EXIT_USAGE;
	/* From here on this is the VM's process; a guest reboot starts a fresh one. */
	supervise_start();
	stats_init();
	ret = sandbox_init(&cfg);
	if (ret != 0)
		return ret == -EINVAL ? EXIT_USAGE : EXIT_GUEST_ERROR;
	stats_mark("options");
	/* Bad input files are the user's to fix: refuse them before touching KVM. */
	if (cfg.firmware) {
		if (features_firmware_check(&cfg) != 0)
			return EXIT_USAGE;
	} else {
		if (kernel_open(cfg.kernel, &kernel) != 0)
			return EXIT_USAGE;
		if (cfg.initramfs &&
		    boot_open_initrd(cfg.initramfs, &initrd_fd, &initrd_size) != 0)
			return EXIT_USAGE;
	}
	stats_mark("kernel and initramfs opened");

	/* Blocked before the monitor's socket exists: a signal now must not kill smolvm before
	 * its exit removes the socket. */
	main_loop_block_signals();
	if (cfg.monitor_path && !(mon = monitor_open(cfg.monitor_path)))
		return EXIT_USAGE;
	if (vm_create(&vm, &cfg) != 0)
		return EXIT_GUEST_ERROR;
	stats_mark("VM and guest RAM");
	if (machine_add_devices(&vm) != 0)
		return EXIT_GUEST_ERROR;
	stats_mark("platform devices");
	if (machine_add_user_devices(&vm) != 0)
		return EXIT_USAGE;
	stats_mark("user devices (disk, net, fs)");
	if (cfg.firmware) {
		/* The firmware, its tables and variable store: the user's files (exit 2). */
		if (features_firmware_load(&vm) != 0)
			return EXIT_USAGE;
	} else {
		if (machine_write_acpi(&vm) != 0)
			return EXIT_GUEST_ERROR;
		stats_mark("ACPI tables");
		if (machine_load_kernel(&vm, &kernel, initrd_fd, initrd_size, &entry) != 0)
			return EXIT_USAGE;
		kernel_close(&kernel);
		if (initrd_fd >= 0)
			close(initrd_fd);
	}
	stats_mark(cfg.firmware ? "firmware loaded" : "kernel and initramfs loaded");
	if (machine_create_vcpus(&vm, cfg.firmware ? NULL : &entry) != 0 ||
	    machine_start_control(&vm, mon) != 0)
		return EXIT_GUEST_ERROR;
	stats_mark("vCPUs created");

	/* The window as the guest's console (console=tty0): this terminal keeps its mode, so
	 * Ctrl-C here stops the VM (130), as in qemu. */
	window_console = cfg.display == DISPLAY_SDL && term_cmdline_console_is_vt(cfg.append);
	if (console_init(&vm, !window_console && term_enter_raw()) != 0)
		return EXIT_GUEST_ERROR;
	stats_mark("console");
	/* Everything is open: from here on only the shares (and the monitor's directory) are
	 * reachable, in every thread, and in the vCPUs and device workers that inherit it. */
	if (landlock_apply(&cfg) != 0)
		return EXIT_GUEST_ERROR;
	/* What setup allocated and freed (the sandbox's filter compiles, the loader's and the
	 * ACPI builder's buffers) goes back before the guest runs, not into smolvm's memory. */
	malloc_trim(0);
	for (unsigned i = 0; i < vm.ncpus; i++)
		if (vcpu_start(&vm.vcpus[i]) != 0)
			return EXIT_GUEST_ERROR;

	sandbox_enter(SANDBOX_MAIN);
	stop = main_loop_run(&vm);
	monitor_close(mon);
	vcpu_stop_all(&vm);
	stats_report_vm(&vm);
	if (stop == VM_STOP_SIGNAL && getenv("SMOLVM_DEBUG"))
		for (unsigned i = 0; i < vm.ncpus; i++)
			cpu_dump_state(vm.vcpus[i].fd, i);
	if (stop == VM_STOP_REBOOT && !cfg.no_reboot)
		return SUPERVISE_EXIT_REBOOT;
	return stop == VM_STOP_REBOOT ? 0 : vm.stop_status;
}
