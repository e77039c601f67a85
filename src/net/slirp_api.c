/* libslirp's functions, looked up in the library when a user network is made
 * (net/slirp_api.h). */
#include "net/slirp_api.h"

#include <dlfcn.h>
#include <stdio.h>

struct slirp_api libslirp;

/* The library once the table is filled from it, NULL until then. Never closed: a network
 * lives until the process ends, and a reset device makes a new one from the same table. */
static void *slirp_api_handle;
/* A failed lookup's message, kept past the dlclose that follows it. */
static char slirp_api_error[256];

int slirp_api_load(const char *library, const char **why)
{
	struct slirp_api api;
	void *h;

	if (slirp_api_handle)
		return 0;
	/* RTLD_NOW: GLib and the rest are bound here, before any thread is sandboxed, so a
	 * broken installation fails now with a message and not later in the network thread. */
	h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*why = dlerror();
		return -1;
	}
	dlerror(); /* clear: a lookup's failure is then dlsym's own */
#define SLIRP_API_RESOLVE(name)                                                                    \
	api.name = (__typeof__(api.name))dlsym(h, "slirp_" #name);                                 \
	if (!api.name)                                                                             \
		goto missing;
	SLIRP_API_FUNCTIONS(SLIRP_API_RESOLVE)
#undef SLIRP_API_RESOLVE
	libslirp = api;
	slirp_api_handle = h;
	return 0;

missing:
	*why = dlerror();
	snprintf(slirp_api_error, sizeof(slirp_api_error), "%s",
		 *why ? *why : "a function is missing");
	*why = slirp_api_error;
	dlclose(h);
	return -1;
}
