#include "cli/options.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/features.h"
#include "vmm/log.h"

/* The Makefile's VERSION, the one place it is written. */
#ifndef SMOLVM_VERSION
#error "SMOLVM_VERSION is not defined: build with make"
#endif

struct option_def {
	const char *name;
	const char *alias;
	const char *arg; /* NULL: a flag without argument */
	const char *help;
	int (*apply)(struct vm_config *cfg, const char *opt, const char *arg);
	/* For options taking a variable number of words instead. */
	int (*apply_words)(struct vm_config *cfg, const char *opt, char **args, int nargs, int *used);
};

static int opt_kernel(struct vm_config *cfg, const char *opt, const char *arg)
{
	cfg->kernel = arg;
	return 0;
}

/* -cd, -bios and -efivars belong to the firmware machine, which only the cd feature has. */
static int opt_needs_cd_feature(const char *opt)
{
	if (features_has("cd"))
		return 0;
	log_error("%s: this smolvm is built without the cd feature, which boots through EFI "
		  "firmware (rebuild it with make features=cd)", opt);
	return -1;
}

static int opt_cd(struct vm_config *cfg, const char *opt, const char *arg)
{
	if (opt_needs_cd_feature(opt) != 0)
		return -1;
	if (cfg->cd) {
		log_error("%s '%s': one CD only, already given as %s", opt, arg, cfg->cd);
		return -1;
	}
	cfg->cd = arg;
	return 0;
}

static int opt_bios(struct vm_config *cfg, const char *opt, const char *arg)
{
	if (opt_needs_cd_feature(opt) != 0)
		return -1;
	cfg->bios = arg;
	return 0;
}

static int opt_efivars(struct vm_config *cfg, const char *opt, const char *arg)
{
	if (opt_needs_cd_feature(opt) != 0)
		return -1;
	cfg->efivars = arg;
	return 0;
}

static int opt_initramfs(struct vm_config *cfg, const char *opt, const char *arg)
{
	cfg->initramfs = arg;
	return 0;
}

static int opt_append(struct vm_config *cfg, const char *opt, const char *arg)
{
	cfg->append = arg;
	return 0;
}

int options_parse_size(const char *s, uint64_t *bytes)
{
	char *end;
	unsigned long long n;
	unsigned shift = 20;

	if (!*s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default:
		return -EINVAL;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	if (n > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)n << shift;
	return 0;
}

static int opt_mem(struct vm_config *cfg, const char *opt, const char *arg)
{
	uint64_t size;
	int ret = options_parse_size(arg, &size);

	if (ret == -EINVAL) {
		log_error("%s: '%s' is not a size (examples: 512, 512M, 2G)", opt, arg);
		return -1;
	}
	/* -ERANGE leaves size unset: past 2^64 bytes is out of range too. */
	if (ret != 0 || size < VM_MIN_MEM || size > VM_MAX_MEM) {
		log_error("%s: '%s' is out of range (32M to 1T)", opt, arg);
		return -1;
	}
	cfg->mem_size = (size + (1 << 20) - 1) & ~((uint64_t)(1 << 20) - 1);
	return 0;
}

static int opt_smp(struct vm_config *cfg, const char *opt, const char *arg)
{
	/* qemu also accepts "cpus=N"; the rest of its topology syntax is not ours. */
	const char *digits = strncmp(arg, "cpus=", 5) == 0 ? arg + 5 : arg;
	char *end;
	long n;

	errno = 0;
	n = strtol(digits, &end, 10);
	if (errno || end == digits || *end || n < 1 || n > VM_MAX_CPUS) {
		log_error("%s: '%s' is not a CPU count from 1 to %d", opt, arg, VM_MAX_CPUS);
		return -1;
	}
	cfg->ncpus = (unsigned)n;
	return 0;
}

static int opt_no_reboot(struct vm_config *cfg, const char *opt, const char *arg)
{
	cfg->no_reboot = true;
	return 0;
}

static int opt_nographic(struct vm_config *cfg, const char *opt, const char *arg)
{
	cfg->nographic = true;
	return 0;
}

static int opt_shutdown_timeout(struct vm_config *cfg, const char *opt, const char *arg)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] < '0' || arg[0] > '9' ||
	    n > VM_MAX_SHUTDOWN_TIMEOUT) {
		log_error("%s: '%s' is not a number of seconds from 0 to %d", opt, arg,
			  VM_MAX_SHUTDOWN_TIMEOUT);
		return -1;
	}
	cfg->shutdown_timeout = (unsigned)n;
	return 0;
}

