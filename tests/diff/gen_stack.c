/* Generators: PUSH/POP (register, r/m, immediate; 64-, 32- and 16-bit), PUSHF/POPF. RSP starts
 * inside the data buffer (sometimes misaligned), so the pushed bytes are compared with the buffer. */
#include "diff.h"

#define NO_RSP (1u << RSP)

/* RSP inside the data buffer; returns its linear address. In 16-bit code (SS.B = 0) only SP is
 * the stack pointer: garbage above it. */
static uint64_t set_stack(struct gen *g, struct dvec *v)
{
  uint64_t sp = STACK_LO + (chance(g, 75) ? rn(g, 0x40) * 8 : rn(g, 0x200));
  v->in.gpr[RSP] = g->mode == MODE16 ? garbage_above(g, data_off(g, sp), 2) & 0xffffffff : data_off(g, sp);
  return sp;
}

/* The push/pop operand size: 8 (64-bit code, REX.W at random) or the default of 32/16-bit code,
 * and the other one (66h) 20% of the time. Sets up the assembler for it. */
static int stack_size(struct gen *g, struct dvec *v, struct asmb *a)
{
  int other = chance(g, 20);
  if (g->mode == MODE64) {
    asm_init(a, g, v, other ? 2 : 4);   /* 64-bit is the default: REX.W only at random */
    if (!other && chance(g, 20)) a->rex_w = 1;
    return other ? 2 : 8;
  }
  int size = (g->mode == MODE32) != other ? 4 : 2;
  asm_init(a, g, v, size);
  return size;
}

static void gen_stack(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int form = (int)rn(g, 6);
  uint64_t sp = set_stack(g, v);
  int size = stack_size(g, v, &a);
  switch (form) {
  case 0: asm_op(&a, 1, 0x50); a.opreg = rreg(g); break;
  case 1: asm_op(&a, 1, 0x58); a.opreg = rreg(g); break;
  case 2: case 3:   /* FF /6 PUSH r/m; 8F /0 POP r/m (RSP never addresses the operand) */
    asm_op(&a, 1, form == 2 ? 0xff : 0x8f);
    asm_rm_any(&a, form == 2 ? 6 : 0, 50, size, NO_RSP);
    break;
  case 4: asm_op(&a, 1, 0x6a); asm_imm(&a, 1, rand_val(g)); break;
  default: asm_op(&a, 1, 0x68); asm_imm(&a, size == 2 ? 2 : 4, rand_val(g)); break;
  }
  if (form == 1 || form == 3) poke(v, sp, rand_val(g), 8);
  asm_finish(&a);
  (void)unused;
}

/* 9C PUSHF / 9D POPF (and 66 forms). The popped image keeps IF set and IOPL 0 (CPL 3 natively
 * cannot change them, CPL 0 in the engine could), TF and AC clear. */
static void gen_pushf(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int pop = (int)rn(g, 2);
  uint64_t sp = set_stack(g, v);
  stack_size(g, v, &a);
  a.rex_w = 0;
  asm_op(&a, 1, 0x9c + pop);
  if (pop) {
    uint64_t img = (rand_val(g) & ~(uint64_t)(0x100 | 0x3000 | 0x40000 | 0x4000)) | FL_IF | 2;
    poke(v, sp, img, 8);
  }
  asm_finish(&a);
  (void)unused;
}

const struct family families_stack[] = {
    {"push/pop", gen_stack, 0, 6000, 700},
    {"pushf/popf", gen_pushf, 0, 2000, 400},
    {0},
};
