#include "ui/gpu_commands.h"

#include <string.h>

#include "ui/edid.h"

void gpu_state_init(struct gpu_state *s, struct gpu_framebuffer *fb,
		    const struct gpu_limits *limits)
{
	memset(s, 0, sizeof(*s));
	gpu_resources_init(&s->resources, limits);
	s->fb = fb;
	atomic_store(&s->preferred, (uint64_t)GPU_DEFAULT_WIDTH << 32 | GPU_DEFAULT_HEIGHT);
}

void gpu_state_reset(struct gpu_state *s)
{
	gpu_resources_clear(&s->resources);
	s->scanout = (struct gpu_scanout){0};
	gpu_framebuffer_blank(s->fb);
}

void gpu_state_destroy(struct gpu_state *s)
{
	gpu_state_reset(s);
}

/* Every fixed-size request, copied out of the chain before it is looked at. */
union gpu_request {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_resource_create_2d create;
	struct virtio_gpu_resource_ref ref;
	struct virtio_gpu_set_scanout set_scanout;
	struct virtio_gpu_resource_flush flush;
	struct virtio_gpu_transfer_to_host_2d transfer;
	struct virtio_gpu_resource_attach_backing attach;
	struct virtio_gpu_update_cursor cursor;
	struct virtio_gpu_cmd_get_edid get_edid;
};

/* Every response: a header, or one with data. */
union gpu_response {
	struct virtio_gpu_ctrl_hdr hdr;
	struct virtio_gpu_resp_display_info display_info;
	struct virtio_gpu_resp_edid edid;
};

