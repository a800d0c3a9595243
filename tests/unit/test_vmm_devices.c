/* The VMM's PC devices, driven through the port I/O bus as a vCPU's exits would: 16550A serial
 * (registers, loopback, FIFO, interrupts), the host console (escapes, feeding through a pipe),
 * CMOS RTC, PCI config mechanism #1, ACPI PM registers and reset, i8042. */
#define _GNU_SOURCE   /* pipe2 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"
#include "vmm/hw/acpi_pm.h"
#include "vmm/hw/i8042.h"
#include "vmm/hw/pci.h"
#include "vmm/hw/rtc.h"
#include "vmm/hw/serial.h"
#include "vmm/iobus.h"
#include "vmm/term.h"
#include "vmm/vm.h"

static struct iobus bus;

static uint32_t in(uint16_t port, uint32_t len)
{
  uint8_t d[4] = { 0 };
  uint32_t v = 0;
  iobus__access(&bus, port, d, len, false);
  for (uint32_t i = 0; i < len; i++) v |= (uint32_t)d[i] << (8 * i);
  return v;
}

static void out(uint16_t port, uint32_t v, uint32_t len)
{
  uint8_t d[4];
  for (uint32_t i = 0; i < len; i++) d[i] = (uint8_t)(v >> (8 * i));
  iobus__access(&bus, port, d, len, true);
}

static uint8_t inb(uint16_t port) { return (uint8_t)in(port, 1); }
static void outb(uint16_t port, uint8_t v) { out(port, v, 1); }

/* An interrupt line that records its level and edges. */
struct irq_rec {
  uint32_t irq;
  int level, raises, lowers;
};

static void irq_rec_set(void *ctx, uint32_t irq, int level)
{
  struct irq_rec *r = ctx;
  r->irq = irq;
  if (level && !r->level) r->raises++;
  if (!level && r->level) r->lowers++;
  r->level = level;
}

static struct irq_line irq_rec_line(struct irq_rec *r, uint32_t irq)
{
  memset(r, 0, sizeof(*r));
  return (struct irq_line){ .set = irq_rec_set, .ctx = r, .irq = irq };
}

static uint64_t mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- serial ---- */

#define COM1 SERIAL_COM1_BASE

static void test_serial_registers(int tx_read_fd)
{
  char got[8];

  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_NO_INT);
  CHECK_EQ(inb(COM1 + UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
  CHECK_EQ(inb(COM1 + UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD);
  CHECK_EQ(inb(COM1 + UART_IER), 0);

  outb(COM1 + UART_SCR, 0x5a);
  CHECK_EQ(inb(COM1 + UART_SCR), 0x5a);
  outb(COM1 + UART_IER, 0xff);
  CHECK_EQ(inb(COM1 + UART_IER), 0x0f);   /* a 16550A has 4 IER bits (Linux's autoconfig checks) */
  outb(COM1 + UART_IER, 0);

  /* divisor latch: DLAB routes ports 0/1 to it, nothing is transmitted */
  outb(COM1 + UART_LCR, UART_LCR_DLAB);
  outb(COM1 + 0, 0x01);
  outb(COM1 + 1, 0x02);
  CHECK_EQ(inb(COM1 + 0), 0x01);
  CHECK_EQ(inb(COM1 + 1), 0x02);
  outb(COM1 + UART_LCR, 0x03);
  CHECK_EQ(inb(COM1 + UART_LCR), 0x03);
  outb(COM1 + UART_RBR_THR, 'A');
  outb(COM1 + UART_RBR_THR, 'b');
  CHECK_EQ(read(tx_read_fd, got, sizeof(got)), 2);
  CHECK(memcmp(got, "Ab", 2) == 0);

  /* FIFO enable shows in IIR bits 7:6 */
  outb(COM1 + UART_IIR_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR | UART_FCR_CLEAR_XMIT);
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_FIFO_ENABLED | UART_IIR_NO_INT);
  outb(COM1 + UART_IIR_FCR, 0);
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_NO_INT);
}

