/* The local APIC (arch/x86/kvm/lapic.c): the register page, acceptance of interrupts into
 * IRR/TMR, PPR, INTA (IRR -> ISR), EOI, IPIs through the ICR (fixed, lowest priority, NMI, INIT,
 * SIPI; physical/logical destinations, shorthands), the timer (one-shot, periodic, TSC-deadline;
 * 1 ns per APIC bus cycle) whose expiries the VM's timer thread drives, and the APIC base MSR's
 * modes (disabled, xAPIC, x2APIC). x2APIC's MSR interface is x2apic.c; in that mode the page
 * holds the 32-bit x2APIC ID at APIC_ID and the 64-bit ICR at APIC_ICR, as KVM's does. */
#include <errno.h>
#include <stdlib.h>

#include "irqchip.h"

#define LVT_MASKED (1u << 16)
#define LVT_MASK 0x110ffu          /* masked, delivery status, vector */
#define LINT_MASK 0x1f7ffu         /* + delivery mode, polarity, remote IRR, trigger */
#define LVT_MODE_MASK 0x700u
#define APIC_VERSION 0x50014u      /* integrated APIC 0x14, 6 LVT entries */
#define SPIV_ENABLE (1u << 8)
#define TIMER_MODE_MASK 0x60000u
#define TIMER_PERIODIC 0x20000u
#define TIMER_TSCDEADLINE 0x40000u
#define MIN_PERIOD_NS 200000u      /* KVM's min_timer_period_us for periodic timers */

bool lapic_hw_enabled(const struct skvm_lapic *l) { return l->cpu->apic_base & APICBASE_ENABLE; }
bool lapic_x2apic_mode(const struct skvm_lapic *l) { return l->cpu->apic_base & APICBASE_EXTD; }
static bool is_reset_bsp(const struct skvm_lapic *l) { return l->vcpu->id == (int)l->vcpu->vm->bsp_vcpu_id; }
static bool sw_enabled(const struct skvm_lapic *l) { return lapic_reg(l, APIC_SPIV) & SPIV_ENABLE; }
static uint32_t timer_mode(const struct skvm_lapic *l) { return lapic_reg(l, APIC_LVTT) & TIMER_MODE_MASK; }

/* kvm_apic_accept_pic_intr: LINT0 in unmasked ExtINT mode, or the APIC hardware-disabled */
bool lapic_accepts_pic(const struct skvm_lapic *l)
{
  uint32_t lvt0 = lapic_reg(l, APIC_LVT0);
  return !lapic_hw_enabled(l) || (!(lvt0 & LVT_MASKED) && ((lvt0 >> 8) & 7) == DM_EXTINT);
}

/* ---- the 256-bit vectors ISR, TMR, IRR: eight 32-bit registers 16 bytes apart ---- */
static bool vec_test(const struct skvm_lapic *l, unsigned base, unsigned v)
{
  return (lapic_reg(l, base + (v >> 5) * 16) >> (v & 31)) & 1;
}
static void vec_set(struct skvm_lapic *l, unsigned base, unsigned v, bool on)
{
  unsigned off = base + (v >> 5) * 16;
  uint32_t w = lapic_reg(l, off);
  lapic_set_reg(l, off, on ? w | (1u << (v & 31)) : w & ~(1u << (v & 31)));
}
static int vec_highest(const struct skvm_lapic *l, unsigned base)
{
  for (int i = 7; i >= 0; i--) {
    uint32_t w = lapic_reg(l, base + i * 16);
    if (w) return i * 32 + 31 - __builtin_clz(w);
  }
  return -1;
}

static uint32_t update_ppr(struct skvm_lapic *l)
{
  uint32_t tpr = lapic_reg(l, APIC_TASKPRI) & 0xff;
  int isr = vec_highest(l, APIC_ISR);
  uint32_t isrv = isr < 0 ? 0 : (uint32_t)isr;
  uint32_t ppr = (tpr & 0xf0) >= (isrv & 0xf0) ? tpr : isrv & 0xf0;
  lapic_set_reg(l, APIC_PROCPRI, ppr);
  return ppr;
}

void lapic_kick_locked(struct skvm_lapic *l)
{
  __atomic_or_fetch(&l->cpu->events, X86_EV_INTR, __ATOMIC_RELEASE);
  pthread_cond_signal(&l->wake);
}

