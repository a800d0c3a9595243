/* ASCII/decimal adjust (32/16-bit code only; #UD in 64-bit code, where Zydis decodes none):
 * AAA, AAS, DAA, DAS, AAM, AAD, after the SDM's pseudocode. Flags the SDM leaves undefined:
 * AAA/AAS OF SF ZF PF (left as they were), DAA/DAS OF (cleared), AAM/AAD OF AF CF (cleared). */
#include <Zydis/Zydis.h>

#include "exec.h"

static void set_flag(struct x86_cpu *cpu, uint64_t f, bool on)
{
  cpu->rflags = on ? cpu->rflags | f : cpu->rflags & ~f;
}

/* AAA (add) / AAS (subtract): AX +/- 0x106 when the low digit of AL overflowed (the SDM's
 * "AX := AX + 106H", and "AX := AX - 6; AH := AH - 1") */
static void ascii_adjust(struct x86_cpu *cpu, bool sub)
{
  uint16_t ax = (uint16_t)cpu->gpr[R_AX];
  bool adj = (ax & 0xf) > 9 || (cpu->rflags & F_AF);
  if (adj) ax = (uint16_t)(sub ? ax - 0x106 : ax + 0x106);
  set_flag(cpu, F_AF | F_CF, adj);
  reg_write(cpu, R_AX, 2, ax & 0xff0f);
}

/* DAA / DAS */
static void decimal_adjust(struct x86_cpu *cpu, bool sub)
{
  uint8_t al = (uint8_t)cpu->gpr[R_AX], old_al = al;
  bool old_cf = cpu->rflags & F_CF, cf = false, af = false;
  if ((al & 0xf) > 9 || (cpu->rflags & F_AF)) {
    cf = old_cf || (sub ? al < 6 : al > 0xf9);
    al = (uint8_t)(sub ? al - 6 : al + 6);
    af = true;
  }
  if (old_al > 0x99 || old_cf) {
    al = (uint8_t)(sub ? al - 0x60 : al + 0x60);
    cf = true;
  } else if (!sub) {
    cf = false;
  }
  reg_write(cpu, R_AX, 1, al);
  flags_szp(cpu, al, 1);
  set_flag(cpu, F_AF, af);
  set_flag(cpu, F_CF, cf);
  set_flag(cpu, F_OF, false);
}

HANDLER(bcd)
{
  uint8_t imm = in->bytes[in->len - 1];   /* AAM/AAD: the base (D4/D5 ib) */
  uint16_t ax = (uint16_t)cpu->gpr[R_AX];
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_AAA: ascii_adjust(cpu, false); return;
  case ZYDIS_MNEMONIC_AAS: ascii_adjust(cpu, true); return;
  case ZYDIS_MNEMONIC_DAA: decimal_adjust(cpu, false); return;
  case ZYDIS_MNEMONIC_DAS: decimal_adjust(cpu, true); return;
  case ZYDIS_MNEMONIC_AAM:
    if (!imm) RAISE(cpu, EXC_DE);
    ax = (uint16_t)(((ax & 0xff) / imm) << 8 | ((ax & 0xff) % imm));
    break;
  default:   /* AAD */
    ax = (uint8_t)((ax & 0xff) + (ax >> 8) * imm);
    break;
  }
  reg_write(cpu, R_AX, 2, ax);
  flags_szp(cpu, ax & 0xff, 1);
  cpu->rflags &= ~(uint64_t)(F_OF | F_AF | F_CF);
}
