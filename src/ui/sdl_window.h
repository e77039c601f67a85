/*
 * The window onto the guest (-display sdl): SDL2 on a thread of its own, drawing the
 * virtio-gpu scanout letterboxed, and handing the user's keys and pointer to an input sink
 * (the virtio-input devices). No vCPU or device thread ever waits on it.
 */
#ifndef SMOLVM_SDL_WINDOW_H
#define SMOLVM_SDL_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct virtio_gpu;

/* Where the window's input goes; every callback runs on the window's thread and must not
 * block. Coordinates are already mapped onto the guest's picture. */
struct sdl_input_sink {
	/* A key went down (pressed, repeat: a held key's auto-repeat) or up; code is Linux's
	 * KEY_* (ui/keymap.h). */
	void (*key)(void *opaque, uint16_t code, bool pressed, bool repeat);
	/* The pointer at x, y in 0..32767 over the guest's picture. */
	void (*pointer)(void *opaque, uint32_t x, uint32_t y);
	/* code: Linux's BTN_LEFT, BTN_RIGHT or BTN_MIDDLE. */
	void (*button)(void *opaque, uint16_t code, bool pressed);
	/* Wheel notches, positive away from the user. */
	void (*wheel)(void *opaque, int32_t notches);
	void *opaque;
};

struct sdl_window_config {
	const char *title;	  /* "smolvm - " and this */
	uint32_t width, height; /* the window's first size; 0: 800 x 600 */
	const struct sdl_input_sink *input; /* NULL: input is ignored */
	bool optional; /* a failure to open is a warning: the caller goes on without */
};

/* Opens the window (its thread starts and creates it before this returns). 0, or -1 after
 * one line naming the problem (no display reachable: the user's to fix). */
int sdl_window_open(struct vm *vm, struct virtio_gpu *gpu, const struct sdl_window_config *cfg);

#endif
