/* The vCPU side of the in-kernel irqchip: the engine hooks (struct x86_irq_ops: MMIO and port
 * I/O of the LAPIC, IOAPIC, PIC and PIT, INTA, HLT, the APIC MSRs, CR8), INIT/SIPI and the
 * multiprocessing state (KVM's kvm_apic_accept_events), KVM_GET/SET_LAPIC and KVM_GET/SET_MP_STATE. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "irqchip.h"

#define MSR_IA32_APICBASE 0x1b
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define POLL_NS 10000000ULL   /* a blocked vCPU looks at run->immediate_exit this often */

/* waits on l->wake for at most POLL_NS */
static void wait_a_while(struct skvm_lapic *l)
{
  uint64_t t = irq_now_ns() + POLL_NS;
  struct timespec ts = { .tv_sec = t / 1000000000ULL, .tv_nsec = t % 1000000000ULL };
  pthread_cond_timedwait(&l->wake, &l->chip->lock, &ts);
}

/* userspace wants the vCPU back: immediate_exit, or a signal KVM_RUN must return EINTR for */
static bool immediate_exit(const struct skvm_lapic *l)
{
  const struct x86_cpu *c = l->cpu;
  if (c->vcpu_ops) return c->vcpu_ops->poll(c->vcpu_opaque);
  return __atomic_load_n(&c->run->immediate_exit, __ATOMIC_RELAXED);
}

/* ---- engine hooks (opaque: the vCPU's struct skvm_lapic) ---- */
static bool hook_mmio(void *o, uint64_t gpa, void *data, int len, bool write)
{
  struct skvm_lapic *l = o;
  struct skvm_irqchip *chip = l->chip;
  bool handled = true;
  uint64_t apic = l->cpu->apic_base & 0x3ffffffff000ULL;
  pthread_mutex_lock(&chip->lock);
  if (gpa - apic < 0x1000) lapic_mmio_locked(l, (uint32_t)(gpa - apic), data, len, write);
  else if (gpa - chip->ioapic.base_address < 0x100)
    ioapic_mmio_locked(chip, gpa - chip->ioapic.base_address, data, len, write);
  else handled = false;
  pthread_mutex_unlock(&chip->lock);
  return handled;
}

static bool hook_pio(void *o, uint16_t port, void *data, int len, bool write)
{
  struct skvm_lapic *l = o;
  struct skvm_irqchip *chip = l->chip;
  bool pic = (port & ~1) == 0x20 || (port & ~1) == 0xa0 || (port & ~1) == 0x4d0;
  bool pit = (port >= 0x40 && port <= 0x43) || port == 0x61;
  if (!pic && !pit) return false;
  uint8_t v = write ? *(uint8_t *)data : 0;
  bool handled = true;
  pthread_mutex_lock(&chip->lock);
  if (pic) {
    if (len == 1) pic_pio_locked(chip, port, &v, write);   /* wider accesses: ignored, read 0 */
  } else {
    handled = pit_pio_locked(chip, port, &v, write);
  }
  pthread_mutex_unlock(&chip->lock);
  if (handled && !write) {
    memset(data, 0, len);
    *(uint8_t *)data = v;
  }
  return handled;
}

static bool pic_pending(const struct skvm_lapic *l)
{
  return l->chip->pic_output && lapic_accepts_pic(l);
}

/* kvm_cpu_get_interrupt: the PIC (ExtINT) first, then the LAPIC */
static int hook_ack(void *o)
{
  struct skvm_lapic *l = o;
  pthread_mutex_lock(&l->chip->lock);
  int v = pic_pending(l) ? pic_read_irq_locked(l->chip) : lapic_ack_locked(l);
  if (v >= 0) pit_ack_locked(l->chip, v);
  if (pic_pending(l) || lapic_pending_locked(l) >= 0)
    __atomic_or_fetch(&l->cpu->events, X86_EV_INTR, __ATOMIC_RELEASE);   /* more to take */
  pthread_mutex_unlock(&l->chip->lock);
  return v;
}

/* kvm_vcpu_has_events for a halted vCPU */
static bool wake_ready(struct skvm_lapic *l)
{
  uint32_t ev = __atomic_load_n(&l->cpu->events, __ATOMIC_ACQUIRE);
  if ((ev & X86_EV_REQ) || ((ev & X86_EV_NMI) && !l->cpu->nmi_blocked)) return true;
  if (!(l->cpu->rflags & F_IF)) return false;
  return pic_pending(l) || lapic_pending_locked(l) >= 0;
}