static void request(struct skvm_lapic *l, uint32_t ev)
{
  __atomic_or_fetch(&l->cpu->events, ev, __ATOMIC_RELEASE);
  pthread_cond_signal(&l->wake);
}

/* apic_has_interrupt_for_ppr */
int lapic_pending_locked(struct skvm_lapic *l)
{
  if (!lapic_hw_enabled(l)) return -1;
  int irr = vec_highest(l, APIC_IRR);
  if (irr < 0) return -1;
  uint32_t ppr = update_ppr(l);
  return ((uint32_t)irr & 0xf0) <= ppr ? -1 : irr;
}

static void maybe_kick(struct skvm_lapic *l)
{
  if (lapic_pending_locked(l) >= 0 || (lapic_accepts_pic(l) && l->chip->pic_output)) lapic_kick_locked(l);
}

int lapic_ack_locked(struct skvm_lapic *l)
{
  int v = lapic_pending_locked(l);
  if (v < 0) return -1;
  vec_set(l, APIC_IRR, v, false);
  vec_set(l, APIC_ISR, v, true);
  update_ppr(l);
  return v;
}

/* __apic_accept_irq: 1 if accepted, 0 if not */
static int accept(struct skvm_lapic *l, const struct apic_irq *irq)
{
  switch (irq->dm) {
  case DM_FIXED:
  case DM_LOWEST:
    if (!sw_enabled(l) || !lapic_hw_enabled(l)) return 0;
    vec_set(l, APIC_TMR, irq->vector, irq->trig);
    vec_set(l, APIC_IRR, irq->vector, true);
    maybe_kick(l);
    return 1;
  case DM_NMI:
    request(l, X86_EV_NMI);
    return 1;
  case DM_INIT:
    if (irq->trig && !irq->level) return 0;   /* level de-assert: ignored */
    l->init_pending = true;
    l->sipi_pending = false;
    request(l, X86_EV_REQ);
    return 1;
  case DM_SIPI:
    l->sipi_vector = irq->vector;
    l->sipi_pending = true;
    pthread_cond_signal(&l->wake);
    return 1;
  }
  return 0;   /* SMI, ExtINT (the PIC reaches LINT0 through lapic_accepts_pic) */
}

/* kvm_apic_match_dest. An x2APIC target's broadcast is 0xffffffff; KVM's broadcast quirk (off
 * with KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK) widens a non-IPI message's 0xff to it. */
static bool match_dest(const struct skvm_lapic *t, const struct skvm_lapic *src, const struct apic_irq *irq)
{
  switch (irq->shorthand) {
  case 1: return t == src;
  case 2: return true;
  case 3: return t != src;
  }
  bool x2 = lapic_x2apic_mode(t);
  uint32_t mda = irq->dest;
  if (!src && mda == 0xff && x2 && !(t->vcpu->vm->x2apic_api & KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK))
    mda = 0xffffffffu;
  if (mda == (x2 ? 0xffffffffu : 0xffu)) return true;
  if (!irq->logical) {
    /* an ID that xAPIC cannot encode matches the x2APIC ID (KVM's hotplug rule) */
    if (x2 || mda > 0xff) return mda == (uint32_t)t->vcpu->id;
    return mda == lapic_reg(t, APIC_ID) >> 24;
  }
  if (x2) {   /* cluster in 31:16, a bit per CPU in 15:0 */
    uint32_t ldr = lapic_reg(t, APIC_LDR);
    return (ldr >> 16) == (mda >> 16) && (ldr & mda & 0xffff) != 0;
  }
  uint32_t ldr = lapic_reg(t, APIC_LDR) >> 24;
  if ((lapic_reg(t, APIC_DFR) >> 28) == 0xf) return (ldr & irq->dest) != 0;       /* flat */
  return (ldr >> 4) == (irq->dest >> 4u) && (ldr & irq->dest & 0xf) != 0;         /* cluster */
}

/* kvm_irq_delivery_to_apic: -1 when no APIC matched, else how many accepted. Lowest priority
 * goes to the first software-enabled match. */
int lapic_deliver_locked(struct skvm_irqchip *chip, struct skvm_lapic *src, const struct apic_irq *irq)
{
  int r = -1;
  struct skvm_lapic *lowest = NULL;
  for (int i = 0; i < chip->nlapics; i++) {
    struct skvm_lapic *l = chip->lapics[i];
    if (!lapic_hw_enabled(l) || !match_dest(l, src, irq)) continue;
    if (irq->dm == DM_LOWEST) {
      if (!lowest && sw_enabled(l)) lowest = l;
      if (r < 0) r = 0;
      continue;
    }
    if (r < 0) r = 0;
    r += accept(l, irq);
  }
  if (lowest) r = accept(lowest, irq);
  return r;
}

