/*
 * The command line: every option, the defaults, sizes and CPU counts at and past their bounds,
 * and every way a command line can be wrong. stdout and stderr are captured for each parse, so
 * the tests can check that an error message names the offending option and value.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/options.h"
#include "vmm/features.h"
#include "unit.h"

#define MAX_ARGS 16

/* keyval's copies of -share's words live as long as the process, by design (cli/keyval.h). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:keyval_init\n";
}

const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

static char out_text[8192], err_text[8192];

/* Point fd (1 or 2) at a temporary file; capture_end restores it and reads the text back. */
static void capture_begin(int fd, FILE **tmp, int *saved)
{
	fflush(fd == 1 ? stdout : stderr);
	*tmp = tmpfile();
	if (!*tmp) {
		perror("tmpfile");
		abort();
	}
	*saved = dup(fd);
	dup2(fileno(*tmp), fd);
}

static void capture_end(int fd, FILE *tmp, int saved, char *buf, size_t size)
{
	size_t n;

	fflush(fd == 1 ? stdout : stderr);
	dup2(saved, fd);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, size - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
}

/* options_parse on "smolvm" followed by the NULL-terminated arguments. */
static enum options_result parse(struct vm_config *cfg, ...)
{
	char *argv[MAX_ARGS + 2] = {"smolvm"};
	int argc = 1, saved_out, saved_err;
	FILE *tmp_out, *tmp_err;
	enum options_result r;
	va_list ap;
	char *a;

	va_start(ap, cfg);
	while ((a = va_arg(ap, char *)) != NULL) {
		if (argc > MAX_ARGS)
			abort();
		argv[argc++] = a;
	}
	va_end(ap);
	argv[argc] = NULL;

	capture_begin(1, &tmp_out, &saved_out);
	capture_begin(2, &tmp_err, &saved_err);
	r = options_parse(argc, argv, cfg);
	capture_end(2, tmp_err, saved_err, err_text, sizeof(err_text));
	capture_end(1, tmp_out, saved_out, out_text, sizeof(out_text));
	return r;
}

#define HAS(text, s) (strstr((text), (s)) != NULL)

/* The parse fails and says so in one "smolvm: " line plus the hint, naming every needle. */
#define CHECK_FAILS(needle1, needle2, ...)                                                         \
	do {                                                                                       \
		struct vm_config _c;                                                               \
		CHECK_EQ(parse(&_c, __VA_ARGS__, NULL), OPTIONS_ERROR);                            \
		CHECK(strncmp(err_text, "smolvm: ", 8) == 0);                                      \
		CHECK(HAS(err_text, needle1));                                                     \
		CHECK(HAS(err_text, needle2));                                                     \
		CHECK(HAS(err_text, "Try 'smolvm -h'"));                                           \
		CHECK_STR(out_text, "");                                                           \
	} while (0)

static void test_defaults(void)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "-kernel", "bzImage", NULL), OPTIONS_RUN);
	CHECK_STR(c.kernel, "bzImage");
	CHECK(c.initramfs == NULL);
	CHECK(c.append == NULL);
	CHECK_EQ(c.mem_size, 512ULL << 20);
	CHECK_EQ(c.ncpus, 1);
	CHECK(!c.no_reboot);
	CHECK(!c.nographic);
	CHECK_EQ(c.shutdown_timeout, 30);
	CHECK(c.monitor_path == NULL);
	CHECK(c.sandbox);
	CHECK_STR(err_text, "");
	CHECK_STR(out_text, "");
}

