/*
 * A table of functions filled by name from a shared library opened with dlopen: how smolvm
 * uses the libraries it loads only when they are needed (SDL2 for the window, ui/sdl_api.c;
 * libslirp for a user network, net/slirp_api.c), so that a run without them never maps them.
 */
#ifndef SMOLVM_LIBRARY_TABLE_H
#define SMOLVM_LIBRARY_TABLE_H

#include <stddef.h>

/* Opens library and looks up names[0..count-1] into addresses[]. 0 with every address set
 * and the library kept open for the rest of the process; or -1 with *why naming the library
 * or the first missing function (dlerror's message), the library closed again and
 * addresses[] to be ignored. Not thread-safe (dlerror's state): called before the threads
 * that use the table exist, or by the one that does. */
int library_table_load(const char *library, const char *const names[], void *addresses[],
		       size_t count, const char **why);

#endif