/* ---- timer ---- */
static unsigned divide_count(const struct skvm_lapic *l)
{
  uint32_t v = lapic_reg(l, APIC_TDCR);
  return 1u << ((((v & 3) | ((v & 8) >> 1)) + 1) & 7);
}

/* (Re)arms a one-shot/periodic timer: `count` APIC cycles until the first expiry (0 or more
 * than TMICT: a full period), TMICT * divide per period. */
void lapic_restart_timer_locked(struct skvm_lapic *l, uint32_t count)
{
  uint64_t now = irq_now_ns();
  l->timer_due = 0;
  if (timer_mode(l) == TIMER_TSCDEADLINE) {
    lapic_set_tsc_deadline_locked(l, l->tsc_deadline);
    return;
  }
  uint64_t len = (uint64_t)lapic_reg(l, APIC_TMICT) * divide_count(l);
  l->timer_len = len;
  if (!len) return;
  if (timer_mode(l) == TIMER_PERIODIC && len < MIN_PERIOD_NS) l->timer_len = len = MIN_PERIOD_NS;
  uint64_t first = (uint64_t)count * divide_count(l);
  if (!first || first > len) first = len;
  l->timer_due = now + first;
  timer_kick_locked(l->chip);
}

uint32_t lapic_tmcct_locked(struct skvm_lapic *l, uint64_t now)
{
  if (timer_mode(l) == TIMER_TSCDEADLINE || !lapic_reg(l, APIC_TMICT) || !l->timer_due || !l->timer_len)
    return 0;
  uint64_t rem = l->timer_due > now ? l->timer_due - now : 0;
  return (uint32_t)((rem % l->timer_len) / divide_count(l));
}

/* Called by the timer thread once timer_due has passed. */
void lapic_timer_expire_locked(struct skvm_lapic *l, uint64_t now)
{
  uint32_t lvtt = lapic_reg(l, APIC_LVTT);
  if (lapic_hw_enabled(l) && !(lvtt & LVT_MASKED)) {
    struct apic_irq irq = { .vector = lvtt & 0xff, .dm = DM_FIXED };
    accept(l, &irq);
  }
  if (timer_mode(l) == TIMER_PERIODIC && l->timer_len) {
    l->timer_due += l->timer_len;
    if (l->timer_due <= now) l->timer_due = now + l->timer_len;   /* late: drop missed ticks */
  } else {
    l->timer_due = 0;
    if (timer_mode(l) == TIMER_TSCDEADLINE) l->tsc_deadline = 0;
  }
}

uint64_t lapic_get_tsc_deadline_locked(struct skvm_lapic *l)
{
  return timer_mode(l) == TIMER_TSCDEADLINE ? l->tsc_deadline : 0;
}

/* MSR_IA32_TSC_DEADLINE (guest TSC = host ns + tsc_offset); ignored outside TSC-deadline mode */
void lapic_set_tsc_deadline_locked(struct skvm_lapic *l, uint64_t val)
{
  if (!lapic_hw_enabled(l) || timer_mode(l) != TIMER_TSCDEADLINE) return;
  l->tsc_deadline = val;
  l->timer_due = 0;
  if (!val) return;
  uint64_t now = irq_now_ns();
  int64_t host = (int64_t)(val - (uint64_t)l->cpu->tsc_offset);
  if (host <= (int64_t)now) {
    lapic_timer_expire_locked(l, now);   /* already passed: fires at once */
    return;
  }
  l->timer_due = (uint64_t)host;
  timer_kick_locked(l->chip);
}

/* apic_update_lvtt: leaving or entering TSC-deadline mode stops the timer */
static void write_lvtt(struct skvm_lapic *l, uint32_t val)
{
  uint32_t old = timer_mode(l);
  if (!sw_enabled(l)) val |= LVT_MASKED;
  lapic_set_reg(l, APIC_LVTT, val & (LVT_MASK | TIMER_MODE_MASK));
  uint32_t mode = timer_mode(l);
  if (old != mode && (old == TIMER_TSCDEADLINE || mode == TIMER_TSCDEADLINE)) {
    l->timer_due = 0;
    l->timer_len = 0;
    l->tsc_deadline = 0;
    lapic_set_reg(l, APIC_TMICT, 0);
  } else if (mode == TIMER_PERIODIC && l->timer_len && l->timer_len < MIN_PERIOD_NS) {
    l->timer_len = MIN_PERIOD_NS;
  }
}

