/* The ui feature (make features=ui): the guest's display. It joins the machine through
 * the table in vmm/features.c. */
#include <errno.h>

#include "ui/virtio_gpu.h"
#include "vmm/features.h"
#include "vmm/vm.h"

/* The display of this process's one machine, for the monitor's screendump. */
static struct virtio_gpu *ui_gpu;

static int ui_add_devices(struct vm *vm)
{
	/* Without -display nothing changes for the guest until the window exists: the
	 * default stays a machine without a graphics device. */
	if (vm->cfg->display != DISPLAY_NONE)
		return 0;
	ui_gpu = virtio_gpu_create(vm);
	return ui_gpu ? 0 : -1;
}

static int ui_screendump(struct vm *vm, const char *path)
{
	return ui_gpu ? virtio_gpu_screendump(ui_gpu, path) : -ENODATA;
}

const struct feature ui_feature = {
	.name = "ui",
	.displays = "none",
	.add_devices = ui_add_devices,
	.screendump = ui_screendump,
};
