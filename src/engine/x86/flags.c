/* RFLAGS arithmetic: computed eagerly from operands and result. */
#include "engine.h"

/* PF for each low byte: set when the number of 1 bits is even */
static const uint8_t parity_pf[256] = {
#define P2(n) n, n ^ F_PF, n ^ F_PF, n
#define P4(n) P2(n), P2(n ^ F_PF), P2(n ^ F_PF), P2(n)
#define P6(n) P4(n), P4(n ^ F_PF), P4(n ^ F_PF), P4(n)
  P6(F_PF), P6(0), P6(0), P6(F_PF)
#undef P2
#undef P4
#undef P6
};

/* ZF, SF and PF of res (masked to size); returns them, the caller merges */
static inline uint64_t szp(uint64_t res, int size)
{
  res &= size_mask(size);
  return ((uint64_t)(res == 0) << 6) | (((res >> (size * 8 - 1)) & 1) << 7) | parity_pf[res & 0xff];
}

void flags_szp(struct x86_cpu *cpu, uint64_t res, int size)
{
  cpu->rflags = (cpu->rflags & ~(uint64_t)(F_ZF | F_SF | F_PF)) | szp(res, size);
}

void flags_logic(struct x86_cpu *cpu, uint64_t res, int size)
{
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ARITH) | szp(res, size);
}

void flags_add(struct x86_cpu *cpu, uint64_t a, uint64_t b, uint64_t carry, int size)
{
  uint64_t m = size_mask(size);
  a &= m, b &= m;
  uint64_t res = (a + b + carry) & m;
  int top = size * 8 - 1;
  uint64_t f = szp(res, size);
  f |= (uint64_t)(res < a || (carry && res == a));             /* CF */
  f |= ((((a ^ res) & (b ^ res)) >> top) & 1) << 11;            /* OF */
  f |= (a ^ b ^ res) & F_AF;
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ARITH) | f;
}

void flags_sub(struct x86_cpu *cpu, uint64_t a, uint64_t b, uint64_t borrow, int size)
{
  uint64_t m = size_mask(size);
  a &= m, b &= m;
  uint64_t res = (a - b - borrow) & m;
  int top = size * 8 - 1;
  uint64_t f = szp(res, size);
  f |= (uint64_t)(a < b || (borrow && a == b));                /* CF */
  f |= ((((a ^ b) & (a ^ res)) >> top) & 1) << 11;              /* OF */
  f |= (a ^ b ^ res) & F_AF;
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ARITH) | f;
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