static void test_serial_loopback(struct serial *s, int tx_read_fd)
{
  char got[8];
  uint8_t byte = 'q';

  /* Linux's autoconfig: MCR = LOOP | RTS | OUT2 must show CTS | DCD in MSR 7:4 */
  outb(COM1 + UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
  CHECK_EQ(inb(COM1 + UART_MSR), UART_MSR_CTS | UART_MSR_DCD | UART_MSR_DDSR);  /* DSR fell */
  CHECK_EQ(inb(COM1 + UART_MSR), UART_MSR_CTS | UART_MSR_DCD);  /* deltas clear on read */
  outb(COM1 + UART_MCR, UART_MCR_LOOP | UART_MCR_DTR | UART_MCR_OUT1);
  CHECK_EQ(inb(COM1 + UART_MSR) & 0xf0, UART_MSR_DSR | UART_MSR_RI);

  /* transmitted bytes come back, none reach the output */
  outb(COM1 + UART_RBR_THR, 'Z');
  CHECK_EQ(inb(COM1 + UART_LSR), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR);
  CHECK_EQ(serial__receive(s, &byte, 1), 0);   /* the host side is cut off in loopback */
  CHECK_EQ(inb(COM1 + UART_RBR_THR), 'Z');
  CHECK_EQ(inb(COM1 + UART_LSR) & UART_LSR_DR, 0);

  /* without the FIFO the receiver holds one byte: a second one overruns */
  outb(COM1 + UART_IER, UART_IER_RLSI);
  outb(COM1 + UART_RBR_THR, '1');
  outb(COM1 + UART_RBR_THR, '2');
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_RLSI);
  CHECK_EQ(inb(COM1 + UART_LSR), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR | UART_LSR_OE);
  CHECK_EQ(inb(COM1 + UART_LSR), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR);  /* OE cleared */
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_NO_INT);
  CHECK_EQ(inb(COM1 + UART_RBR_THR), '1');
  outb(COM1 + UART_IER, 0);

  outb(COM1 + UART_MCR, 0);
  /* from DSR | RI: CTS and DCD rose, RI fell (trailing edge), DSR stayed */
  CHECK_EQ(inb(COM1 + UART_MSR), UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD |
                                 UART_MSR_DCTS | UART_MSR_TERI | UART_MSR_DDCD);
  CHECK_EQ(read(tx_read_fd, got, sizeof(got)), -1);   /* nothing was transmitted (pipe empty) */
}

static void test_serial_interrupts(struct serial *s, struct irq_rec *irq)
{
  const uint8_t msg[20] = "0123456789abcdefghij";
  int raises;

  CHECK_EQ(irq->level, 0);
  /* THRE: enabling it makes it pending at once; OUT2 gates the line */
  outb(COM1 + UART_IER, UART_IER_THRI);
  CHECK_EQ(irq->level, 0);
  outb(COM1 + UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
  CHECK_EQ(irq->level, 1);
  CHECK_EQ(irq->irq, SERIAL_COM1_IRQ);
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_THRI);
  CHECK_EQ(irq->level, 0);                              /* reading IIR cleared it */
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_NO_INT);
  /* Linux's THRE test: IER 0 then THRI again re-asserts it */
  outb(COM1 + UART_IER, 0);
  outb(COM1 + UART_IER, UART_IER_THRI);
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_THRI);
  /* each transmitted byte makes a new edge */
  raises = irq->raises;
  outb(COM1 + UART_RBR_THR, 'x');
  outb(COM1 + UART_RBR_THR, 'y');
  CHECK_EQ(irq->raises, raises + 2);
  CHECK_EQ(irq->level, 1);
  outb(COM1 + UART_IER, 0);
  CHECK_EQ(irq->level, 0);

  /* receive FIFO, trigger level 8 */
  outb(COM1 + UART_IIR_FCR, UART_FCR_ENABLE_FIFO | 0x80);
  outb(COM1 + UART_IER, UART_IER_RDI);
  CHECK_EQ(serial__receive(s, msg, sizeof(msg)), UART_FIFO_SIZE);
  CHECK_EQ(irq->level, 1);
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_FIFO_ENABLED | UART_IIR_RDI);
  for (int i = 0; i < 10; i++)
    CHECK_EQ(inb(COM1 + UART_RBR_THR), msg[i]);
  /* below the trigger level: reported as a character timeout */
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_FIFO_ENABLED | UART_IIR_RX_TIMEOUT);
  CHECK_EQ(serial__receive(s, msg + 16, 4), 4);
  for (int i = 10; i < 16; i++)
    CHECK_EQ(inb(COM1 + UART_RBR_THR), msg[i]);
  for (int i = 16; i < 20; i++) {
    CHECK(inb(COM1 + UART_LSR) & UART_LSR_DR);
    CHECK_EQ(inb(COM1 + UART_RBR_THR), msg[i]);
  }
  CHECK_EQ(inb(COM1 + UART_LSR) & UART_LSR_DR, 0);
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_FIFO_ENABLED | UART_IIR_NO_INT);
  CHECK_EQ(irq->level, 0);

  /* FCR bit 1 empties the receive FIFO */
  CHECK_EQ(serial__receive(s, msg, 3), 3);
  CHECK_EQ(irq->level, 1);
  outb(COM1 + UART_IIR_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
  CHECK_EQ(inb(COM1 + UART_LSR) & UART_LSR_DR, 0);
  CHECK_EQ(irq->level, 0);

  /* the receive gate: no host bytes while RDI is off */
  serial__set_rx_gate(s, true);
  outb(COM1 + UART_IER, 0);
  CHECK_EQ(serial__receive(s, msg, 3), 0);
  outb(COM1 + UART_IER, UART_IER_RDI);
  CHECK_EQ(serial__receive(s, msg, 3), 3);
  outb(COM1 + UART_IIR_FCR, UART_FCR_ENABLE_FIFO | UART_FCR_CLEAR_RCVR);
  serial__set_rx_gate(s, false);

  /* FIFO off: one byte at a time; pending data without OUT2 keeps the line low */
  outb(COM1 + UART_IIR_FCR, 0);
  CHECK_EQ(serial__receive(s, msg, 2), 1);
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_RDI);
  outb(COM1 + UART_MCR, 0);
  CHECK_EQ(irq->level, 0);
  CHECK_EQ(inb(COM1 + UART_IIR_FCR), UART_IIR_RDI);    /* still pending inside the UART */
  CHECK_EQ(inb(COM1 + UART_RBR_THR), msg[0]);
  outb(COM1 + UART_IER, 0);
}

