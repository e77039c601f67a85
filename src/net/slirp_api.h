/*
 * libslirp, loaded only for a user-mode network (net/slirp_backend.c). The binary does not
 * link it: a run with -net none or tap never maps libslirp and what it needs (GLib, PCRE2,
 * libm), about 0.9 MiB of its own memory. With a user network the supervising first process
 * loads it before forking the VM's (slirp_backend_preload), as the dynamic loader did when
 * it was linked. libslirp's header still gives the types; the functions the backend calls
 * are pointers in one table, filled by name from the library.
 */
#ifndef SMOLVM_SLIRP_API_H
#define SMOLVM_SLIRP_API_H

#include <slirp/libslirp.h>

/* libslirp's soname (Debian's libslirp0). */
#define SLIRP_API_LIBRARY "libslirp.so.0"

/* Every libslirp function the backend calls, without its slirp_ prefix: a call is
 * libslirp.name(...). */
#define SLIRP_API_FUNCTIONS(X)                                                                     \
	X(new)                                                                                     \
	X(cleanup)                                                                                 \
	X(input)                                                                                   \
	X(pollfds_fill)                                                                            \
	X(pollfds_poll)                                                                            \
	X(add_hostfwd)                                                                             \
	X(version_string)

/* One pointer per function, of the type libslirp's header declares for it. */
struct slirp_api {
#define SLIRP_API_POINTER(name) __typeof__(slirp_##name) *name;
	SLIRP_API_FUNCTIONS(SLIRP_API_POINTER)
#undef SLIRP_API_POINTER
};

/* The table; its pointers are NULL until slirp_api_load succeeded. */
extern struct slirp_api libslirp;

/* Loads library (SLIRP_API_LIBRARY; tests name others) and every function of the table.
 * 0, or -1 with *why set to dlerror's message and the table left empty. Once it succeeded,
 * later calls return 0 at once. Not thread-safe: called before the VM's threads exist. */
int slirp_api_load(const char *library, const char **why);

#endif
