/* Functions looked up by name in a library opened on demand (vmm/library_table.h). */
#include "vmm/library_table.h"

#include <dlfcn.h>
#include <stdio.h>

/* A failed lookup's message, kept past the dlclose that follows it. */
static char library_table_error[256];

int library_table_load(const char *library, const char *const names[], void *addresses[],
		       size_t count, const char **why)
{
	const char *err;
	void *h;

	/* RTLD_NOW: what the library needs from others is bound here, before any thread is
	 * sandboxed, so a broken installation fails now with a message and not later in the
	 * middle of the work. RTLD_LOCAL: its symbols stay out of the way of what comes later. */
	h = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*why = dlerror();
		return -1;
	}
	dlerror(); /* clear: a lookup's failure is then dlsym's own */
	for (size_t i = 0; i < count; i++) {
		addresses[i] = dlsym(h, names[i]);
		if (addresses[i])
			continue;
		err = dlerror();
		snprintf(library_table_error, sizeof(library_table_error), "%s",
			 err ? err : "a function is missing");
		*why = library_table_error;
		dlclose(h);
		return -1;
	}
	/* Never closed: the functions may be called until the process ends. */
	return 0;
}
