/*
 * The GED's interrupt is level-triggered: the line stays up while any event is pending and
 * falls when the guest's _EVT reads the register. An event raised before the guest's driver
 * is ready therefore waits for it instead of being lost, and a guest that never reads only
 * leaves its own interrupt line up. A lock keeps "events pending" and "line up" one fact:
 * a press on the main thread and a read on a vCPU thread cannot interleave between them.
 */
#include "devices/ged.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/layout.h"
#include "vmm/log.h"
#include "vmm/vm.h"

struct ged {
	struct vm *vm;
	pthread_mutex_t lock;
	uint32_t pending; /* GED_EVENT_* bits not yet read by the guest */
};

static uint64_t ged_read(void *opaque, uint64_t offset, unsigned size)
{
	struct ged *ged = opaque;
	uint32_t events;

	/* Only the access the AML makes reads (and clears) the events; any other reads 0. */
	if (offset != GED_REG_EVENTS || size != 4)
		return 0;
	pthread_mutex_lock(&ged->lock);
	events = ged->pending;
	ged->pending = 0;
	if (events)
		vm_irq_line(ged->vm, IRQ_GED, 0);
	pthread_mutex_unlock(&ged->lock);
	return events;
}

/* The register is read-only: the guest's writes are dropped. */
static const struct bus_ops ged_ops = {.read = ged_read, .name = "ged"};

static void ged_raise(struct ged *ged, uint32_t event)
{
	pthread_mutex_lock(&ged->lock);
	if (!ged->pending)
		vm_irq_line(ged->vm, IRQ_GED, 1);
	ged->pending |= event;
	pthread_mutex_unlock(&ged->lock);
}

void ged_press_power_button(struct ged *ged)
{
	ged_raise(ged, GED_EVENT_POWER_BUTTON);
}

struct ged *ged_create(struct vm *vm)
{
	struct ged *ged = calloc(1, sizeof(*ged));
	int ret;

	if (!ged) {
		log_error("GED: %s", strerror(ENOMEM));
		return NULL;
	}
	ged->vm = vm;
	pthread_mutex_init(&ged->lock, NULL);
	ret = bus_register(&vm->mmio, LAYOUT_GED, LAYOUT_GED_SIZE, &ged_ops, ged);
	if (ret) {
		log_error("GED: cannot register its register: %s", strerror(-ret));
		pthread_mutex_destroy(&ged->lock);
		free(ged);
		return NULL;
	}
	return ged;
}
