/*
 * Fuzz the command line (cli/options.c, cli/device_options.c, cli/keyval.c): whoever starts
 * smolvm chooses every byte of it, scripts included. Whatever the words, options_parse must
 * return one of its three results; an error prints a "smolvm: " line and the hint, nothing on
 * stdout; a run or an error leaves every count of struct vm_config within its array (ASan does
 * not see an overflow inside a struct), every string in it NUL-terminated, and a run has
 * something to boot (a kernel, or with the cd feature -cd or a disk) and values inside their
 * documented ranges.
 *
 * The parse has no side effect but stat() on -share paths; the copies keyval makes live as long
 * as the process, so the allocations one parse makes are freed here (a malloc hook notes them).
 *
 * Input: the words after "smolvm", separated by NUL bytes (at most MAX_WORDS).
 * Seeds: tests/fuzz/corpus/fuzz_options; words worth trying: tests/fuzz/fuzz_options.dict.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sanitizer/allocator_interface.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/options.h"
#include "vmm/features.h"
#include "fuzz.h"

#define MAX_WORDS  64
#define MAX_ALLOCS 256

static int out_fd, err_fd, saved_out, saved_err;

/* Allocations of the parsing thread while a parse runs; more than MAX_ALLOCS is a bug too. */
static volatile const void *allocs[MAX_ALLOCS];
static unsigned nallocs;
static int recording;
static pthread_t parser;

static void on_malloc(const volatile void *p, size_t size)
{
	if (!recording || !pthread_equal(pthread_self(), parser))
		return;
	fuzz_assert(nallocs < MAX_ALLOCS);
	allocs[nallocs++] = p;
}

static void on_free(const volatile void *p)
{
	if (!recording || !pthread_equal(pthread_self(), parser))
		return;
	for (unsigned i = 0; i < nallocs; i++)
		if (allocs[i] == p)
			allocs[i] = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Unbuffered: stdio must not allocate a buffer during a parse (it would be freed). */
	setvbuf(stdout, NULL, _IONBF, 0);
	out_fd = memfd_create("fuzz-stdout", MFD_CLOEXEC);
	err_fd = memfd_create("fuzz-stderr", MFD_CLOEXEC);
	saved_out = dup(1);
	saved_err = dup(2);
	if (out_fd < 0 || err_fd < 0 || saved_out < 0 || saved_err < 0)
		abort();
	parser = pthread_self();
	__sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
	return 0;
}

/* What fd (a memfd) holds: at most size - 1 bytes, NUL-terminated; the file is emptied. */
static size_t take_output(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	if (n < 0)
		n = 0;
	buf[n] = '\0';
	if (ftruncate(fd, 0) != 0)
		abort();
	lseek(fd, 0, SEEK_SET);
	return n;
}

static void check_string(const char *s)
{
	if (s)
		(void)strlen(s); /* ASan: inside a live allocation, NUL-terminated */
}

static void check_config(const struct vm_config *cfg, enum options_result r)
{
	fuzz_assert(cfg->ndrives <= VM_MAX_DRIVES);
	fuzz_assert(cfg->nshares <= VM_MAX_SHARES);
	fuzz_assert(cfg->net.nhostfwd <= VM_MAX_HOSTFWDS);
	check_string(cfg->kernel);
	check_string(cfg->initramfs);
	check_string(cfg->append);
	check_string(cfg->net.ifname);
	check_string(cfg->monitor_path);
	for (unsigned i = 0; i < cfg->ndrives; i++)
		fuzz_assert(cfg->drive[i].path && cfg->drive[i].cache <= DRIVE_CACHE_WRITETHROUGH);
	for (unsigned i = 0; i < cfg->nshares; i++) {
		const struct share_config *s = &cfg->share[i];

		fuzz_assert(s->tag && *s->tag && strlen(s->tag) <= SHARE_TAG_MAX);
		fuzz_assert(s->path && *s->path);
		fuzz_assert(s->cache <= SHARE_CACHE_NEVER);
		for (unsigned j = 0; j < i; j++)
			fuzz_assert(strcmp(cfg->share[j].tag, s->tag) != 0);
	}
	for (unsigned i = 0; i < cfg->net.nhostfwd; i++)
		fuzz_assert(cfg->net.hostfwd[i].guest_port != 0);
	if (r != OPTIONS_RUN)
		return;
	/* (A refused mac= may leave its bytes behind: the config of a failed parse is unused.) */
	if (cfg->net.mac_set)
		fuzz_assert(!(cfg->net.mac[0] & 1));
	/* Something to boot: a kernel, or (the cd feature) the firmware with -cd or a disk. */
	fuzz_assert(cfg->kernel || (features_has("cd") && (cfg->cd || cfg->ndrives)));
	fuzz_assert(!(cfg->kernel && cfg->cd));
	fuzz_assert(!cfg->kernel || !(cfg->bios || cfg->efivars));
	fuzz_assert(cfg->mem_size >= VM_MIN_MEM && cfg->mem_size <= VM_MAX_MEM);
	fuzz_assert(cfg->ncpus >= 1 && cfg->ncpus <= VM_MAX_CPUS);
	fuzz_assert(cfg->shutdown_timeout <= VM_MAX_SHUTDOWN_TIMEOUT);
	fuzz_assert(!cfg->monitor_path || strlen(cfg->monitor_path) <= MONITOR_PATH_MAX);
	fuzz_assert(cfg->display_width <= 16384 && cfg->display_height <= 16384);
	fuzz_assert(!(cfg->nographic && cfg->display != DISPLAY_DEFAULT));
}

static const char hint[] = "Try 'smolvm -h' for more information.\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_WORDS + 2] = {"smolvm"};
	char out[256], err[4096];
	struct vm_config cfg;
	enum options_result r;
	size_t nerr, pos = 0;
	int argc = 1;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* Every NUL ends a word; a trailing piece without one is a word too. */
	while (pos < size && argc <= MAX_WORDS) {
		argv[argc++] = copy + pos;
		pos += strlen(copy + pos) + 1;
	}
	argv[argc] = NULL;

	dup2(out_fd, 1);
	dup2(err_fd, 2);
	nallocs = 0;
	recording = 1;
	r = options_parse(argc, argv, &cfg);
	recording = 0;
	dup2(saved_out, 1);
	dup2(saved_err, 2);

	fuzz_assert(r == OPTIONS_RUN || r == OPTIONS_EXIT || r == OPTIONS_ERROR);
	check_config(&cfg, r);
	take_output(out_fd, out, sizeof(out));
	nerr = take_output(err_fd, err, sizeof(err));
	if (r == OPTIONS_ERROR) {
		/* One message naming the problem, then the hint; the exit status is the caller's.
		 */
		fuzz_assert(strncmp(err, "smolvm: ", 8) == 0);
		if (nerr < sizeof(err) - 1)
			fuzz_assert(nerr >= sizeof(hint) - 1 &&
				    strcmp(err + nerr - (sizeof(hint) - 1), hint) == 0);
		fuzz_assert(out[0] == '\0');
	} else if (r == OPTIONS_EXIT) {
		fuzz_assert(strncmp(out, "smolvm ", 7) == 0 || strncmp(out, "usage: ", 7) == 0);
	}
	for (unsigned i = 0; i < nallocs; i++)
		free((void *)allocs[i]);
	free(copy);
	return 0;
}
