/*
 * libslirp loaded on demand (net/slirp_api.c): before the load the process maps neither
 * libslirp nor GLib (the binary links neither); a library that is not there fails naming it
 * and leaves the table empty; the real library fills every entry with a function that
 * answers, and a second load is a no-op. A missing function is vmm/library_table.c's
 * (test_library_table.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "net/slirp_api.h"
#include "self_maps.h"
#include "unit.h"

/* Entries of the table that are still NULL. */
static int empty_entries(void)
{
	int n = 0;

#define COUNT_EMPTY(name) n += libslirp.name == NULL;
	SLIRP_API_FUNCTIONS(COUNT_EMPTY)
#undef COUNT_EMPTY
	return n;
}

static int table_size(void)
{
	int n = 0;

#define COUNT(name) n++;
	SLIRP_API_FUNCTIONS(COUNT)
#undef COUNT
	return n;
}

static void test_not_linked(void)
{
	CHECK(mapped("/libc.so")); /* the check itself sees libraries */
	CHECK(!mapped("libslirp"));
	CHECK(!mapped("libglib"));
}

static void test_missing_library(void)
{
	const char *why = NULL;

	CHECK_EQ(slirp_api_load("libsmolvm-no-such-library.so.0", &why), -1);
	CHECK(why && strstr(why, "libsmolvm-no-such-library.so.0"));
	CHECK_EQ(empty_entries(), table_size());
	CHECK(!mapped("libslirp"));
}

static void test_load(void)
{
	const char *why = "not set";
	const char *version;

	if (slirp_api_load(SLIRP_API_LIBRARY, &why) != 0) {
		fprintf(stderr, "cannot load %s: %s (scripts/deps.sh installs it)\n",
			SLIRP_API_LIBRARY, why);
		CHECK(!"libslirp loads");
		return;
	}
	CHECK(mapped("libslirp"));
	CHECK(mapped("libglib"));
	CHECK_EQ(empty_entries(), 0);
	/* The entries are libslirp's functions: this one needs no network. */
	version = libslirp.version_string();
	CHECK(version && version[0] >= '4');
	CHECK_EQ(slirp_api_load("libsmolvm-no-such-library.so.0", &why), 0);
	CHECK_EQ(empty_entries(), 0);
}

int main(void)
{
	RUN(test_not_linked);
	RUN(test_missing_library);
	RUN(test_load);
	return UNIT_RESULT();
}
