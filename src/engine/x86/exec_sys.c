/* System instructions: descriptor tables, control/debug registers, MSRs, CPUID, TSC, TLB. */
#include <string.h>

#include "exec.h"

static void load_dtable(struct x86_cpu *cpu, const struct x86_insn *in, struct x86_dtable *t)
{
  require_cpl0(cpu);
  uint64_t ea = insn_ea(cpu, in);
  uint16_t limit = mem_read(cpu, in->seg, ea, 2);
  uint64_t base = mem_read(cpu, in->seg, (ea + 2) & addr_mask(in->addrsize), cpu->code_bits == 64 ? 8 : 4);
  if (cpu->code_bits != 64 && in->opsize == 2) base &= 0xffffff;
  t->limit = limit;
  t->base = base;
}

static void store_dtable(struct x86_cpu *cpu, const struct x86_insn *in, const struct x86_dtable *t)
{
  uint64_t ea = insn_ea(cpu, in);
  int bsize = cpu->code_bits == 64 ? 8 : 4;
  mem_write(cpu, in->seg, ea, 2, t->limit);
  mem_write(cpu, in->seg, (ea + 2) & addr_mask(in->addrsize), bsize, t->base);
}

HANDLER(lgdt) { load_dtable(cpu, in, &cpu->gdt); }
HANDLER(lidt) { load_dtable(cpu, in, &cpu->idt); }
HANDLER(sgdt) { store_dtable(cpu, in, &cpu->gdt); }
HANDLER(sidt) { store_dtable(cpu, in, &cpu->idt); }

static void require_prot(struct x86_cpu *cpu)
{
  if (!prot_mode(cpu) || (cpu->rflags & F_VM)) RAISE(cpu, EXC_UD);
}

HANDLER(lldt)
{
  require_prot(cpu);
  require_cpl0(cpu);
  load_ldtr(cpu, (uint16_t)op_read(cpu, in, 0), EXC_GP, EXC_NP);
}

HANDLER(ltr)
{
  require_prot(cpu);
  require_cpl0(cpu);
  uint16_t sel = op_read(cpu, in, 0);
  if ((sel & ~3) == 0 || (sel & 4)) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  struct x86_seg d;
  read_descriptor(cpu, sel, &d, EXC_GP);
  bool lm = cpu->efer & EFER_LMA;
  if (d.s || (lm ? d.type != 9 : (d.type != 1 && d.type != 9))) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  if (!d.present) RAISE_ERR(cpu, EXC_NP, sel & 0xfffc);
  tss_set_busy(cpu, sel, true);
  d.type |= 2;
  cpu->tr = d;
}

HANDLER(sldt) { require_prot(cpu); op_write(cpu, in, 0, cpu->ldtr.sel); }
HANDLER(str) { require_prot(cpu); op_write(cpu, in, 0, cpu->tr.sel); }

/* LAR, LSL, VERR, VERW: may this code see selector sel (for what)? ZF says; nothing faults on a
 * bad selector. System types that LAR/LSL accept differ in long mode (SDM Vol. 2A, LAR/LSL). */
enum { SELCHK_LAR, SELCHK_LSL, SELCHK_VERR, SELCHK_VERW };

static bool selector_ok(struct x86_cpu *cpu, uint16_t sel, int what, struct x86_seg *d, uint32_t *hi)
{
  if (!peek_descriptor(cpu, sel, d, hi)) return false;
  bool lm = cpu->efer & EFER_LMA;
  if (!d->s) {
    if (what == SELCHK_VERR || what == SELCHK_VERW) return false;
    static const uint16_t lar_legacy = 0x1a3e, lar_long = 0x1a04;   /* bit t: type t allowed */
    static const uint16_t lsl_legacy = 0x0a0e, lsl_long = 0x0a04;
    uint16_t ok = what == SELCHK_LAR ? (lm ? lar_long : lar_legacy) : (lm ? lsl_long : lsl_legacy);
    if (!(ok >> d->type & 1)) return false;
  } else if (what == SELCHK_VERR && (d->type & 0xa) == 0x8) {
    return false;                                   /* execute-only code */
  } else if (what == SELCHK_VERW && (d->type & 0xa) != 0x2) {
    return false;                                   /* code, or read-only data */
  }
  bool conforming_code = d->s && (d->type & 0xc) == 0xc;
  if (!conforming_code && (d->dpl < cpu->cpl || d->dpl < (sel & 3))) return false;
  return true;
}

