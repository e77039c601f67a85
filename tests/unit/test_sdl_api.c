/*
 * SDL2 loaded on demand (ui/sdl_api.c): the process has no SDL mapped before the load (the
 * binary does not link it); a library that is not there fails naming it and leaves the table
 * empty; the real library fills every entry with a function that answers, and a second load
 * is a no-op. A missing function is vmm/library_table.c's (test_library_table.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ui/sdl_api.h"
#include "self_maps.h"
#include "unit.h"

/* Entries of the table that are still NULL. */
static int empty_entries(void)
{
	int n = 0;

#define COUNT_EMPTY(name) n += sdl.name == NULL;
	SDL_API_FUNCTIONS(COUNT_EMPTY)
#undef COUNT_EMPTY
	return n;
}

static int table_size(void)
{
	int n = 0;

#define COUNT(name) n++;
	SDL_API_FUNCTIONS(COUNT)
#undef COUNT
	return n;
}

static void test_not_linked(void)
{
	CHECK(mapped("/libc.so")); /* the check itself sees libraries */
	CHECK(!mapped("libSDL2"));
}

static void test_missing_library(void)
{
	const char *why = NULL;

	CHECK_EQ(sdl_api_load("libsmolvm-no-such-library.so.0", &why), -1);
	CHECK(why && strstr(why, "libsmolvm-no-such-library.so.0"));
	CHECK_EQ(empty_entries(), table_size());
	CHECK(!mapped("libSDL2"));
}

static void test_load(void)
{
	const char *why = "not set";
	uint32_t t;

	if (sdl_api_load(SDL_API_LIBRARY, &why) != 0) {
		fprintf(stderr, "cannot load %s: %s (scripts/deps.sh installs it)\n",
			SDL_API_LIBRARY, why);
		CHECK(!"SDL2 loads");
		return;
	}
	CHECK(mapped("libSDL2"));
	CHECK_EQ(empty_entries(), 0);
	/* The entries are SDL's functions: these two need no SDL_Init. */
	CHECK(sdl.GetError() != NULL);
	t = sdl.GetTicks();
	CHECK(sdl.GetTicks() >= t);
	CHECK_EQ(sdl_api_load("libsmolvm-no-such-library.so.0", &why), 0);
	CHECK_EQ(empty_entries(), 0);
}

int main(void)
{
	RUN(test_not_linked);
	RUN(test_missing_library);
	RUN(test_load);
	return UNIT_RESULT();
}
