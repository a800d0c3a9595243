/* Generator: memory operands at non-canonical addresses. Hardware raises #GP(0), or #SS(0) when
 * the stack segment is used (RBP-based addressing, PUSH/POP's stack side is not exercised:
 * RSP must stay canonical natively). Both sides must raise the same exception with the
 * registers and memory untouched. */
#include "diff.h"

static uint64_t noncanonical(struct gen *g)
{
  uint64_t hi = chance(g, 50) ? 0x0000800000000000ULL : 0xffff000000000000ULL;
  uint64_t lo = rnd(g) & 0x00007fffffffffffULL;
  if (chance(g, 30)) lo = chance(g, 50) ? 0x7ffffffffff0ULL + rn(g, 16) : rn(g, 64);
  return (hi ^ (chance(g, 50) ? 0 : 0x8000000000000000ULL)) | lo;
}

static void gen_noncanon(struct gen *g, struct dvec *v, int unused)
{
  static const uint8_t ops[][2] = {{0x8b, 0}, {0x89, 0}, {0x01, 0}, {0x39, 0}, {0xff, 6}, {0x8f, 0},
                                   {0xf7, 6}, {0x87, 0}};
  struct asmb a;
  int k = (int)rn(g, 8), size = rand_size(g, 0);
  uint64_t t = noncanonical(g);
  if (k == 4 || k == 5) {   /* PUSH/POP m: a valid stack */
    size = 8;
    v->in.gpr[RSP] = STACK_LO + rn(g, 0x40) * 8;
    poke(v, v->in.gpr[RSP], rand_val(g), 8);
  }
  asm_init(&a, g, v, size == 8 && (k == 4 || k == 5) ? 4 : size);
  asm_op(&a, 1, ops[k][0]);
  int reg = ops[k][1] || k == 4 || k == 5 || k == 6 ? ops[k][1] : rreg(g);
  asm_rm_mem(&a, reg, t, 1u << RSP, MEM_NO_RIP | MEM_NO_ADDR32 | MEM_NEED_REG);
  if (k == 6) v->in.gpr[RDX] = 0, v->in.gpr[RAX] |= 1;   /* DIV m: the fault comes first */
  asm_finish(&a);
  (void)unused;
}

const struct family families_fault[] = {
    {"non-canonical memory", gen_noncanon, 0, 3000, 0},
    {0},
};
