#include "cd/flash.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/x86/layout.h"
#include "cd/flash_cfi.h"
#include "cli/options.h"
#include "vmm/bus.h"
#include "vmm/log.h"
#include "vmm/vm.h"

#define FLASH_PAGE 4096u
#define FLASH_END  LAYOUT_RAM_HIGH /* the firmware's last byte is just below 4 GiB */

enum { FLASH_SLOT_CODE, FLASH_SLOT_VARS };

/* A read-only part: the code, or the variable store without -efivars. */
struct flash_rom {
	const uint8_t *host;
	uint64_t size;
};

/* The variable store of -efivars: a CFI flash over a copy of the file in memory, each change
 * written through to the file (pwrite rather than a shared mapping, which not every file
 * system offers: 9p, some FUSE ones). */
struct flash_store {
	struct vm *vm;
	pthread_mutex_t lock;
	struct flash_cfi cfi;
	uint64_t gpa;
	int fd;
	const char *path;
};

/* Reads reach these only while KVM has no slot there (never, for the ROM); writes always. */
static uint64_t flash_rom_read(void *opaque, uint64_t offset, unsigned size)
{
	const struct flash_rom *rom = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		if (offset < rom->size && i < rom->size - offset)
			v |= (uint64_t)rom->host[offset + i] << (8 * i);
	return v;
}

static void flash_rom_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	/* Dropped, as by ROM: OVMF's flash probe writes here, and reads back to see it fail. */
}

static const struct bus_ops flash_rom_ops = {
	.read = flash_rom_read,
	.write = flash_rom_write,
	.name = "flash-rom",
};

static uint64_t flash_store_read(void *opaque, uint64_t offset, unsigned size)
{
	struct flash_store *s = opaque;
	uint64_t v;

	pthread_mutex_lock(&s->lock);
	v = flash_cfi_read(&s->cfi, offset, size);
	pthread_mutex_unlock(&s->lock);
	return v;
}

/* While the flash answers commands (status, not the array), KVM must not map the array:
 * then the guest's reads leave KVM too, and reach flash_store_read. */
static void flash_store_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct flash_store *s = opaque;
	bool was;

	pthread_mutex_lock(&s->lock);
	was = s->cfi.read_array;
	flash_cfi_write(&s->cfi, offset, size, value);
	if (s->cfi.changed_len &&
	    pwrite(s->fd, s->cfi.array + s->cfi.changed_start, s->cfi.changed_len,
		   s->cfi.changed_start) != (ssize_t)s->cfi.changed_len)
		log_warn("-efivars %s: cannot write the firmware's variables: %s", s->path,
			 strerror(errno));
	if (s->cfi.read_array != was &&
	    vm_set_memory(s->vm, FLASH_SLOT_VARS, s->gpa, s->cfi.read_array ? s->cfi.size : 0,
			  s->cfi.array, true) != 0)
		vm_request_stop(s->vm, VM_STOP_ERROR, EXIT_GUEST_ERROR);
	pthread_mutex_unlock(&s->lock);
}

static const struct bus_ops flash_store_ops = {
	.read = flash_store_read,
	.write = flash_store_write,
	.name = "flash-store",
};

void flash_files_from_config(const struct vm_config *cfg, struct flash_files *f)
{
	const char *code = cfg->bios ? cfg->bios : FLASH_DEFAULT_CODE;
	const char *slash = strrchr(code, '/'), *name = slash ? slash + 1 : code, *p, *last = NULL;

	memset(f, 0, sizeof(*f));
	f->code_opt = cfg->bios ? "-bios" : NULL;
	f->code = code;
	f->efivars = cfg->efivars;
	if (!cfg->bios) {
		f->vars_template = FLASH_DEFAULT_VARS;
		return;
	}
	/* OVMF_CODE_4M.fd goes with OVMF_VARS_4M.fd; an image without CODE in its name (OVMF.fd)
	 * holds its own variable store. */
	for (p = name; (p = strstr(p, "CODE")); p++)
		last = p;
	if (!last || strlen(code) >= sizeof(f->vars_buf))
		return;
	strcpy(f->vars_buf, code);
	memcpy(f->vars_buf + (last - code), "VARS", 4);
	if (access(f->vars_buf, F_OK) == 0)
		f->vars_template = f->vars_buf;
}

