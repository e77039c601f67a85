#include "boot/kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "vmm/log.h"

#define EXPECTED "expected a bzImage or an ELF vmlinux with a PVH entry note"

int kernel_parse(const uint8_t *data, size_t size, struct kernel_image *k, const char **why)
{
	memset(k, 0, sizeof(*k));
	if (size == 0) {
		*why = "empty file; " EXPECTED;
		return -EINVAL;
	}
	if (size >= 4 && memcmp(data, "\177ELF", 4) == 0)
		return elf_pvh_parse(data, size, k, why);
	if (size >= 0x206 && memcmp(data + 0x202, "HdrS", 4) == 0)
		return bzimage_parse(data, size, k, why);
	/* Before the "MZ" test: a bzImage with an EFI stub starts with "MZ" too. */
	if (size < 0x206 && size >= 0x200 && data[0x1fe] == 0x55 && data[0x1ff] == 0xaa)
		*why = "truncated bzImage: the file ends inside the setup header";
	else if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		*why = "gzip-compressed data, not a kernel image; " EXPECTED;
	else if (size >= 2 && data[0] == 'M' && data[1] == 'Z')
		*why = "a PE/EFI image without a Linux boot header (a UKI?); " EXPECTED;
	else
		*why = "not a kernel image; " EXPECTED;
	return -EINVAL;
}

int kernel_open(const char *path, struct kernel_image *k)
{
	struct stat st;
	const char *why;
	void *data;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno; /* log_error may change errno */
		log_error("%s: cannot open kernel: %s", path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) != 0) {
		err = errno;
		log_error("%s: cannot stat kernel: %s", path, strerror(err));
		close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s: %s; " EXPECTED, path,
			  S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		close(fd);
		return -EINVAL;
	}
	data = NULL;
	if (st.st_size > 0) {
		data = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (data == MAP_FAILED) {
			err = errno;
			log_error("%s: cannot map kernel: %s", path, strerror(err));
			close(fd);
			return -err;
		}
	}
	close(fd);
	if (kernel_parse(data, st.st_size, k, &why) != 0) {
		log_error("%s: %s", path, why);
		if (data)
			munmap(data, st.st_size);
		return -EINVAL;
	}
	return 0;
}

void kernel_close(struct kernel_image *k)
{
	if (k->data)
		munmap((void *)k->data, k->size);
	k->data = NULL;
}

int kernel_load(const struct kernel_image *k, const struct guest_mem *mem,
		const struct boot_args *args, struct boot_entry *entry, const char **why)
{
	if (k->format == KERNEL_BZIMAGE)
		return bzimage_load(k, mem, args, entry, why);
	return elf_pvh_load(k, mem, args, entry, why);
}

int boot_put_cmdline(const struct guest_mem *mem, const char *cmdline, size_t max_len,
		     const char **why)
{
	size_t len = strlen(cmdline);

	if (max_len > LAYOUT_CMDLINE_MAX - 1)
		max_len = LAYOUT_CMDLINE_MAX - 1;
	if (len > max_len) {
		*why = "-append: the command line is longer than this kernel accepts";
		return -E2BIG;
	}
	if (guest_mem_write(mem, LAYOUT_CMDLINE, cmdline, len + 1) != 0) {
		*why = "no guest RAM for the command line";
		return -EFAULT;
	}
	return 0;
}

int boot_put_initrd(const struct guest_mem *mem, const struct boot_args *args, uint64_t min_addr,
		    uint64_t max_addr, uint64_t *gpa, const char **why)
{
	const struct guest_mem_region *low = &mem->region[0];
	uint64_t top = low->gpa + low->size, addr, done;
	uint8_t *dst;

	*gpa = 0;
	/* An empty file has nothing to place (and no byte of RAM to point at). */
	if (args->initrd_fd < 0 || args->initrd_size == 0)
		return 0;
	if (max_addr < top)
		top = max_addr;
	if (args->initrd_size > top || ((top - args->initrd_size) & ~0xfffULL) < min_addr) {
		*why = "-initramfs: the initramfs does not fit in guest RAM below 4 GiB; raise -m";
		return -ENOMEM;
	}
	addr = (top - args->initrd_size) & ~0xfffULL;
	dst = guest_mem_ptr(mem, addr, args->initrd_size);
	if (!dst) {
		*why = "-initramfs: no guest RAM for the initramfs";
		return -EFAULT;
	}
	/* Read straight into guest RAM: no host-side copy of a possibly large file. */
	for (done = 0; done < args->initrd_size;) {
		ssize_t n = pread(args->initrd_fd, dst + done, args->initrd_size - done, done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*why = "-initramfs: read error (file changed while loading?)";
			return -EIO;
		}
		done += n;
	}
	*gpa = addr;
	return 0;
}

int boot_open_initrd(const char *path, int *fd, uint64_t *size)
{
	struct stat st;
	int err;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		err = errno; /* log_error may change errno */
		log_error("%s: cannot open initramfs: %s", path, strerror(err));
		return -err;
	}
	if (fstat(*fd, &st) != 0) {
		err = errno;
		log_error("%s: cannot stat initramfs: %s", path, strerror(err));
		close(*fd);
		*fd = -1;
		return -err;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("%s: %s; expected an initramfs (cpio archive, maybe compressed)", path,
			  S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		close(*fd);
		*fd = -1;
		return -EINVAL;
	}
	*size = st.st_size;
	return 0;
}
