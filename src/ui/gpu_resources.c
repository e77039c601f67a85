#include "ui/gpu_resources.h"

#include <stdlib.h>
#include <string.h>

void gpu_resources_init(struct gpu_resources *rs, const struct gpu_limits *limits)
{
	memset(rs, 0, sizeof(*rs));
	rs->limits = *limits;
}

static uint64_t gpu_resource_pixel_bytes(const struct gpu_resource *res)
{
	return (uint64_t)res->width * res->height * GPU_BYTES_PER_PIXEL;
}

static void gpu_resource_drop_backing(struct gpu_resources *rs, struct gpu_resource *res)
{
	rs->host_bytes -= (uint64_t)res->nbacking * sizeof(*res->backing);
	free(res->backing);
	res->backing = NULL;
	res->nbacking = 0;
	res->backing_len = 0;
}

static void gpu_resource_free(struct gpu_resources *rs, struct gpu_resource *res)
{
	gpu_resource_drop_backing(rs, res);
	rs->host_bytes -= gpu_resource_pixel_bytes(res);
	free(res->pixels);
	free(res);
}

void gpu_resources_clear(struct gpu_resources *rs)
{
	for (uint32_t i = 0; i < rs->count; i++)
		gpu_resource_free(rs, rs->table[i]);
	free(rs->table);
	rs->table = NULL;
	rs->count = rs->capacity = 0;
}

bool gpu_format_supported(uint32_t format)
{
	switch (format) {
	case VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM:
	case VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM:
	case VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM:
	case VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM:
	case VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM:
		return true;
	}
	return false;
}

bool gpu_rect_inside(const struct gpu_resource *res, const struct virtio_gpu_rect *r)
{
	return r->x <= res->width && r->width <= res->width - r->x && r->y <= res->height &&
	       r->height <= res->height - r->y;
}

/* A handful of resources at a time (Linux keeps a framebuffer or two and a cursor): a
 * linear search is as fast as anything. */
static uint32_t gpu_resource_index(const struct gpu_resources *rs, uint32_t id)
{
	for (uint32_t i = 0; i < rs->count; i++)
		if (rs->table[i]->id == id)
			return i;
	return UINT32_MAX;
}

struct gpu_resource *gpu_resource_find(struct gpu_resources *rs, uint32_t id)
{
	uint32_t i = gpu_resource_index(rs, id);

	return i == UINT32_MAX ? NULL : rs->table[i];
}

/* Room for one more entry in the table; false when the allocation failed. */
static bool gpu_resources_grow(struct gpu_resources *rs)
{
	struct gpu_resource **table;
	uint32_t capacity;

	if (rs->count < rs->capacity)
		return true;
	capacity = rs->capacity ? rs->capacity * 2 : 16;
	table = realloc(rs->table, capacity * sizeof(*table));
	if (!table)
		return false;
	rs->table = table;
	rs->capacity = capacity;
	return true;
}

uint32_t gpu_resource_create(struct gpu_resources *rs, uint32_t id, uint32_t format,
			     uint32_t width, uint32_t height)
{
	const struct gpu_limits *lim = &rs->limits;
	struct gpu_resource *res;
	uint64_t bytes = (uint64_t)width * height * GPU_BYTES_PER_PIXEL;

	/* Id 0 means "none" in SET_SCANOUT and UPDATE_CURSOR. */
	if (id == 0 || gpu_resource_find(rs, id))
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!gpu_format_supported(format) || width == 0 || height == 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (width > lim->max_dimension || height > lim->max_dimension ||
	    rs->count >= lim->max_resources || bytes > lim->max_host_bytes - rs->host_bytes)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	if (!gpu_resources_grow(rs))
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	res = calloc(1, sizeof(*res));
	/* calloc: the pages of a large resource cost nothing until the guest draws on them. */
	if (!res || !(res->pixels = calloc(1, bytes))) {
		free(res);
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	}
	res->id = id;
	res->format = format;
	res->width = width;
	res->height = height;
	rs->table[rs->count++] = res;
	rs->host_bytes += bytes;
	return VIRTIO_GPU_RESP_OK_NODATA;
}

uint32_t gpu_resource_unref(struct gpu_resources *rs, uint32_t id)
{
	uint32_t i = gpu_resource_index(rs, id);

	if (i == UINT32_MAX)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	gpu_resource_free(rs, rs->table[i]);
	rs->table[i] = rs->table[--rs->count];
	return VIRTIO_GPU_RESP_OK_NODATA;
}

