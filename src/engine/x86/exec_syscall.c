/* Fast system calls: SYSCALL/SYSRET (64-bit mode, Intel rules) and SYSENTER/SYSEXIT. */
#include "exec.h"

#define MSR_STAR_SYSCALL_CS(star) ((uint16_t)((star) >> 32))
#define MSR_STAR_SYSRET_CS(star) ((uint16_t)((star) >> 48))

/* The flat descriptors these instructions load without reading the GDT. */
static struct x86_seg flat_code(uint16_t sel, int dpl, bool long64)
{
  return (struct x86_seg){ .base = 0, .limit = 0xffffffff, .sel = sel, .type = 11, .s = 1,
                           .dpl = dpl, .present = 1, .l = long64, .db = !long64, .g = 1 };
}

static struct x86_seg flat_data(uint16_t sel, int dpl)
{
  return (struct x86_seg){ .base = 0, .limit = 0xffffffff, .sel = sel, .type = 3, .s = 1,
                           .dpl = dpl, .present = 1, .db = 1, .g = 1 };
}

HANDLER(syscall)
{
  if (cpu->code_bits != 64 || !(cpu->efer & EFER_SCE)) RAISE(cpu, EXC_UD);
  uint16_t sel = MSR_STAR_SYSCALL_CS(cpu->star);
  cpu->gpr[R_CX] = cpu->next_rip;
  cpu->gpr[11] = cpu->rflags & ~(uint64_t)F_RF;
  cpu->seg[S_CS] = flat_code(sel & 0xfffc, 0, true);
  cpu->seg[S_SS] = flat_data((sel + 8) & 0xfffc, 0);
  cpu->rflags &= ~(cpu->sfmask | F_RF);
  cpu->rflags |= 2;
  x86_cpu_update_mode(cpu);
  cpu->next_rip = cpu->lstar;
}

HANDLER(sysret)
{
  if (cpu->code_bits != 64 || !(cpu->efer & EFER_SCE)) RAISE(cpu, EXC_UD);
  require_cpl0(cpu);
  uint16_t sel = MSR_STAR_SYSRET_CS(cpu->star);
  bool to64 = in->opsize == 8;
  if (to64 && !is_canonical(cpu->gpr[R_CX])) RAISE_ERR(cpu, EXC_GP, 0);
  cpu->seg[S_CS] = flat_code((to64 ? sel + 16 : sel) | 3, 3, to64);
  cpu->seg[S_SS] = flat_data((sel + 8) | 3, 3);
  set_rflags(cpu, cpu->gpr[11], ~0ULL);
  cpu->rflags &= ~(uint64_t)(F_RF | F_VM);
  x86_cpu_update_mode(cpu);
  cpu->next_rip = to64 ? cpu->gpr[R_CX] : (uint32_t)cpu->gpr[R_CX];
}

HANDLER(sysenter)
{
  if (!prot_mode(cpu)) RAISE_ERR(cpu, EXC_GP, 0);
  uint16_t sel = cpu->sysenter_cs & 0xfffc;
  if (!sel) RAISE_ERR(cpu, EXC_GP, 0);
  bool lm = cpu->efer & EFER_LMA;
  cpu->rflags &= ~(uint64_t)(F_VM | F_IF | F_RF);
  cpu->seg[S_CS] = flat_code(sel, 0, lm);
  cpu->seg[S_SS] = flat_data(sel + 8, 0);
  x86_cpu_update_mode(cpu);
  cpu->gpr[R_SP] = lm ? cpu->sysenter_esp : (uint32_t)cpu->sysenter_esp;
  cpu->next_rip = lm ? cpu->sysenter_eip : (uint32_t)cpu->sysenter_eip;
}

HANDLER(sysexit)
{
  if (!prot_mode(cpu)) RAISE_ERR(cpu, EXC_GP, 0);
  require_cpl0(cpu);
  uint16_t base = cpu->sysenter_cs & 0xfffc;
  if (!base) RAISE_ERR(cpu, EXC_GP, 0);
  bool to64 = in->opsize == 8;
  if (to64 && (!is_canonical(cpu->gpr[R_DX]) || !is_canonical(cpu->gpr[R_CX])))
    RAISE_ERR(cpu, EXC_GP, 0);
  cpu->seg[S_CS] = flat_code((base + (to64 ? 32 : 16)) | 3, 3, to64);
  cpu->seg[S_SS] = flat_data((base + (to64 ? 40 : 24)) | 3, 3);
  x86_cpu_update_mode(cpu);
  cpu->gpr[R_SP] = to64 ? cpu->gpr[R_CX] : (uint32_t)cpu->gpr[R_CX];
  cpu->next_rip = to64 ? cpu->gpr[R_DX] : (uint32_t)cpu->gpr[R_DX];
}
