/* 16550A UART at 8 ports from base.
 *
 * Transmit is instant: a THR write goes straight to out_fd, so LSR always shows THRE and TEMT,
 * and the THRE interrupt is pending again right after each write (the line drops and rises,
 * a fresh edge for an edge-triggered ISA IRQ). Reading IIR while it reports THRE clears that
 * interrupt, as on the real part; so does disabling it in IER; enabling it sets it.
 *
 * Receive goes through a 16-byte FIFO (1 byte with FCR's FIFO enable clear) that the host
 * console fills with serial__receive. RDA is pending while it holds data (reported as the
 * character timeout, IIR 0x0c, below the FCR trigger level); a byte arriving at a full FIFO is
 * an overrun (LSR OE, RLS interrupt), which only loopback can cause since the host side waits.
 * With the receive gate on (serial__set_rx_gate), host bytes also wait while IER.RDI is clear.
 *
 * MSR shows CTS, DSR and DCD asserted, or in loopback mode (MCR bit 4) the MCR outputs (DTR ->
 * DSR, RTS -> CTS, OUT1 -> RI, OUT2 -> DCD), with the delta bits set when they change; in
 * loopback, THR writes come back in the receive FIFO instead of going out.
 *
 * The interrupt line is (an enabled interrupt is pending) && MCR.OUT2, as a PC wires it. */
#include "vmm/hw/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/iobus.h"

#define UART_LSR_ERRORS (UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI)

struct serial {
	pthread_mutex_t lock;
	uint16_t base;
	int out_fd;
	struct irq_line irq;
	int irq_level;
	uint8_t ier, lcr, mcr, scr, fcr;
	uint8_t dll, dlm;
	uint8_t lsr_errors;		/* OE/PE/FE/BI, cleared by reading LSR */
	uint8_t msr_delta;		/* MSR bits 3:0, cleared by reading MSR */
	bool thr_ipending;
	bool rx_gate;			/* take host bytes only while IER.RDI is set */
	uint8_t rx[UART_FIFO_SIZE];
	unsigned rx_head, rx_count;
};

static bool serial__fifo_on(const struct serial *s)
{
	return s->fcr & UART_FCR_ENABLE_FIFO;
}

static unsigned serial__rx_capacity(const struct serial *s)
{
	return serial__fifo_on(s) ? UART_FIFO_SIZE : 1;
}

static unsigned serial__rx_trigger(const struct serial *s)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };

	return serial__fifo_on(s) ? levels[s->fcr >> 6] : 1;
}

/* MSR bits 7:4 */
static uint8_t serial__modem_status(const struct serial *s)
{
	uint8_t st = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
	if (s->mcr & UART_MCR_DTR)
		st |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_RTS)
		st |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_OUT1)
		st |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		st |= UART_MSR_DCD;
	return st;
}

/* The highest-priority pending interrupt (IIR bits 3:0). */
static uint8_t serial__pending(const struct serial *s)
{
	if ((s->ier & UART_IER_RLSI) && s->lsr_errors)
		return UART_IIR_RLSI;
	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return s->rx_count < serial__rx_trigger(s) ? UART_IIR_RX_TIMEOUT : UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thr_ipending)
		return UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && s->msr_delta)
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void serial__update_irq(struct serial *s)
{
	int level = serial__pending(s) != UART_IIR_NO_INT && (s->mcr & UART_MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_line__set(&s->irq, level);
	}
}

static void serial__rx_reset(struct serial *s)
{
	s->rx_head = s->rx_count = 0;
}

/* One byte into the receive FIFO; false (and an overrun) when it is full. */
static bool serial__rx_put(struct serial *s, uint8_t c)
{
	if (s->rx_count >= serial__rx_capacity(s)) {
		s->lsr_errors |= UART_LSR_OE;
		return false;
	}
	s->rx[(s->rx_head + s->rx_count) % UART_FIFO_SIZE] = c;
	s->rx_count++;
	return true;
}

static uint8_t serial__rx_get(struct serial *s)
{
	uint8_t c;

	if (!s->rx_count)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % UART_FIFO_SIZE;
	s->rx_count--;
	return c;
}

