/* SDL2's functions, looked up in the library when the window opens (ui/sdl_api.h). */
#include "ui/sdl_api.h"

#include "vmm/library_table.h"

struct sdl_api sdl;

int sdl_api_load(const char *library, const char **why)
{
	static const char *const names[] = {
#define SDL_API_NAME(name) "SDL_" #name,
	    SDL_API_FUNCTIONS(SDL_API_NAME)
#undef SDL_API_NAME
	};
	enum { count = sizeof(names) / sizeof(names[0]) };
	void *addresses[count];
	size_t i = 0;

	/* Loaded once: SDL's threads and the window live until the process ends. */
	if (sdl.Init)
		return 0;
	if (library_table_load(library, names, addresses, count, why) != 0)
		return -1;
#define SDL_API_FILL(name) sdl.name = (__typeof__(sdl.name))addresses[i++];
	SDL_API_FUNCTIONS(SDL_API_FILL)
#undef SDL_API_FILL
	return 0;
}
