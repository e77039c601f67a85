#include "cd/boot_media.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/log.h"

#define HEAD_SIZE (ISO9660_MAGIC_OFFSET + 5)

bool boot_media_is_iso(const uint8_t *head, uint64_t len)
{
	return len >= HEAD_SIZE && memcmp(head + ISO9660_MAGIC_OFFSET, "CD001", 5) == 0;
}

bool boot_media_is_disk(const uint8_t *head, uint64_t len)
{
	return len >= 512 && head[510] == 0x55 && head[511] == 0xaa;
}

/* Read the first HEAD_SIZE bytes (fewer if the file is shorter) into head; *len says how
 * many. 0, or -1 after one line naming what and path. */
static int boot_media_read_head(const char *what, const char *path, uint8_t *head, uint64_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t n = 0;

	if (fd < 0) {
		log_error("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		log_error("%s %s: not a regular file or block device", what, path);
		close(fd);
		return -1;
	}
	*len = 0;
	while (*len < HEAD_SIZE && (n = pread(fd, head + *len, HEAD_SIZE - *len, *len)) > 0)
		*len += n;
	close(fd);
	if (n < 0) {
		log_error("%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	return 0;
}

int boot_media_check_iso(const char *opt, const char *path)
{
	uint8_t head[HEAD_SIZE];
	uint64_t len;

	if (boot_media_read_head(opt, path, head, &len) != 0)
		return -1;
	if (!boot_media_is_iso(head, len)) {
		log_error("%s %s: not an ISO 9660 image (no CD001 at byte 0x8001)", opt, path);
		return -1;
	}
	return 0;
}

int boot_media_check_disk(const char *path)
{
	uint8_t head[HEAD_SIZE];
	uint64_t len;

	if (boot_media_read_head("-drive", path, head, &len) != 0)
		return -1;
	if (!boot_media_is_disk(head, len) && !boot_media_is_iso(head, len)) {
		log_error("-drive %s: nothing the firmware can boot: no partition table or boot "
			  "sector (0x55AA at byte 510) and no ISO 9660 volume; -kernel boots "
			  "without firmware",
			  path);
		return -1;
	}
	return 0;
}
