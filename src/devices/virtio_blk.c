/* virtio-blk: not written yet. */
#include <errno.h>

#include "devices/virtio_devices.h"
#include "vmm/log.h"

int virtio_blk_create(struct vm *vm, const struct drive_config *drive)
{
	log_error("virtio-blk is not implemented yet");
	return -ENOSYS;
}
