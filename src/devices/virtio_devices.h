/* The virtio devices, each created from the finished configuration by main.c. */
#ifndef SMOLVM_VIRTIO_DEVICES_H
#define SMOLVM_VIRTIO_DEVICES_H

struct vm;

int virtio_rng_create(struct vm *vm);

#endif
