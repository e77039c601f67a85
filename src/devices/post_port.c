/* POST codes on port 0x80, which Linux also uses as its I/O delay port: accepted, ignored. */
#include "arch/x86/layout.h"
#include "devices/legacy.h"
#include "vmm/vm.h"

static const struct bus_ops post_port_ops = {.name = "post-port"};

int post_port_create(struct vm *vm)
{
	return bus_register(&vm->pio, PORT_POST, 1, &post_port_ops, vm);
}
