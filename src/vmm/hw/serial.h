/* 16550-style UART: transmit to a host fd, no receive yet. */
#ifndef SKVM_VMM_HW_SERIAL_H
#define SKVM_VMM_HW_SERIAL_H

#include <stdint.h>

struct iobus;
struct serial;

#define SERIAL_COM1_BASE 0x3f8

struct serial *serial__create(struct iobus *pio, uint16_t base, int out_fd);
void serial__destroy(struct serial *s, struct iobus *pio);

#endif