static void test_every_option(void)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "-kernel", "vmlinux", "-initramfs", "initrd.gz", "-append",
		       "console=hvc0 quiet", "-m", "2G", "-smp", "4", "-no-reboot", "-nographic",
		       NULL),
		 OPTIONS_RUN);
	CHECK_STR(c.kernel, "vmlinux");
	CHECK_STR(c.initramfs, "initrd.gz");
	CHECK_STR(c.append, "console=hvc0 quiet");
	CHECK_EQ(c.mem_size, 2ULL << 30);
	CHECK_EQ(c.ncpus, 4);
	CHECK(c.no_reboot);
	CHECK(c.nographic);
	CHECK_STR(err_text, "");

	/* -initrd is qemu's spelling; the options may come in any order. */
	CHECK_EQ(parse(&c, "-initrd", "i.cpio", "-kernel", "k", NULL), OPTIONS_RUN);
	CHECK_STR(c.initramfs, "i.cpio");
	CHECK_STR(c.kernel, "k");

	/* An empty -append is a valid (empty) command line. */
	CHECK_EQ(parse(&c, "-kernel", "k", "-append", "", NULL), OPTIONS_RUN);
	CHECK_STR(c.append, "");

	/* The argument is taken as is, even when it looks like an option. */
	CHECK_EQ(parse(&c, "-kernel", "-m", NULL), OPTIONS_RUN);
	CHECK_STR(c.kernel, "-m");
	CHECK_EQ(c.mem_size, 512ULL << 20);

	/* A repeated option: the last one counts, as in qemu. */
	CHECK_EQ(parse(&c, "-kernel", "a", "-kernel", "b", "-m", "1G", "-m", "64", NULL),
		 OPTIONS_RUN);
	CHECK_STR(c.kernel, "b");
	CHECK_EQ(c.mem_size, 64ULL << 20);
}

static void test_double_dash(void)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "--kernel", "k", "--initramfs", "i", "--append", "a", "--m", "1G",
		       "--smp", "2", "--no-reboot", "--nographic", NULL),
		 OPTIONS_RUN);
	CHECK_STR(c.kernel, "k");
	CHECK_STR(c.initramfs, "i");
	CHECK_STR(c.append, "a");
	CHECK_EQ(c.mem_size, 1ULL << 30);
	CHECK_EQ(c.ncpus, 2);
	CHECK(c.no_reboot);
	CHECK(c.nographic);

	CHECK_EQ(parse(&c, "--initrd", "i2", "--kernel", "k", NULL), OPTIONS_RUN);
	CHECK_STR(c.initramfs, "i2");

	/* Only one extra dash is forgiven. */
	CHECK_FAILS("unknown option", "'---kernel'", "---kernel", "k");
}

