#include "vmm/power_down.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "devices/ged.h"
#include "vmm/log.h"
#include "vmm/main_loop.h"
#include "vmm/vm.h"

#define POWER_DOWN_STATUS (128 + SIGTERM)

static struct {
	struct vm *vm;
	int timer_fd;
	unsigned timeout; /* seconds */
	bool pressed;
} power_down = {.timer_fd = -1};

static void power_down_force(void)
{
	vm_request_stop(power_down.vm, VM_STOP_SIGNAL, POWER_DOWN_STATUS);
}

static void power_down_timer_expired(void *opaque, int fd, short revents)
{
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return; /* not expired after all (EAGAIN) */
	log_warn("the guest did not power off within %u s of SIGTERM; stopping it",
		 power_down.timeout);
	main_loop_unwatch(fd);
	power_down_force();
}

static void power_down_on_sigterm(void *opaque)
{
	struct itimerspec when = {.it_value = {.tv_sec = power_down.timeout}};

	/* 0 s means no grace at all; a second SIGTERM means the user is done waiting. */
	if (power_down.pressed || power_down.timeout == 0) {
		power_down_force();
		return;
	}
	power_down.pressed = true;
	if (timerfd_settime(power_down.timer_fd, 0, &when, NULL) < 0) {
		log_error("cannot time the guest's power-off: %s", strerror(errno));
		power_down_force();
		return;
	}
	log_debug("SIGTERM: power button pressed, %u s to power off", power_down.timeout);
	ged_press_power_button(power_down.vm->ged);
}

int power_down_init(struct vm *vm)
{
	int ret;

	power_down.vm = vm;
	power_down.timeout = vm->cfg->shutdown_timeout;
	power_down.timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (power_down.timer_fd < 0) {
		ret = -errno;
		log_error("timerfd_create: %s", strerror(errno));
		return ret;
	}
	ret = main_loop_watch(power_down.timer_fd, POLLIN, power_down_timer_expired, NULL);
	if (ret) {
		log_error("cannot watch the power-down timer: %s", strerror(-ret));
		return ret;
	}
	main_loop_on_sigterm(power_down_on_sigterm, NULL);
	return 0;
}