/* The console thread feeds a pipe's bytes into the UART, waiting while the FIFO is full. */
static void test_serial_console(struct serial *s)
{
  char msg[64], got[64];
  int fds[2];
  size_t n = 0;
  struct term *t;
  uint64_t deadline;

  for (size_t i = 0; i < sizeof(msg); i++) msg[i] = (char)(i * 7 + 1);   /* includes Ctrl-A */
  CHECK_OK(pipe(fds));
  outb(COM1 + UART_IIR_FCR, UART_FCR_ENABLE_FIFO);   /* before any byte: switching empties it */
  t = term__create(fds[0], s);
  CHECK(t != NULL);
  if (!t) return;
  CHECK_EQ(write(fds[1], msg, sizeof(msg)), sizeof(msg));
  close(fds[1]);                          /* then end of input: the thread stops reading */
  deadline = mono_ns() + 5000000000ULL;
  while (n < sizeof(msg) && mono_ns() < deadline) {
    if (inb(COM1 + UART_LSR) & UART_LSR_DR)
      got[n++] = (char)inb(COM1 + UART_RBR_THR);
    else
      usleep(100);
  }
  CHECK_EQ(n, sizeof(msg));
  CHECK(memcmp(got, msg, sizeof(msg)) == 0);   /* not a TTY: no escapes, nothing lost */
  term__destroy(t);
  close(fds[0]);
  outb(COM1 + UART_IIR_FCR, 0);
}

static void test_term_escape(void)
{
  struct term_esc e = { false };

  CHECK_EQ(term__escape(&e, 'a'), TERM_ESC_SEND);
  CHECK_EQ(term__escape(&e, TERM_ESCAPE_CHAR), TERM_ESC_NONE);
  CHECK_EQ(term__escape(&e, TERM_ESCAPE_CHAR), TERM_ESC_SEND);   /* Ctrl-A Ctrl-A: one Ctrl-A */
  CHECK_EQ(term__escape(&e, 'x'), TERM_ESC_SEND);                /* a plain x */
  CHECK_EQ(term__escape(&e, TERM_ESCAPE_CHAR), TERM_ESC_NONE);
  CHECK_EQ(term__escape(&e, 'x'), TERM_ESC_QUIT);
  CHECK_EQ(term__escape(&e, TERM_ESCAPE_CHAR), TERM_ESC_NONE);
  CHECK_EQ(term__escape(&e, 'h'), TERM_ESC_HELP);
  CHECK_EQ(term__escape(&e, TERM_ESCAPE_CHAR), TERM_ESC_NONE);
  CHECK_EQ(term__escape(&e, 'q'), TERM_ESC_NONE);                /* unknown: swallowed */
  CHECK_EQ(term__escape(&e, 'q'), TERM_ESC_SEND);
}

