/*
 * fw_cfg: the firmware's view of the machine's configuration. The guest writes a key to the
 * selector, then reads the item's bytes from the data port, one per access, each advancing an
 * offset; past the end it reads zeros. The DMA interface does the same in one exit: the guest
 * writes the guest address of a descriptor (control, length, address; big-endian) to the DMA
 * port, the device selects, reads or skips as the control word says, and writes the control
 * word back as 0, or with the error bit set.
 *
 * Everything the guest sends is hostile: a key names an item or nothing, the offset never
 * passes the item's end, and every guest address and length goes through guest_mem_ptr().
 * vCPUs may race on the ports: one lock covers the selection and the DMA address.
 */
#include "cd/fw_cfg.h"

#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/log.h"
#include "vmm/vm.h"

struct fw_cfg_item {
	uint16_t key;
	char name[FW_CFG_NAME_SIZE]; /* files only */
	uint8_t *data;
	uint32_t len;
};

struct fw_cfg {
	pthread_mutex_t lock;
	struct vm *vm;
	bool ports_registered, dma_registered;
	/* Numbered items, in the order added; the file directory is one of them. */
	struct fw_cfg_item *items;
	unsigned nitems;
	/* Files sorted by name, as QEMU keeps them: file i has key FW_CFG_FILE_FIRST + i. */
	struct fw_cfg_item files[FW_CFG_FILE_MAX];
	unsigned nfiles;
	/* The guest's selection: the item (NULL: none, reads give zeros) and the offset in it,
	 * never past its end. */
	const struct fw_cfg_item *cur;
	uint32_t offset;
	uint64_t dma_addr; /* the high half, until the low half's write starts a transfer */
};

/* The directory entry: size, select, reserved, name (big-endian, as QEMU's FWCfgFile). */
struct fw_cfg_dir_entry {
	uint32_t size;
	uint16_t select;
	uint16_t reserved;
	char name[FW_CFG_NAME_SIZE];
} __attribute__((packed));

struct fw_cfg_dma_access {
	uint32_t control;
	uint32_t length;
	uint64_t address;
} __attribute__((packed));

_Static_assert(sizeof(struct fw_cfg_dir_entry) == 64, "FWCfgFile");
_Static_assert(sizeof(struct fw_cfg_dma_access) == 16, "FWCfgDmaAccess");

/* The item the guest's key names, or NULL. The write-channel bit changes nothing (QEMU masks
 * it too): there is nothing to write. */
static const struct fw_cfg_item *fw_cfg_lookup(const struct fw_cfg *fw, uint16_t key)
{
	key &= (uint16_t)~FW_CFG_WRITE_CHANNEL;
	if (key >= FW_CFG_FILE_FIRST && key < FW_CFG_FILE_FIRST + fw->nfiles)
		return &fw->files[key - FW_CFG_FILE_FIRST];
	for (unsigned i = 0; i < fw->nitems; i++)
		if (fw->items[i].key == key)
			return &fw->items[i];
	return NULL;
}

static void fw_cfg_select(struct fw_cfg *fw, uint16_t key)
{
	fw->cur = fw_cfg_lookup(fw, key);
	fw->offset = 0;
}

static uint8_t fw_cfg_read_byte(struct fw_cfg *fw)
{
	if (!fw->cur || fw->offset >= fw->cur->len)
		return 0;
	return fw->cur->data[fw->offset++];
}

/* The bytes left in the selected item from the offset. */
static uint32_t fw_cfg_remaining(const struct fw_cfg *fw)
{
	return fw->cur ? fw->cur->len - fw->offset : 0;
}

/* A read of len bytes to guest address addr: the item's bytes, then zeros. The error bit when
 * any of the range is not guest RAM (the bytes before it may have been written, as in QEMU). */