static void selector_check(struct x86_cpu *cpu, const struct x86_insn *in, int what)
{
  require_prot(cpu);
  if (cpu->rflags & F_VM) RAISE(cpu, EXC_UD);
  int src = (what == SELCHK_VERR || what == SELCHK_VERW) ? 0 : 1;
  uint16_t sel = (uint16_t)op_read(cpu, in, src);
  struct x86_seg d;
  uint32_t hi;
  bool ok = selector_ok(cpu, sel, what, &d, &hi);
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ZF) | (ok ? F_ZF : 0);
  if (!ok) return;
  if (what == SELCHK_LAR) op_write(cpu, in, 0, hi & 0x00f0ff00);
  else if (what == SELCHK_LSL) op_write(cpu, in, 0, d.limit);
}

HANDLER(lar) { selector_check(cpu, in, SELCHK_LAR); }
HANDLER(lsl) { selector_check(cpu, in, SELCHK_LSL); }
HANDLER(verr) { selector_check(cpu, in, SELCHK_VERR); }
HANDLER(verw) { selector_check(cpu, in, SELCHK_VERW); }

/* MOV to/from CRn and DRn (reached from exec_mov) */
HANDLER(mov_cr)
{
  require_cpl0(cpu);
  const struct x86_operand *d = &in->op[0], *s = &in->op[1];
  if (d->kind == OP_CR) {
    set_cr(cpu, d->reg, op_read(cpu, in, 1));
  } else if (s->kind == OP_CR) {
    op_write(cpu, in, 0, get_cr(cpu, s->reg));
  } else {
    int n = d->kind == OP_DR ? d->reg : s->reg;
    if (n == 4 || n == 5) n += 2;   /* aliases of DR6/DR7 when CR4.DE is clear */
    if (n > 7) RAISE(cpu, EXC_UD);
    if (d->kind == OP_DR) {
      uint64_t v = op_read(cpu, in, 1);
      if (n >= 6 && (v >> 32)) RAISE_ERR(cpu, EXC_GP, 0);
      cpu->dr[n] = n == 6 ? (v | 0xffff0ff0) : n == 7 ? ((v | 0x400) & ~0xd000ULL) : v;
    } else {
      op_write(cpu, in, 0, cpu->dr[n]);
    }
  }
}

/* A failed RDMSR/WRMSR: #GP, or a KVM_EXIT_X86_RDMSR/WRMSR when userspace asked for this kind
 * of failure (KVM_CAP_X86_USER_SPACE_MSR); the instruction then re-executes with its answer. */
static void msr_failed(struct x86_cpu *cpu, uint32_t exit_reason, uint32_t index, int r, uint64_t data)
{
  uint8_t reason = r == X86_MSR_FILTERED  ? KVM_MSR_EXIT_REASON_FILTER
                   : r == X86_MSR_UNKNOWN ? KVM_MSR_EXIT_REASON_UNKNOWN
                                          : KVM_MSR_EXIT_REASON_INVAL;
  if (!(cpu->user_msr_exits & reason)) RAISE_ERR(cpu, EXC_GP, 0);
  struct kvm_run *run = cpu->run;
  run->exit_reason = exit_reason;
  memset(&run->msr, 0, sizeof(run->msr));
  run->msr.reason = reason;
  run->msr.index = index;
  run->msr.data = data;
  cpu->pending_completion = PEND_MSR;
  longjmp(cpu->jb, JMP_EXIT);
}

