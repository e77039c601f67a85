/* SDL2's functions, looked up in the library when the window opens (ui/sdl_api.h). */
#include "ui/sdl_api.h"

#include <dlfcn.h>
#include <stdio.h>

struct sdl_api sdl;

/* The library once the table is filled from it, NULL until then. Never closed: SDL's threads
 * and the window live until the process ends. */
static void *sdl_api_handle;
/* A failed lookup's message, kept past the dlclose that follows it. */
static char sdl_api_error[256];

int sdl_api_load(const char *library, const char **why)
{
	struct sdl_api api;
	void *h;

	if (sdl_api_handle)
		return 0;
	/* RTLD_NOW: what SDL itself needs from its libraries is bound here, so a broken
	 * installation fails now and not in the middle of drawing. RTLD_LOCAL: SDL's symbols
	 * stay out of the way of whatever is loaded later. */
	h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*why = dlerror();
		return -1;
	}
	dlerror(); /* clear: a lookup's failure is then dlsym's own */
#define SDL_API_RESOLVE(name)                                                                      \
	api.name = (__typeof__(api.name))dlsym(h, "SDL_" #name);                                   \
	if (!api.name)                                                                             \
		goto missing;
	SDL_API_FUNCTIONS(SDL_API_RESOLVE)
#undef SDL_API_RESOLVE
	sdl = api;
	sdl_api_handle = h;
	return 0;

missing:
	*why = dlerror();
	snprintf(sdl_api_error, sizeof(sdl_api_error), "%s", *why ? *why : "a function is missing");
	*why = sdl_api_error;
	dlclose(h);
	return -1;
}