/* ---- registers ---- */
void lapic_set_tpr_locked(struct skvm_lapic *l, uint32_t tpr)
{
  lapic_set_reg(l, APIC_TASKPRI, tpr & 0xff);
  update_ppr(l);
  maybe_kick(l);
}

static void eoi(struct skvm_lapic *l)
{
  int v = vec_highest(l, APIC_ISR);
  if (v < 0) return;
  vec_set(l, APIC_ISR, v, false);
  update_ppr(l);
  if (vec_test(l, APIC_TMR, v)) ioapic_eoi_locked(l->chip, v);   /* level-triggered: broadcast */
  maybe_kick(l);
}

/* kvm_apic_send_ipi: the destination is ICR2's top byte, or in x2APIC mode the ICR's high half */
void lapic_send_ipi_locked(struct skvm_lapic *l, uint32_t lo, uint32_t hi)
{
  struct apic_irq irq = {
    .vector = lo & 0xff, .dm = (lo >> 8) & 7, .logical = lo & (1u << 11), .level = lo & (1u << 14),
    .trig = lo & (1u << 15), .shorthand = (lo >> 18) & 3,
    .dest = lapic_x2apic_mode(l) ? hi : hi >> 24,
  };
  lapic_deliver_locked(l->chip, l, &irq);
}

/* kvm_lapic_reg_write: 0, or 1 for a write x2APIC refuses (read-only, reserved, xAPIC-only) */
int lapic_reg_write_locked(struct skvm_lapic *l, unsigned off, uint32_t val)
{
  bool x2 = lapic_x2apic_mode(l);
  switch (off) {
  case APIC_ID:
    if (x2) return 1;
    lapic_set_reg(l, APIC_ID, val & 0xff000000u);
    break;
  case APIC_TASKPRI: lapic_set_tpr_locked(l, val); break;
  case APIC_EOI: eoi(l); break;
  case APIC_LDR:
    if (x2) return 1;
    lapic_set_reg(l, APIC_LDR, val & 0xff000000u);
    break;
  case APIC_DFR:
    if (x2) return 1;
    lapic_set_reg(l, APIC_DFR, val | 0x0fffffffu);
    break;
  case APIC_SPIV:
    lapic_set_reg(l, APIC_SPIV, val & 0x3ff);
    if (!(val & SPIV_ENABLE)) {   /* software disable masks every LVT */
      for (unsigned r = APIC_LVTT; r <= APIC_LVTERR; r += 0x10)
        lapic_set_reg(l, r, lapic_reg(l, r) | LVT_MASKED);
    }
    maybe_kick(l);
    break;
  case APIC_ICR:   /* xAPIC (MMIO) only: x2APIC's 64-bit ICR is x2apic.c's */
    val &= ~(1u << 12);   /* delivered at once: never busy */
    lapic_set_reg(l, APIC_ICR, val);
    lapic_send_ipi_locked(l, val, lapic_reg(l, APIC_ICR2));
    break;
  case APIC_ICR2:
    if (x2) return 1;
    lapic_set_reg(l, APIC_ICR2, val & 0xff000000u);
    break;
  case APIC_LVT0:
  case APIC_LVT1:
  case APIC_LVTTHMR:
  case APIC_LVTPC:
  case APIC_LVTERR: {
    if (!sw_enabled(l)) val |= LVT_MASKED;
    uint32_t mask = off == APIC_LVT0 || off == APIC_LVT1 ? LINT_MASK
                    : off == APIC_LVTERR ? LVT_MASK : LVT_MASK | LVT_MODE_MASK;
    lapic_set_reg(l, off, val & mask);
    if (off == APIC_LVT0) maybe_kick(l);   /* ExtINT unmasked: a pending PIC interrupt */
    break;
  }
  case APIC_LVTT: write_lvtt(l, val); break;
  case APIC_TMICT:
    if (timer_mode(l) == TIMER_TSCDEADLINE) break;
    lapic_set_reg(l, APIC_TMICT, val);
    lapic_restart_timer_locked(l, val);
    break;
  case APIC_TDCR: lapic_set_reg(l, APIC_TDCR, val & 0xb); break;
  case APIC_ESR:   /* nothing is latched; x2APIC wants 0 written */
    if (x2 && val) return 1;
    break;
  case APIC_SELF_IPI: {
    if (!x2 || (val & ~0xffu)) return 1;
    struct apic_irq irq = { .vector = val & 0xff, .dm = DM_FIXED, .shorthand = 1 };
    lapic_deliver_locked(l->chip, l, &irq);
    break;
  }
  default: return 1;   /* read-only and reserved registers (CMCI: not offered) */
  }
  return 0;
}