static int msr_guest_get(struct x86_cpu *cpu, uint32_t index, uint64_t *v)
{
  if (cpu->vcpu_ops && cpu->vcpu_ops->msr_denied(cpu->vcpu_opaque, index, false)) return X86_MSR_FILTERED;
  return x86_msr_get(cpu, index, v);
}

static int msr_guest_set(struct x86_cpu *cpu, uint32_t index, uint64_t v)
{
  if (cpu->vcpu_ops && cpu->vcpu_ops->msr_denied(cpu->vcpu_opaque, index, true)) return X86_MSR_FILTERED;
  return x86_msr_set(cpu, index, v, false);
}

HANDLER(rdmsr)
{
  require_cpl0(cpu);
  uint32_t index = (uint32_t)cpu->gpr[R_CX];
  uint64_t v;
  if (cpu->msr_done) {   /* userspace answered the exit */
    cpu->msr_done = false;
    if (cpu->run->msr.error) RAISE_ERR(cpu, EXC_GP, 0);
    v = cpu->run->msr.data;
  } else {
    int r = msr_guest_get(cpu, index, &v);
    if (r) msr_failed(cpu, KVM_EXIT_X86_RDMSR, index, r, 0);
  }
  reg_write(cpu, R_AX, 4, v);
  reg_write(cpu, R_DX, 4, v >> 32);
}

HANDLER(wrmsr)
{
  require_cpl0(cpu);
  uint32_t index = (uint32_t)cpu->gpr[R_CX];
  uint64_t v = (uint32_t)cpu->gpr[R_AX] | (cpu->gpr[R_DX] << 32);
  if (cpu->msr_done) {
    cpu->msr_done = false;
    if (cpu->run->msr.error) RAISE_ERR(cpu, EXC_GP, 0);
    return;
  }
  int r = msr_guest_set(cpu, index, v);
  if (r) msr_failed(cpu, KVM_EXIT_X86_WRMSR, index, r, v);
}

HANDLER(cpuid)
{
  uint32_t r[4];
  x86_cpuid(cpu, (uint32_t)cpu->gpr[R_AX], (uint32_t)cpu->gpr[R_CX], r);
  reg_write(cpu, R_AX, 4, r[0]);
  reg_write(cpu, R_BX, 4, r[1]);
  reg_write(cpu, R_CX, 4, r[2]);
  reg_write(cpu, R_DX, 4, r[3]);
}

HANDLER(rdtsc)
{
  if ((cpu->cr4 & 4) && cpu->cpl) RAISE_ERR(cpu, EXC_GP, 0);   /* CR4.TSD */
  uint64_t t = x86_read_tsc(cpu);
  reg_write(cpu, R_AX, 4, t);
  reg_write(cpu, R_DX, 4, t >> 32);
}

HANDLER(rdtscp)
{
  exec_rdtsc(cpu, in);
  reg_write(cpu, R_CX, 4, cpu->tsc_aux);
}

HANDLER(invlpg)
{
  require_cpl0(cpu);
  uint64_t ea = insn_ea(cpu, in);
  uint64_t lin = cpu->code_bits == 64 ? ea + (in->seg >= S_FS ? cpu->seg[in->seg].base : 0)
                                      : (uint32_t)(cpu->seg[in->seg].base + ea);
  tlb_invlpg(cpu, lin);
}

/* INVPCID type, m128 (descriptor: PCID in bits 11:0, 63:12 reserved, linear address in 127:64).
 * The soft TLB holds only the current address space, untagged: type 0 drops the address
 * whatever the PCID, the others flush everything (invalidating more is permitted). */
