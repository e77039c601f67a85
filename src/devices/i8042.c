/*
 * The i8042 keyboard controller, reduced to what Linux uses on a machine without a PS/2
 * keyboard: the CPU reset line (command 0xFE), the classic reboot method. The FADT says
 * there is no 8042, so Linux never probes for a keyboard.
 *
 * EFI firmware has no FADT to read: OVMF's PS/2 keyboard driver (Ps2KeyboardDxe) reads a
 * byte and then the status register, and gives up at once when the timeout and parity-error
 * bits are both set, as the register of a controller with nothing behind it reads. With any
 * other status it resets the keyboard, waiting for each answer in 30 us steps, each step a
 * few PM timer reads: over three minutes of exits in the nested test machine, before GRUB.
 */
#include <stdlib.h>

#include "arch/x86/layout.h"
#include "devices/legacy.h"
#include "vmm/vm.h"

#define I8042_CMD_RESET 0xfe
/* Status: parity error and timeout (no device answers); output buffer empty, input buffer
 * empty (ready for a command, which Linux's reboot waits for). */
#define I8042_STATUS_NO_DEVICE 0xc0

static uint64_t i8042_read(void *opaque, uint64_t offset, unsigned size)
{
	if (offset == PORT_I8042_CMD - PORT_I8042_DATA)
		return I8042_STATUS_NO_DEVICE;
	return 0; /* data: nothing */
}

static void i8042_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct vm *vm = opaque;

	if (offset == PORT_I8042_CMD - PORT_I8042_DATA && (value & 0xff) == I8042_CMD_RESET)
		vm_request_stop(vm, VM_STOP_REBOOT, 0);
}

static const struct bus_ops i8042_ops = {.read = i8042_read, .write = i8042_write, .name = "i8042"};

int i8042_create(struct vm *vm)
{
	return bus_register(&vm->pio, PORT_I8042_DATA, PORT_I8042_CMD - PORT_I8042_DATA + 1,
			    &i8042_ops, vm);
}
