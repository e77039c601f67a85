/* The ui feature (make features=ui): the guest's display, and with a window its keyboard
 * and tablet. It joins the machine through the table in vmm/features.c. */
#include <errno.h>

#include "ui/sdl_window.h"
#include "ui/virtio_gpu.h"
#include "ui/virtio_input.h"
#include "vmm/features.h"
#include "vmm/log.h"
#include "vmm/vm.h"

/* The display of this process's one machine, for the monitor's screendump. */
static struct virtio_gpu *ui_gpu;

/* The window's input, as reports of the keyboard and the tablet. A report the guest has
 * no room for is dropped (virtio_input_send): input never waits. */
static struct virtio_input *ui_keyboard, *ui_tablet;

#define EV(t, c, v) ((struct virtio_input_event){(t), (c), (uint32_t)(v)})
#define SYN	    EV(INPUT_EV_SYN, INPUT_SYN_REPORT, 0)

static void ui_key(void *opaque, uint16_t code, bool pressed, bool repeat)
{
	struct virtio_input_event r[] = {EV(INPUT_EV_KEY, code, pressed), SYN};

	/* The guest repeats held keys itself (EV_REP): the host's repeats would double them. */
	if (!repeat)
		virtio_input_send(ui_keyboard, r, 2);
}

static void ui_pointer(void *opaque, uint32_t x, uint32_t y)
{
	struct virtio_input_event r[] = {EV(INPUT_EV_ABS, INPUT_ABS_X, x),
					 EV(INPUT_EV_ABS, INPUT_ABS_Y, y), SYN};

	virtio_input_send(ui_tablet, r, 3);
}

static void ui_button(void *opaque, uint16_t code, bool pressed)
{
	struct virtio_input_event r[] = {EV(INPUT_EV_KEY, code, pressed), SYN};

	virtio_input_send(ui_tablet, r, 2);
}

static void ui_wheel(void *opaque, int32_t notches)
{
	struct virtio_input_event r[] = {EV(INPUT_EV_REL, INPUT_REL_WHEEL, notches), SYN};

	virtio_input_send(ui_tablet, r, 2);
}

static const struct sdl_input_sink ui_input = {
	.key = ui_key,
	.pointer = ui_pointer,
	.button = ui_button,
	.wheel = ui_wheel,
};

static int ui_add_devices(struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;

	/* -nographic, or no display reachable (cli/options.c chose): no graphics device. */
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
	ui_keyboard = virtio_input_create(vm, VIRTIO_INPUT_KEYBOARD);
	ui_tablet = ui_keyboard ? virtio_input_create(vm, VIRTIO_INPUT_TABLET) : NULL;
	if (!ui_tablet)
		return -1;
	struct sdl_window_config wcfg = {
		.title = cfg->kernel,
		.width = cfg->display_width,
		.height = cfg->display_height,
		.input = &ui_input,
		.optional = cfg->display_implicit,
	};
	if (sdl_window_open(vm, ui_gpu, &wcfg) == 0)
		return 0;
	if (!cfg->display_implicit)
		return -1;
	/* $DISPLAY was set but its server would not have us (e.g. under sudo, without the
	 * X cookie): go on without a window, as if -display none had been given. */
	return 0;
}

static int ui_screendump(struct vm *vm, const char *path, enum screendump_format fmt)
{
	return ui_gpu ? virtio_gpu_screendump(ui_gpu, path, fmt) : -ENODATA;
}

const struct feature ui_feature = {
	.name = "ui",
	.displays = "none sdl",
	.add_devices = ui_add_devices,
	.screendump = ui_screendump,
};
