/* The ui feature (make features=ui): the guest's display, and with a window its keyboard
 * and tablet. It joins the machine through the table in vmm/features.c. */
#include <errno.h>

#include "ui/sdl_window.h"
#include "ui/virtio_gpu.h"
#include "vmm/features.h"
#include "vmm/vm.h"

/* The display of this process's one machine, for the monitor's screendump. */
static struct virtio_gpu *ui_gpu;

static int ui_add_devices(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	/* Without -display nothing changes for the guest: the default stays a machine
	 * without a graphics device (a window by default would add a PCI function to
	 * every machine started where $DISPLAY is set, tests included). */
	if (cfg->display == DISPLAY_DEFAULT)
		return 0;
	ui_gpu = virtio_gpu_create(vm);
	if (!ui_gpu)
		return -1;
	if (cfg->display == DISPLAY_NONE) {
		if (cfg->display_width || cfg->display_height)
			virtio_gpu_set_preferred_size(ui_gpu,
						      cfg->display_width ? cfg->display_width : 800,
						      cfg->display_height ? cfg->display_height : 600);
		return 0;
	}
	struct sdl_window_config wcfg = {
		.title = cfg->kernel,
		.width = cfg->display_width,
		.height = cfg->display_height,
	};
	return sdl_window_open(vm, ui_gpu, &wcfg);
}

static int ui_screendump(struct vm *vm, const char *path)
{
	return ui_gpu ? virtio_gpu_screendump(ui_gpu, path) : -ENODATA;
}

const struct feature ui_feature = {
	.name = "ui",
	.displays = "none sdl",
	.add_devices = ui_add_devices,
	.screendump = ui_screendump,
};