static void test_help_and_version(void)
{
	static const char *const listed[] = {"-kernel",	  "-initramfs", "-initrd",    "-append",
					     "-m",	  "-smp",	"-no-reboot", "-nographic",
					     "--version", "--help"};
	struct vm_config c;

	CHECK_EQ(parse(&c, "-h", NULL), OPTIONS_EXIT);
	CHECK(HAS(out_text, "usage: smolvm -kernel FILE"));
	for (size_t i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
		CHECK(HAS(out_text, listed[i]));
	CHECK_STR(err_text, "");

	CHECK_EQ(parse(&c, "--help", NULL), OPTIONS_EXIT);
	CHECK(HAS(out_text, "usage: smolvm"));
	CHECK_EQ(parse(&c, "-help", NULL), OPTIONS_EXIT);
	CHECK(HAS(out_text, "usage: smolvm"));

	/* Help is answered even without -kernel, and wins over what follows it. */
	CHECK_EQ(parse(&c, "-m", "1G", "-h", "-bogus", NULL), OPTIONS_EXIT);
	CHECK_STR(err_text, "");

	CHECK_EQ(parse(&c, "--version", NULL), OPTIONS_EXIT);
	CHECK(strncmp(out_text, "smolvm ", 7) == 0);
	CHECK(out_text[7] >= '0' && out_text[7] <= '9');
	CHECK_EQ(parse(&c, "-version", NULL), OPTIONS_EXIT);
	CHECK(strncmp(out_text, "smolvm ", 7) == 0);
	CHECK_STR(err_text, "");

	/* An error before -h is still an error. */
	CHECK_FAILS("unknown option", "'-x'", "-x", "-h");
}

/* options_parse_size: the value in bytes, or the error. */
static void check_size(const char *s, int ret, uint64_t bytes)
{
	uint64_t v = 0xdeadbeef;
	int r = options_parse_size(s, &v);

	if (r != ret || (ret == 0 && v != bytes))
		fprintf(stderr, "size '%s': got %d, %llu\n", s, r, (unsigned long long)v);
	CHECK_EQ(r, ret);
	CHECK_EQ(v, ret == 0 ? bytes : 0xdeadbeef); /* untouched on error */
}

static void test_parse_size(void)
{
	check_size("512", 0, 512ULL << 20);
	check_size("0", 0, 0);
	check_size("1", 0, 1ULL << 20);
	check_size("007", 0, 7ULL << 20);
	check_size("4096K", 0, 4ULL << 20);
	check_size("4096k", 0, 4ULL << 20);
	check_size("512M", 0, 512ULL << 20);
	check_size("512m", 0, 512ULL << 20);
	check_size("2G", 0, 2ULL << 30);
	check_size("2g", 0, 2ULL << 30);
	check_size("1T", 0, 1ULL << 40);
	check_size("1t", 0, 1ULL << 40);
	check_size("2GB", 0, 2ULL << 30);
	check_size("2GiB", 0, 2ULL << 30);
	check_size("100KiB", 0, 100ULL << 10);
	check_size("16777215T", 0, 16777215ULL << 40);

	check_size("", -EINVAL, 0);
	check_size("abc", -EINVAL, 0);
	check_size("12Q", -EINVAL, 0);
	check_size("-5", -EINVAL, 0);
	check_size("+5", -EINVAL, 0);
	check_size(" 5", -EINVAL, 0);
	check_size("5 ", -EINVAL, 0);
	check_size("M", -EINVAL, 0);
	check_size("1.5G", -EINVAL, 0);
	check_size("0x10", -EINVAL, 0);
	check_size("2GG", -EINVAL, 0);
	check_size("2Gi", -EINVAL, 0);
	check_size("2GiBx", -EINVAL, 0);
	check_size("2B", -EINVAL, 0);
	check_size("2iB", -EINVAL, 0);

	/* Past 2^64 bytes, in the digits or through the suffix. */
	check_size("18446744073709551616", -ERANGE, 0);
	check_size("99999999999999999999999", -ERANGE, 0);
	check_size("18446744073709551615", -ERANGE, 0);
	check_size("17592186044416", -ERANGE, 0); /* 2^44 MiB */
	check_size("16777216T", -ERANGE, 0);
	check_size("18014398509481984K", -ERANGE, 0); /* 2^54 KiB */
	check_size("18014398509481983K", 0, 18014398509481983ULL << 10);
}

static void check_mem(const char *arg, uint64_t bytes)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "-kernel", "k", "-m", arg, NULL), OPTIONS_RUN);
	CHECK_EQ(c.mem_size, bytes);
}

static void test_mem(void)
{
	check_mem("512", 512ULL << 20);
	check_mem("512M", 512ULL << 20);
	check_mem("2G", 2ULL << 30);
	check_mem("32M", 32ULL << 20);
	check_mem("32", 32ULL << 20);
	check_mem("32768K", 32ULL << 20);
	check_mem("1T", 1ULL << 40);
	check_mem("1024G", 1ULL << 40);
	check_mem("3G", 3ULL << 30);
	/* Rounded up to whole MiB. */
	check_mem("32769K", 33ULL << 20);
	check_mem("65535k", 64ULL << 20);

	/* Malformed: the message names the option and the value. */
	CHECK_FAILS("-m: 'abc' is not a size", "512M", "-kernel", "k", "-m", "abc");
	CHECK_FAILS("-m: '12Q' is not a size", "2G", "-kernel", "k", "-m", "12Q");
	CHECK_FAILS("-m: '' is not a size", "-m", "-kernel", "k", "-m", "");
	CHECK_FAILS("-m: '-5' is not a size", "-m", "-kernel", "k", "-m", "-5");
	CHECK_FAILS("--m: '1.5G' is not a size", "--m", "-kernel", "k", "--m", "1.5G");

	/* Out of range, including values that overflow 64 bits. */
	CHECK_FAILS("-m: '0' is out of range", "32M to 1T", "-kernel", "k", "-m", "0");
	CHECK_FAILS("-m: '31' is out of range", "32M", "-kernel", "k", "-m", "31");
	CHECK_FAILS("-m: '32767K' is out of range", "1T", "-kernel", "k", "-m", "32767K");
	CHECK_FAILS("-m: '1025G' is out of range", "1T", "-kernel", "k", "-m", "1025G");
	CHECK_FAILS("-m: '1048577' is out of range", "1T", "-kernel", "k", "-m", "1048577");
	CHECK_FAILS("-m: '99999999G' is out of range", "1T", "-kernel", "k", "-m", "99999999G");
	CHECK_FAILS("-m: '18446744073709551616' is out of range", "1T", "-kernel", "k", "-m",
		    "18446744073709551616");
	CHECK_FAILS("-m: '18446744073709551615' is out of range", "1T", "-kernel", "k", "-m",
		    "18446744073709551615");
	CHECK_FAILS("-m: '16777216T' is out of range", "1T", "-kernel", "k", "-m", "16777216T");
}

