/*
 * One virtio-blk request: a device-readable header, then the data (readable for writes and
 * ranges, writable for reads and GET_ID), then one writable status byte, in any split over
 * descriptors. The driver controls every byte and length here, so the header is copied
 * once, the layout checked against the type, and every sector range checked against the
 * capacity (without overflow) before any I/O.
 */
#include "devices/blk_request.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio fields are little-endian");
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "request header layout");
_Static_assert(sizeof(struct virtio_blk_range) == 16, "range layout");
_Static_assert(offsetof(struct virtio_blk_config, blk_size) == 20, "config layout");
_Static_assert(offsetof(struct virtio_blk_config, num_queues) == 34, "config layout");
_Static_assert(offsetof(struct virtio_blk_config, max_discard_sectors) == 36, "config layout");
_Static_assert(offsetof(struct virtio_blk_config, write_zeroes_may_unmap) == 56, "config layout");
_Static_assert(sizeof(struct virtio_blk_config) == 60, "config layout");

#define HDR_LEN sizeof(struct virtio_blk_req_hdr)

/* Bytes [off, off + len) of iov[0..n) as iovecs in dst (at most n of them, none empty). */
static unsigned blk_iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len,
			      struct iovec *dst)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len > 0; i++) {
		size_t l = iov[i].iov_len;
		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		dst[k++] = (struct iovec){(uint8_t *)iov[i].iov_base + off, l};
		len -= l;
		off = 0;
	}
	return k;
}

/* Whether len bytes from sector lie inside the disk; *off gets the byte offset. */
static bool blk_range_ok(const struct blk_image *img, uint64_t sector, uint64_t len, uint64_t *off)
{
	/* sector <= size / 512 keeps sector * 512 <= size: no overflow. */
	if (sector > img->size / BLK_SECTOR_SIZE)
		return false;
	*off = sector * BLK_SECTOR_SIZE;
	return len <= img->size - *off;
}

