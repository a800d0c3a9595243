/* 16550A UART: transmits to a host fd, receives what the host console feeds it
 * (serial__receive), and drives its interrupt line. */
#ifndef SKVM_VMM_HW_SERIAL_H
#define SKVM_VMM_HW_SERIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/irq.h"

struct iobus;
struct serial;

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_IRQ 4

/* Registers (offsets from base) */
#define UART_RBR_THR 0
#define UART_IER 1
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI 0x08

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI 0x00
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_RLSI 0x06
#define UART_IIR_RX_TIMEOUT 0x0c
#define UART_IIR_FIFO_ENABLED 0xc0
#define UART_IIR_ID_MASK 0x0f

#define UART_FCR_ENABLE_FIFO 0x01
#define UART_FCR_CLEAR_RCVR 0x02
#define UART_FCR_CLEAR_XMIT 0x04

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR 0x01
#define UART_MCR_RTS 0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR 0x01
#define UART_LSR_OE 0x02
#define UART_LSR_PE 0x04
#define UART_LSR_FE 0x08
#define UART_LSR_BI 0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS 0x01
#define UART_MSR_DDSR 0x02
#define UART_MSR_TERI 0x04
#define UART_MSR_DDCD 0x08
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

#define UART_FIFO_SIZE 16

/* irq is copied; its set() is called with the lock held, from the vCPU thread or from the
 * thread calling serial__receive. */
struct serial *serial__create(struct iobus *pio, uint16_t base, int out_fd,
			      const struct irq_line *irq);
void serial__destroy(struct serial *s, struct iobus *pio);

/* Host to guest: puts up to len bytes into the receive FIFO and returns how many fit (0 while
 * the FIFO is full or the UART is in loopback mode; the caller keeps the rest and retries).
 * Safe to call from any thread. */
size_t serial__receive(struct serial *s, const uint8_t *buf, size_t len);

/* With the gate on, serial__receive takes nothing while the guest has the receive interrupt
 * (IER.RDI) disabled. For interrupt-driven guests such as Linux: input waits until the
 * driver is ready for it, instead of landing in a FIFO that the driver's start-up resets
 * and drains (a pipe's bytes would be lost there). Off by default: polling guests never
 * enable RDI. */
void serial__set_rx_gate(struct serial *s, bool on);

#endif