/* Open a firmware file and check its size; the fd, or -1 after one line. */
static int flash_open(const struct flash_files *f, const char *opt, const char *path, int flags,
		      uint64_t *size)
{
	int fd = open(path, flags | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		int err = errno;
		if (opt)
			log_error("%s %s: %s", opt, path, strerror(err));
		else
			log_error("no EFI firmware: %s: %s (install Debian's package ovmf, or give "
				  "-bios FILE)",
				  path, strerror(err));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		log_error("%s %s: not a regular file", opt ? opt : "firmware", path);
		close(fd);
		return -1;
	}
	if (st.st_size == 0 || st.st_size % FLASH_PAGE || st.st_size > FLASH_MAX_SIZE) {
		log_error("%s %s: %lld bytes: a firmware image is a multiple of 4 KiB, at most "
			  "16 MiB",
			  opt ? opt : "firmware", path, (long long)st.st_size);
		close(fd);
		return -1;
	}
	*size = st.st_size;
	return fd;
}

/* The sizes of the code and the store; fds closed again. 0 or -1 after one line. */
static int flash_sizes(const struct flash_files *f, uint64_t *code, uint64_t *vars)
{
	const char *vopt = f->code_opt ? f->code_opt : NULL;
	int fd = flash_open(f, f->code_opt, f->code, O_RDONLY, code);

	*vars = 0;
	if (fd < 0)
		return -1;
	close(fd);
	if (f->vars_template) {
		fd = flash_open(f, vopt, f->vars_template, O_RDONLY, vars);
		if (fd < 0)
			return -1;
		close(fd);
	}
	if (f->efivars && access(f->efivars, F_OK) == 0) {
		uint64_t size;
		fd = flash_open(f, "-efivars", f->efivars, O_RDWR, &size);
		if (fd < 0)
			return -1;
		close(fd);
		if (f->vars_template && size != *vars) {
			log_error(
			    "-efivars %s: %llu bytes, but the firmware's variable store %s has "
			    "%llu",
			    f->efivars, (unsigned long long)size, f->vars_template,
			    (unsigned long long)*vars);
			return -1;
		}
		*vars = size;
	} else if (f->efivars && errno != ENOENT) {
		log_error("-efivars %s: %s", f->efivars, strerror(errno));
		return -1;
	} else if (f->efivars && !f->vars_template) {
		log_error("-efivars %s: no such file, and no variable store beside %s to make it "
			  "from (a file named like it with VARS for CODE)",
			  f->efivars, f->code);
		return -1;
	}
	if (*code + *vars > FLASH_MAX_SIZE) {
		log_error("%s %s: the firmware and its variable store exceed 16 MiB",
			  f->code_opt ? f->code_opt : "firmware", f->code);
		return -1;
	}
	return 0;
}

int flash_check(const struct flash_files *f)
{
	uint64_t code, vars;

	return flash_sizes(f, &code, &vars);
}

/* -efivars FILE: created from the template when missing, locked against a second VMM. The fd,
 * or -1 after one line. */
