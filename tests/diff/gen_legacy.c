/* Generators for instructions of 32- and 16-bit code only: one-byte INC/DEC (40-4F). */
#include "diff.h"

/* 40+r INC r16/32, 48+r DEC r16/32 */
static void gen_incdec1(struct gen *g, struct dvec *v, int dec)
{
  struct asmb a;
  asm_init(&a, g, v, rand_size(g, 0));
  asm_op(&a, 1, dec ? 0x48 : 0x40);
  a.opreg = rreg(g);
  asm_finish(&a);
}

const struct family families_legacy[] = {
    {"inc r (40+r)", gen_incdec1, 0, 0, 1000}, {"dec r (48+r)", gen_incdec1, 1, 0, 1000},
    {0},
};
