/*
 * Fuzz the virtio-gpu command set (ui/gpu_commands.c) with hostile command streams. Each
 * input runs against fresh device state with small caps; requests arrive as chains whose
 * every piece is its own exact-size allocation (ASan catches a read past what the guest
 * gave), backing entries point anywhere near a small guest RAM. Whatever the stream, every
 * control command gets a known response of the right length with its fence echoed, the
 * caps hold after each command, the shown scanout belongs to a live resource, and a reset
 * gives every byte back (LeakSanitizer sees the rest).
 *
 * Input: commands until the input ends, each
 *   op (u8): bits 0-3 pick a command from the table below (15: keep the raw type),
 *            bit 4 the cursor queue, bit 5 a raw request length (else the exact one),
 *            bit 6 tame ids, rectangles and backing entries (small, mostly valid),
 *            bit 7 a fence;
 *   split (u8): where the request is cut in two descriptors (0: not cut);
 *   room (u8): the response room, room * 2 bytes (254: a display info's worth, 255: an
 *              EDID's);
 *   length (u8): with bit 5, the request length;
 *   then the request's bytes (missing ones are zero).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ui/gpu_commands.h"
#include "ui/virtio_gpu_proto.h"
#include "fuzz.h"

#define RAM_SIZE    (256u << 10)
#define MAX_REQUEST (32 + 64 * 16)

static const struct gpu_limits limits = {
	.max_dimension = GPU_MAX_DIMENSION,
	.max_resources = 8,
	.max_host_bytes = 4u << 20,
	.max_backing_entries = 64,
};

static const uint32_t commands[15] = {
	VIRTIO_GPU_CMD_GET_DISPLAY_INFO,
	VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
	VIRTIO_GPU_CMD_RESOURCE_CREATE_2D,
	VIRTIO_GPU_CMD_RESOURCE_UNREF,
	VIRTIO_GPU_CMD_SET_SCANOUT,
	VIRTIO_GPU_CMD_RESOURCE_FLUSH,
	VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
	VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D,
	VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
	VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING,
	VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING,
	VIRTIO_GPU_CMD_UPDATE_CURSOR,
	VIRTIO_GPU_CMD_MOVE_CURSOR,
	VIRTIO_GPU_CMD_GET_EDID,
	0x0200, /* 3D: not offered */
};

static uint8_t *ram;
static struct guest_mem mem = {.nregions = 1};
static struct gpu_framebuffer fb;
static struct gpu_state state;
static struct virtq_chain chain;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	ram = malloc(RAM_SIZE);
	if (!ram)
		abort();
	for (unsigned i = 0; i < RAM_SIZE; i++)
		ram[i] = i * 131 >> 3;
	mem.region[0] = (struct guest_mem_region){.gpa = 0x10000, .size = RAM_SIZE, .host = ram};
	gpu_framebuffer_init(&fb);
	return 0;
}

static size_t exact_size(uint32_t type, const uint8_t *req)
{
	switch (type) {
	case VIRTIO_GPU_CMD_GET_DISPLAY_INFO:
	case 0x0200: return 24;
	case VIRTIO_GPU_CMD_GET_EDID: return 32;
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D: return 40;
	case VIRTIO_GPU_CMD_RESOURCE_UNREF:
	case VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING: return 32;
	case VIRTIO_GPU_CMD_SET_SCANOUT:
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH: return 48;
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
	case VIRTIO_GPU_CMD_UPDATE_CURSOR:
	case VIRTIO_GPU_CMD_MOVE_CURSOR: return 56;
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING: {
		uint32_t n;
		memcpy(&n, req + 28, 4);
		return 32 + (size_t)(n % 65) * 16;
	}
	}
	return 24;
}

/* Small ids, rectangles inside 0..127 and entries mostly inside RAM, so that streams reach
 * the states past the first checks. */