static void test_serial(void)
{
  struct irq_rec irq;
  struct irq_line line = irq_rec_line(&irq, SERIAL_COM1_IRQ);
  struct serial *s;
  int fds[2];

  CHECK_OK(pipe2(fds, O_NONBLOCK));
  s = serial__create(&bus, COM1, fds[1], &line);
  CHECK(s != NULL);
  if (!s) return;
  test_serial_registers(fds[0]);
  test_serial_loopback(s, fds[0]);
  test_serial_interrupts(s, &irq);
  test_serial_console(s);
  serial__destroy(s, &bus);
  CHECK_EQ(in(COM1 + UART_LSR, 1), 0xff);   /* unregistered */
  close(fds[0]);
  close(fds[1]);
}

/* ---- RTC ---- */

static uint8_t cmos_read(uint8_t reg)
{
  outb(RTC_INDEX_PORT, reg);
  return inb(RTC_DATA_PORT);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
  outb(RTC_INDEX_PORT, reg);
  outb(RTC_DATA_PORT, v);
}

static unsigned bcd(uint8_t v)
{
  CHECK((v & 0x0f) <= 9 && (v >> 4) <= 9);
  return (v >> 4) * 10 + (v & 0x0f);
}

static int rtc_reg(uint8_t reg, bool binary)
{
  uint8_t v = cmos_read(reg);
  return (int)(binary ? v : bcd(v));
}

/* The RTC's date and time as seconds since the epoch (BCD or binary, 24-hour). */
static int64_t rtc_time(bool binary)
{
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  tm.tm_sec = rtc_reg(RTC_SECONDS, binary);      /* first: latches the rest */
  tm.tm_min = rtc_reg(RTC_MINUTES, binary);
  tm.tm_hour = rtc_reg(RTC_HOURS, binary);
  tm.tm_mday = rtc_reg(RTC_DAY_OF_MONTH, binary);
  tm.tm_mon = rtc_reg(RTC_MONTH, binary) - 1;
  tm.tm_year = rtc_reg(RTC_CENTURY, binary) * 100 + rtc_reg(RTC_YEAR, binary) - 1900;
  return (int64_t)timegm(&tm);
}

