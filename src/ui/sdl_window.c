/*
 * The SDL window (-display sdl). One thread owns SDL: it creates the window, waits for SDL
 * events, and redraws when the device's frame listener wakes it. The device's worker only
 * ever pushes one wake-up event at a time (never waiting on this thread), and this thread
 * holds the frame lock only to copy the picture out, so a slow display never holds up the
 * guest. Linux on X11 and Wayland lets a thread other than the main one run SDL's video.
 * SDL itself is loaded when the window opens (ui/sdl_api.h).
 */
#include "ui/sdl_window.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "ui/display_geometry.h"
#include "ui/keymap.h"
#include "ui/sdl_api.h"
#include "ui/virtio_gpu.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define WINDOW_DEFAULT_WIDTH  800
#define WINDOW_DEFAULT_HEIGHT 600
/* A resize is offered to the guest once the window kept one size this long: dragging a
 * corner must not make the guest change modes on every pixel. */
#define RESIZE_SETTLE_MS 300
#define CURSOR_SIZE	 64

/* Linux's button codes (input-event-codes.h). */
#define LINUX_BTN_LEFT	 0x110
#define LINUX_BTN_RIGHT	 0x111
#define LINUX_BTN_MIDDLE 0x112

struct sdl_window {
	struct vm *vm;
	struct virtio_gpu *gpu;
	struct sdl_input_sink input;
	bool has_input;
	char title[256];
	uint32_t first_width, first_height;

	/* Start-up handshake with sdl_window_open. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int open_result; /* 1 while opening, then 0 or -1 */

	uint32_t wake_event;	 /* SDL user event type the frame listener pushes */
	atomic_bool wake_pending; /* one wake-up in SDL's queue at most */

	SDL_Window *win;
	SDL_Renderer *ren;
	SDL_Texture *frame_tex, *cursor_tex;
	uint32_t tex_w, tex_h;
	/* The picture as last copied out of the device. */
	uint32_t *pixels;
	uint32_t frame_w, frame_h;
	uint64_t generation;
	bool cursor_visible;
	uint32_t cursor_x, cursor_y, hot_x, hot_y;
	uint32_t cursor_pixels[CURSOR_SIZE * CURSOR_SIZE];
	/* Where the picture was last drawn, in drawable pixels (for the pointer). */
	struct display_rect shown;

	bool optional; /* sdl_window_config.optional */
	bool resize_pending;
	uint32_t resize_at; /* SDL_GetTicks() of the last size change */
};

/* The window closed: what SIGTERM does (vmm/power_down.c, on the main loop's thread): the
 * first press of the guest's power button, a second close stops the VM. The window stays
 * until the guest is off, showing it shut down. */
static void window_closed(struct sdl_window *w)
{
	kill(getpid(), SIGTERM);
}

/* The frame listener, on the device's worker thread: never blocks. */
static void window_wake(void *opaque)
{
	struct sdl_window *w = opaque;
	SDL_Event ev = {.type = w->wake_event};

	if (atomic_exchange(&w->wake_pending, true))
		return;
	/* A full SDL queue drops it; the next change wakes the window again. */
	if (sdl.PushEvent(&ev) != 1)
		atomic_store(&w->wake_pending, false);
}

/* The drawable's size: pixels, which differ from the window's size on HiDPI screens. */
static void window_drawable_size(struct sdl_window *w, int *dw, int *dh)
{
	if (sdl.GetRendererOutputSize(w->ren, dw, dh) != 0 || *dw <= 0 || *dh <= 0)
		sdl.GetWindowSize(w->win, dw, dh);
}

static void window_offer_size(struct sdl_window *w)
{
	int dw, dh;

	window_drawable_size(w, &dw, &dh);
	if (dw > 0 && dh > 0 && virtio_gpu_set_preferred_size(w->gpu, dw, dh) != 0)
		log_warn("display: the window's size %dx%d is beyond the device's", dw, dh);
}

