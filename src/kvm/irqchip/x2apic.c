/* x2APIC mode of the local APIC (arch/x86/kvm/lapic.c: kvm_x2apic_msr_read/write,
 * kvm_x2apic_icr_write, kvm_apic_state_fixup): MSR 0x800 + n is register n << 4; the ID is the
 * vCPU's full APIC ID and read-only, the LDR follows from it, there is no DFR, ICR2 or ARBPRI,
 * the ICR is one 64-bit register (destination in bits 63:32) and SELF_IPI is write-only. A refused
 * access is #GP. KVM_GET/SET_LAPIC keep the xAPIC layout: ID in bits 31:24 (unless
 * KVM_X2APIC_API_USE_32BIT_IDS), the ICR split into ICR and ICR2. */
#include "irqchip.h"

#define ICR_BUSY (1u << 12)
#define X2APIC_ICR_RSVD 0xfff32000ULL   /* bits 31:20, 17:16, 13 */

uint32_t x2apic_ldr(uint32_t id) { return (id >> 4) << 16 | 1u << (id & 0xf); }

/* the 64-bit ICR lives at APIC_ICR, its high half where xAPIC has nothing (APIC_ICR + 4) */
uint64_t x2apic_icr(const struct skvm_lapic *l)
{
  return lapic_reg(l, APIC_ICR) | (uint64_t)lapic_reg(l, APIC_ICR + 4) << 32;
}

void x2apic_set_icr(struct skvm_lapic *l, uint64_t icr)
{
  lapic_set_reg(l, APIC_ICR, (uint32_t)icr);
  lapic_set_reg(l, APIC_ICR + 4, (uint32_t)(icr >> 32));
}

int x2apic_msr_read_locked(struct skvm_lapic *l, uint32_t msr, uint64_t *val)
{
  unsigned reg = (msr - X2APIC_MSR_FIRST) << 4;
  if (!lapic_x2apic_mode(l) || reg == APIC_DFR) return -1;
  if (reg == APIC_ICR) {
    *val = x2apic_icr(l);
    return 0;
  }
  if (!lapic_reg_readable(l, reg)) return -1;
  *val = lapic_reg_read_locked(l, reg);
  return 0;
}

int x2apic_msr_write_locked(struct skvm_lapic *l, uint32_t msr, uint64_t val)
{
  unsigned reg = (msr - X2APIC_MSR_FIRST) << 4;
  if (!lapic_x2apic_mode(l)) return -1;
  if (reg == APIC_ICR) {
    if (val & X2APIC_ICR_RSVD) return -1;
    val &= ~(uint64_t)ICR_BUSY;   /* delivered at once */
    lapic_send_ipi_locked(l, (uint32_t)val, (uint32_t)(val >> 32));
    x2apic_set_icr(l, val);
    return 0;
  }
  if (val >> 32) return -1;   /* every other register is 32 bits wide */
  return lapic_reg_write_locked(l, reg, (uint32_t)val) ? -1 : 0;
}

/* kvm_apic_state_fixup: converts s between KVM_GET/SET_LAPIC's layout and ours. -1 (EINVAL)
 * when, with 32-bit IDs, the image's ID is not the vCPU's. */
int x2apic_state_fixup(struct skvm_lapic *l, struct kvm_lapic_state *s, bool set)
{
  if (!lapic_x2apic_mode(l)) return 0;
  uint32_t id, icr_hi;
  memcpy(&id, s->regs + APIC_ID, 4);
  if (l->vcpu->vm->x2apic_api & KVM_X2APIC_API_USE_32BIT_IDS) {
    if (id != (uint32_t)l->vcpu->id) return -1;
  } else {
    id = set ? id >> 24 : id << 24;
  }
  memcpy(s->regs + APIC_ID, &id, 4);
  if (set) {   /* the LDR follows the ID; ICR2 becomes the ICR's high half */
    uint32_t ldr = x2apic_ldr(id);
    memcpy(s->regs + APIC_LDR, &ldr, 4);
    memcpy(&icr_hi, s->regs + APIC_ICR2, 4);
    memcpy(s->regs + APIC_ICR + 4, &icr_hi, 4);
  } else {
    memcpy(&icr_hi, s->regs + APIC_ICR + 4, 4);
    memcpy(s->regs + APIC_ICR2, &icr_hi, 4);
  }
  return 0;
}
