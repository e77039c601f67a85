/*
 * Host keys to the guest's: SDL scancodes are USB HID keyboard usages (physical key
 * positions), mapped to Linux's KEY_* codes, so the guest applies its own layout.
 */
#ifndef SMOLVM_KEYMAP_H
#define SMOLVM_KEYMAP_H

#include <stdint.h>

/* Linux's KEY_* for the USB HID keyboard usage (0x04..0xe7), 0 for none. */
uint16_t keymap_linux_from_hid(uint32_t usage);

/* The highest KEY_* keymap_linux_from_hid returns (for EV_BITS). */
#define KEYMAP_LINUX_MAX 0xff

#endif