static bool hook_halt(void *o)
{
  struct skvm_lapic *l = o;
  bool ok = true;
  pthread_mutex_lock(&l->chip->lock);
  while (!wake_ready(l)) {
    if (immediate_exit(l)) {
      ok = false;
      break;
    }
    wait_a_while(l);
  }
  pthread_mutex_unlock(&l->chip->lock);
  return ok;
}

static bool is_x2apic_msr(uint32_t index) { return index >= X2APIC_MSR_FIRST && index <= X2APIC_MSR_LAST; }

static int hook_msr_get(void *o, uint32_t index, uint64_t *val)
{
  struct skvm_lapic *l = o;
  int r = 0;
  if (index == MSR_IA32_APICBASE) {
    *val = l->cpu->apic_base;
    return 0;
  }
  if (index != MSR_IA32_TSC_DEADLINE && !is_x2apic_msr(index)) return X86_MSR_UNHANDLED;
  pthread_mutex_lock(&l->chip->lock);
  if (index == MSR_IA32_TSC_DEADLINE) *val = lapic_get_tsc_deadline_locked(l);
  else r = x2apic_msr_read_locked(l, index, val);
  pthread_mutex_unlock(&l->chip->lock);
  return r;
}

static int hook_msr_set(void *o, uint32_t index, uint64_t val, bool host)
{
  struct skvm_lapic *l = o;
  int r = 0;
  if (index != MSR_IA32_APICBASE && index != MSR_IA32_TSC_DEADLINE && !is_x2apic_msr(index))
    return X86_MSR_UNHANDLED;
  pthread_mutex_lock(&l->chip->lock);
  if (index == MSR_IA32_APICBASE) r = lapic_set_base_locked(l, val, host);
  else if (index == MSR_IA32_TSC_DEADLINE) lapic_set_tsc_deadline_locked(l, val);
  else r = x2apic_msr_write_locked(l, index, val);
  pthread_mutex_unlock(&l->chip->lock);
  return r;
}

static uint64_t hook_get_cr8(void *o)
{
  struct skvm_lapic *l = o;
  pthread_mutex_lock(&l->chip->lock);
  uint64_t v = (lapic_reg(l, APIC_TASKPRI) >> 4) & 0xf;
  pthread_mutex_unlock(&l->chip->lock);
  return v;
}

static void hook_set_cr8(void *o, uint64_t v)
{
  struct skvm_lapic *l = o;
  pthread_mutex_lock(&l->chip->lock);
  lapic_set_tpr_locked(l, (uint32_t)(v & 0xf) << 4);
  pthread_mutex_unlock(&l->chip->lock);
}

static const struct x86_irq_ops irq_ops = {
  .mmio = hook_mmio, .pio = hook_pio, .ack = hook_ack, .halt = hook_halt,
  .msr_get = hook_msr_get, .msr_set = hook_msr_set, .get_cr8 = hook_get_cr8, .set_cr8 = hook_set_cr8,
};

/* ---- vCPU life cycle ---- */
int irqchip_vcpu_attach(struct skvm_vcpu *v)
{
  struct skvm_irqchip *chip = v->vm->irqchip;
  struct skvm_lapic *l = lapic_new(chip, v);
  if (!l) return -ENOMEM;
  pthread_mutex_lock(&chip->lock);
  chip->lapics[chip->nlapics++] = l;
  lapic_reset_locked(l, false);
  l->mp_state = v->id == (int)v->vm->bsp_vcpu_id ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED;
  pthread_mutex_unlock(&chip->lock);
  v->lapic = l;
  v->cpu.irq_ops = &irq_ops;
  v->cpu.irq_opaque = l;
  return 0;
}

void irqchip_vcpu_detach(struct skvm_vcpu *v)
{
  struct skvm_lapic *l = v->lapic;
  if (!l) return;
  struct skvm_irqchip *chip = l->chip;
  pthread_mutex_lock(&chip->lock);
  for (int i = 0; i < chip->nlapics; i++) {
    if (chip->lapics[i] == l) {
      chip->lapics[i] = chip->lapics[--chip->nlapics];
      break;
    }
  }
  pthread_mutex_unlock(&chip->lock);
  pthread_cond_destroy(&l->wake);
  free(l);
  v->lapic = NULL;
  v->cpu.irq_ops = NULL;
}