static int opt_monitor(struct vm_config *cfg, const char *opt, const char *arg)
{
	const char *path = strncmp(arg, "unix:", 5) == 0 ? arg + 5 : NULL;

	if (cfg->monitor_path) {
		log_error("%s '%s': smolvm has one monitor, already given as unix:%s", opt, arg,
			  cfg->monitor_path);
		return -1;
	}
	if (!path || !*path) {
		log_error("%s: '%s' is not unix:PATH (a unix socket is the only kind)", opt, arg);
		return -1;
	}
	if (strlen(path) > MONITOR_PATH_MAX) {
		log_error("%s: the socket path '%s' is longer than %d bytes", opt, path,
			  MONITOR_PATH_MAX);
		return -1;
	}
	cfg->monitor_path = path;
	return 0;
}

static int opt_sandbox(struct vm_config *cfg, const char *opt, const char *arg)
{
	if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0) {
		log_error("%s: '%s' is not on or off", opt, arg);
		return -1;
	}
	cfg->sandbox = strcmp(arg, "on") == 0;
	return 0;
}

/* One "width=N" or "height=N" of -display: 1..16384 pixels (the device's own limit). */
static int opt_display_size(const char *opt, const char *item, const char *key, uint32_t *out)
{
	size_t klen = strlen(key);
	unsigned long n;
	char *end;

	if (strncmp(item, key, klen) != 0 || item[klen] != '=')
		return 1; /* not this key */
	errno = 0;
	n = strtoul(item + klen + 1, &end, 10);
	if (errno || end == item + klen + 1 || *end != '\0' || n == 0 || n > 16384) {
		log_error("%s: '%s' is not a size in pixels (1 to 16384)", opt, item);
		return -1;
	}
	*out = (uint32_t)n;
	return 0;
}

/* none|sdl[,width=W][,height=H]: the size is what the display offers the guest first. */
static int opt_display(struct vm_config *cfg, const char *opt, const char *arg)
{
	char buf[128], *save = NULL, *item;

	if (strlen(arg) >= sizeof(buf)) {
		log_error("%s: '%s' is too long", opt, arg);
		return -1;
	}
	strcpy(buf, arg);
	item = strtok_r(buf, ",", &save);
	if (item && strcmp(item, "none") == 0) {
		cfg->display = DISPLAY_NONE;
	} else if (item && strcmp(item, "sdl") == 0) {
		cfg->display = DISPLAY_SDL;
	} else {
		log_error("%s: '%s' is not a display (none or sdl)", opt, arg);
		return -1;
	}
	while ((item = strtok_r(NULL, ",", &save))) {
		int r = opt_display_size(opt, item, "width", &cfg->display_width);
		if (r > 0)
			r = opt_display_size(opt, item, "height", &cfg->display_height);
		if (r > 0) {
			log_error("%s: '%s' is not an option of the display (width=, height=)", opt,
				  item);
			return -1;
		}
		if (r < 0)
			return -1;
	}
	return 0;
}

/* The choices that only make sense together, once every option is read. Without -display or
 * -nographic, a build with a window opens one where a display is reachable, as qemu does. */
static int options_check_display(struct vm_config *cfg)
{
	if (cfg->nographic && cfg->display != DISPLAY_DEFAULT) {
		log_error("-nographic and -display contradict each other: give one of them");
		return -1;
	}
	if (!cfg->nographic && cfg->display == DISPLAY_DEFAULT && features_have_display("sdl") &&
	    ((getenv("DISPLAY") && *getenv("DISPLAY")) ||
	     (getenv("WAYLAND_DISPLAY") && *getenv("WAYLAND_DISPLAY")))) {
		cfg->display = DISPLAY_SDL;
		cfg->display_implicit = true;
	}
	if (cfg->display == DISPLAY_SDL && !features_have_display("sdl")) {
		log_error("-display sdl: this smolvm is built without the ui feature "
			  "(rebuild it with make features=ui)");
		return -1;
	}
	return 0;
}

