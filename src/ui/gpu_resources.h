/*
 * virtio-gpu 2D resources: host pixel buffers the guest creates, backs with its own pages,
 * and copies into (TRANSFER_TO_HOST_2D). Used by one thread, the device's worker.
 *
 * Everything is capped, so a guest cannot make the host allocate without bound: the size of
 * a resource, their number, the entries of a backing, and the host memory of all of them
 * together (pixels and backing tables). Backing entries are checked against guest RAM when
 * attached and again at every transfer.
 *
 * The functions return a virtio-gpu response type: VIRTIO_GPU_RESP_OK_NODATA or an error.
 */
#ifndef SMOLVM_GPU_RESOURCES_H
#define SMOLVM_GPU_RESOURCES_H

#include <stdbool.h>
#include <stdint.h>

#include "ui/virtio_gpu_proto.h"
#include "virtio/virtq.h"
#include "vmm/guest_mem.h"

#define GPU_BYTES_PER_PIXEL 4 /* every format accepted has 32-bit pixels */

/* The defaults of struct gpu_limits. */
#define GPU_MAX_DIMENSION	 16384
#define GPU_MAX_RESOURCES	 1024
#define GPU_MAX_HOST_BYTES	 (256ULL << 20)
/* A backing of 4 KiB pages for the largest resource: 16384 * 16384 * 4 / 4096. */
#define GPU_MAX_BACKING_ENTRIES	 (1u << 18)

struct gpu_limits {
	uint32_t max_dimension; /* width and height */
	uint32_t max_resources;
	uint64_t max_host_bytes;
	uint32_t max_backing_entries;
};

struct gpu_backing_entry {
	uint64_t gpa;
	uint32_t len;
	uint64_t start; /* offset of its first byte in the backing as a whole */
};

struct gpu_resource {
	uint32_t id, format, width, height;
	uint32_t *pixels; /* width * height, rows of width pixels, as the guest wrote them */
	struct gpu_backing_entry *backing;
	uint32_t nbacking;
	uint64_t backing_len;
};

struct gpu_resources {
	const struct guest_mem *mem; /* set when the device is activated */
	struct gpu_limits limits;
	struct gpu_resource **table;
	uint32_t count, capacity;
	uint64_t host_bytes; /* pixels and backing tables of every resource */
};

void gpu_resources_init(struct gpu_resources *rs, const struct gpu_limits *limits);
/* Free every resource (device reset); the limits stay. */
void gpu_resources_clear(struct gpu_resources *rs);

/* Whether format is one of the 32-bit formats accepted. */
bool gpu_format_supported(uint32_t format);
/* Whether rect lies inside the resource, computed without overflow. */
bool gpu_rect_inside(const struct gpu_resource *res, const struct virtio_gpu_rect *r);

struct gpu_resource *gpu_resource_find(struct gpu_resources *rs, uint32_t id);
uint32_t gpu_resource_create(struct gpu_resources *rs, uint32_t id, uint32_t format,
			     uint32_t width, uint32_t height);
uint32_t gpu_resource_unref(struct gpu_resources *rs, uint32_t id);
/* n struct virtio_gpu_mem_entry read from the chain's readable part at byte offset off
 * (the caller checked that they are there). */
uint32_t gpu_resource_attach_backing(struct gpu_resources *rs, uint32_t id, uint32_t n,
				     const struct virtq_chain *c, size_t off);
uint32_t gpu_resource_detach_backing(struct gpu_resources *rs, uint32_t id);
/* Copy rect r from the backing, whose row y - r.y starts at offset + (y - r.y) * stride. */
uint32_t gpu_resource_transfer_to_host(struct gpu_resources *rs, uint32_t id,
				       const struct virtio_gpu_rect *r, uint64_t offset);

#endif