static void test_rtc(void)
{
  struct rtc *rtc = rtc__create(&bus);
  struct timespec ts;
  struct tm now;
  time_t host;
  int64_t t;
  bool uip = false, uip_placed = true;
  uint8_t hr;

  CHECK(rtc != NULL);
  if (!rtc) return;
  CHECK_EQ(cmos_read(RTC_REG_D), RTC_REG_D_VRT);
  CHECK_EQ(cmos_read(RTC_REG_B), RTC_REG_B_24H);          /* BCD, 24-hour */
  CHECK_EQ(cmos_read(RTC_REG_A) & 0x7f, 0x26);
  CHECK_EQ(cmos_read(RTC_REG_C), 0);
  outb(RTC_INDEX_PORT, 0x80 | RTC_REG_D);                  /* NMI mask bit ignored */
  CHECK_EQ(inb(RTC_DATA_PORT), RTC_REG_D_VRT);

  /* BCD time within 2 s of the host's UTC time; weekday 1 = Sunday */
  host = time(NULL);
  t = rtc_time(false);
  CHECK(t >= host - 2 && t <= host + 2);
  gmtime_r(&host, &now);
  CHECK_EQ(bcd(cmos_read(RTC_CENTURY)), (now.tm_year + 1900) / 100);
  CHECK(bcd(cmos_read(RTC_DAY_OF_WEEK)) >= 1 && bcd(cmos_read(RTC_DAY_OF_WEEK)) <= 7);

  /* binary */
  cmos_write(RTC_REG_B, RTC_REG_B_24H | RTC_REG_B_DM_BINARY);
  host = time(NULL);
  t = rtc_time(true);
  CHECK(t >= host - 2 && t <= host + 2);
  CHECK(cmos_read(RTC_SECONDS) < 60);

  /* 12-hour binary: 1..12 with bit 7 = PM */
  cmos_write(RTC_REG_B, RTC_REG_B_DM_BINARY);
  host = time(NULL);
  gmtime_r(&host, &now);
  hr = cmos_read(RTC_HOURS);
  CHECK((hr & 0x7f) >= 1 && (hr & 0x7f) <= 12);
  {
    time_t after = time(NULL);
    struct tm now2;
    gmtime_r(&after, &now2);
    if (now2.tm_hour == now.tm_hour) {                     /* not across an hour's edge */
      CHECK_EQ(!!(hr & 0x80), now.tm_hour >= 12);
      CHECK_EQ((hr & 0x7f) % 12, (unsigned)now.tm_hour % 12);
    }
  }

  /* setting the clock: SET freezes, the new time counts from clearing it */
  cmos_write(RTC_REG_B, RTC_REG_B_24H | RTC_REG_B_SET);
  cmos_write(RTC_YEAR, 0x99);
  cmos_write(RTC_CENTURY, 0x19);
  cmos_write(RTC_MONTH, 0x12);
  cmos_write(RTC_DAY_OF_MONTH, 0x31);
  cmos_write(RTC_HOURS, 0x23);
  cmos_write(RTC_MINUTES, 0x59);
  cmos_write(RTC_SECONDS, 0x30);
  CHECK_EQ(cmos_read(RTC_SECONDS), 0x30);
  cmos_write(RTC_REG_B, RTC_REG_B_24H);
  t = rtc_time(false);
  CHECK(t >= 946684770 && t <= 946684772);                 /* 1999-12-31 23:59:30 UTC */
  CHECK_EQ(cmos_read(RTC_DAY_OF_WEEK), 0x06);              /* a Friday */

  /* CMOS RAM */
  cmos_write(0x40, 0xa5);
  CHECK_EQ(cmos_read(0x40), 0xa5);

  /* UIP: clear in the middle of a second, set in its last 244 us. Sleep to just before a
   * second ends, then read status A until it has ended; a few tries, as a loaded host may
   * not wake us in time. */
  for (int tries = 0; tries < 10 && !uip; tries++) {
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_nsec < 400000000L) {
      usleep((useconds_t)((500000000L - ts.tv_nsec) / 1000));
      clock_gettime(CLOCK_REALTIME, &ts);
      if (ts.tv_nsec >= 500000000L && ts.tv_nsec < 900000000L)
        CHECK_EQ(cmos_read(RTC_REG_A) & RTC_REG_A_UIP, 0);
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    long wait_ns = 1000000000L - 3000000L - ts.tv_nsec;             /* to ~3 ms before */
    if (wait_ns < 0) wait_ns += 1000000000L;
    usleep((useconds_t)(wait_ns / 1000));
    for (uint64_t end = mono_ns() + 6000000ULL; mono_ns() < end && !uip;) {
      if (cmos_read(RTC_REG_A) & RTC_REG_A_UIP) {
        uip = true;
        clock_gettime(CLOCK_REALTIME, &ts);
        uip_placed = ts.tv_nsec >= 1000000000L - 244000 - 1000000 || ts.tv_nsec < 1000000;
      }
    }
  }
  CHECK(uip);
  CHECK(uip_placed);
  rtc__destroy(rtc, &bus);
}

/* ---- PCI ---- */

static uint32_t pci_addr(unsigned bus_nr, unsigned slot, unsigned fn, unsigned reg)
{
  return PCI_CONFIG_ENABLE | bus_nr << 16 | slot << 11 | fn << 8 | reg;
}

static int cfg_writes;
static void count_cfg_write(struct pci_device *dev, uint32_t off, uint32_t len) { cfg_writes++; }

