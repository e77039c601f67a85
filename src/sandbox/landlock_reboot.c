/*
 * A guest reboot re-executes smolvm (main.c), and a Landlock domain survives execve: the new
 * process starts inside the old one's rules and adds none of its own (the marker below says
 * so). Its setup must still open what this one opened, so the rules here grant exactly that,
 * and only when reboots are allowed (-no-reboot needs none of it):
 *   - the program, its dynamic loader and libraries (all mapped now): read and execute;
 *   - /etc/ld.so.cache, which the loader reads and unmaps: read;
 *   - every file and device open now (disk images, the CD, -efivars, /dev/kvm,
 *     /dev/net/tun, the terminal), with the access it is open with;
 *   - the kernel and initramfs, and the firmware's directory (its code and the VARS file
 *     beside it): read;
 *   - the monitor's directory: making its socket again.
 * What the window's libraries read at start (X authority, locale data) is not among them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/options.h"
#include "sandbox/landlock.h"
#include "vmm/features.h"

#define LANDLOCK_MARKER_NAME "SMOLVM_LANDLOCK_INHERITED"

/* Every file mapped into this process: the program, ld.so, the libraries (SDL's too, which
 * it loaded when the window opened). */
static void landlock_allow_mapped(int ruleset)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128], last[PATH_MAX] = "";

	while (f && fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/'), *nl;

		if (!path || strstr(line, " (deleted)"))
			continue;
		if ((nl = strchr(path, '\n')))
			*nl = '\0';
		if (strcmp(path, last) == 0)
			continue;
		snprintf(last, sizeof(last), "%s", path);
		landlock_allow_path(ruleset, path,
				    LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_EXECUTE);
	}
	if (f)
		fclose(f);
}

/* Every regular file and device open now, as it is open (O_RDONLY, O_WRONLY, O_RDWR). */
static void landlock_allow_open_files(int ruleset)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		int fd = atoi(e->d_name), mode;
		char path[64];
		struct stat st;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d) ||
		    fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) ||
		    (mode = fcntl(fd, F_GETFL)) < 0 || (mode & O_PATH))
			continue;
		mode &= O_ACCMODE;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		landlock_allow_path(ruleset, path,
				    (mode != O_WRONLY ? LANDLOCK_ACCESS_FS_READ_FILE : 0) |
					(mode != O_RDONLY ? LANDLOCK_ACCESS_FS_WRITE_FILE : 0));
	}
	if (d)
		closedir(d);
}

/* The directory holding path (a copy: dirname may write to its argument). */
static void landlock_allow_dir_of(int ruleset, const char *path, uint64_t access)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	landlock_allow_path(ruleset, dirname(dir), access);
}

int landlock_allow_restart(int ruleset, const struct vm_config *cfg)
{
	const char *firmware = cfg->firmware ? features_firmware_code(cfg) : NULL;

	landlock_allow_mapped(ruleset);
	landlock_allow_path(ruleset, "/etc/ld.so.cache", LANDLOCK_ACCESS_FS_READ_FILE);
	landlock_allow_open_files(ruleset);
	if (cfg->kernel)
		landlock_allow_path(ruleset, cfg->kernel, LANDLOCK_ACCESS_FS_READ_FILE);
	if (cfg->initramfs)
		landlock_allow_path(ruleset, cfg->initramfs, LANDLOCK_ACCESS_FS_READ_FILE);
	if (firmware)
		landlock_allow_dir_of(ruleset, firmware, LANDLOCK_ACCESS_FS_READ_FILE);
	if (cfg->monitor_path)
		landlock_allow_dir_of(ruleset, cfg->monitor_path, LANDLOCK_ACCESS_FS_MAKE_SOCK);
	return 0;
}

bool landlock_inherited(void)
{
	const char *v = getenv(LANDLOCK_MARKER_NAME);
	int fd;

	if (!v || strcmp(v, "1") != 0)
		return false;
	/* Believe the marker only inside a domain: the root directory is not readable. */
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		return false;
	}
	return errno == EACCES;
}

char **landlock_restart_env(void)
{
	extern char **environ;
	char **env;
	size_t n = 0;

	if (!landlock_active())
		return environ;
	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return environ;
	for (size_t i = 0, j = 0; i < n; i++)
		if (strncmp(environ[i], LANDLOCK_MARKER_NAME "=", strlen(LANDLOCK_MARKER_NAME "=")) != 0)
			env[j++] = environ[i];
	for (n = 0; env[n]; n++)
		;
	env[n] = LANDLOCK_MARKER_NAME "=1";
	return env;
}