/* Copy the device's picture out under its lock (a memcpy, nothing slower). */
static void window_fetch_frame(struct sdl_window *w)
{
	struct virtio_gpu_frame f;

	if (virtio_gpu_frame_generation(w->gpu) == w->generation)
		return;
	virtio_gpu_frame_lock(w->gpu, &f);
	w->generation = f.generation;
	if (f.width != w->frame_w || f.height != w->frame_h) {
		uint32_t *p = f.width ? realloc(w->pixels, (size_t)f.width * f.height * 4) : NULL;
		if (f.width && !p) {
			f.width = f.height = 0; /* shown as blank until memory comes back */
		} else {
			if (!f.width)
				free(w->pixels);
			w->pixels = p;
		}
		w->frame_w = f.width;
		w->frame_h = f.height;
	}
	if (w->frame_w)
		memcpy(w->pixels, f.pixels, (size_t)w->frame_w * w->frame_h * 4);
	w->cursor_visible = f.cursor_visible;
	w->cursor_x = f.cursor_x;
	w->cursor_y = f.cursor_y;
	w->hot_x = f.cursor_hot_x;
	w->hot_y = f.cursor_hot_y;
	if (f.cursor_visible)
		memcpy(w->cursor_pixels, f.cursor, sizeof(w->cursor_pixels));
	virtio_gpu_frame_unlock(w->gpu);

	if (w->frame_w && (w->frame_w != w->tex_w || w->frame_h != w->tex_h)) {
		if (w->frame_tex)
			sdl.DestroyTexture(w->frame_tex);
		w->frame_tex =
		    sdl.CreateTexture(w->ren, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
				      w->frame_w, w->frame_h);
		w->tex_w = w->frame_tex ? w->frame_w : 0;
		w->tex_h = w->frame_tex ? w->frame_h : 0;
	}
	if (w->frame_w && w->frame_tex)
		sdl.UpdateTexture(w->frame_tex, NULL, w->pixels, w->frame_w * 4);
	if (w->cursor_visible && w->cursor_tex)
		sdl.UpdateTexture(w->cursor_tex, NULL, w->cursor_pixels, CURSOR_SIZE * 4);
}

static void window_draw(struct sdl_window *w)
{
	int dw, dh;

	window_fetch_frame(w);
	window_drawable_size(w, &dw, &dh);
	sdl.SetRenderDrawColor(w->ren, 0, 0, 0, 255);
	sdl.RenderClear(w->ren);
	w->shown = (struct display_rect){0, 0, 0, 0};
	if (w->frame_w && w->frame_tex && w->frame_w == w->tex_w && w->frame_h == w->tex_h) {
		struct display_rect r = display_letterbox(w->frame_w, w->frame_h, dw, dh);
		SDL_Rect dst = {r.x, r.y, (int)r.w, (int)r.h};

		/* At 1:1 every guest pixel is one screen pixel: nothing to smooth. */
		sdl.SetTextureScaleMode(w->frame_tex, r.w == w->frame_w ? SDL_ScaleModeNearest
									: SDL_ScaleModeLinear);
		sdl.RenderCopy(w->ren, w->frame_tex, NULL, &dst);
		w->shown = r;
		if (w->cursor_visible && w->cursor_tex) {
			double scale = (double)r.w / w->frame_w;
			SDL_Rect c = {
			    r.x + (int)(((double)w->cursor_x - w->hot_x) * scale),
			    r.y + (int)(((double)w->cursor_y - w->hot_y) * scale),
			    (int)(CURSOR_SIZE * scale + 0.5),
			    (int)(CURSOR_SIZE * scale + 0.5),
			};
			sdl.RenderSetClipRect(w->ren, &dst);
			sdl.RenderCopy(w->ren, w->cursor_tex, NULL, &c);
			sdl.RenderSetClipRect(w->ren, NULL);
		}
	}
	sdl.RenderPresent(w->ren);
}

/* A window point (SDL's mouse coordinates) as the guest's absolute pointer position. */
static bool window_pointer(struct sdl_window *w, int x, int y, uint32_t *ax, uint32_t *ay)
{
	int ww, wh, dw, dh;

	sdl.GetWindowSize(w->win, &ww, &wh);
	window_drawable_size(w, &dw, &dh);
	if (ww <= 0 || wh <= 0)
		return false;
	return display_point_to_abs(&w->shown, (int32_t)((int64_t)x * dw / ww),
				    (int32_t)((int64_t)y * dh / wh), ax, ay);
}