static uint32_t fw_cfg_dma_read(struct fw_cfg *fw, uint64_t addr, uint32_t len)
{
	const struct guest_mem *mem = &fw->vm->mem;
	uint32_t n = len < fw_cfg_remaining(fw) ? len : fw_cfg_remaining(fw);
	uint8_t *p;

	if (n) {
		p = guest_mem_ptr(mem, addr, n);
		if (!p)
			return FW_CFG_DMA_ERROR;
		memcpy(p, fw->cur->data + fw->offset, n);
		fw->offset += n;
	}
	if (n < len) {
		uint64_t rest_addr;

		if (__builtin_add_overflow(addr, n, &rest_addr))
			return FW_CFG_DMA_ERROR;
		p = guest_mem_ptr(mem, rest_addr, len - n);
		if (!p)
			return FW_CFG_DMA_ERROR;
		memset(p, 0, len - n);
	}
	return 0;
}

/* One transfer for the descriptor at guest address desc. The descriptor is copied once before
 * anything is decided; its control word is written back last. */
static void fw_cfg_dma_transfer(struct fw_cfg *fw, uint64_t desc)
{
	const struct guest_mem *mem = &fw->vm->mem;
	struct fw_cfg_dma_access a;
	uint32_t control, len, status = 0, skip;
	uint64_t addr;

	if (guest_mem_read(mem, desc, &a, sizeof(a)) != 0) {
		log_debug("fw_cfg: DMA descriptor at 0x%llx is not guest RAM",
			  (unsigned long long)desc);
		return; /* there is no control word to report the error in */
	}
	control = be32toh(a.control);
	len = be32toh(a.length);
	addr = be64toh(a.address);

	if (control & FW_CFG_DMA_SELECT)
		fw_cfg_select(fw, (uint16_t)(control >> 16));
	/* One operation, in QEMU's order of precedence. */
	if (control & FW_CFG_DMA_READ) {
		status = fw_cfg_dma_read(fw, addr, len);
	} else if (control & FW_CFG_DMA_WRITE) {
		if (len)
			status = FW_CFG_DMA_ERROR;
	} else if (control & FW_CFG_DMA_SKIP) {
		skip = len < fw_cfg_remaining(fw) ? len : fw_cfg_remaining(fw);
		fw->offset += skip;
	}
	if (status)
		log_debug("fw_cfg: DMA control 0x%x length %u to 0x%llx failed", control, len,
			  (unsigned long long)addr);
	status = htobe32(status);
	guest_mem_write(mem, desc + offsetof(struct fw_cfg_dma_access, control), &status,
			sizeof(status));
}

/*
 * The selector and data ports, as QEMU's x86 "fwcfg" region: the access size decides, not the
 * port: a 16-bit write selects, a byte read reads data, byte writes (the old write path) are
 * dropped and other sizes are not decoded.
 */
static uint64_t fw_cfg_port_read(void *opaque, uint64_t offset, unsigned size)
{
	struct fw_cfg *fw = opaque;
	uint8_t v;

	if (size != 1)
		return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	pthread_mutex_lock(&fw->lock);
	v = fw_cfg_read_byte(fw);
	pthread_mutex_unlock(&fw->lock);
	return v;
}

static void fw_cfg_port_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct fw_cfg *fw = opaque;

	if (size != 2)
		return;
	pthread_mutex_lock(&fw->lock);
	fw_cfg_select(fw, (uint16_t)value);
	pthread_mutex_unlock(&fw->lock);
}

/* The DMA port reads as the signature "QEMU CFG", byte by byte in address order. */
static uint64_t fw_cfg_dma_port_read(void *opaque, uint64_t offset, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size && i < 8; i++) {
		uint8_t b = 0xff;

		if (offset + i < 8)
			b = (uint8_t)(FW_CFG_DMA_SIGNATURE >> (8 * (7 - (offset + i))));
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

/*
 * The descriptor's address, big-endian: OVMF writes the high half to the port, then the low
 * half to port + 4, which starts the transfer; an 8-byte write does both at once. The value
 * arrives as the guest's register, so the bytes in port order are its little-endian bytes.
 */
static void fw_cfg_dma_port_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct fw_cfg *fw = opaque;

	pthread_mutex_lock(&fw->lock);
	if (size == 4 && offset == 0) {
		fw->dma_addr = (uint64_t)be32toh((uint32_t)value) << 32;
	} else if (size == 4 && offset == 4) {
		uint64_t desc = fw->dma_addr | be32toh((uint32_t)value);

		fw->dma_addr = 0;
		fw_cfg_dma_transfer(fw, desc);
	} else if (size == 8 && offset == 0) {
		fw->dma_addr = 0;
		fw_cfg_dma_transfer(fw, be64toh(value));
	}
	pthread_mutex_unlock(&fw->lock);
}

