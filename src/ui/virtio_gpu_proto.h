/*
 * The virtio-gpu wire format (virtio 1.2, 5.7.6): configuration space, the control and
 * cursor queue requests of 2D mode, and their responses. All fields are little-endian,
 * which is the host's order (x86-64).
 */
#ifndef SMOLVM_VIRTIO_GPU_PROTO_H
#define SMOLVM_VIRTIO_GPU_PROTO_H

#include <stdint.h>

/* Configuration space (5.7.4). */
struct virtio_gpu_config {
	uint32_t events_read;
	uint32_t events_clear;
	uint32_t num_scanouts;
	uint32_t num_capsets;
};
#define VIRTIO_GPU_EVENT_DISPLAY 1

/* Feature bits (5.7.3). */
#define VIRTIO_GPU_F_EDID 1

/* Control queue commands (2D) and cursor queue commands. */
enum {
	VIRTIO_GPU_CMD_GET_DISPLAY_INFO = 0x0100,
	VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
	VIRTIO_GPU_CMD_RESOURCE_UNREF,
	VIRTIO_GPU_CMD_SET_SCANOUT,
	VIRTIO_GPU_CMD_RESOURCE_FLUSH,
	VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
	VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
	VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
	VIRTIO_GPU_CMD_GET_CAPSET_INFO,
	VIRTIO_GPU_CMD_GET_CAPSET,
	VIRTIO_GPU_CMD_GET_EDID,

	VIRTIO_GPU_CMD_UPDATE_CURSOR = 0x0300,
	VIRTIO_GPU_CMD_MOVE_CURSOR,
};

/* Response types. */
enum {
	VIRTIO_GPU_RESP_OK_NODATA = 0x1100,
	VIRTIO_GPU_RESP_OK_DISPLAY_INFO,
	VIRTIO_GPU_RESP_OK_CAPSET_INFO,
	VIRTIO_GPU_RESP_OK_CAPSET,
	VIRTIO_GPU_RESP_OK_EDID,

	VIRTIO_GPU_RESP_ERR_UNSPEC = 0x1200,
	VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY,
	VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID,
	VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID,
	VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID,
	VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER,
};

#define VIRTIO_GPU_FLAG_FENCE 1

struct virtio_gpu_ctrl_hdr {
	uint32_t type;
	uint32_t flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t ring_idx;
	uint8_t padding[3];
};

struct virtio_gpu_rect {
	uint32_t x, y, width, height;
};

#define VIRTIO_GPU_MAX_SCANOUTS 16

struct virtio_gpu_resp_display_info {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_display_one {
		struct virtio_gpu_rect r;
		uint32_t enabled;
		uint32_t flags;
	} pmodes[VIRTIO_GPU_MAX_SCANOUTS];
};

/* GET_EDID (with VIRTIO_GPU_F_EDID) and its response: size bytes of EDID in edid[]. */
struct virtio_gpu_cmd_get_edid {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t scanout;
	uint32_t padding;
};

struct virtio_gpu_resp_edid {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t size;
	uint32_t padding;
	uint8_t edid[1024];
};

/* Pixel formats: the names give the byte order in memory. */
enum {
	VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM = 1,
	VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM = 2,
	VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM = 3,
	VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM = 4,
	VIRTIO_GPU_FORMAT_R8G8B8A8_UNORM = 67,
	VIRTIO_GPU_FORMAT_X8B8G8R8_UNORM = 68,
	VIRTIO_GPU_FORMAT_A8B8G8R8_UNORM = 121,
	VIRTIO_GPU_FORMAT_R8G8B8X8_UNORM = 134,
};

struct virtio_gpu_resource_create_2d {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t format;
	uint32_t width;
	uint32_t height;
};

/* RESOURCE_UNREF and RESOURCE_DETACH_BACKING. */
struct virtio_gpu_resource_ref {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t padding;
};

struct virtio_gpu_set_scanout {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint32_t scanout_id;
	uint32_t resource_id;
};

struct virtio_gpu_resource_flush {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint32_t resource_id;
	uint32_t padding;
};

struct virtio_gpu_transfer_to_host_2d {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_rect r;
	uint64_t offset;
	uint32_t resource_id;
	uint32_t padding;
};

/* Followed by nr_entries struct virtio_gpu_mem_entry. */
struct virtio_gpu_resource_attach_backing {
	struct virtio_gpu_ctrl_hdr hdr;
	uint32_t resource_id;
	uint32_t nr_entries;
};

struct virtio_gpu_mem_entry {
	uint64_t addr;
	uint32_t length;
	uint32_t padding;
};

/* UPDATE_CURSOR and MOVE_CURSOR (which reads only pos). */
struct virtio_gpu_update_cursor {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_cursor_pos {
		uint32_t scanout_id;
		uint32_t x;
		uint32_t y;
		uint32_t padding;
	} pos;
	uint32_t resource_id;
	uint32_t hot_x;
	uint32_t hot_y;
	uint32_t padding;
};

_Static_assert(sizeof(struct virtio_gpu_ctrl_hdr) == 24, "virtio 1.2, 5.7.6.7");
_Static_assert(sizeof(struct virtio_gpu_resp_display_info) == 408, "virtio 1.2, 5.7.6.8");
_Static_assert(sizeof(struct virtio_gpu_cmd_get_edid) == 32, "virtio 1.2, 5.7.6.8");
_Static_assert(sizeof(struct virtio_gpu_resp_edid) == 1056, "virtio 1.2, 5.7.6.8");
_Static_assert(sizeof(struct virtio_gpu_resource_create_2d) == 40, "virtio 1.2, 5.7.6.8");
_Static_assert(sizeof(struct virtio_gpu_set_scanout) == 48, "virtio 1.2, 5.7.6.8");
_Static_assert(sizeof(struct virtio_gpu_transfer_to_host_2d) == 56, "virtio 1.2, 5.7.6.8");
_Static_assert(sizeof(struct virtio_gpu_resource_attach_backing) == 32, "virtio 1.2, 5.7.6.8");
_Static_assert(sizeof(struct virtio_gpu_mem_entry) == 16, "virtio 1.2, 5.7.6.8");
_Static_assert(sizeof(struct virtio_gpu_update_cursor) == 56, "virtio 1.2, 5.7.6.10");

#endif