#define GPU_ENTRIES_PER_READ 256

uint32_t gpu_resource_attach_backing(struct gpu_resources *rs, uint32_t id, uint32_t n,
				     const struct virtq_chain *c, size_t off)
{
	struct gpu_resource *res = gpu_resource_find(rs, id);
	struct virtio_gpu_mem_entry chunk[GPU_ENTRIES_PER_READ];
	struct gpu_backing_entry *backing;
	uint64_t table_bytes = (uint64_t)n * sizeof(*backing), total = 0;

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	/* Linux detaches before it attaches again; replacing a backing silently would hide
	 * a driver bug. */
	if (res->backing || n == 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (n > rs->limits.max_backing_entries ||
	    table_bytes > rs->limits.max_host_bytes - rs->host_bytes)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	backing = malloc(table_bytes);
	if (!backing)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	for (uint32_t done = 0; done < n;) {
		uint32_t k = n - done < GPU_ENTRIES_PER_READ ? n - done : GPU_ENTRIES_PER_READ;

		if (virtq_chain_read(c, off + (size_t)done * sizeof(chunk[0]), chunk,
				     k * sizeof(chunk[0])) != k * sizeof(chunk[0]))
			goto invalid;
		for (uint32_t i = 0; i < k; i++, done++) {
			/* Copied once; checked as copied; never read from the guest again. */
			uint64_t gpa = chunk[i].addr;
			uint32_t len = chunk[i].length;

			if (len == 0 || !guest_mem_ptr(rs->mem, gpa, len))
				goto invalid;
			backing[done] = (struct gpu_backing_entry){gpa, len, total};
			total += len; /* at most 2^18 * 2^32: no overflow */
		}
	}
	res->backing = backing;
	res->nbacking = n;
	res->backing_len = total;
	rs->host_bytes += table_bytes;
	return VIRTIO_GPU_RESP_OK_NODATA;
invalid:
	free(backing);
	return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
}

uint32_t gpu_resource_detach_backing(struct gpu_resources *rs, uint32_t id)
{
	struct gpu_resource *res = gpu_resource_find(rs, id);

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	gpu_resource_drop_backing(rs, res);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

/* The backing entry holding byte off of the backing (off < backing_len). */
static uint32_t gpu_backing_find(const struct gpu_resource *res, uint64_t off)
{
	uint32_t lo = 0, hi = res->nbacking - 1;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;
		if (res->backing[mid].start <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Copy len bytes at backing offset off (inside backing_len) to dst, each piece through the
 * guest memory accessor. false if a piece is not guest RAM. */
static bool gpu_backing_read(const struct gpu_resources *rs, const struct gpu_resource *res,
			     uint64_t off, uint8_t *dst, uint64_t len)
{
	uint32_t i = gpu_backing_find(res, off);

	while (len > 0) {
		const struct gpu_backing_entry *e = &res->backing[i++];
		uint64_t within = off - e->start;
		uint64_t n = e->len - within < len ? e->len - within : len;
		const void *src = guest_mem_ptr(rs->mem, e->gpa + within, n);

		if (!src)
			return false;
		memcpy(dst, src, n);
		dst += n;
		off += n;
		len -= n;
	}
	return true;
}

uint32_t gpu_resource_transfer_to_host(struct gpu_resources *rs, uint32_t id,
				       const struct virtio_gpu_rect *r, uint64_t offset)
{
	struct gpu_resource *res = gpu_resource_find(rs, id);
	uint64_t stride, row_bytes, last_row, end;

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!res->backing)
		return VIRTIO_GPU_RESP_ERR_UNSPEC;
	if (!gpu_rect_inside(res, r))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (r->width == 0 || r->height == 0)
		return VIRTIO_GPU_RESP_OK_NODATA;
	stride = (uint64_t)res->width * GPU_BYTES_PER_PIXEL;
	row_bytes = (uint64_t)r->width * GPU_BYTES_PER_PIXEL;
	/* The last byte read: offset + (height - 1) * stride + row_bytes, which the guest's
	 * 64-bit offset may overflow. The other terms are below 2^50. */
	last_row = (uint64_t)(r->height - 1) * stride + row_bytes;
	if (__builtin_add_overflow(offset, last_row, &end) || end > res->backing_len)
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	for (uint32_t y = 0; y < r->height; y++) {
		uint8_t *dst = (uint8_t *)(res->pixels + (uint64_t)(r->y + y) * res->width + r->x);

		if (!gpu_backing_read(rs, res, offset + y * stride, dst, row_bytes))
			return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}