static void check_smp(const char *arg, unsigned n)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "-kernel", "k", "-smp", arg, NULL), OPTIONS_RUN);
	CHECK_EQ(c.ncpus, n);
}

static void test_smp(void)
{
	check_smp("1", 1);
	check_smp("2", 2);
	check_smp("254", 254);
	check_smp("cpus=1", 1);
	check_smp("cpus=8", 8);
	check_smp("cpus=254", 254);

	CHECK_FAILS("-smp: '0' is not a CPU count", "1 to 254", "-kernel", "k", "-smp", "0");
	CHECK_FAILS("-smp: '255' is not a CPU count", "1 to 254", "-kernel", "k", "-smp", "255");
	CHECK_FAILS("-smp: '1000'", "1 to 254", "-kernel", "k", "-smp", "1000");
	CHECK_FAILS("-smp: 'x'", "1 to 254", "-kernel", "k", "-smp", "x");
	CHECK_FAILS("-smp: '4x'", "1 to 254", "-kernel", "k", "-smp", "4x");
	CHECK_FAILS("-smp: ''", "1 to 254", "-kernel", "k", "-smp", "");
	CHECK_FAILS("-smp: '-1'", "1 to 254", "-kernel", "k", "-smp", "-1");
	CHECK_FAILS("-smp: 'cpus='", "1 to 254", "-kernel", "k", "-smp", "cpus=");
	CHECK_FAILS("-smp: 'cpus=0'", "1 to 254", "-kernel", "k", "-smp", "cpus=0");
	CHECK_FAILS("-smp: 'cpus=255'", "1 to 254", "-kernel", "k", "-smp", "cpus=255");
	CHECK_FAILS("-smp: '4,sockets=2'", "1 to 254", "-kernel", "k", "-smp", "4,sockets=2");
	CHECK_FAILS("-smp: '99999999999999999999'", "1 to 254", "-kernel", "k", "-smp",
		    "99999999999999999999");
	CHECK_FAILS("--smp: '0'", "1 to 254", "-kernel", "k", "--smp", "0");
}

