/*
 * Functions filled by name from a library opened on demand (vmm/library_table.c): a library
 * that is not there fails naming it; a library without one of the names fails naming that
 * function and is closed again (nothing of it stays mapped); a library with every name gives
 * addresses that are its functions.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "self_maps.h"
#include "unit.h"
#include "vmm/library_table.h"

static void test_missing_library(void)
{
	static const char *const names[] = {"getpid"};
	void *addresses[1];
	const char *why = NULL;

	CHECK_EQ(library_table_load("libsmolvm-no-such-library.so.0", names, addresses, 1, &why),
		 -1);
	CHECK(why && strstr(why, "libsmolvm-no-such-library.so.0"));
}

static void test_missing_function_closes_the_library(void)
{
	/* libslirp is installed (scripts/deps.sh) and not linked: after the failure nothing of
	 * it may stay mapped. */
	static const char *const names[] = {"slirp_new", "smolvm_no_such_function", "slirp_input"};
	void *addresses[3];
	const char *why = NULL;

	CHECK(!mapped("libslirp"));
	CHECK_EQ(library_table_load("libslirp.so.0", names, addresses, 3, &why), -1);
	CHECK(why && strstr(why, "smolvm_no_such_function"));
	CHECK(!mapped("libslirp"));
}

static void test_every_function_found(void)
{
	static const char *const names[] = {"getpid", "strlen"};
	void *addresses[2] = {NULL, NULL};
	const char *why = "not set";
	pid_t (*get_pid)(void);
	size_t (*string_length)(const char *);

	CHECK(mapped("/libc.so")); /* the check above sees libraries */
	CHECK_EQ(library_table_load("libc.so.6", names, addresses, 2, &why), 0);
	CHECK_STR(why, "not set");
	get_pid = (pid_t(*)(void))addresses[0];
	string_length = (size_t(*)(const char *))addresses[1];
	CHECK(get_pid && get_pid() == getpid());
	CHECK(string_length && string_length("smolvm") == 6);
}

int main(void)
{
	RUN(test_missing_library);
	RUN(test_missing_function_closes_the_library);
	RUN(test_every_function_found);
	return UNIT_RESULT();
}