/* kvm_lapic_reg_read's valid registers: ARBPRI and ICR2 are xAPIC-only */
bool lapic_reg_readable(const struct skvm_lapic *l, unsigned off)
{
  if (off >= APIC_ISR && off < APIC_ESR) return true;   /* ISR, TMR, IRR */
  switch (off) {
  case APIC_ID: case APIC_LVR: case APIC_TASKPRI: case APIC_PROCPRI: case APIC_LDR:
  case APIC_DFR: case APIC_SPIV: case APIC_ESR: case APIC_ICR: case APIC_LVTT:
  case APIC_LVTTHMR: case APIC_LVTPC: case APIC_LVT0: case APIC_LVT1: case APIC_LVTERR:
  case APIC_TMICT: case APIC_TMCCT: case APIC_TDCR:
    return true;
  case APIC_ARBPRI: case APIC_ICR2:
    return !lapic_x2apic_mode(l);
  }
  return false;
}

uint32_t lapic_reg_read_locked(struct skvm_lapic *l, unsigned off)
{
  if (!lapic_reg_readable(l, off)) return 0;
  switch (off) {
  case APIC_ARBPRI: return 0;
  case APIC_TMCCT: return lapic_tmcct_locked(l, irq_now_ns());
  case APIC_PROCPRI: return update_ppr(l);
  }
  return lapic_reg(l, off);
}

/* apic_mmio_read/write: 32-bit aligned writes only; reads of 1, 2 or 4 bytes inside a register.
 * A hardware-disabled APIC, or one in x2APIC mode, reads all ones and ignores writes (KVM's
 * LAPIC_MMIO_HOLE quirk). */
void lapic_mmio_locked(struct skvm_lapic *l, uint32_t off, void *data, int len, bool write)
{
  if (!lapic_hw_enabled(l) || lapic_x2apic_mode(l)) {
    if (!write) memset(data, 0xff, len);
    return;
  }
  if (write) {
    uint32_t v;
    if (len != 4 || (off & 0xf) || off > 0x3f0) return;
    memcpy(&v, data, 4);
    lapic_reg_write_locked(l, off, v);
    return;
  }
  memset(data, 0, len);
  unsigned align = off & 0xf;
  if (align + len > 4 || off > 0x3f0) return;
  uint32_t v = lapic_reg_read_locked(l, off & ~0xfu);
  memcpy(data, (uint8_t *)&v + align, len);
}

static bool guest_has_x2apic(struct skvm_lapic *l)
{
  uint32_t r[4];
  x86_cpuid(l->cpu, 1, 0, r);
  return r[2] >> 21 & 1;
}

/* kvm_set_apic_base + kvm_lapic_set_base: reserved bits (EXTD too without CPUID's x2APIC) and
 * EXTD without ENABLE fail; the guest may not go x2APIC -> xAPIC or disabled -> x2APIC (the host
 * may). Enabling resets the xAPIC ID; entering x2APIC mode sets the x2APIC ID and its LDR. */
int lapic_set_base_locked(struct skvm_lapic *l, uint64_t val, bool host)
{
  uint64_t rsvd = 0x2ffULL | ~((1ULL << 46) - 1) | (guest_has_x2apic(l) ? 0 : APICBASE_EXTD);
  if ((val & rsvd) || (val & (APICBASE_ENABLE | APICBASE_EXTD)) == APICBASE_EXTD) return -1;
  uint64_t old = l->cpu->apic_base;
  if (!host) {
    if ((old & APICBASE_EXTD) && (val & (APICBASE_ENABLE | APICBASE_EXTD)) == APICBASE_ENABLE) return -1;
    if (!(old & APICBASE_ENABLE) && (val & APICBASE_EXTD)) return -1;
  }
  l->cpu->apic_base = val;
  if (((old ^ val) & APICBASE_ENABLE) && (val & APICBASE_ENABLE))
    lapic_set_reg(l, APIC_ID, (uint32_t)l->vcpu->id << 24);
  if (((old ^ val) & APICBASE_EXTD) && (val & APICBASE_EXTD)) {
    lapic_set_reg(l, APIC_ID, (uint32_t)l->vcpu->id);
    lapic_set_reg(l, APIC_LDR, x2apic_ldr((uint32_t)l->vcpu->id));
  }
  if ((old ^ val) & APICBASE_ENABLE) maybe_kick(l);
  return 0;
}

