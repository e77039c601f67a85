/* The virtio devices, each created from the finished configuration by main.c. Each returns
 * 0, or prints one line naming the problem and returns -errno. */
#ifndef SMOLVM_VIRTIO_DEVICES_H
#define SMOLVM_VIRTIO_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"

struct vm;

int virtio_rng_create(struct vm *vm);

/* hvc0: output to out_fd; keyboard input through virtio_console_sink (a console_sink_fn). */
struct virtio_console;
struct virtio_console *virtio_console_create(struct vm *vm, int out_fd);
size_t virtio_console_sink(void *opaque, const uint8_t *buf, size_t len);
/* The terminal was resized (SIGWINCH): tell the guest. */
void virtio_console_resize(struct virtio_console *con);
int virtio_blk_create(struct vm *vm, const struct drive_config *drive);
int virtio_net_create(struct vm *vm, const struct net_config *net);
int virtio_fs_create(struct vm *vm, const struct share_config *share);

/* The virtio-fs device without its PCI function, for unit tests and fuzzers. */
struct virtio_device;
struct virtio_device *virtio_fs_new(const struct share_config *share);
void virtio_fs_free(struct virtio_device *vdev);

#endif