static void tame(uint32_t type, uint8_t *req, size_t len)
{
	uint32_t *w = (uint32_t *)req; /* word i is bytes 4i.. of the request */

	if (len < 32)
		return;
	switch (type) {
	case VIRTIO_GPU_CMD_RESOURCE_CREATE_2D:
		w[6] %= 4;
		w[7] = w[7] % 2 ? VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM : w[7] % 140;
		if (len >= 40) {
			w[8] = 1 + w[8] % 128;
			w[9] = 1 + w[9] % 128;
		}
		break;
	case VIRTIO_GPU_CMD_GET_EDID:
		/* Scanout 0 or 1; the padding picks the host's preferred size (1..16384 each
		 * way), as a window's resize would, so every size reaches the generator. */
		if (len >= 32) {
			uint16_t w, h;

			req[24] &= 1;
			memset(req + 25, 0, 3);
			memcpy(&w, req + 28, 2);
			memcpy(&h, req + 30, 2);
			atomic_store(&state.preferred,
				     (uint64_t)(w % GPU_MAX_DIMENSION + 1) << 32 |
					     (h % GPU_MAX_DIMENSION + 1));
		}
		break;
	case VIRTIO_GPU_CMD_SET_SCANOUT:
	case VIRTIO_GPU_CMD_RESOURCE_FLUSH:
	case VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D:
		for (int i = 6; i < 10 && (size_t)(i + 1) * 4 <= len; i++)
			w[i] %= 129;
		if (type == VIRTIO_GPU_CMD_SET_SCANOUT && len >= 48) {
			w[10] %= 2;
			w[11] %= 4;
		} else if (type == VIRTIO_GPU_CMD_RESOURCE_FLUSH && len >= 48) {
			w[10] %= 4;
		} else if (len >= 56) {
			w[10] %= 128 * 128 * 4;
			w[11] = 0;
			w[12] %= 4;
		}
		break;
	case VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING:
		w[6] %= 4;
		for (size_t off = 32; off + 16 <= len; off += 16) {
			uint64_t addr;
			uint32_t elen;
			memcpy(&addr, req + off, 8);
			memcpy(&elen, req + off + 8, 4);
			addr = 0x10000 + addr % (RAM_SIZE + 0x1000) - 0x800;
			elen %= 0x10000;
			memcpy(req + off, &addr, 8);
			memcpy(req + off + 8, &elen, 4);
		}
		break;
	default:
		w[6] %= 4;
		if (type == VIRTIO_GPU_CMD_UPDATE_CURSOR || type == VIRTIO_GPU_CMD_MOVE_CURSOR) {
			w[6] %= 2;
			if (len >= 44)
				w[10] %= 4;
		}
	}
}

static void check_state(void)
{
	const struct gpu_resources *rs = &state.resources;

	fuzz_assert(rs->host_bytes <= limits.max_host_bytes);
	fuzz_assert(rs->count <= limits.max_resources);
	if (state.scanout.resource_id) {
		struct gpu_resource *res = gpu_resource_find(&state.resources,
							     state.scanout.resource_id);
		fuzz_assert(res && gpu_rect_inside(res, &state.scanout.r));
		fuzz_assert(fb.width == state.scanout.r.width && fb.height == state.scanout.r.height);
	} else {
		fuzz_assert(fb.width == 0 && fb.pixels == NULL);
	}
}

