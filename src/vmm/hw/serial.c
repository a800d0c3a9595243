/* 16550-style UART at 8 ports from base.
 *
 * THR writes go straight to out_fd (unbuffered). LSR always reads 0x60 (THR and transmitter
 * empty), so polling guests never wait. LCR, IER, MCR, the scratch register and the divisor
 * latch hold what the guest wrote (DLAB routes ports 0/1 to the divisor, so the divisor bytes
 * of a UART init never reach the output). No receive, no interrupts: RBR and MSR read 0,
 * IIR reads 0x01 (nothing pending). */
#include "vmm/hw/serial.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmm/iobus.h"

#define UART_RBR_THR 0
#define UART_IER 1
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_LCR_DLAB 0x80
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_IIR_NO_INT 0x01

struct serial {
	uint16_t base;
	int out_fd;
	uint8_t ier, lcr, mcr, scr;
	uint8_t dll, dlm;
};

static void serial__tx(struct serial *s, uint8_t c)
{
	ssize_t n;

	do
		n = write(s->out_fd, &c, 1);
	while (n < 0 && errno == EINTR);
}

static uint8_t serial__read(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		return dlab ? s->dll : 0;
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR:
		return UART_IIR_NO_INT;
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT;
	case UART_SCR:
		return s->scr;
	default:
		return 0;
	}
}

static void serial__write(struct serial *s, unsigned reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			s->dll = v;
		else
			serial__tx(s, v);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:	/* FCR, LSR, MSR: ignored */
		break;
	}
}

/* A wider access touches consecutive registers, one byte each. */
static void serial__io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = dev;
	uint32_t i;

	for (i = 0; i < len; i++) {
		unsigned reg = (unsigned)(addr - s->base + i) & 7;

		if (is_write)
			serial__write(s, reg, data[i]);
		else
			data[i] = serial__read(s, reg);
	}
}

struct serial *serial__create(struct iobus *pio, uint16_t base, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base = base;
	s->out_fd = out_fd;
	if (iobus__register(pio, base, 8, serial__io, s) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

void serial__destroy(struct serial *s, struct iobus *pio)
{
	if (!s)
		return;
	iobus__unregister(pio, s->base);
	free(s);
}