/* Which machine boots: -kernel directly, or else the firmware, from the -cd or the first
 * -drive. The CD becomes drive[0], so that it is the firmware's first disk. */
static int options_check_boot(struct vm_config *cfg)
{
	if (cfg->cd && cfg->kernel) {
		log_error("-cd and -kernel contradict each other: -cd boots through the firmware, "
			  "-kernel without it; give one of them");
		return -1;
	}
	if (!cfg->kernel && !cfg->cd && cfg->ndrives == 0) {
		log_error("nothing to boot: give -kernel FILE, -cd FILE or -drive file=DISK");
		return -1;
	}
	if (!cfg->kernel && !features_has("cd")) {
		log_error("no kernel given: use -kernel FILE (booting a -drive through EFI firmware "
			  "needs the cd feature: make features=cd)");
		return -1;
	}
	if (cfg->kernel && (cfg->bios || cfg->efivars)) {
		log_error("%s: -kernel boots without firmware; the firmware options go with -cd or "
			  "a -drive alone", cfg->bios ? "-bios" : "-efivars");
		return -1;
	}
	if (!cfg->kernel && (cfg->initramfs || cfg->append)) {
		log_error("%s goes with -kernel; through the firmware, the bootloader on the disk "
			  "chooses the kernel and its command line",
			  cfg->initramfs ? "-initramfs" : "-append");
		return -1;
	}
	cfg->firmware = !cfg->kernel;
	if (cfg->cd) {
		if (cfg->ndrives == VM_MAX_DRIVES) {
			log_error("-cd: at most %d drives, with the CD", VM_MAX_DRIVES);
			return -1;
		}
		memmove(&cfg->drive[1], &cfg->drive[0], cfg->ndrives * sizeof(cfg->drive[0]));
		cfg->drive[0] = (struct drive_config){.path = cfg->cd, .readonly = true};
		cfg->ndrives++;
	}
	return 0;
}

static const struct option_def option_table[] = {
	{.name = "-kernel", .arg = "FILE", .apply = opt_kernel,
	 .help = "Linux kernel: a bzImage or an ELF vmlinux with a PVH note"},
	{.name = "-cd", .alias = "-cdrom", .arg = "FILE", .apply = opt_cd,
	 .help = "an ISO image, read-only, booted through EFI firmware (without -kernel)"},
	{.name = "-bios", .arg = "FILE", .apply = opt_bios,
	 .help = "the EFI firmware's code (default /usr/share/OVMF/OVMF_CODE_4M.fd)"},
	{.name = "-efivars", .arg = "FILE", .apply = opt_efivars,
	 .help = "keep the EFI variables in FILE (default: in memory, nothing written)"},
	{.name = "-initramfs", .alias = "-initrd", .arg = "FILE", .apply = opt_initramfs,
	 .help = "initial ramdisk loaded beside the kernel"},
	{.name = "-append", .arg = "STRING", .apply = opt_append, .help = "kernel command line"},
	{.name = "-m", .arg = "SIZE", .apply = opt_mem,
	 .help = "guest RAM, e.g. 512M or 2G (default 512M)"},
	{.name = "-smp", .arg = "N", .apply = opt_smp, .help = "number of vCPUs (default 1)"},
	{.name = "-drive", .arg = "file=PATH[,readonly=on][,cache=MODE]", .apply = options_parse_drive,
	 .help = "a raw disk image as a virtio block device; alone, booted through EFI"},
	{.name = "-hda", .arg = "PATH", .apply = options_parse_drive,
	 .help = "the same as -drive file=PATH"},
	{.name = "-net", .arg = "user[,hostfwd=...][,mac=M]|tap[,ifname=N]|none",
	 .apply = options_parse_net,
	 .help = "networking (default: user-mode NAT in 192.168.64.0/24)"},
	{.name = "-share", .arg = "TAG PATH[,readonly][,cache=MODE]",
	 .apply_words = options_parse_share,
	 .help = "share a host folder: mount -t virtiofs TAG /mnt in the guest"},
	{.name = "-no-reboot", .apply = opt_no_reboot,
	 .help = "exit when the guest reboots instead of restarting it"},
	{.name = "-nographic", .apply = opt_nographic,
	 .help = "no window, no display: the consoles use this terminal"},
	{.name = "-shutdown-timeout", .arg = "SECONDS", .apply = opt_shutdown_timeout,
	 .help = "time to power off after SIGTERM, then stopped (default 30)"},
	{.name = "-monitor", .arg = "unix:PATH", .apply = opt_monitor,
	 .help = "a command socket (mode 0600): system_powerdown, screendump, quit..."},
	{.name = "-display", .arg = "none|sdl[,width=W,height=H]", .apply = opt_display,
	 .help = "none: a virtio-gpu screen without a window (screendump); sdl: a window"},
	{.name = "-sandbox", .arg = "on|off", .apply = opt_sandbox,
	 .help = "seccomp per thread, Landlock after setup (default on; off to debug)"},
};

