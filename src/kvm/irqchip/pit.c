/* The i8254 PIT (arch/x86/kvm/i8254.c): ports 0x40-0x43, and port 0x61 (channel 2's gate, the
 * speaker bit, OUT2) when KVM_CREATE_PIT2 asks for KVM_PIT_SPEAKER_DUMMY. Counters are computed
 * from the host monotonic clock at 1.193182 MHz; channel 0 pulses GSI 0 from the VM's timer thread
 * (modes 2 and 3 periodically, 0, 1 and 4 once). Missed ticks are dropped, not reinjected. */
#include <errno.h>
#include <stdlib.h>

#include "irqchip.h"

#define PIT_FREQ 1193182ULL
#define MIN_PERIOD_NS 200000ULL   /* KVM's min_timer_period_us */
enum { RW_LSB = 1, RW_MSB = 2, RW_WORD0 = 3, RW_WORD1 = 4 };

/* PIT ticks since the count was loaded */
static uint64_t elapsed_ticks(const struct kvm_pit_channel_state *c)
{
  int64_t ns = (int64_t)irq_now_ns() - c->count_load_time;
  if (ns < 0) ns = 0;
  return (uint64_t)((unsigned __int128)ns * PIT_FREQ / 1000000000ULL);
}

static uint32_t get_count(const struct kvm_pit_channel_state *c)
{
  uint64_t d = elapsed_ticks(c);
  switch (c->mode) {
  case 0: case 1: case 4: case 5: return (c->count - d) & 0xffff;
  case 3: return c->count - (2 * d) % c->count;   /* counts down by two */
  default: return c->count - d % c->count;
  }
}

static int get_out(const struct kvm_pit_channel_state *c)
{
  uint64_t d = elapsed_ticks(c);
  switch (c->mode) {
  default:
  case 0: return d >= c->count;
  case 1: return d < c->count;
  case 2: return d % c->count == 0 && d != 0;
  case 3: return d % c->count < (c->count + 1) >> 1;
  case 4: case 5: return d == c->count;
  }
}

static void load_count(struct skvm_irqchip *chip, int ch, uint32_t val)
{
  struct skvm_pit *p = chip->pit;
  struct kvm_pit_channel_state *c = &p->st.channels[ch];
  if (!val) val = 0x10000;
  c->count = val;
  c->count_load_time = (int64_t)irq_now_ns();
  if (ch != 0) return;
  p->ch0_due = p->ch0_period = 0;
  p->pending = 0, p->in_flight = 0;   /* ticks owed by the old count are dropped */
  if (c->mode > 4) return;   /* mode 5 (hardware-triggered strobe), or not programmed */
  uint64_t ns = (uint64_t)val * 1000000000ULL / PIT_FREQ;
  if (c->mode == 2 || c->mode == 3) {
    if (ns < MIN_PERIOD_NS) ns = MIN_PERIOD_NS;
    p->ch0_period = ns;
  }
  p->ch0_due = (uint64_t)c->count_load_time + ns;
  timer_kick_locked(chip);
}

#define REINJECT_MAX 1000           /* ticks owed at most; beyond, the guest is resynchronised */
#define ACK_TIMEOUT_NS 1000000000ULL  /* an edge never taken (IRQ 0 masked) stops blocking */

enum { PIT_VIA_PIC = 1, PIT_VIA_IOAPIC = 2 };

/* The paths on which IRQ 0 can reach a CPU now (GSI 0 goes to PIC IRQ 0 and IOAPIC pin 0). */
static uint8_t pit_paths(const struct skvm_irqchip *chip)
{
  return (chip->pic[0].imr & 1 ? 0 : PIT_VIA_PIC) |
         (chip->ioapic.redirtbl[0].fields.mask ? 0 : PIT_VIA_IOAPIC);
}

static void pit_inject_locked(struct skvm_irqchip *chip, uint64_t now)
{
  struct skvm_pit *p = chip->pit;
  if (p->in_flight || !p->pending) return;
  p->pending--;
  p->in_flight = pit_paths(chip);   /* 0 when both are masked: nobody takes it, no wait */
  p->in_flight_since = now;
  irq_set_locked(chip, 0, IRQ_SRC_PIT, true);
  irq_set_locked(chip, 0, IRQ_SRC_PIT, false);
}

void pit_expire_locked(struct skvm_irqchip *chip, uint64_t now)
{
  struct skvm_pit *p = chip->pit;
  /* the guest masked the path the unacknowledged tick took (moving IRQ 0 from the PIC to the
   * IOAPIC, say): it will never be acknowledged, so stop waiting for it, as KVM's mask
   * notifier does */
  p->in_flight &= pit_paths(chip);
  if (p->in_flight && now - p->in_flight_since > ACK_TIMEOUT_NS) p->in_flight = 0, p->pending = 0;
  p->pending++;
  if (!p->ch0_period) {
    p->ch0_due = 0;
  } else {
    p->ch0_due += p->ch0_period;
    if (p->ch0_due <= now) {   /* late: owe the ticks in between too */
      uint64_t missed = (now - p->ch0_due) / p->ch0_period + 1;
      p->ch0_due += missed * p->ch0_period;
      p->pending = missed + p->pending > REINJECT_MAX ? REINJECT_MAX : p->pending + (uint32_t)missed;
    }
    if (p->pending > REINJECT_MAX) p->pending = REINJECT_MAX;
  }
  pit_inject_locked(chip, now);
}