static uint8_t blk_status(int err)
{
	return err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

/* After a write-type request: a driver without FLUSH expects it durable already. */
static uint8_t blk_written(const struct blk_req_ctx *ctx, int err)
{
	if (!err && ctx->flush_each_write)
		err = blk_image_flush(ctx->img);
	return blk_status(err);
}

static uint8_t blk_do_in(const struct blk_req_ctx *ctx, const struct virtq_chain *c,
			 struct blk_req_scratch *s, uint64_t sector, size_t *written)
{
	size_t len = c->in_len - 1;
	uint64_t off;
	unsigned n;
	int err;

	if (c->out_len != HDR_LEN || len % BLK_SECTOR_SIZE ||
	    !blk_range_ok(ctx->img, sector, len, &off))
		return VIRTIO_BLK_S_IOERR;
	n = blk_iov_slice(c->iov + c->nout, c->nin, 0, len, s->iov);
	err = blk_image_read(ctx->img, s->iov, n, off);
	if (!err)
		*written = len;
	return blk_status(err);
}

static uint8_t blk_do_out(const struct blk_req_ctx *ctx, const struct virtq_chain *c,
			  struct blk_req_scratch *s, uint64_t sector)
{
	size_t len = c->out_len - HDR_LEN;
	uint64_t off;
	unsigned n;

	if (ctx->img->readonly || c->in_len != 1 || len % BLK_SECTOR_SIZE ||
	    !blk_range_ok(ctx->img, sector, len, &off))
		return VIRTIO_BLK_S_IOERR;
	n = blk_iov_slice(c->iov, c->nout, HDR_LEN, len, s->iov);
	return blk_written(ctx, blk_image_write(ctx->img, s->iov, n, off));
}

static uint8_t blk_do_get_id(const struct blk_req_ctx *ctx, const struct virtq_chain *c,
			     size_t *written)
{
	size_t len = c->in_len - 1;

	if (c->out_len != HDR_LEN)
		return VIRTIO_BLK_S_IOERR;
	if (len > VIRTIO_BLK_ID_BYTES)
		len = VIRTIO_BLK_ID_BYTES;
	*written = virtq_chain_write(c, 0, ctx->id, len);
	return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: a list of ranges. All are checked before any is executed. */
static uint8_t blk_do_ranges(const struct blk_req_ctx *ctx, const struct virtq_chain *c,
			     struct blk_req_scratch *s, bool zeroes)
{
	uint32_t max_seg = zeroes ? ctx->max_write_zeroes_seg : ctx->max_discard_seg;
	uint32_t max_sectors = zeroes ? ctx->max_write_zeroes_sectors : ctx->max_discard_sectors;
	/* Discard has no flags; write zeroes knows UNMAP (5.2.6.2). */
	uint32_t allowed = zeroes ? VIRTIO_BLK_RANGE_F_UNMAP : 0;
	size_t len = c->out_len - HDR_LEN, nseg = len / sizeof(struct virtio_blk_range);
	uint64_t off;
	int err = 0;

	if (!(zeroes ? ctx->write_zeroes : ctx->discard))
		return VIRTIO_BLK_S_UNSUPP;
	if (ctx->img->readonly || c->in_len != 1 || len % sizeof(struct virtio_blk_range) ||
	    nseg == 0 || nseg > max_seg || nseg > BLK_MAX_RANGES)
		return VIRTIO_BLK_S_IOERR;
	virtq_chain_read(c, HDR_LEN, s->range, len);
	for (size_t i = 0; i < nseg; i++) {
		const struct virtio_blk_range *r = &s->range[i];
		if (r->flags & ~allowed)
			return VIRTIO_BLK_S_UNSUPP;
		if (r->num_sectors > max_sectors ||
		    !blk_range_ok(ctx->img, r->sector, (uint64_t)r->num_sectors * BLK_SECTOR_SIZE,
				  &off))
			return VIRTIO_BLK_S_IOERR;
	}
	for (size_t i = 0; i < nseg && !err; i++) {
		const struct virtio_blk_range *r = &s->range[i];
		uint64_t bytes = (uint64_t)r->num_sectors * BLK_SECTOR_SIZE;
		off = r->sector * BLK_SECTOR_SIZE;
		if (zeroes)
			err = blk_image_write_zeroes(ctx->img, off, bytes,
						     ctx->may_unmap &&
							 (r->flags & VIRTIO_BLK_RANGE_F_UNMAP));
		else
			err = blk_image_discard(ctx->img, off, bytes);
	}
	return blk_written(ctx, err);
}

int blk_request_execute(const struct blk_req_ctx *ctx, const struct virtq_chain *c,
			struct blk_req_scratch *s, uint32_t *used_len)
{
	struct virtio_blk_req_hdr hdr;
	const struct iovec *last;
	size_t written = 0;
	uint8_t status;

	*used_len = 0;
	if (c->in_len == 0)
		return -EINVAL;
	if (c->out_len < HDR_LEN) {
		/* No readable header (too short, or written where it should be read). */
		status = VIRTIO_BLK_S_IOERR;
	} else {
		/* One copy: the guest may change the ring memory while we work. */
		virtq_chain_read(c, 0, &hdr, sizeof(hdr));
		switch (hdr.type) {
		case VIRTIO_BLK_T_IN:
			status = blk_do_in(ctx, c, s, hdr.sector, &written);
			break;
		case VIRTIO_BLK_T_OUT:
			status = blk_do_out(ctx, c, s, hdr.sector);
			break;
		case VIRTIO_BLK_T_FLUSH:
			status = c->out_len != HDR_LEN || c->in_len != 1
				     ? VIRTIO_BLK_S_IOERR
				     : blk_status(blk_image_flush(ctx->img));
			break;
		case VIRTIO_BLK_T_GET_ID:
			status = blk_do_get_id(ctx, c, &written);
			break;
		case VIRTIO_BLK_T_DISCARD:
			status = blk_do_ranges(ctx, c, s, false);
			break;
		case VIRTIO_BLK_T_WRITE_ZEROES:
			status = blk_do_ranges(ctx, c, s, true);
			break;
		default:
			status = VIRTIO_BLK_S_UNSUPP;
			break;
		}
	}
	/* The status is the last writable byte, however the driver split the buffers (and
	 * virtq drops empty descriptors, so the last writable iovec is not empty). */
	last = &c->iov[c->nout + c->nin - 1];
	((uint8_t *)last->iov_base)[last->iov_len - 1] = status;
	*used_len = written + 1; /* written < in_len <= UINT32_MAX */
	return 0;
}