static void test_errors(void)
{
	/* Unknown options, with one and two dashes, and lone dashes. */
	CHECK_FAILS("unknown option '-bogus'", "-bogus", "-kernel", "k", "-bogus");
	CHECK_FAILS("unknown option '--bogus'", "--bogus", "--bogus", "-kernel", "k");
	CHECK_FAILS("unknown option '-'", "'-'", "-kernel", "k", "-");
	CHECK_FAILS("unknown option '--'", "'--'", "-kernel", "k", "--");
	CHECK_FAILS("unknown option '-Kernel'", "-Kernel", "-Kernel", "k");
	CHECK_FAILS("unknown option '-kernel=k'", "-kernel=k", "-kernel=k");

	/* A missing argument names the option and what it wanted. */
	CHECK_FAILS("-kernel needs an argument", "FILE", "-kernel");
	CHECK_FAILS("-initrd needs an argument", "FILE", "-kernel", "k", "-initrd");
	CHECK_FAILS("-initramfs needs an argument", "FILE", "-kernel", "k", "-initramfs");
	CHECK_FAILS("-append needs an argument", "STRING", "-kernel", "k", "-append");
	CHECK_FAILS("-m needs an argument", "SIZE", "-kernel", "k", "-m");
	CHECK_FAILS("--smp needs an argument", "N", "-kernel", "k", "--smp");

	/* Nothing to boot at all. */
	CHECK_FAILS("nothing to boot", "-kernel FILE", "-m", "1G");
	{
		struct vm_config c;
		CHECK_EQ(parse(&c, NULL), OPTIONS_ERROR);
		CHECK(HAS(err_text, "nothing to boot"));
	}

	/* Stray positional arguments, before, between and after options. */
	CHECK_FAILS("unexpected argument 'bzImage'", "bzImage", "bzImage");
	CHECK_FAILS("unexpected argument 'extra'", "extra", "-kernel", "k", "extra");
	CHECK_FAILS("unexpected argument 'x'", "'x'", "-kernel", "k", "x", "-m", "1G");
	CHECK_FAILS("unexpected argument ''", "''", "-kernel", "k", "");
	/* A flag does not take the next word as its argument. */
	CHECK_FAILS("unexpected argument 'yes'", "yes", "-kernel", "k", "-no-reboot", "yes");

	/* Only one message: the first error stops the parse. */
	{
		struct vm_config c;
		CHECK_EQ(parse(&c, "-m", "abc", "-smp", "0", NULL), OPTIONS_ERROR);
		CHECK(HAS(err_text, "'abc'"));
		CHECK(!HAS(err_text, "-smp"));
		CHECK(!HAS(err_text, "no kernel"));
	}
}

static void test_shutdown_timeout_and_monitor(void)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "-kernel", "k", "-shutdown-timeout", "5", "-monitor",
		       "unix:/run/vm.sock", NULL),
		 OPTIONS_RUN);
	CHECK_EQ(c.shutdown_timeout, 5);
	CHECK_STR(c.monitor_path, "/run/vm.sock");
	CHECK_EQ(parse(&c, "-kernel", "k", "--shutdown-timeout", "0", NULL), OPTIONS_RUN);
	CHECK_EQ(c.shutdown_timeout, 0);
	CHECK_EQ(parse(&c, "-kernel", "k", "-shutdown-timeout", "86400", NULL), OPTIONS_RUN);
	CHECK_EQ(c.shutdown_timeout, 86400);
	/* A relative path is the user's to choose; a colon later in it is part of it. */
	CHECK_EQ(parse(&c, "-kernel", "k", "-monitor", "unix:a:b", NULL), OPTIONS_RUN);
	CHECK_STR(c.monitor_path, "a:b");

	CHECK_FAILS("-shutdown-timeout", "'86401'", "-kernel", "k", "-shutdown-timeout", "86401");
	CHECK_FAILS("-shutdown-timeout", "'-1'", "-kernel", "k", "-shutdown-timeout", "-1");
	CHECK_FAILS("-shutdown-timeout", "'+5'", "-kernel", "k", "-shutdown-timeout", "+5");
	CHECK_FAILS("-shutdown-timeout", "'5s'", "-kernel", "k", "-shutdown-timeout", "5s");
	CHECK_FAILS("-shutdown-timeout", "''", "-kernel", "k", "-shutdown-timeout", "");
	CHECK_FAILS("-shutdown-timeout", "'99999999999999999999'", "-kernel", "k",
		    "-shutdown-timeout", "99999999999999999999");
	CHECK_FAILS("-shutdown-timeout needs an argument", "SECONDS", "-kernel", "k",
		    "-shutdown-timeout");
	CHECK_FAILS("-monitor", "'/tmp/m'", "-kernel", "k", "-monitor", "/tmp/m");
	CHECK_FAILS("-monitor", "'tcp:1234'", "-kernel", "k", "-monitor", "tcp:1234");
	CHECK_FAILS("-monitor", "'unix:'", "-kernel", "k", "-monitor", "unix:");
	CHECK_FAILS("-monitor", "given as unix:/a", "-kernel", "k", "-monitor", "unix:/a",
		    "-monitor", "unix:/b");
	{
		char long_path[5 + MONITOR_PATH_MAX + 2];

		memcpy(long_path, "unix:", 5);
		memset(long_path + 5, 'p', MONITOR_PATH_MAX + 1);
		long_path[sizeof(long_path) - 1] = '\0';
		CHECK_FAILS("-monitor", "longer than 107 bytes", "-kernel", "k", "-monitor",
			    long_path);
		long_path[sizeof(long_path) - 2] = '\0'; /* exactly the most sun_path holds */
		CHECK_EQ(parse(&c, "-kernel", "k", "-monitor", long_path, NULL), OPTIONS_RUN);
		CHECK_EQ(strlen(c.monitor_path), MONITOR_PATH_MAX);
	}
}

