/*
 * virtio-blk requests (virtio 1.2, 5.2.6): the wire format and the executor that turns one
 * descriptor chain into I/O on a blk_image. The chain is the guest's: its layout is checked
 * before anything is read or written, and every failure ends in a status byte, except a
 * chain without one, which the caller must treat as a broken driver.
 */
#ifndef SMOLVM_BLK_REQUEST_H
#define SMOLVM_BLK_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/blk_image.h"
#include "virtio/virtq.h"

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20

/* The device-readable header every request starts with. */
struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved; /* ioprio in some drivers; ignored */
	uint64_t sector;
};

/* One range of a DISCARD or WRITE_ZEROES request. */
struct virtio_blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
#define VIRTIO_BLK_RANGE_F_UNMAP 1

/* Device configuration (5.2.4) up to write_zeroes_may_unmap: everything our features use. */
struct virtio_blk_config {
	uint64_t capacity; /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

/* The most ranges one DISCARD or WRITE_ZEROES request may carry (what Linux sends at most). */
#define BLK_MAX_RANGES 256

/* What requests are checked against: fixed at DRIVER_OK, then shared read-only by workers. */
struct blk_req_ctx {
	struct blk_image *img;
	char id[VIRTIO_BLK_ID_BYTES]; /* GET_ID answer, NUL-padded */
	bool discard;		      /* VIRTIO_BLK_F_DISCARD negotiated */
	bool write_zeroes;	      /* VIRTIO_BLK_F_WRITE_ZEROES negotiated */
	bool may_unmap;		      /* write_zeroes_may_unmap as advertised */
	bool flush_each_write;	      /* no FLUSH negotiated: the driver expects write-through */
	uint32_t max_discard_sectors, max_discard_seg;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
};

/* Per-thread scratch for one request at a time. */
struct blk_req_scratch {
	struct iovec iov[VIRTQ_MAX_SIZE];
	struct virtio_blk_range range[BLK_MAX_RANGES];
};

/*
 * Execute the request in chain c and write its status into the chain's last writable byte;
 * *used_len gets the bytes written into the writable part, status included. Returns 0, or
 * -EINVAL (and *used_len 0) when the chain has no writable byte for a status: a driver bug
 * the device answers with NEEDS_RESET.
 */
int blk_request_execute(const struct blk_req_ctx *ctx, const struct virtq_chain *c,
			struct blk_req_scratch *s, uint32_t *used_len);

#endif
