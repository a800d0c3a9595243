/* vCPU state ioctls beyond the registers: KVM_GET/SET_VCPU_EVENTS, KVM_GET/SET_DEBUGREGS,
 * KVM_NMI, and the kvm_run sync-regs area (KVM_CAP_SYNC_REGS), as arch/x86/kvm/x86.c does them.
 * The engine delivers exceptions and NMIs as they happen, so at an exit none is half-injected;
 * what userspace stuffs in is queued and delivered at the next entry. */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define NMI_VECTOR 2
#define SYNC_VALID (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

void vcpu_get_events(struct skvm_vcpu *v, struct kvm_vcpu_events *e)
{
  struct x86_cpu *c = &v->cpu;
  memset(e, 0, sizeof(*e));
  if (c->inject_exc >= 0) {
    e->exception.injected = 1;
    e->exception.nr = (uint8_t)c->inject_exc;
    e->exception.has_error_code = c->inject_exc_has_error;
    e->exception.error_code = c->inject_exc_error;
  }
  e->interrupt.injected = c->pending_irq >= 0;
  e->interrupt.nr = c->pending_irq >= 0 ? (uint8_t)c->pending_irq : 0;
  e->interrupt.shadow = c->shadow;
  e->nmi.pending = (__atomic_load_n(&c->events, __ATOMIC_ACQUIRE) & X86_EV_NMI) != 0;
  e->nmi.masked = c->nmi_blocked;
  e->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
}

long vcpu_set_events(struct skvm_vcpu *v, const struct kvm_vcpu_events *e)
{
  struct x86_cpu *c = &v->cpu;
  if (e->flags & ~(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR |
                   KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM))
    return -EINVAL;   /* payloads and triple-fault events are not offered (no capability) */
  if (e->exception.injected && (e->exception.nr > 31 || e->exception.nr == NMI_VECTOR)) return -EINVAL;
  if ((e->flags & KVM_VCPUEVENT_VALID_SMM) && (e->smi.smm || e->smi.pending)) return -EINVAL;   /* no SMM */
  c->inject_exc = e->exception.injected ? e->exception.nr : -1;
  c->inject_exc_has_error = e->exception.has_error_code;
  c->inject_exc_error = e->exception.error_code;
  c->pending_irq = e->interrupt.injected ? e->interrupt.nr : -1;
  if (e->flags & KVM_VCPUEVENT_VALID_SHADOW)
    c->shadow = e->interrupt.shadow & (KVM_X86_SHADOW_INT_MOV_SS | KVM_X86_SHADOW_INT_STI);
  if (e->nmi.injected || ((e->flags & KVM_VCPUEVENT_VALID_NMI_PENDING) && e->nmi.pending))
    __atomic_or_fetch(&c->events, X86_EV_NMI, __ATOMIC_ACQ_REL);
  else if (e->flags & KVM_VCPUEVENT_VALID_NMI_PENDING)
    __atomic_and_fetch(&c->events, ~X86_EV_NMI, __ATOMIC_ACQ_REL);
  c->nmi_blocked = e->nmi.masked;
  return 0;
}

void vcpu_nmi(struct skvm_vcpu *v)
{
  __atomic_or_fetch(&v->cpu.events, X86_EV_NMI, __ATOMIC_ACQ_REL);
}

void vcpu_get_debugregs(struct skvm_vcpu *v, struct kvm_debugregs *d)
{
  const struct x86_cpu *c = &v->cpu;
  memset(d, 0, sizeof(*d));
  memcpy(d->db, c->dr, sizeof(d->db));
  d->dr6 = c->dr[6];
  d->dr7 = c->dr[7];
}

long vcpu_set_debugregs(struct skvm_vcpu *v, const struct kvm_debugregs *d)
{
  struct x86_cpu *c = &v->cpu;
  if (d->flags || (d->dr6 >> 32) || (d->dr7 >> 32)) return -EINVAL;   /* kvm_dr6_valid, kvm_dr7_valid */
  memcpy(c->dr, d->db, sizeof(d->db));
  c->dr[6] = (d->dr6 | 0xffff0ff0) & ~0x1000ULL;   /* DR6 fixed-1 bits; bit 12 reads 0 */
  c->dr[7] = (d->dr7 | 0x400) & ~0xd000ULL;
  return 0;
}

/* KVM_RUN entry: the registers userspace marked dirty in kvm_run come in (sync_regs). */
long vcpu_sync_regs_in(struct skvm_vcpu *v)
{
  struct kvm_run *run = v->run;
  if ((run->kvm_valid_regs & ~SYNC_VALID) || (run->kvm_dirty_regs & ~SYNC_VALID)) return -EINVAL;
  if (run->kvm_dirty_regs & KVM_SYNC_X86_REGS) {
    vcpu_set_regs(&v->cpu, &run->s.regs.regs);
    run->kvm_dirty_regs &= ~KVM_SYNC_X86_REGS;
  }
  if (run->kvm_dirty_regs & KVM_SYNC_X86_SREGS) {
    if (vcpu_set_sregs(&v->cpu, &run->s.regs.sregs)) return -EINVAL;
    run->kvm_dirty_regs &= ~KVM_SYNC_X86_SREGS;
  }
  if (run->kvm_dirty_regs & KVM_SYNC_X86_EVENTS) {
    if (vcpu_set_events(v, &run->s.regs.events)) return -EINVAL;
    run->kvm_dirty_regs &= ~KVM_SYNC_X86_EVENTS;
  }
  return 0;
}

/* KVM_RUN exit: the registers userspace asked for go out (store_regs). */
void vcpu_sync_regs_out(struct skvm_vcpu *v)
{
  struct kvm_run *run = v->run;
  if (run->kvm_valid_regs & KVM_SYNC_X86_REGS) vcpu_get_regs(&v->cpu, &run->s.regs.regs);
  if (run->kvm_valid_regs & KVM_SYNC_X86_SREGS) vcpu_get_sregs(&v->cpu, &run->s.regs.sregs);
  if (run->kvm_valid_regs & KVM_SYNC_X86_EVENTS) vcpu_get_events(v, &run->s.regs.events);
}