static void test_pci(void)
{
  struct pci *pci = pci__create(&bus);
  struct pci_device dev;

  CHECK(pci != NULL);
  if (!pci) return;
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 0, 0, 0), 4);
  CHECK_EQ(in(PCI_CONFIG_ADDRESS_PORT, 4), 0x80000000);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0x12378086);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT + 2, 2), 0x1237);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT + 1, 1), 0x80);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT + 3, 1), 0x12);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 0, 0, 0x08), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0x06000002);          /* host bridge, rev 2 */
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 0, 0, 0x0c), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT + 2, 1), 0);               /* header type 0 */

  /* IDs are read-only, the command register partly writable */
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 0, 0, 0), 4);
  out(PCI_CONFIG_DATA_PORT, 0, 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0x12378086);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 0, 0, 4), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 2), 0x0006);
  out(PCI_CONFIG_DATA_PORT, 0xffff, 2);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 2), 0x0407);

  /* absent functions, other buses, enable bit clear: all-ones */
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 1, 0, 0), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0xffffffff);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 0, 1, 0), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 2), 0xffff);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(1, 0, 0, 0), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0xffffffff);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 0, 0, 0) & ~PCI_CONFIG_ENABLE, 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0xffffffff);

  /* only 32-bit accesses reach the address register; 0xcf9 is not ours */
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 0, 0, 0), 4);
  outb(PCI_CONFIG_ADDRESS_PORT, 0);
  CHECK_EQ(in(PCI_CONFIG_ADDRESS_PORT, 4), 0x80000000);
  CHECK_EQ(in(PCI_CONFIG_ADDRESS_PORT, 1), 0xff);
  {
    uint8_t b = 0;
    CHECK(!iobus__access(&bus, 0xcf9, &b, 1, false));
  }

  /* a registered device: IDs, a 4 KiB memory BAR sized through its write mask, W1C status */
  pci__init_header(&dev, PCI_DEVFN(3, 0), 0x1af4, 0x1042, 1, 0x010000);
  dev.wmask[0x10] = 0x00; dev.wmask[0x11] = 0xf0; dev.wmask[0x12] = 0xff; dev.wmask[0x13] = 0xff;
  dev.cfg[PCI_CFG_STATUS + 1] = 0x20;                 /* received master abort */
  dev.cfg_write = count_cfg_write;
  CHECK_EQ(pci__register(pci, &dev), 0);
  CHECK_EQ(pci__register(pci, &dev), -EEXIST);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 3, 0, 0), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0x10421af4);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 3, 0, 0x10), 4);
  out(PCI_CONFIG_DATA_PORT, 0xffffffff, 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0xfffff000);
  out(PCI_CONFIG_DATA_PORT, 0xfebff000, 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0xfebff000);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 3, 0, 4), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT + 2, 2), 0x2000);
  out(PCI_CONFIG_DATA_PORT + 2, 0x2000, 2);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT + 2, 2), 0);
  CHECK_EQ(cfg_writes, 3);
  pci__unregister(pci, &dev);
  out(PCI_CONFIG_ADDRESS_PORT, pci_addr(0, 3, 0, 0), 4);
  CHECK_EQ(in(PCI_CONFIG_DATA_PORT, 4), 0xffffffff);

  pci__destroy(pci, &bus);
}

/* ---- ACPI PM and reset ---- */