#define NOPTIONS (sizeof(option_table) / sizeof(option_table[0]))

static void options_usage(FILE *out)
{
	fprintf(out, "usage: smolvm -kernel FILE [options]\n");
	if (features_has("cd"))
		fprintf(out, "       smolvm -cd FILE | -drive file=DISK [options]   "
			     "(through EFI firmware)\n");
	fprintf(out, "\nOptions:\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct option_def *o = &option_table[i];
		char lhs[96];
		snprintf(lhs, sizeof(lhs), "%s%s%s%s%s", o->name, o->alias ? ", " : "",
			 o->alias ? o->alias : "", o->arg ? " " : "", o->arg ? o->arg : "");
		if (strlen(lhs) > 26)
			fprintf(out, "  %s\n  %-26s %s\n", lhs, "", o->help);
		else
			fprintf(out, "  %-26s %s\n", lhs, o->help);
	}
	fprintf(out, "  %-26s %s\n", "-h, --help", "show this help");
	fprintf(out, "  %-26s %s\n", "--version", "show the version");
	fprintf(out, "\nConsole: Ctrl-A x quits, Ctrl-A h lists the escapes, "
		     "Ctrl-A Ctrl-A sends Ctrl-A.\n"
		     "SIGTERM presses the guest's power button; a second one stops it at once.\n"
		     "Exit status: 0 the guest powered off (or Ctrl-A x, or quit), 1 the VM failed,\n"
		     "2 bad options or input files, 159 a forbidden system call (the sandbox),\n"
		     "128+N signal N. More: man smolvm\n");
}

static const struct option_def *options_find(const char *name)
{
	/* qemu accepts both -opt and --opt. */
	if (name[0] == '-' && name[1] == '-')
		name++;
	for (size_t i = 0; i < NOPTIONS; i++)
		if (strcmp(option_table[i].name, name) == 0 ||
		    (option_table[i].alias && strcmp(option_table[i].alias, name) == 0))
			return &option_table[i];
	return NULL;
}

static enum options_result options_fail(void)
{
	fprintf(stderr, "Try 'smolvm -h' for more information.\n");
	return OPTIONS_ERROR;
}

enum options_result options_parse(int argc, char **argv, struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = 512ULL << 20;
	cfg->ncpus = 1;
	cfg->shutdown_timeout = VM_DEFAULT_SHUTDOWN_TIMEOUT;
	cfg->sandbox = true;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct option_def *o;

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "-help") == 0 || strcmp(arg, "--help") == 0) {
			options_usage(stdout);
			return OPTIONS_EXIT;
		}
		if (strcmp(arg, "--version") == 0 || strcmp(arg, "-version") == 0) {
			printf("smolvm %s (features: %s)\n", SMOLVM_VERSION,
			       *features_names() ? features_names() : "none");
			return OPTIONS_EXIT;
		}
		o = arg[0] == '-' ? options_find(arg) : NULL;
		if (!o) {
			log_error(arg[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'",
				  arg);
			return options_fail();
		}
		if (o->arg && i + 1 >= argc) {
			log_error("%s needs an argument (%s)", arg, o->arg);
			return options_fail();
		}
		if (o->apply_words) {
			int used = 0;
			if (o->apply_words(cfg, arg, argv + i + 1, argc - i - 1, &used) != 0)
				return options_fail();
			i += used;
			continue;
		}
		if (o->apply(cfg, arg, o->arg ? argv[++i] : NULL) != 0)
			return options_fail();
	}
	if (options_check_boot(cfg) != 0)
		return options_fail();
	if (options_check_display(cfg) != 0)
		return options_fail();
	return OPTIONS_RUN;
}
