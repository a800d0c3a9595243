/* Generators: ROL/ROR/RCL/RCR/SHL/SHR/SAL(/6)/SAR by 1 (D0/D1), by CL (D2/D3) and by imm8
 * (C0/C1), with counts 0..70 and now and then any byte. */
#include "diff.h"

/* The flags the SDM defines after a shift/rotate of `size` bytes by the (unmasked) count. */
static uint32_t shift_mask(int digit, int size, unsigned count)
{
  unsigned masked = count & (size == 8 ? 63 : 31), bits = (unsigned)size * 8;
  if (!masked) return FL_CMP;                       /* no flags affected */
  uint32_t m = FL_CMP;
  if (masked != 1) m &= ~FL_OF;                     /* OF only for 1-bit shifts/rotates */
  if (digit >= SH_SHL) {
    m &= ~FL_AF;                                    /* AF undefined for a nonzero count */
    if (digit != SH_SAR && masked >= bits) m &= ~FL_CF;
  }
  return m;
}

static void gen_shift(struct gen *g, struct dvec *v, int digit)
{
  struct asmb a;
  int size = rand_size(g, 1), form = (int)rn(g, 3);
  unsigned count = chance(g, 85) ? rn(g, 71) : (unsigned)(rnd(g) & 0xff);
  uint32_t avoid = 0;
  asm_init(&a, g, v, size);
  if (form == 0) {
    asm_op(&a, 1, 0xd0 + (size > 1));
    count = 1;
  } else if (form == 1) {
    asm_op(&a, 1, 0xd2 + (size > 1));
    avoid = 1u << RCX;
  } else {
    asm_op(&a, 1, 0xc0 + (size > 1));
    asm_imm(&a, 1, count);
  }
  asm_rm_any(&a, digit, 35, size, avoid);
  if (form == 1) v->in.gpr[RCX] = (v->in.gpr[RCX] & ~0xffULL) | count;   /* CL, also if a destination */
  asm_finish(&a);
  v->flags_mask = shift_mask(digit, size, count);
}

const struct family families_shift[] = {
    {"rol", gen_shift, SH_ROL, 4000, 400}, {"ror", gen_shift, SH_ROR, 4000, 400},
    {"rcl", gen_shift, SH_RCL, 5000, 500}, {"rcr", gen_shift, SH_RCR, 5000, 500},
    {"shl", gen_shift, SH_SHL, 5000, 500}, {"shr", gen_shift, SH_SHR, 5000, 500},
    {"sal(/6)", gen_shift, SH_SAL, 1500, 150}, {"sar", gen_shift, SH_SAR, 5000, 500},
    {0},
};
