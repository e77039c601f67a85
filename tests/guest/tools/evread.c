/*
 * evread: prints the events of one input device inside a test guest, found by its name
 * (EVIOCGNAME), so a test can see what a host window's keys and clicks became. Busybox
 * has no evtest. Built static (make guest-tools) into build/guest-tools/.
 *
 * Usage: evread NAME KEYS SECONDS
 *   Prints "evread: ready" once the device is open, then one line per event other than
 *   EV_SYN: "EVENT type=T code=C value=V", until KEYS EV_KEY events came or SECONDS passed.
 * Exit status 0 when KEYS key events came, 1 otherwise (with a message).
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int open_by_name(const char *want)
{
	DIR *d = opendir("/dev/input");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], name[256] = "";
		int fd;

		if (strncmp(e->d_name, "event", 5) != 0)
			continue;
		snprintf(path, sizeof(path), "/dev/input/%s", e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		if (ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name) >= 0 && strcmp(name, want) == 0) {
			closedir(d);
			return fd;
		}
		close(fd);
	}
	if (d)
		closedir(d);
	return -1;
}

int main(int argc, char **argv)
{
	struct input_event ev;
	int keys = 0, want, fd;
	time_t end;

	if (argc != 4) {
		fprintf(stderr, "usage: evread NAME KEYS SECONDS\n");
		return 2;
	}
	want = atoi(argv[2]);
	end = time(NULL) + atoi(argv[3]);
	fd = open_by_name(argv[1]);
	if (fd < 0) {
		printf("evread: no input device named '%s'\n", argv[1]);
		return 1;
	}
	printf("evread: ready\n");
	fflush(stdout);
	while (keys < want && time(NULL) < end) {
		struct pollfd p = {fd, POLLIN, 0};
		if (poll(&p, 1, 200) <= 0)
			continue;
		if (read(fd, &ev, sizeof(ev)) != sizeof(ev))
			return 1;
		if (ev.type == EV_SYN)
			continue;
		printf("EVENT type=%u code=%u value=%d\n", ev.type, ev.code, ev.value);
		fflush(stdout);
		keys += ev.type == EV_KEY;
	}
	if (keys < want) {
		printf("evread: %d of %d key events\n", keys, want);
		return 1;
	}
	return 0;
}