static void window_mouse(struct sdl_window *w, const SDL_Event *ev)
{
	uint32_t ax, ay;
	int x, y;

	if (!w->has_input)
		return;
	if (ev->type == SDL_MOUSEWHEEL) {
		int32_t n = ev->wheel.y;
		if (ev->wheel.direction == SDL_MOUSEWHEEL_FLIPPED)
			n = -n;
		if (n)
			w->input.wheel(w->input.opaque, n);
		return;
	}
	x = ev->type == SDL_MOUSEMOTION ? ev->motion.x : ev->button.x;
	y = ev->type == SDL_MOUSEMOTION ? ev->motion.y : ev->button.y;
	if (window_pointer(w, x, y, &ax, &ay))
		w->input.pointer(w->input.opaque, ax, ay);
	if (ev->type != SDL_MOUSEMOTION) {
		uint16_t code = ev->button.button == SDL_BUTTON_LEFT	? LINUX_BTN_LEFT
				: ev->button.button == SDL_BUTTON_RIGHT	? LINUX_BTN_RIGHT
				: ev->button.button == SDL_BUTTON_MIDDLE ? LINUX_BTN_MIDDLE
									 : 0;
		if (code)
			w->input.button(w->input.opaque, code, ev->type == SDL_MOUSEBUTTONDOWN);
	}
}

/* One event; whether the window needs drawing again. */
static bool window_handle(struct sdl_window *w, const SDL_Event *ev)
{
	if (ev->type == w->wake_event) {
		atomic_store(&w->wake_pending, false);
		return true;
	}
	switch (ev->type) {
	case SDL_QUIT:
		/* Follows the close event of the last window (SDL has no signal handlers here):
		 * the close was handled already. */
		return false;
	case SDL_WINDOWEVENT:
		switch (ev->window.event) {
		case SDL_WINDOWEVENT_CLOSE:
			window_closed(w);
			return false;
		case SDL_WINDOWEVENT_SIZE_CHANGED:
			w->resize_pending = true;
			w->resize_at = sdl.GetTicks();
			return true;
		case SDL_WINDOWEVENT_EXPOSED:
			return true;
		}
		return false;
	case SDL_KEYDOWN:
	case SDL_KEYUP:
		if (w->has_input) {
			uint16_t code = keymap_linux_from_hid(ev->key.keysym.scancode);
			if (code)
				w->input.key(w->input.opaque, code, ev->type == SDL_KEYDOWN,
					     ev->key.repeat != 0);
		}
		return false;
	case SDL_MOUSEMOTION:
	case SDL_MOUSEBUTTONDOWN:
	case SDL_MOUSEBUTTONUP:
	case SDL_MOUSEWHEEL:
		window_mouse(w, ev);
		return false;
	}
	return false;
}

static void window_loop(struct sdl_window *w)
{
	for (;;) {
		SDL_Event ev;
		bool redraw = false;
		int got;

		if (w->resize_pending) {
			uint32_t waited = sdl.GetTicks() - w->resize_at;
			got = sdl.WaitEventTimeout(
			    &ev, waited >= RESIZE_SETTLE_MS ? 0 : (int)(RESIZE_SETTLE_MS - waited));
		} else {
			got = sdl.WaitEvent(&ev);
		}
		if (got) {
			do
				redraw |= window_handle(w, &ev);
			while (sdl.PollEvent(&ev));
		}
		if (w->resize_pending && sdl.GetTicks() - w->resize_at >= RESIZE_SETTLE_MS) {
			w->resize_pending = false;
			window_offer_size(w);
		}
		if (redraw || virtio_gpu_frame_generation(w->gpu) != w->generation)
			window_draw(w);
	}
}

/* One line: an error when the window was asked for, a warning when it was only the default. */
static void window_failed(const struct sdl_window *w, const char *what, const char *why)
{
	if (w->optional)
		log_warn("no window (%s: %s): the guest's display goes unseen; -nographic "
			 "leaves it out", what, why);
	else
		log_error("-display sdl: %s (%s)", what, why);
}

