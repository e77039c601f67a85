/* Whether this process has a file mapped whose path contains a name: for the tests of
 * libraries smolvm loads only on demand (ui/sdl_api.c, net/slirp_api.c). */
#ifndef SMOLVM_SELF_MAPS_H
#define SMOLVM_SELF_MAPS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static inline bool mapped(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

#endif