void pit_ack_locked(struct skvm_irqchip *chip, int vector)
{
  struct skvm_pit *p = chip->pit;
  if (!p || !p->in_flight) return;
  const struct kvm_ioapic_state *io = &chip->ioapic;
  bool via_pic = vector == chip->pic[0].irq_base;
  bool via_ioapic = !io->redirtbl[0].fields.mask && vector == io->redirtbl[0].fields.vector;
  if (!via_pic && !via_ioapic) return;
  p->in_flight = 0;
  pit_inject_locked(chip, irq_now_ns());
}

static void latch_count(struct kvm_pit_channel_state *c)
{
  if (c->count_latched) return;
  c->latched_count = get_count(c);
  c->count_latched = c->rw_mode;
}

static void latch_status(struct kvm_pit_channel_state *c)
{
  if (c->status_latched) return;
  c->status = (get_out(c) << 7) | (c->rw_mode << 4) | (c->mode << 1) | c->bcd;
  c->status_latched = 1;
}

static void write_control(struct kvm_pit_state2 *st, uint8_t val)
{
  int ch = val >> 6;
  if (ch == 3) {   /* read-back: bit 5 clear latches counts, bit 4 clear latches status */
    for (ch = 0; ch < 3; ch++) {
      if (!(val & (2 << ch))) continue;
      if (!(val & 0x20)) latch_count(&st->channels[ch]);
      if (!(val & 0x10)) latch_status(&st->channels[ch]);
    }
    return;
  }
  struct kvm_pit_channel_state *c = &st->channels[ch];
  int access = (val >> 4) & 3;
  if (!access) {
    latch_count(c);
    return;
  }
  c->rw_mode = c->read_state = c->write_state = access;
  c->mode = (val >> 1) & 7;
  if (c->mode > 5) c->mode -= 4;   /* 6, 7 alias 2, 3 */
  c->bcd = val & 1;
}

static void write_counter(struct skvm_irqchip *chip, int ch, uint8_t val)
{
  struct kvm_pit_channel_state *c = &chip->pit->st.channels[ch];
  switch (c->write_state) {
  default:
  case RW_LSB: load_count(chip, ch, val); break;
  case RW_MSB: load_count(chip, ch, (uint32_t)val << 8); break;
  case RW_WORD0: c->write_latch = val; c->write_state = RW_WORD1; break;
  case RW_WORD1: load_count(chip, ch, c->write_latch | (uint32_t)val << 8); c->write_state = RW_WORD0; break;
  }
}

static uint8_t read_counter(struct kvm_pit_channel_state *c)
{
  uint8_t ret;
  if (c->status_latched) {
    c->status_latched = 0;
    return c->status;
  }
  if (c->count_latched) {
    switch (c->count_latched) {
    default:
    case RW_LSB: ret = c->latched_count & 0xff; c->count_latched = 0; break;
    case RW_MSB: ret = c->latched_count >> 8; c->count_latched = 0; break;
    case RW_WORD0: ret = c->latched_count & 0xff; c->count_latched = RW_MSB; break;
    }
    return ret;
  }
  switch (c->read_state) {
  default:
  case RW_LSB: return get_count(c) & 0xff;
  case RW_MSB: return (get_count(c) >> 8) & 0xff;
  case RW_WORD0: c->read_state = RW_WORD1; return get_count(c) & 0xff;
  case RW_WORD1: c->read_state = RW_WORD0; return (get_count(c) >> 8) & 0xff;
  }
}

/* gate rising edge restarts counting in modes 1, 2, 3, 5 */
static void set_gate(struct kvm_pit_channel_state *c, int val)
{
  if (c->mode != 0 && c->mode != 4 && c->gate < val) c->count_load_time = (int64_t)irq_now_ns();
  c->gate = val;
}

bool pit_pio_locked(struct skvm_irqchip *chip, uint16_t port, uint8_t *val, bool write)
{
  struct skvm_pit *p = chip->pit;
  if (!p) return false;
  if (port == 0x61) {
    if (!(p->config_flags & KVM_PIT_SPEAKER_DUMMY)) return false;
    struct kvm_pit_channel_state *c2 = &p->st.channels[2];
    if (write) {
      p->speaker_data_on = (*val >> 1) & 1;
      set_gate(c2, *val & 1);
    } else {
      int refresh = (irq_now_ns() >> 14) & 1;   /* the DRAM refresh toggle */
      *val = (p->speaker_data_on << 1) | (c2->gate & 1) | (get_out(c2) << 5) | (refresh << 4);
    }
    return true;
  }
  if (port < 0x40 || port > 0x43) return false;
  int ch = port & 3;
  if (write) {
    if (ch == 3) write_control(&p->st, *val);
    else write_counter(chip, ch, *val);
  } else {
    *val = ch == 3 ? 0 : read_counter(&p->st.channels[ch]);
  }
  return true;
}

void pit_get_state_locked(struct skvm_irqchip *chip, struct kvm_pit_state2 *s)
{
  *s = chip->pit->st;
  memset(s->reserved, 0, sizeof(s->reserved));
}

void pit_set_state_locked(struct skvm_irqchip *chip, const struct kvm_pit_state2 *s)
{
  chip->pit->st = *s;
  for (int ch = 0; ch < 3; ch++) load_count(chip, ch, chip->pit->st.channels[ch].count);
}

/* kvm_create_pit + kvm_pit_reset */
int pit_create(struct skvm_irqchip *chip, uint32_t flags)
{
  struct skvm_pit *p = calloc(1, sizeof(*p));
  if (!p) return -ENOMEM;
  p->config_flags = flags;
  chip->pit = p;
  for (int ch = 0; ch < 3; ch++) {
    struct kvm_pit_channel_state *c = &p->st.channels[ch];
    c->mode = 0xff;
    c->gate = ch != 2;
    load_count(chip, ch, 0);
  }
  return 0;
}
