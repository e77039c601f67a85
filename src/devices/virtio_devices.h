/* The virtio devices, each created from the finished configuration by main.c. Each returns
 * 0, or prints one line naming the problem and returns -errno. */
#ifndef SMOLVM_VIRTIO_DEVICES_H
#define SMOLVM_VIRTIO_DEVICES_H

#include "cli/options.h"

struct vm;

int virtio_rng_create(struct vm *vm);
int virtio_blk_create(struct vm *vm, const struct drive_config *drive);
int virtio_net_create(struct vm *vm, const struct net_config *net);
int virtio_fs_create(struct vm *vm, const struct share_config *share);

#endif