static void test_acpi_pm(void)
{
  struct vm_stop stop = { 0 };
  struct acpi_pm *pm = acpi_pm__create(&bus, &stop);
  uint32_t t0, t1;
  uint64_t ns0, ns1;
  struct pci *pci;

  CHECK(pm != NULL);
  if (!pm) return;
  pci = pci__create(&bus);                           /* shares 0xcf8..0xcff with 0xcf9 */
  CHECK(pci != NULL);

  CHECK_EQ(in(ACPI_PM1_CNT_PORT, 2) & ACPI_PM1_CNT_SCI_EN, ACPI_PM1_CNT_SCI_EN);
  out(ACPI_PM1_CNT_PORT, 0, 2);
  CHECK_EQ(in(ACPI_PM1_CNT_PORT, 2), ACPI_PM1_CNT_SCI_EN);   /* SCI_EN sticks */
  out(ACPI_PM1_EVT_PORT + 2, 0x0121, 2);
  CHECK_EQ(in(ACPI_PM1_EVT_PORT + 2, 2), 0x0121);
  out(ACPI_PM1_EVT_PORT, 0xffff0000, 4);             /* PM1_STS 0 (no clears), PM1_EN all */
  CHECK_EQ(in(ACPI_PM1_EVT_PORT, 4), 0x07210000);
  CHECK_EQ(in(ACPI_PM1_EVT_PORT, 2), 0);

  /* PM timer: 3.579545 MHz */
  t0 = in(ACPI_PM_TMR_PORT, 4);
  ns0 = mono_ns();
  usleep(20000);
  t1 = in(ACPI_PM_TMR_PORT, 4);
  ns1 = mono_ns();
  {
    uint64_t ticks = (uint32_t)(t1 - t0), want = (ns1 - ns0) * ACPI_PM_TMR_HZ / 1000000000ULL;
    CHECK(ticks >= 20000 * ACPI_PM_TMR_HZ / 1000000 - 10);
    CHECK(ticks <= want + 400);                      /* no faster than the host clock */
  }
  CHECK(((in(ACPI_PM_TMR_PORT, 4) - t1) & 0xffffffffu) < ACPI_PM_TMR_HZ);

  /* sleep: only SLP_EN with the \_S5 type powers off */
  out(ACPI_PM1_CNT_PORT, ACPI_SLP_TYP_S5 << ACPI_PM1_CNT_SLP_TYP_SHIFT, 2);
  CHECK(!stop.requested);
  CHECK_EQ(in(ACPI_PM1_CNT_PORT, 2), ACPI_PM1_CNT_SCI_EN | ACPI_SLP_TYP_S5 << 10);
  out(ACPI_PM1_CNT_PORT, 1 << ACPI_PM1_CNT_SLP_TYP_SHIFT | ACPI_PM1_CNT_SLP_EN, 2);
  CHECK(!stop.requested);
  /* a byte write of the high half, as some guests do */
  outb(ACPI_PM1_CNT_PORT + 1, (ACPI_SLP_TYP_S5 << 2) | (ACPI_PM1_CNT_SLP_EN >> 8));
  CHECK(stop.requested);
  CHECK(!stop.reset);
  CHECK_EQ(stop.status, 0);

  /* 0xcf9: SYS_RST alone does nothing, RST_CPU resets */
  memset(&stop, 0, sizeof(stop));
  outb(ACPI_RESET_PORT, 0x02);
  CHECK(!stop.requested);
  CHECK_EQ(inb(ACPI_RESET_PORT), 0x02);
  outb(ACPI_RESET_PORT, ACPI_RESET_VALUE);
  CHECK(stop.requested && stop.reset);
  CHECK_EQ(stop.status, 0);

  pci__destroy(pci, &bus);
  acpi_pm__destroy(pm, &bus);
}

/* ---- i8042 ---- */

