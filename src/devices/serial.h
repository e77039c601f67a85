/* A 16550A UART (ttyS0): output to stdout, input from the console. */
#ifndef SMOLVM_SERIAL_H
#define SMOLVM_SERIAL_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct serial;

struct serial *serial_create(struct vm *vm, uint16_t port, unsigned irq, int out_fd);
/* Queue received bytes; returns how many fit (the rest waits for the guest to read). */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

#endif