HANDLER(invpcid)
{
  uint32_t r[4];
  x86_cpuid(cpu, 7, 0, r);
  if (!(r[1] & (1u << 10)) || (in->prefixes & PFX_LOCK) || in->op[1].kind != OP_MEM) RAISE(cpu, EXC_UD);
  if (cpu->rflags & F_VM) RAISE_ERR(cpu, EXC_GP, 0);
  require_cpl0(cpu);
  uint64_t type = op_read(cpu, in, 0);
  if (type > 3) RAISE_ERR(cpu, EXC_GP, 0);
  uint64_t ea = insn_ea(cpu, in);
  seg_linear(cpu, in->seg, ea, 16, ACC_READ);   /* the whole operand within the limit */
  uint64_t pcid = mem_read(cpu, in->seg, ea, 8);
  uint64_t lin = mem_read(cpu, in->seg, (ea + 8) & addr_mask(in->addrsize), 8);
  if (pcid >> 12) RAISE_ERR(cpu, EXC_GP, 0);
  bool pcide = cpu->cr4 & CR4_PCIDE;
  if (type <= 1 && !pcide && pcid) RAISE_ERR(cpu, EXC_GP, 0);
  if (type == 0) {
    if (!is_canonical(lin)) RAISE_ERR(cpu, EXC_GP, 0);
    tlb_invlpg(cpu, cpu->code_bits == 64 ? lin : (uint32_t)lin);
    return;
  }
  x86_tlb_flush(cpu);
}

HANDLER(clts) { require_cpl0(cpu); cpu->cr0 &= ~(uint64_t)CR0_TS; }

HANDLER(lmsw)
{
  require_cpl0(cpu);
  uint64_t v = op_read(cpu, in, 0) & 0xf;
  v |= cpu->cr0 & CR0_PE;   /* LMSW cannot clear PE */
  set_cr(cpu, 0, (cpu->cr0 & ~0xfULL) | v);
}

HANDLER(smsw) { op_write(cpu, in, 0, in->op[0].kind == OP_MEM ? cpu->cr0 & 0xffff : cpu->cr0); }
HANDLER(ud) { RAISE(cpu, EXC_UD); }
HANDLER(priv_nop) { require_cpl0(cpu); }

HANDLER(swapgs)
{
  require_cpl0(cpu);
  uint64_t t = cpu->seg[S_GS].base;
  cpu->seg[S_GS].base = cpu->kernel_gs_base;
  cpu->kernel_gs_base = t;
}

/* VMCALL / VMMCALL: libsoftkvm's hypercalls (KVM's and Hyper-V's). */
static void hypercall(struct x86_cpu *cpu, bool vmmcall)
{
  int r = cpu->vcpu_ops && cpu->vcpu_ops->hypercall ? cpu->vcpu_ops->hypercall(cpu->vcpu_opaque, vmmcall)
                                                    : X86_HC_UD;
  switch (r) {
  case X86_HC_DONE: return;
  case X86_HC_EXIT: cpu->exit_now = true; return;
  case X86_HC_PATCH: {   /* as KVM's emulator: a write at CS:RIP with the guest's CPL, then re-run */
    uint64_t lin = cpu->seg[S_CS].base + cpu->rip;
    if (cpu->code_bits != 64) lin &= 0xffffffff;
    lin_write(cpu, lin, 2, 0x010f, ACC_WRITE);
    lin_write(cpu, lin + 2, 1, 0xc1, ACC_WRITE);
    cpu->next_rip = cpu->rip;
    return;
  }
  }
  RAISE(cpu, EXC_UD);
}

/* KVM runs MONITOR/MWAIT as NOPs (kvm_emulate_monitor_mwait); they #UD only when the guest's
 * CPUID lacks MWAIT and userspace turned off KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS. */
static void monitor_mwait(struct x86_cpu *cpu)
{
  uint32_t r[4];
  if (!x86_quirk_disabled(cpu, KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS)) return;
  x86_cpuid(cpu, 1, 0, r);
  if (!(r[2] & (1u << 3))) RAISE(cpu, EXC_UD);
}

HANDLER(monitor) { monitor_mwait(cpu); }
HANDLER(mwait) { monitor_mwait(cpu); }

HANDLER(vmcall) { hypercall(cpu, false); }
HANDLER(vmmcall) { hypercall(cpu, true); }