/* -sandbox on|off, on by default; the last one given wins, as with qemu's options. */
static void test_sandbox(void)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "-kernel", "k", "-sandbox", "off", NULL), OPTIONS_RUN);
	CHECK(!c.sandbox);
	CHECK_EQ(parse(&c, "-kernel", "k", "-sandbox", "off", "--sandbox", "on", NULL),
		 OPTIONS_RUN);
	CHECK(c.sandbox);
	CHECK_FAILS("-sandbox", "'yes'", "-kernel", "k", "-sandbox", "yes");
	CHECK_FAILS("-sandbox", "'ON'", "-kernel", "k", "-sandbox", "ON");
	CHECK_FAILS("-sandbox", "''", "-kernel", "k", "-sandbox", "");
	CHECK_FAILS("-sandbox needs an argument", "on|off", "-kernel", "k", "-sandbox");
}

/* A failed parse leaves a config with the defaults, not a previous call's values. */
static void test_reset_between_calls(void)
{
	struct vm_config c;

	CHECK_EQ(
	    parse(&c, "-kernel", "k", "-m", "2G", "-smp", "8", "-no-reboot", "-append", "x", NULL),
	    OPTIONS_RUN);
	CHECK_EQ(parse(&c, "-kernel", "k2", NULL), OPTIONS_RUN);
	CHECK_STR(c.kernel, "k2");
	CHECK_EQ(c.mem_size, 512ULL << 20);
	CHECK_EQ(c.ncpus, 1);
	CHECK(!c.no_reboot);
	CHECK(c.append == NULL);
}

/* -display, its clash with -nographic, and what a build without a window refuses. The
 * same test runs in the default build and in make features= (check-nofeat). */