static void serial__tx(struct serial *s, uint8_t c)
{
	ssize_t n;

	if (s->mcr & UART_MCR_LOOP) {
		serial__rx_put(s, c);
		return;
	}
	do
		n = write(s->out_fd, &c, 1);
	while (n < 0 && errno == EINTR);
}

static uint8_t serial__read(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case UART_RBR_THR:
		return dlab ? s->dll : serial__rx_get(s);
	case UART_IER:
		return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR:
		v = serial__pending(s);
		if (v == UART_IIR_THRI)
			s->thr_ipending = false;
		return v | (serial__fifo_on(s) ? UART_IIR_FIFO_ENABLED : 0);
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		v = UART_LSR_THRE | UART_LSR_TEMT | s->lsr_errors;
		if (s->rx_count)
			v |= UART_LSR_DR;
		s->lsr_errors = 0;
		return v;
	case UART_MSR:
		v = serial__modem_status(s) | s->msr_delta;
		s->msr_delta = 0;
		return v;
	default:
		return s->scr;
	}
}

static void serial__write_mcr(struct serial *s, uint8_t v)
{
	uint8_t old = serial__modem_status(s), now, changed;

	s->mcr = v & 0x1f;
	now = serial__modem_status(s);
	changed = old ^ now;
	if (changed & UART_MSR_CTS)
		s->msr_delta |= UART_MSR_DCTS;
	if (changed & UART_MSR_DSR)
		s->msr_delta |= UART_MSR_DDSR;
	if ((old & UART_MSR_RI) && !(now & UART_MSR_RI))
		s->msr_delta |= UART_MSR_TERI;
	if (changed & UART_MSR_DCD)
		s->msr_delta |= UART_MSR_DDCD;
}

static void serial__write_fcr(struct serial *s, uint8_t v)
{
	if ((v ^ s->fcr) & UART_FCR_ENABLE_FIFO)
		serial__rx_reset(s);	/* switching FIFO mode empties the FIFOs */
	if (v & UART_FCR_CLEAR_RCVR)
		serial__rx_reset(s);
	s->fcr = v & (UART_FCR_ENABLE_FIFO | 0xc0);
}

static void serial__write(struct serial *s, unsigned reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab) {
			s->dll = v;
			break;
		}
		s->thr_ipending = false;
		serial__update_irq(s);
		serial__tx(s, v);
		s->thr_ipending = true;		/* the THR is empty again at once */
		break;
	case UART_IER:
		if (dlab) {
			s->dlm = v;
			break;
		}
		if ((v ^ s->ier) & UART_IER_THRI)
			s->thr_ipending = v & UART_IER_THRI;
		s->ier = v & 0x0f;
		break;
	case UART_IIR_FCR:
		serial__write_fcr(s, v);
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		serial__write_mcr(s, v);
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default:	/* LSR and MSR are read-only */
		break;
	}
}

/* A wider access touches consecutive registers, one byte each. */
static void serial__io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = dev;
	uint32_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < len; i++) {
		unsigned reg = (unsigned)(addr - s->base + i) & 7;

		if (is_write)
			serial__write(s, reg, data[i]);
		else
			data[i] = serial__read(s, reg);
	}
	serial__update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial__receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	if (!(s->mcr & UART_MCR_LOOP) && (!s->rx_gate || (s->ier & UART_IER_RDI))) {
		while (n < len && s->rx_count < serial__rx_capacity(s))
			serial__rx_put(s, buf[n++]);
		serial__update_irq(s);
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void serial__set_rx_gate(struct serial *s, bool on)
{
	pthread_mutex_lock(&s->lock);
	s->rx_gate = on;
	pthread_mutex_unlock(&s->lock);
}

struct serial *serial__create(struct iobus *pio, uint16_t base, int out_fd,
			      const struct irq_line *irq)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->base = base;
	s->out_fd = out_fd;
	s->irq = *irq;
	s->irq_level = 0;
	if (iobus__register(pio, base, 8, serial__io, s) < 0) {
		pthread_mutex_destroy(&s->lock);
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
	pthread_mutex_destroy(&s->lock);
	free(s);
}
