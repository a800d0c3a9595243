/* RFLAGS: the parity table and set_rflags; the arithmetic helpers are inline in engine.h. */
#include "engine.h"

/* PF for each low byte: set when the number of 1 bits is even */
const uint8_t x86_parity_pf[256] = {
#define P2(n) n, n ^ F_PF, n ^ F_PF, n
#define P4(n) P2(n), P2(n ^ F_PF), P2(n ^ F_PF), P2(n)
#define P6(n) P4(n), P4(n ^ F_PF), P4(n ^ F_PF), P4(n)
  P6(F_PF), P6(0), P6(0), P6(F_PF)
#undef P2
#undef P4
#undef P6
};

/* Writes the bits of mask from v, keeping bit 1 set and reserved bits clear. */
void set_rflags(struct x86_cpu *cpu, uint64_t v, uint64_t mask)
{
  cpu->rflags = ((cpu->rflags & ~mask) | (v & mask)) & 0x3f7fd5;
  cpu->rflags |= 2;
}
