/* libslirp's functions, looked up in the library when a user network is made
 * (net/slirp_api.h). */
#include "net/slirp_api.h"

#include "vmm/library_table.h"

struct slirp_api libslirp;

int slirp_api_load(const char *library, const char **why)
{
	static const char *const names[] = {
#define SLIRP_API_NAME(name) "slirp_" #name,
	    SLIRP_API_FUNCTIONS(SLIRP_API_NAME)
#undef SLIRP_API_NAME
	};
	enum { count = sizeof(names) / sizeof(names[0]) };
	void *addresses[count];
	size_t i = 0;

	/* Loaded once: a reset device makes its new network from the same table. */
	if (libslirp.new)
		return 0;
	if (library_table_load(library, names, addresses, count, why) != 0)
		return -1;
#define SLIRP_API_FILL(name) libslirp.name = (__typeof__(libslirp.name))addresses[i++];
	SLIRP_API_FUNCTIONS(SLIRP_API_FILL)
#undef SLIRP_API_FILL
	return 0;
}
