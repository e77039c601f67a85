/* virtio-fs: not written yet. */
#include <errno.h>

#include "devices/virtio_devices.h"
#include "vmm/log.h"

int virtio_fs_create(struct vm *vm, const struct share_config *share)
{
	log_error("virtio-fs is not implemented yet");
	return -ENOSYS;
}