static void test_i8042(void)
{
  struct vm_stop stop = { 0 };
  struct irq_rec kirq, airq;
  struct irq_line kl = irq_rec_line(&kirq, I8042_KBD_IRQ), al = irq_rec_line(&airq, I8042_AUX_IRQ);
  struct i8042 *k = i8042__create(&bus, &stop, &kl, &al);

  CHECK(k != NULL);
  if (!k) return;
  CHECK_EQ(inb(I8042_CMD_PORT) & I8042_STR_OBF, 0);       /* Linux's flush ends */

  outb(I8042_CMD_PORT, I8042_CMD_SELF_TEST);
  CHECK_EQ(inb(I8042_CMD_PORT) & (I8042_STR_OBF | I8042_STR_AUXDATA), I8042_STR_OBF);
  CHECK_EQ(inb(I8042_DATA_PORT), I8042_SELF_TEST_OK);
  CHECK_EQ(inb(I8042_CMD_PORT) & I8042_STR_OBF, 0);
  CHECK(inb(I8042_CMD_PORT) & I8042_STR_SYS);

  /* command byte: read, write (ints off), port disable bits */
  outb(I8042_CMD_PORT, I8042_CMD_READ_CTR);
  CHECK_EQ(inb(I8042_DATA_PORT), 0x47);
  CHECK_EQ(kirq.raises, 2);                               /* KBDINT was on: two answers */
  CHECK_EQ(kirq.level, 0);
  outb(I8042_CMD_PORT, I8042_CMD_WRITE_CTR);
  outb(I8042_DATA_PORT, I8042_CTR_SYS | I8042_CTR_KBDDIS);
  kirq.raises = 0;
  outb(I8042_CMD_PORT, I8042_CMD_AUX_DISABLE);
  outb(I8042_CMD_PORT, I8042_CMD_READ_CTR);
  CHECK_EQ(inb(I8042_DATA_PORT), I8042_CTR_SYS | I8042_CTR_KBDDIS | I8042_CTR_AUXDIS);
  outb(I8042_CMD_PORT, I8042_CMD_AUX_ENABLE);
  outb(I8042_CMD_PORT, I8042_CMD_KBD_ENABLE);
  outb(I8042_CMD_PORT, I8042_CMD_READ_CTR);
  CHECK_EQ(inb(I8042_DATA_PORT), I8042_CTR_SYS);
  CHECK_EQ(kirq.raises + airq.raises, 0);                 /* interrupts were off */
  outb(I8042_CMD_PORT, I8042_CMD_AUX_TEST);
  CHECK_EQ(inb(I8042_DATA_PORT), 0x00);
  outb(I8042_CMD_PORT, I8042_CMD_KBD_TEST);
  CHECK_EQ(inb(I8042_DATA_PORT), 0x00);

  /* the AUX loopback Linux uses to test IRQ 12 */
  outb(I8042_CMD_PORT, I8042_CMD_WRITE_CTR);
  outb(I8042_DATA_PORT, I8042_CTR_SYS | I8042_CTR_KBDINT | I8042_CTR_AUXINT);
  outb(I8042_CMD_PORT, I8042_CMD_WRITE_AUX_OBUF);
  outb(I8042_DATA_PORT, 0x5a);
  CHECK_EQ(inb(I8042_CMD_PORT) & (I8042_STR_OBF | I8042_STR_AUXDATA),
           I8042_STR_OBF | I8042_STR_AUXDATA);
  CHECK_EQ(airq.level, 1);
  CHECK_EQ(airq.irq, I8042_AUX_IRQ);
  CHECK_EQ(kirq.level, 0);
  CHECK_EQ(inb(I8042_DATA_PORT), 0x5a);
  CHECK_EQ(airq.level, 0);
  outb(I8042_CMD_PORT, I8042_CMD_WRITE_KBD_OBUF);
  outb(I8042_DATA_PORT, 0x1c);
  CHECK_EQ(kirq.level, 1);
  CHECK_EQ(kirq.irq, I8042_KBD_IRQ);
  CHECK_EQ(inb(I8042_DATA_PORT), 0x1c);
  CHECK_EQ(kirq.level, 0);

  /* no keyboard, no mouse: a byte sent to either gets 0xfe with TIMEOUT */
  outb(I8042_DATA_PORT, 0xf2);                            /* keyboard: get ID */
  CHECK_EQ(inb(I8042_CMD_PORT) & (I8042_STR_OBF | I8042_STR_TIMEOUT | I8042_STR_AUXDATA),
           I8042_STR_OBF | I8042_STR_TIMEOUT);
  CHECK_EQ(kirq.level, 1);
  CHECK_EQ(inb(I8042_DATA_PORT), I8042_NO_DEVICE);
  outb(I8042_CMD_PORT, I8042_CMD_WRITE_AUX);
  outb(I8042_DATA_PORT, 0xff);                            /* mouse: reset */
  CHECK_EQ(inb(I8042_CMD_PORT) & (I8042_STR_OBF | I8042_STR_TIMEOUT | I8042_STR_AUXDATA),
           I8042_STR_OBF | I8042_STR_TIMEOUT | I8042_STR_AUXDATA);
  CHECK_EQ(inb(I8042_DATA_PORT), I8042_NO_DEVICE);
  CHECK_EQ(inb(I8042_CMD_PORT) & I8042_STR_OBF, 0);

  /* output port: bit 0 clear resets; so does pulsing line 0 */
  outb(I8042_CMD_PORT, I8042_CMD_WRITE_OUTPUT);
  outb(I8042_DATA_PORT, 0x03);
  CHECK(!stop.requested);
  outb(I8042_CMD_PORT, I8042_CMD_READ_OUTPUT);
  CHECK_EQ(inb(I8042_DATA_PORT), 0x03);
  outb(I8042_CMD_PORT, 0xff);                             /* pulse nothing */
  CHECK(!stop.requested);
  outb(I8042_CMD_PORT, I8042_CMD_PULSE_RESET);
  CHECK(stop.requested && stop.reset);
  memset(&stop, 0, sizeof(stop));
  outb(I8042_CMD_PORT, I8042_CMD_WRITE_OUTPUT);
  outb(I8042_DATA_PORT, 0x02);
  CHECK(stop.requested && stop.reset);

  i8042__destroy(k, &bus);
}

int main(void)
{
  iobus__init(&bus, "pio");
  test_term_escape();
  test_serial();
  test_rtc();
  test_pci();
  test_acpi_pm();
  test_i8042();
  CHECK_EQ(bus.nr, 0);                                    /* every device unregistered */
  iobus__exit(&bus);
  return test_summary();
}