/* SDL's part of opening; 0, or -1 after one line. */
static int window_create(struct sdl_window *w)
{
	const char *why;

	/* SDL is loaded only now: a run without a window never maps it (ui/sdl_api.h). */
	if (sdl_api_load(SDL_API_LIBRARY, &why) != 0) {
		window_failed(w, "cannot load " SDL_API_LIBRARY, why);
		return -1;
	}
	/* smolvm's main loop handles the signals; SDL must not install its own. */
	sdl.SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
	/* The host's compositor keeps running: a VM window must not switch it off. */
	sdl.SetHint(SDL_HINT_VIDEO_ALLOW_SCREENSAVER, "1");
	/* Only the displays the environment names: SDL would otherwise fall back to others
	 * (KMS/DRM on the console) or print its own complaints. $SDL_VIDEODRIVER still wins. */
	sdl.SetHint(SDL_HINT_VIDEODRIVER, !getenv("DISPLAY")	      ? "wayland"
					  : getenv("WAYLAND_DISPLAY") ? "x11,wayland"
								      : "x11");
	/* A 2D picture needs no OpenGL: SDL's software renderer drawing into the window's
	 * own framebuffer (MIT-SHM on X11). Otherwise SDL loads an OpenGL driver, even only to
	 * ask whether it is accelerated: under Mesa that alone is some 80 MiB resident
	 * (libLLVM), and llvmpipe presents slower than SHM (make bench's display rows).
	 * Default priority: SDL_RENDER_DRIVER and SDL_FRAMEBUFFER_ACCELERATION in the
	 * environment still choose otherwise. */
	sdl.SetHintWithPriority(SDL_HINT_RENDER_DRIVER, "software", SDL_HINT_DEFAULT);
	sdl.SetHintWithPriority(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0", SDL_HINT_DEFAULT);
	if (sdl.Init(SDL_INIT_VIDEO) != 0) {
		window_failed(w, "no display reachable", sdl.GetError());
		return -1;
	}
	w->wake_event = sdl.RegisterEvents(1);
	w->win = sdl.CreateWindow(w->title, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
				  w->first_width, w->first_height,
				  SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
	if (w->win)
		w->ren = sdl.CreateRenderer(w->win, -1, 0);
	if (w->ren)
		w->cursor_tex =
		    sdl.CreateTexture(w->ren, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING,
				      CURSOR_SIZE, CURSOR_SIZE);
	if (w->wake_event == (uint32_t)-1 || !w->win || !w->ren || !w->cursor_tex) {
		window_failed(w, "cannot open the window", sdl.GetError());
		return -1;
	}
	sdl.SetTextureBlendMode(w->cursor_tex, SDL_BLENDMODE_BLEND);
	/* The guest's first display info: the window's size as it opened. */
	window_offer_size(w);
	window_draw(w);
	return 0;
}

static void *window_thread(void *opaque)
{
	struct sdl_window *w = opaque;
	int r;

	/* Before SDL starts: the threads it starts inherit the window's filter. */
	sandbox_enter(SANDBOX_WINDOW);
	r = window_create(w);

	pthread_mutex_lock(&w->lock);
	w->open_result = r;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	if (r == 0)
		window_loop(w);
	return NULL;
}

int sdl_window_open(struct vm *vm, struct virtio_gpu *gpu, const struct sdl_window_config *cfg)
{
	static struct sdl_window window; /* one per process: SDL itself is global */
	struct sdl_window *w = &window;
	const char *name;
	pthread_t thread;
	int r;

	if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) {
		log_error("-display sdl: no display reachable: neither DISPLAY nor "
			  "WAYLAND_DISPLAY is set");
		return -1;
	}
	w->vm = vm;
	w->gpu = gpu;
	if (cfg->input) {
		w->input = *cfg->input;
		w->has_input = true;
	}
	name = cfg->title ? strrchr(cfg->title, '/') : NULL;
	name = name ? name + 1 : cfg->title;
	snprintf(w->title, sizeof(w->title), "smolvm%s%s", name ? " - " : "", name ? name : "");
	w->optional = cfg->optional;
	w->first_width = cfg->width ? cfg->width : WINDOW_DEFAULT_WIDTH;
	w->first_height = cfg->height ? cfg->height : WINDOW_DEFAULT_HEIGHT;
	w->generation = (uint64_t)-1; /* draw whatever the device has first */
	w->open_result = 1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&thread, NULL, window_thread, w) != 0) {
		log_error("-display sdl: cannot start the window's thread");
		return -1;
	}
	pthread_mutex_lock(&w->lock);
	while (w->open_result == 1)
		pthread_cond_wait(&w->cond, &w->lock);
	r = w->open_result;
	pthread_mutex_unlock(&w->lock);
	if (r != 0) {
		pthread_join(thread, NULL);
		return -1;
	}
	pthread_detach(thread);
	/* From now on every change of the picture wakes the window. */
	virtio_gpu_set_frame_listener(gpu, window_wake, w);
	return 0;
}
