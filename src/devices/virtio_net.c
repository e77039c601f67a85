/* virtio-net: not written yet. */
#include <errno.h>

#include "devices/virtio_devices.h"
#include "vmm/log.h"

int virtio_net_create(struct vm *vm, const struct net_config *net)
{
	log_error("virtio-net is not implemented yet");
	return -ENOSYS;
}