static const struct bus_ops fw_cfg_port_ops = {
    .read = fw_cfg_port_read,
    .write = fw_cfg_port_write,
    .name = "fw-cfg",
};

static const struct bus_ops fw_cfg_dma_ops = {
    .read = fw_cfg_dma_port_read,
    .write = fw_cfg_dma_port_write,
    .name = "fw-cfg-dma",
};

/* A heap copy of len bytes (at least one byte allocated, so len 0 is no special case). */
static uint8_t *fw_cfg_copy(const void *data, uint32_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	if (p && len)
		memcpy(p, data, len);
	return p;
}

/* Replace or append the numbered item key; takes ownership of data. Caller holds the lock. */
static int fw_cfg_set_item(struct fw_cfg *fw, uint16_t key, uint8_t *data, uint32_t len)
{
	struct fw_cfg_item *items;

	fw->cur = NULL; /* an append may move the array */
	fw->offset = 0;
	for (unsigned i = 0; i < fw->nitems; i++) {
		if (fw->items[i].key == key) {
			free(fw->items[i].data);
			fw->items[i].data = data;
			fw->items[i].len = len;
			return 0;
		}
	}
	items = realloc(fw->items, (fw->nitems + 1) * sizeof(*items));
	if (!items) {
		free(data);
		return -ENOMEM;
	}
	fw->items = items;
	fw->items[fw->nitems++] = (struct fw_cfg_item){.key = key, .data = data, .len = len};
	return 0;
}

/* The directory as item FW_CFG_FILE_DIR: a big-endian count, then one entry per file. */
static int fw_cfg_update_dir(struct fw_cfg *fw)
{
	uint32_t len = 4 + fw->nfiles * (uint32_t)sizeof(struct fw_cfg_dir_entry);
	uint8_t *dir = calloc(1, len);
	uint32_t count = htobe32(fw->nfiles);

	if (!dir)
		return -ENOMEM;
	memcpy(dir, &count, 4);
	for (unsigned i = 0; i < fw->nfiles; i++) {
		struct fw_cfg_dir_entry e = {
		    .size = htobe32(fw->files[i].len),
		    .select = htobe16(fw->files[i].key),
		};

		memcpy(e.name, fw->files[i].name, sizeof(e.name));
		memcpy(dir + 4 + i * sizeof(e), &e, sizeof(e));
	}
	return fw_cfg_set_item(fw, FW_CFG_FILE_DIR, dir, len);
}

int fw_cfg_add_item(struct fw_cfg *fw, uint16_t key, const void *data, uint32_t len)
{
	uint8_t *copy;
	int ret;

	if (key == FW_CFG_FILE_DIR || (key >= FW_CFG_FILE_FIRST && key < FW_CFG_WRITE_CHANNEL) ||
	    (key & FW_CFG_WRITE_CHANNEL) || (len && !data))
		return -EINVAL;
	copy = fw_cfg_copy(data, len);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&fw->lock);
	ret = fw_cfg_set_item(fw, key, copy, len);
	pthread_mutex_unlock(&fw->lock);
	return ret;
}