/* kvm_lapic_reset; INIT keeps the APIC base and ID */
void lapic_reset_locked(struct skvm_lapic *l, bool init)
{
  if (!init) {
    l->cpu->apic_base = APIC_DEFAULT_BASE | APICBASE_ENABLE | (is_reset_bsp(l) ? APICBASE_BSP : 0);
    memset(l->regs, 0, sizeof(l->regs));
    lapic_set_reg(l, APIC_ID, (uint32_t)l->vcpu->id << 24);
  }
  l->timer_due = l->timer_len = l->tsc_deadline = 0;
  lapic_set_reg(l, APIC_LVR, APIC_VERSION);
  for (unsigned r = APIC_LVTT; r <= APIC_LVTERR; r += 0x10) lapic_set_reg(l, r, LVT_MASKED);
  if (is_reset_bsp(l)) lapic_set_reg(l, APIC_LVT0, DM_EXTINT << 8);   /* KVM_X86_QUIRK_LINT0_REENABLED */
  lapic_set_reg(l, APIC_DFR, 0xffffffffu);
  lapic_set_reg(l, APIC_SPIV, 0xff);
  lapic_set_reg(l, APIC_TASKPRI, 0);
  if (!lapic_x2apic_mode(l)) lapic_set_reg(l, APIC_LDR, 0);   /* x2APIC's follows the ID */
  lapic_set_reg(l, APIC_ESR, 0);
  lapic_set_reg(l, APIC_ICR, 0);
  if (lapic_x2apic_mode(l)) lapic_set_reg(l, APIC_ICR + 4, 0);   /* the 64-bit ICR's high half */
  else lapic_set_reg(l, APIC_ICR2, 0);
  lapic_set_reg(l, APIC_TDCR, 0);
  lapic_set_reg(l, APIC_TMICT, 0);
  for (int i = 0; i < 8; i++) {
    lapic_set_reg(l, APIC_IRR + i * 16, 0);
    lapic_set_reg(l, APIC_ISR + i * 16, 0);
    lapic_set_reg(l, APIC_TMR + i * 16, 0);
  }
  update_ppr(l);
}

/* KVM_GET_LAPIC: the page, with TMCCT holding the current count (x2APIC: in the xAPIC layout) */
void lapic_get_state_locked(struct skvm_lapic *l, struct kvm_lapic_state *s)
{
  memcpy(s->regs, l->regs, sizeof(s->regs));
  uint32_t tmcct = lapic_tmcct_locked(l, irq_now_ns());
  memcpy(s->regs + APIC_TMCCT, &tmcct, 4);
  x2apic_state_fixup(l, s, false);
}

/* KVM_SET_LAPIC (kvm_apic_set_state): the timer restarts from the image's TMCCT */
int lapic_set_state_locked(struct skvm_lapic *l, const struct kvm_lapic_state *in)
{
  struct kvm_lapic_state st = *in, *s = &st;
  if (x2apic_state_fixup(l, s, true)) return -EINVAL;
  memcpy(l->regs, s->regs, sizeof(l->regs));
  lapic_set_reg(l, APIC_LVR, APIC_VERSION);
  uint32_t tmcct = lapic_reg(l, APIC_TMCCT);
  lapic_set_reg(l, APIC_TMCCT, 0);
  update_ppr(l);
  lapic_restart_timer_locked(l, tmcct);
  maybe_kick(l);
  return 0;
}

struct skvm_lapic *lapic_new(struct skvm_irqchip *chip, struct skvm_vcpu *vcpu)
{
  struct skvm_lapic *l = calloc(1, sizeof(*l));
  if (!l) return NULL;
  l->chip = chip;
  l->vcpu = vcpu;
  l->cpu = &vcpu->cpu;
  irq_cond_init(&l->wake);
  return l;
}