/* kvm_vcpu_reset(vcpu, init_event = true): the reset state, keeping the MSRs INIT keeps */
static void init_reset_locked(struct skvm_lapic *l)
{
  struct x86_cpu *c = l->cpu;
  uint64_t apic_base = c->apic_base, pat = c->pat, misc = c->misc_enable, def = c->mtrr_def_type;
  uint64_t fixed[11], var[16];
  memcpy(fixed, c->mtrr_fixed, sizeof(fixed));
  memcpy(var, c->mtrr_var, sizeof(var));
  x86_cpu_reset(c);
  c->apic_base = apic_base, c->pat = pat, c->misc_enable = misc, c->mtrr_def_type = def;
  memcpy(c->mtrr_fixed, fixed, sizeof(fixed));
  memcpy(c->mtrr_var, var, sizeof(var));
  c->nmi_blocked = false;
  __atomic_and_fetch(&c->events, ~X86_EV_NMI, __ATOMIC_ACQ_REL);
  lapic_reset_locked(l, true);
}

/* kvm_apic_accept_events, then (an AP waiting for its SIPI) blocks until it can run. Returns -1
 * when userspace wants the vCPU back (run->immediate_exit). */
int irqchip_vcpu_accept_events(struct skvm_vcpu *v)
{
  struct skvm_lapic *l = v->lapic;
  int r = 0;
  pthread_mutex_lock(&l->chip->lock);
  for (;;) {
    if (l->init_pending) {
      l->init_pending = false;
      init_reset_locked(l);
      l->mp_state = (l->cpu->apic_base & APICBASE_BSP) ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_INIT_RECEIVED;
    }
    if (l->sipi_pending) {
      l->sipi_pending = false;
      if (l->mp_state == KVM_MP_STATE_INIT_RECEIVED) {   /* real mode at vector:0000 */
        struct x86_cpu *c = l->cpu;
        c->seg[S_CS].sel = (uint16_t)(l->sipi_vector << 8);
        c->seg[S_CS].base = (uint64_t)l->sipi_vector << 12;
        c->rip = 0;
        l->mp_state = KVM_MP_STATE_RUNNABLE;
      }
    }
    if (l->mp_state != KVM_MP_STATE_UNINITIALIZED && l->mp_state != KVM_MP_STATE_INIT_RECEIVED) break;
    if (immediate_exit(l)) {
      r = -1;
      break;
    }
    wait_a_while(l);
  }
  __atomic_and_fetch(&l->cpu->events, ~X86_EV_REQ, __ATOMIC_ACQ_REL);
  pthread_mutex_unlock(&l->chip->lock);
  return r;
}

static long set_mp_state_locked(struct skvm_lapic *l, uint32_t st)
{
  switch (st) {
  case KVM_MP_STATE_RUNNABLE:
  case KVM_MP_STATE_HALTED:
    l->mp_state = KVM_MP_STATE_RUNNABLE;
    l->cpu->halted = st == KVM_MP_STATE_HALTED;
    return 0;
  case KVM_MP_STATE_UNINITIALIZED:
  case KVM_MP_STATE_INIT_RECEIVED:
    l->mp_state = st;
    l->cpu->halted = false;
    return 0;
  case KVM_MP_STATE_SIPI_RECEIVED:   /* waiting to start at sipi_vector */
    l->mp_state = KVM_MP_STATE_INIT_RECEIVED;
    l->sipi_pending = true;
    l->cpu->halted = false;
    return 0;
  }
  return -EINVAL;
}

/* KVM_GET/SET_LAPIC, KVM_GET/SET_MP_STATE of a vCPU with a LAPIC */
long irqchip_vcpu_ioctl(struct skvm_vcpu *v, unsigned long req, void *arg)
{
  struct skvm_lapic *l = v->lapic;
  long r = 0;
  pthread_mutex_lock(&l->chip->lock);
  switch (req) {
  case KVM_GET_LAPIC: lapic_get_state_locked(l, arg); break;
  case KVM_SET_LAPIC: r = lapic_set_state_locked(l, arg); break;
  case KVM_GET_MP_STATE: {
    uint32_t st = l->mp_state;
    if (st == KVM_MP_STATE_RUNNABLE && l->cpu->halted) st = KVM_MP_STATE_HALTED;
    ((struct kvm_mp_state *)arg)->mp_state = st;
    break;
  }
  case KVM_SET_MP_STATE: r = set_mp_state_locked(l, ((struct kvm_mp_state *)arg)->mp_state); break;
  default: r = -EINVAL;
  }
  pthread_mutex_unlock(&l->chip->lock);
  return r;
}