static void test_display(void)
{
	struct vm_config c;
	char want[64];

	/* No display reachable: no graphics device unless asked for. */
	unsetenv("DISPLAY");
	unsetenv("WAYLAND_DISPLAY");
	CHECK_EQ(parse(&c, "-kernel", "k", NULL), OPTIONS_RUN);
	CHECK_EQ(c.display, DISPLAY_DEFAULT);
	/* A display reachable: a window by default where the ui feature is built in, as the
	 * default only (a failure to open it is then a warning), never with -nographic. */
	setenv("DISPLAY", ":7", 1);
	CHECK_EQ(parse(&c, "-kernel", "k", NULL), OPTIONS_RUN);
	CHECK_EQ(c.display, features_has("ui") ? DISPLAY_SDL : DISPLAY_DEFAULT);
	CHECK_EQ(c.display_implicit, features_has("ui"));
	CHECK_EQ(parse(&c, "-kernel", "k", "-nographic", NULL), OPTIONS_RUN);
	CHECK_EQ(c.display, DISPLAY_DEFAULT);
	CHECK_EQ(parse(&c, "-kernel", "k", "-display", "none", NULL), OPTIONS_RUN);
	CHECK_EQ(c.display, DISPLAY_NONE);
	CHECK(!c.display_implicit);
	unsetenv("DISPLAY");
	setenv("WAYLAND_DISPLAY", "wayland-0", 1);
	CHECK_EQ(parse(&c, "-kernel", "k", NULL), OPTIONS_RUN);
	CHECK_EQ(c.display, features_has("ui") ? DISPLAY_SDL : DISPLAY_DEFAULT);
	unsetenv("WAYLAND_DISPLAY");
	CHECK_EQ(parse(&c, "-kernel", "k", "-display", "none", NULL), OPTIONS_RUN);
	CHECK_EQ(c.display, DISPLAY_NONE);
	CHECK_EQ(parse(&c, "-kernel", "k", "--display", "none", NULL), OPTIONS_RUN);
	CHECK_EQ(c.display, DISPLAY_NONE);
	CHECK_FAILS("-display", "'gtk' is not a display", "-kernel", "k", "-display", "gtk");
	CHECK_FAILS("-nographic", "-display", "-kernel", "k", "-nographic", "-display", "none");
	/* The window's size, and what is not one. */
	CHECK_EQ(parse(&c, "-kernel", "k", "-display", "none,width=1024,height=768", NULL),
		 OPTIONS_RUN);
	CHECK_EQ(c.display, DISPLAY_NONE);
	CHECK_EQ(c.display_width, 1024);
	CHECK_EQ(c.display_height, 768);
	CHECK_EQ(parse(&c, "-kernel", "k", "-display", "none,height=300", NULL), OPTIONS_RUN);
	CHECK_EQ(c.display_width, 0);
	CHECK_EQ(c.display_height, 300);
	CHECK_FAILS("-display", "'width=0' is not a size", "-kernel", "k", "-display",
		    "none,width=0");
	CHECK_FAILS("-display", "'width=16385' is not a size", "-kernel", "k", "-display",
		    "none,width=16385");
	CHECK_FAILS("-display", "'height=12x' is not a size", "-kernel", "k", "-display",
		    "none,height=12x");
	CHECK_FAILS("-display", "'depth=8' is not an option", "-kernel", "k", "-display",
		    "none,depth=8");
	CHECK_FAILS("-display", "'gtk,width=3' is not a display", "-kernel", "k", "-display",
		    "gtk,width=3");
	/* The window: parsed where the ui feature is built in (it opens later, in the
	 * device's setup), refused in one line where it is not. */
	if (features_has("ui")) {
		CHECK_EQ(parse(&c, "-kernel", "k", "-display", "sdl,width=640,height=480", NULL),
			 OPTIONS_RUN);
		CHECK_EQ(c.display, DISPLAY_SDL);
		CHECK_EQ(c.display_width, 640);
	} else {
		CHECK_FAILS("-display sdl", "without the ui", "-kernel", "k", "-display", "sdl");
	}

	CHECK_EQ(parse(&c, "--version", NULL), OPTIONS_EXIT);
	/* The Makefile's list, whichever features it names (ui, cd). */
	snprintf(want, sizeof(want), "(features: %s)",
		 *features_names() ? features_names() : "none");
	CHECK(HAS(out_text, want));
	CHECK(features_has("ui") == (strstr(features_names(), "ui") != NULL));
}

/* Which machine boots: -kernel directly, or the firmware with the CD as the first drive. */
static void test_firmware_boot(void)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "-kernel", "k", NULL), OPTIONS_RUN);
	CHECK(!c.firmware);
	if (!features_has("cd")) {
		CHECK_FAILS("-cd: this smolvm is built without the cd feature", "make features=cd",
			    "-cd", "a.iso");
		CHECK_FAILS("-bios: this smolvm is built without the cd feature", "-bios", "-bios",
			    "b.fd", "-kernel", "k");
		CHECK_FAILS("-efivars: this smolvm is built without", "-efivars", "-efivars",
			    "v.fd", "-kernel", "k");
		CHECK_FAILS("no kernel given", "cd feature", "-hda", "d.img");
		return;
	}
	CHECK_EQ(parse(&c, "-hda", "d.img", "-cd", "a.iso", "-m", "1G", NULL), OPTIONS_RUN);
	CHECK(c.firmware);
	CHECK_STR(c.cd, "a.iso");
	CHECK_EQ(c.ndrives, 2);
	CHECK_STR(c.drive[0].path, "a.iso");
	CHECK(c.drive[0].readonly);
	CHECK_STR(c.drive[1].path, "d.img");
	CHECK(!c.drive[1].readonly);

	CHECK_EQ(parse(&c, "-hda", "d.img", "-bios", "b.fd", "-efivars", "v.fd", NULL),
		 OPTIONS_RUN);
	CHECK(c.firmware);
	CHECK(!c.cd);
	CHECK_EQ(c.ndrives, 1);
	CHECK_STR(c.bios, "b.fd");
	CHECK_STR(c.efivars, "v.fd");
	CHECK_EQ(parse(&c, "-cdrom", "a.iso", NULL), OPTIONS_RUN);
	CHECK_STR(c.cd, "a.iso");

	CHECK_FAILS("-cd and -kernel contradict", "-cd", "-kernel", "k", "-cd", "a.iso");
	CHECK_FAILS("one CD only", "b.iso", "-cd", "a.iso", "-cd", "b.iso");
	CHECK_FAILS("-bios: -kernel boots without firmware", "-bios", "-kernel", "k", "-bios", "b");
	CHECK_FAILS("-efivars: -kernel boots without", "-efivars", "-kernel", "k", "-efivars", "v");
	CHECK_FAILS("-append goes with -kernel", "-append", "-cd", "a.iso", "-append", "x");
	CHECK_FAILS("-initramfs goes with -kernel", "-initramfs", "-cd", "a", "-initramfs", "i");
	CHECK_FAILS("nothing to boot", "-cd FILE", "-bios", "b.fd");
}