int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, uint32_t len)
{
	size_t namelen = name ? strnlen(name, FW_CFG_NAME_SIZE) : 0;
	struct fw_cfg_item file = {.len = len};
	unsigned at;
	int ret = 0;

	if (namelen == 0 || namelen >= FW_CFG_NAME_SIZE || (len && !data))
		return -EINVAL;
	memcpy(file.name, name, namelen);
	file.data = fw_cfg_copy(data, len);
	if (!file.data)
		return -ENOMEM;

	pthread_mutex_lock(&fw->lock);
	for (at = 0; at < fw->nfiles; at++) {
		int cmp = strcmp(file.name, fw->files[at].name);

		if (cmp == 0)
			ret = -EEXIST;
		if (cmp <= 0)
			break;
	}
	if (!ret && fw->nfiles == FW_CFG_FILE_MAX)
		ret = -ENOSPC;
	if (ret) {
		pthread_mutex_unlock(&fw->lock);
		free(file.data);
		return ret;
	}
	memmove(&fw->files[at + 1], &fw->files[at], (fw->nfiles - at) * sizeof(file));
	fw->files[at] = file;
	fw->nfiles++;
	for (unsigned i = at; i < fw->nfiles; i++)
		fw->files[i].key = (uint16_t)(FW_CFG_FILE_FIRST + i);
	ret = fw_cfg_update_dir(fw);
	if (ret) {
		/* Take the file out again, so the directory lists exactly the files. */
		fw->nfiles--;
		free(fw->files[at].data);
		memmove(&fw->files[at], &fw->files[at + 1], (fw->nfiles - at) * sizeof(file));
		for (unsigned i = at; i < fw->nfiles; i++)
			fw->files[i].key = (uint16_t)(FW_CFG_FILE_FIRST + i);
	}
	pthread_mutex_unlock(&fw->lock);
	return ret;
}

/* The items every machine has. */
static int fw_cfg_add_defaults(struct fw_cfg *fw)
{
	const uint32_t id = htole32(FW_CFG_VERSION_TRADITIONAL | FW_CFG_VERSION_DMA);
	const uint16_t ncpus = htole16((uint16_t)fw->vm->ncpus);
	const uint64_t ram = htole64(fw->vm->cfg ? fw->vm->cfg->mem_size : 0);
	int ret;

	ret = fw_cfg_add_item(fw, FW_CFG_SIGNATURE, "QEMU", 4);
	if (!ret)
		ret = fw_cfg_add_item(fw, FW_CFG_ID, &id, sizeof(id));
	if (!ret)
		ret = fw_cfg_add_item(fw, FW_CFG_NB_CPUS, &ncpus, sizeof(ncpus));
	if (!ret)
		ret = fw_cfg_add_item(fw, FW_CFG_MAX_CPUS, &ncpus, sizeof(ncpus));
	if (!ret && fw->vm->cfg)
		ret = fw_cfg_add_item(fw, FW_CFG_RAM_SIZE, &ram, sizeof(ram));
	if (!ret) {
		pthread_mutex_lock(&fw->lock);
		ret = fw_cfg_update_dir(fw);
		pthread_mutex_unlock(&fw->lock);
	}
	return ret;
}

struct fw_cfg *fw_cfg_create(struct vm *vm)
{
	struct fw_cfg *fw = calloc(1, sizeof(*fw));
	int ret;

	if (!fw) {
		log_error("fw_cfg: %s", strerror(ENOMEM));
		return NULL;
	}
	fw->vm = vm;
	pthread_mutex_init(&fw->lock, NULL);
	ret = fw_cfg_add_defaults(fw);
	if (ret) {
		log_error("fw_cfg: %s", strerror(-ret));
		goto fail;
	}
	ret = bus_register(&vm->pio, FW_CFG_PORT_SELECTOR, 2, &fw_cfg_port_ops, fw);
	fw->ports_registered = ret == 0;
	if (!ret) {
		ret = bus_register(&vm->pio, FW_CFG_PORT_DMA, 8, &fw_cfg_dma_ops, fw);
		fw->dma_registered = ret == 0;
	}
	if (ret) {
		log_error("fw_cfg: cannot claim ports 0x%x-0x%x: %s", FW_CFG_PORT_SELECTOR,
			  FW_CFG_PORT_DMA + 7, strerror(-ret));
		goto fail;
	}
	return fw;
fail:
	fw_cfg_destroy(fw);
	return NULL;
}

void fw_cfg_destroy(struct fw_cfg *fw)
{
	if (!fw)
		return;
	if (fw->ports_registered)
		bus_unregister(&fw->vm->pio, FW_CFG_PORT_SELECTOR, fw);
	if (fw->dma_registered)
		bus_unregister(&fw->vm->pio, FW_CFG_PORT_DMA, fw);
	for (unsigned i = 0; i < fw->nitems; i++)
		free(fw->items[i].data);
	for (unsigned i = 0; i < fw->nfiles; i++)
		free(fw->files[i].data);
	free(fw->items);
	pthread_mutex_destroy(&fw->lock);
	free(fw);
}
