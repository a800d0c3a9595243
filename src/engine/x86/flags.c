/* RFLAGS arithmetic: computed eagerly from operands and result. */
#include "engine.h"

static bool parity(uint64_t v)
{
  return !__builtin_parity((unsigned)(v & 0xff));
}

void flags_szp(struct x86_cpu *cpu, uint64_t res, int size)
{
  res &= size_mask(size);
  uint64_t f = cpu->rflags & ~(uint64_t)(F_ZF | F_SF | F_PF);
  f |= (uint64_t)(res == 0) << 6;                        /* ZF */
  f |= ((res >> (size * 8 - 1)) & 1) << 7;               /* SF */
  f |= (uint64_t)parity(res) << 2;                       /* PF */
  cpu->rflags = f;
}

void flags_logic(struct x86_cpu *cpu, uint64_t res, int size)
{
  cpu->rflags &= ~(uint64_t)F_ARITH;
  flags_szp(cpu, res, size);
}

void flags_add(struct x86_cpu *cpu, uint64_t a, uint64_t b, uint64_t carry, int size)
{
  uint64_t m = size_mask(size);
  a &= m, b &= m;
  uint64_t res = (a + b + carry) & m;
  int top = size * 8 - 1;
  cpu->rflags &= ~(uint64_t)F_ARITH;
  if (res < a || (carry && res == a)) cpu->rflags |= F_CF;
  if ((((a ^ res) & (b ^ res)) >> top) & 1) cpu->rflags |= F_OF;
  if ((a ^ b ^ res) & 0x10) cpu->rflags |= F_AF;
  flags_szp(cpu, res, size);
}

void flags_sub(struct x86_cpu *cpu, uint64_t a, uint64_t b, uint64_t borrow, int size)
{
  uint64_t m = size_mask(size);
  a &= m, b &= m;
  uint64_t res = (a - b - borrow) & m;
  int top = size * 8 - 1;
  cpu->rflags &= ~(uint64_t)F_ARITH;
  if (a < b || (borrow && a == b)) cpu->rflags |= F_CF;
  if ((((a ^ b) & (a ^ res)) >> top) & 1) cpu->rflags |= F_OF;
  if ((a ^ b ^ res) & 0x10) cpu->rflags |= F_AF;
  flags_szp(cpu, res, size);
}

bool cond_true(struct x86_cpu *cpu, int cc)
{
  uint64_t f = cpu->rflags;
  bool r;
  switch (cc >> 1) {
  case 0: r = f & F_OF; break;
  case 1: r = f & F_CF; break;
  case 2: r = f & F_ZF; break;
  case 3: r = (f & F_CF) || (f & F_ZF); break;
  case 4: r = f & F_SF; break;
  case 5: r = f & F_PF; break;
  case 6: r = !!(f & F_SF) != !!(f & F_OF); break;
  default: r = (f & F_ZF) || (!!(f & F_SF) != !!(f & F_OF)); break;
  }
  return (cc & 1) ? !r : r;
}

/* Writes the bits of mask from v, keeping bit 1 set and reserved bits clear. */
void set_rflags(struct x86_cpu *cpu, uint64_t v, uint64_t mask)
{
  cpu->rflags = ((cpu->rflags & ~mask) | (v & mask)) & 0x3f7fd5;
  cpu->rflags |= 2;
}