static bool response_known(uint32_t type)
{
	return type == VIRTIO_GPU_RESP_OK_NODATA || type == VIRTIO_GPU_RESP_OK_DISPLAY_INFO ||
	       type == VIRTIO_GPU_RESP_OK_EDID ||
	       (type >= VIRTIO_GPU_RESP_ERR_UNSPEC && type <= VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gpu_state_init(&state, &fb, &limits);
	state.resources.mem = &mem;
	state.edid = true; /* VIRTIO_GPU_F_EDID negotiated */

	while (size >= 4) {
		uint8_t op = data[0], split = data[1], room = data[2], rawlen = data[3];
		_Alignas(8) uint8_t req[MAX_REQUEST] = {0};
		uint32_t type;
		size_t len, fill, resp_len = room == 255 ? 1056 : room == 254 ? 408 : room * 2u;
		uint8_t *piece[2] = {NULL, NULL}, *resp;
		struct virtio_gpu_ctrl_hdr hdr;
		uint32_t used;

		data += 4;
		size -= 4;
		fill = size < MAX_REQUEST ? size : MAX_REQUEST;
		memcpy(req, data, fill);
		memcpy(&type, req, 4);
		if ((op & 15) < 15)
			type = commands[op & 15];
		memcpy(req, &type, 4);
		len = op & 32 ? rawlen * 4u % (MAX_REQUEST + 1) : exact_size(type, req);
		if (op & 64)
			tame(type, req, len);
		if (op & 128)
			req[4] |= VIRTIO_GPU_FLAG_FENCE;
		/* The bytes the request took from the input. */
		fill = len < size ? len : size;
		data += fill;
		size -= fill;

		/* The chain: one or two readable pieces, one writable, each exactly sized. */
		memset(&chain, 0, sizeof(chain));
		size_t cut = split && split < len ? split : len;
		piece[0] = malloc(cut ? cut : 1);
		memcpy(piece[0], req, cut);
		chain.iov[chain.nout++] = (struct iovec){piece[0], cut};
		if (cut < len) {
			piece[1] = malloc(len - cut);
			memcpy(piece[1], req + cut, len - cut);
			chain.iov[chain.nout++] = (struct iovec){piece[1], len - cut};
		}
		resp = malloc(resp_len ? resp_len : 1);
		memset(resp, 0xa5, resp_len);
		chain.iov[chain.nout] = (struct iovec){resp, resp_len};
		chain.nin = resp_len ? 1 : 0;
		chain.out_len = len;
		chain.in_len = resp_len;

		if (op & 16) {
			fuzz_assert(gpu_cursor_execute(&state, &chain) == 0);
		} else {
			used = gpu_control_execute(&state, &chain);
			fuzz_assert(used == 0 || used == 24 || used == 408 || used == 1056);
			fuzz_assert(used <= resp_len);
			fuzz_assert(used != 0 || resp_len < 24 ||
				    (resp_len < 408 && len >= 24 &&
				     type == VIRTIO_GPU_CMD_GET_DISPLAY_INFO) ||
				    (resp_len < 1056 && len >= 32 && type == VIRTIO_GPU_CMD_GET_EDID));
			if (used) {
				memcpy(&hdr, resp, sizeof(hdr));
				fuzz_assert(response_known(hdr.type));
				fuzz_assert((used == 408) ==
					    (hdr.type == VIRTIO_GPU_RESP_OK_DISPLAY_INFO));
				fuzz_assert((used == 1056) == (hdr.type == VIRTIO_GPU_RESP_OK_EDID));
				if (used == 1056) {
					/* A block of 128 bytes whose checksum holds, zeros after. */
					uint32_t esize;
					uint8_t sum = 0;

					memcpy(&esize, resp + 24, 4);
					fuzz_assert(esize == 128);
					for (unsigned i = 0; i < 128; i++)
						sum += resp[32 + i];
					fuzz_assert(sum == 0 && resp[32 + 128] == 0);
				}
				if (len >= 24 && (req[4] & VIRTIO_GPU_FLAG_FENCE)) {
					fuzz_assert(hdr.flags == VIRTIO_GPU_FLAG_FENCE);
					fuzz_assert(memcmp(&hdr.fence_id, req + 8, 8) == 0);
				}
			}
		}
		free(piece[0]);
		free(piece[1]);
		free(resp);
		check_state();
	}
	gpu_state_reset(&state);
	fuzz_assert(state.resources.host_bytes == 0 && state.resources.count == 0);
	gpu_state_destroy(&state);
	return 0;
}
