/*
 * The virtio-blk device model without a machine: built from a drive_config and driven
 * through its struct virtio_device, so unit tests can skip PCI (virtio_blk_create() in
 * virtio_devices.h is this plus virtio_pci_add).
 */
#ifndef SMOLVM_BLK_DEVICE_H
#define SMOLVM_BLK_DEVICE_H

#include "cli/options.h"

struct virtio_blk;
struct virtio_device;

/* Geometry of the one request queue: 1 MiB of 4 KiB pages plus header and status fits in
 * one chain, so Linux sends 1 MiB requests whole. */
#define BLK_QUEUE_SIZE 512
#define BLK_SEG_MAX    (BLK_QUEUE_SIZE - 2)
/* Request queues (VIRTIO_BLK_F_MQ), at most; virtio_blk_create asks for one per vCPU. */
#define BLK_MAX_QUEUES 16
/* Threads executing requests, shared out over the queues (at least 2 per queue): requests
 * of one queue run, and complete, in parallel. A fuzzing build (libFuzzer's macro) starts
 * the device over and over: the fewest workers that still race each other keep that quick. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define BLK_WORKERS 2
#else
#define BLK_WORKERS 8
#endif

/* Open the image of drive (the index-th drive: vda, vdb, ...) and build the device with
 * nqueues request queues (1..BLK_MAX_QUEUES). 0, or -errno after one line naming the file. */
int virtio_blk_new(const struct drive_config *drive, unsigned index, unsigned nqueues,
		   struct virtio_blk **out);
struct virtio_device *virtio_blk_vdev(struct virtio_blk *blk);
/* Stop the device's threads (as a reset does), close the image (dropping its lock), free. */
void virtio_blk_free(struct virtio_blk *blk);

#endif