static uint32_t gpu_cmd_set_scanout(struct gpu_state *s, const struct virtio_gpu_set_scanout *req)
{
	struct gpu_resource *res;

	if (req->scanout_id != 0)
		return VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	if (req->resource_id == 0) {
		s->scanout = (struct gpu_scanout){0};
		gpu_framebuffer_blank(s->fb);
		return VIRTIO_GPU_RESP_OK_NODATA;
	}
	res = gpu_resource_find(&s->resources, req->resource_id);
	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (req->r.width == 0 || req->r.height == 0 || !gpu_rect_inside(res, &req->r))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	/* The framebuffer is at most the resource's size, which the limits bound. */
	if (gpu_framebuffer_show(s->fb, res, &req->r) != 0)
		return VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY;
	s->scanout = (struct gpu_scanout){req->resource_id, req->r};
	if (s->on_frame)
		s->on_frame(s->frame_opaque);
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t gpu_cmd_flush(struct gpu_state *s, const struct virtio_gpu_resource_flush *req)
{
	struct gpu_resource *res = gpu_resource_find(&s->resources, req->resource_id);

	if (!res)
		return VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID;
	if (!gpu_rect_inside(res, &req->r))
		return VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER;
	if (s->scanout.resource_id == req->resource_id) {
		gpu_framebuffer_update(s->fb, res, &s->scanout.r, &req->r);
		if (s->on_frame)
			s->on_frame(s->frame_opaque);
	}
	return VIRTIO_GPU_RESP_OK_NODATA;
}

static uint32_t gpu_cmd_unref(struct gpu_state *s, uint32_t id)
{
	uint32_t ret = gpu_resource_unref(&s->resources, id);

	/* The scanout cannot go on showing freed pixels. */
	if (ret == VIRTIO_GPU_RESP_OK_NODATA && s->scanout.resource_id == id) {
		s->scanout = (struct gpu_scanout){0};
		gpu_framebuffer_blank(s->fb);
	}
	return ret;
}

static void gpu_display_info(struct gpu_state *s, struct virtio_gpu_resp_display_info *info)
{
	uint64_t size = atomic_load(&s->preferred);

	memset(info, 0, sizeof(*info));
	info->pmodes[0].r.width = size >> 32;
	info->pmodes[0].r.height = (uint32_t)size;
	info->pmodes[0].enabled = 1;
}

/* The EDID of the preferred size, which GET_DISPLAY_INFO answers too: a new size gives a
 * new block, so the guest sees the monitor change. */
static void gpu_edid(struct gpu_state *s, struct virtio_gpu_resp_edid *resp)
{
	uint64_t size = atomic_load(&s->preferred);

	memset(resp, 0, sizeof(*resp));
	edid_generate(resp->edid, size >> 32, (uint32_t)size);
	resp->size = EDID_BLOCK_SIZE;
}

/* The request's size for each fixed-size command; 0 for the rest. */
static size_t gpu_request_size(uint32_t type)
{
	switch (type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO: return sizeof(struct virtio_gpu_ctrl_hdr);
	case VIRTIO_GPU_CMD_GET_EDID: return sizeof(struct virtio_gpu_cmd_get_edid);
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: return sizeof(struct virtio_gpu_resource_create_2d);
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: return sizeof(struct virtio_gpu_resource_ref);
	case VIRTIO_GPU_CMD_SET_SCANOUT: return sizeof(struct virtio_gpu_set_scanout);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH: return sizeof(struct virtio_gpu_resource_flush);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return sizeof(struct virtio_gpu_transfer_to_host_2d);
	case VIRTIO_GPU_CMD_UPDATE_CURSOR:
	case VIRTIO_GPU_CMD_MOVE_CURSOR: return sizeof(struct virtio_gpu_update_cursor);
	}
	return 0;
}

/* Run the request; the response type. */
static uint32_t gpu_control_dispatch(struct gpu_state *s, const union gpu_request *req,
				     const struct virtq_chain *c)
{
	struct gpu_resources *rs = &s->resources;
	size_t expected = gpu_request_size(req->hdr.type);

	if (req->hdr.type == VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING) {
		/* The header, then nr_entries entries (below 2^36 bytes). */
		if (c->out_len < sizeof(req->attach))
			return VIRTIO_GPU_RESP_ERR_UNSPEC;
		expected = sizeof(req->attach) +
			   (uint64_t)req->attach.nr_entries * sizeof(struct virtio_gpu_mem_entry);
	}
	/* Short, unknown (3D, capsets: none offered; EDID unless negotiated) and cursor commands
	 * on the control queue. A request longer than its command is served and its tail ignored, as other
	 * devices do: the spec fixes each command's layout, not the buffer's length, and a
	 * driver may pad (older Linux headers, other guests). */
	if (expected == 0 || c->out_len < expected ||
	    req->hdr.type == VIRTIO_GPU_CMD_UPDATE_CURSOR ||
	    req->hdr.type == VIRTIO_GPU_CMD_MOVE_CURSOR ||
	    (req->hdr.type == VIRTIO_GPU_CMD_GET_EDID && !s->edid))
		return VIRTIO_GPU_RESP_ERR_UNSPEC;

	switch (req->hdr.type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
		return VIRTIO_GPU_RESP_OK_DISPLAY_INFO;
	case VIRTIO_GPU_CMD_GET_EDID:
		/* The only guest input: which scanout, and there is one. */
		return req->get_edid.scanout == 0 ? VIRTIO_GPU_RESP_OK_EDID
						  : VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID;
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		return gpu_resource_create(rs, req->create.resource_id, req->create.format,
					   req->create.width, req->create.height);
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
		return gpu_cmd_unref(s, req->ref.resource_id);
	case VIRTIO_GPU_CMD_SET_SCANOUT:
		return gpu_cmd_set_scanout(s, &req->set_scanout);
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
		return gpu_cmd_flush(s, &req->flush);
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		return gpu_resource_transfer_to_host(rs, req->transfer.resource_id,
						     &req->transfer.r, req->transfer.offset);
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		return gpu_resource_attach_backing(rs, req->attach.resource_id,
						   req->attach.nr_entries, c, sizeof(req->attach));
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING:
		return gpu_resource_detach_backing(rs, req->ref.resource_id);
	}
	return VIRTIO_GPU_RESP_ERR_UNSPEC;
}

uint32_t gpu_control_execute(struct gpu_state *s, const struct virtq_chain *c)
{
	union gpu_request req;
	union gpu_response resp;
	size_t resp_len = sizeof(resp.hdr);
	uint32_t type;

	/* Zeroed first: a request shorter than its struct is refused below, but is never
	 * read past what the guest gave. */
	memset(&req, 0, sizeof(req));
	virtq_chain_read(c, 0, &req, c->out_len < sizeof(req) ? c->out_len : sizeof(req));
	if (c->out_len < sizeof(req.hdr)) {
		memset(&req.hdr, 0, sizeof(req.hdr)); /* no fence to answer: no header */
		type = VIRTIO_GPU_RESP_ERR_UNSPEC;
	} else {
		type = gpu_control_dispatch(s, &req, c);
	}
	memset(&resp, 0, sizeof(resp));
	if (type == VIRTIO_GPU_RESP_OK_DISPLAY_INFO) {
		gpu_display_info(s, &resp.display_info);
		resp_len = sizeof(resp.display_info);
	} else if (type == VIRTIO_GPU_RESP_OK_EDID) {
		gpu_edid(s, &resp.edid);
		resp_len = sizeof(resp.edid);
	}
	resp.hdr.type = type;
	if (req.hdr.flags & VIRTIO_GPU_FLAG_FENCE) {
		resp.hdr.flags = VIRTIO_GPU_FLAG_FENCE;
		resp.hdr.fence_id = req.hdr.fence_id;
		resp.hdr.ctx_id = req.hdr.ctx_id;
	}
	if (c->in_len < resp_len)
		return 0;
	return virtq_chain_write(c, 0, &resp, resp_len);
}

uint32_t gpu_cursor_execute(struct gpu_state *s, const struct virtq_chain *c)
{
	struct virtio_gpu_update_cursor req;
	struct gpu_resource *res = NULL;

	/* Nowhere to report an error: a bad request is ignored (a longer one is served, its
	 * tail ignored, as on the control queue). */
	if (c->out_len < sizeof(req) ||
	    virtq_chain_read(c, 0, &req, sizeof(req)) != sizeof(req) || req.pos.scanout_id != 0)
		return 0;
	switch (req.hdr.type) {
	case VIRTIO_GPU_CMD_UPDATE_CURSOR:
		if (req.resource_id != 0) {
			res = gpu_resource_find(&s->resources, req.resource_id);
			if (!res || res->width > GPU_CURSOR_SIZE || res->height > GPU_CURSOR_SIZE)
				return 0;
		}
		gpu_framebuffer_set_cursor(s->fb, res, req.hot_x, req.hot_y, req.pos.x, req.pos.y);
		break;
	case VIRTIO_GPU_CMD_MOVE_CURSOR:
		gpu_framebuffer_move_cursor(s->fb, req.pos.x, req.pos.y);
		break;
	}
	return 0;
}