/* -share's cache=: the three modes in every spelling of -share, auto when not given. */
static void test_share_cache(void)
{
	struct vm_config c;

	CHECK_EQ(parse(&c, "-kernel", "k", "-share", "a", "/tmp", NULL), OPTIONS_RUN);
	CHECK_EQ(c.nshares, 1);
	CHECK_EQ(c.share[0].cache, SHARE_CACHE_AUTO);
	CHECK_EQ(parse(&c, "-kernel", "k", "-share", "a", "/tmp,cache=always", "-share", "b",
		       "/tmp,readonly,cache=never", "-share",
		       "tag=c,path=/tmp,cache=auto,readonly=off", "-share", "d",
		       "/tmp,cache=never,cache=always", NULL),
		 OPTIONS_RUN);
	CHECK_STR(err_text, "");
	CHECK_EQ(c.nshares, 4);
	CHECK_EQ(c.share[0].cache, SHARE_CACHE_ALWAYS);
	CHECK(!c.share[0].readonly);
	CHECK_EQ(c.share[1].cache, SHARE_CACHE_NEVER);
	CHECK(c.share[1].readonly);
	CHECK_STR(c.share[2].tag, "c");
	CHECK_EQ(c.share[2].cache, SHARE_CACHE_AUTO);
	CHECK_EQ(c.share[3].cache, SHARE_CACHE_ALWAYS); /* the last one counts */
	/* A later parse starts from auto again. */
	CHECK_EQ(parse(&c, "-kernel", "k", "-share", "a", "/tmp", NULL), OPTIONS_RUN);
	CHECK_EQ(c.share[0].cache, SHARE_CACHE_AUTO);

	CHECK_FAILS("-share: cache=sometimes: expected auto, always or never", "cache=sometimes",
		    "-kernel", "k", "-share", "a", "/tmp,cache=sometimes");
	CHECK_FAILS("cache=: expected auto", "-share", "-kernel", "k", "-share", "a", "/tmp,cache=");
	CHECK_FAILS("cache=: expected auto", "-share", "-kernel", "k", "-share", "a", "/tmp,cache");
	CHECK_FAILS("cache=Always", "auto, always or never", "-kernel", "k", "-share",
		    "tag=a,path=/tmp,cache=Always");
	/* virtiofsd's C version says none; we take its newer name only. */
	CHECK_FAILS("cache=none", "never", "-kernel", "k", "-share", "a", "/tmp,cache=none");
}

int main(void)
{
	RUN(test_defaults);
	RUN(test_every_option);
	RUN(test_double_dash);
	RUN(test_help_and_version);
	RUN(test_parse_size);
	RUN(test_mem);
	RUN(test_smp);
	RUN(test_errors);
	RUN(test_shutdown_timeout_and_monitor);
	RUN(test_sandbox);
	RUN(test_reset_between_calls);
	RUN(test_display);
	RUN(test_firmware_boot);
	RUN(test_share_cache);
	return UNIT_RESULT();
}