static int flash_open_efivars(const struct flash_files *f, uint64_t size)
{
	int fd = open(f->efivars, O_RDWR | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		int tfd = open(f->vars_template, O_RDONLY | O_CLOEXEC);
		void *t = tfd < 0 ? MAP_FAILED : mmap(NULL, size, PROT_READ, MAP_PRIVATE, tfd, 0);
		fd = open(f->efivars, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (t == MAP_FAILED || fd < 0 || write(fd, t, size) != (ssize_t)size) {
			log_error("-efivars %s: cannot make it from %s: %s", f->efivars,
				  f->vars_template, strerror(errno));
			if (fd >= 0)
				unlink(f->efivars);
			fd = -1;
		}
		if (t != MAP_FAILED)
			munmap(t, size);
		if (tfd >= 0)
			close(tfd);
		if (fd < 0)
			return -1;
	} else if (fd < 0) {
		log_error("-efivars %s: %s", f->efivars, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		log_error("-efivars %s: in use by another process", f->efivars);
		close(fd);
		return -1;
	}
	return fd; /* kept open: the lock lasts as long as the VM */
}

/* Read size bytes from offset 0 of fd, however many calls it takes; the bytes read, or -1. */
static ssize_t flash_read_all(int fd, uint8_t *buf, uint64_t size)
{
	uint64_t done = 0;
	ssize_t n = 0;

	while (done < size && (n = pread(fd, buf + done, size - done, done)) > 0)
		done += n;
	return n < 0 ? -1 : (ssize_t)done;
}

/* Map path's size bytes at gpa, read-only, dropping the guest's writes. */
static int flash_add_rom(struct vm *vm, unsigned slot, const char *path, uint64_t gpa,
			 uint64_t size)
{
	struct flash_rom *rom = calloc(1, sizeof(*rom));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *host =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ssize_t n = -1;

	/* A copy, not a mapping of the file: a file that shrinks later cannot fault the VMM. */
	if (fd >= 0 && host != MAP_FAILED)
		n = flash_read_all(fd, host, size);
	if (fd >= 0)
		close(fd);
	if (!rom || host == MAP_FAILED || n != (ssize_t)size) {
		log_error("firmware %s: %s", path, n >= 0 ? "changed size" : strerror(errno));
		free(rom);
		return -1;
	}
	*rom = (struct flash_rom){.host = host, .size = size};
	if (vm_set_memory(vm, slot, gpa, size, host, true) != 0 ||
	    bus_register(&vm->mmio, gpa, size, &flash_rom_ops, rom) != 0) {
		log_error("firmware %s: cannot map it at 0x%llx", path, (unsigned long long)gpa);
		return -1;
	}
	return 0;
}

static int flash_add_store(struct vm *vm, const struct flash_files *f, uint64_t gpa, uint64_t size)
{
	struct flash_store *s = calloc(1, sizeof(*s));
	int fd = flash_open_efivars(f, size);
	uint8_t *host;

	if (!s || fd < 0) {
		free(s);
		return -1;
	}
	host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (host == MAP_FAILED || flash_read_all(fd, host, size) != (ssize_t)size) {
		log_error("-efivars %s: cannot read it: %s", f->efivars, strerror(errno));
		return -1;
	}
	s->vm = vm;
	s->gpa = gpa;
	s->fd = fd;
	s->path = f->efivars;
	pthread_mutex_init(&s->lock, NULL);
	flash_cfi_init(&s->cfi, host, size);
	if (vm_set_memory(vm, FLASH_SLOT_VARS, gpa, size, host, true) != 0 ||
	    bus_register(&vm->mmio, gpa, size, &flash_store_ops, s) != 0) {
		log_error("-efivars %s: cannot map it at 0x%llx", f->efivars,
			  (unsigned long long)gpa);
		return -1;
	}
	return 0;
}

int flash_create(struct vm *vm, const struct flash_files *f)
{
	uint64_t code, vars, code_gpa, vars_gpa;

	if (flash_sizes(f, &code, &vars) != 0)
		return -1;
	code_gpa = FLASH_END - code;
	vars_gpa = code_gpa - vars;
	if (flash_add_rom(vm, FLASH_SLOT_CODE, f->code, code_gpa, code) != 0)
		return -1;
	if (f->efivars)
		return flash_add_store(vm, f, vars_gpa, vars);
	if (f->vars_template)
		return flash_add_rom(vm, FLASH_SLOT_VARS, f->vars_template, vars_gpa, vars);
	return 0;
}
