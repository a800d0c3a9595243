/* Generators for instructions that exist in 32- and 16-bit code only, or behave differently
 * there: one-byte INC/DEC (40-4F), PUSHA/POPA, AAA/AAS/DAA/DAS/AAM/AAD (AAM 0 -> #DE),
 * JCXZ/JECXZ and LOOP/LOOPE/LOOPNE by address size, Jcc/JMP/CALL rel16/32 and RET (the taken
 * target is the harness's second landing point, TAKEN_OFF past the instruction), PUSH/POP of
 * ES/CS/SS/DS, LES/LDS/LSS (selectors: the LDT's segments, null, or ones that fault). */
#include "diff.h"

/* A stack in the buffer with `room` bytes above it; returns its linear address. In 16-bit code
 * (SS.B = 0) only SP counts: garbage above it. */
static uint64_t set_stack(struct gen *g, struct dvec *v, uint32_t room)
{
  uint64_t sp = STACK_LO + (chance(g, 75) ? rn(g, 0x40) * 4 : rn(g, 0x200 - room));
  v->in.gpr[RSP] = g->mode == MODE16 ? garbage_above(g, data_off(g, sp), 2) & 0xffffffff : data_off(g, sp);
  return sp;
}

/* 40+r INC r16/32, 48+r DEC r16/32 */
static void gen_incdec1(struct gen *g, struct dvec *v, int dec)
{
  struct asmb a;
  asm_init(&a, g, v, rand_size(g, 0));
  asm_op(&a, 1, dec ? 0x48 : 0x40);
  a.opreg = rreg(g);
  asm_finish(&a);
}

/* 60 PUSHA / 61 POPA (POPA skips the saved SP) */
static void gen_pusha(struct gen *g, struct dvec *v, int pop)
{
  struct asmb a;
  int size = rand_size(g, 0);
  uint64_t sp = set_stack(g, v, 0x40);
  asm_init(&a, g, v, size);
  asm_op(&a, 1, 0x60 + pop);
  if (pop)
    for (int i = 0; i < 8; i++) poke(v, sp + (uint64_t)(i * size), rand_val(g), size);
  asm_finish(&a);
}

/* 37 AAA, 3F AAS, 27 DAA, 2F DAS, D4 ib AAM, D5 ib AAD; mostly BCD-looking AL values */
static void gen_bcd(struct gen *g, struct dvec *v, int which)
{
  static const uint8_t ops[] = {0x37, 0x3f, 0x27, 0x2f, 0xd4, 0xd5};
  static const uint32_t masks[] = {FL_CF | FL_AF | FL_DF, FL_CF | FL_AF | FL_DF, FL_CMP & ~FL_OF,
                                   FL_CMP & ~FL_OF, FL_SF | FL_ZF | FL_PF | FL_DF,
                                   FL_SF | FL_ZF | FL_PF | FL_DF};
  struct asmb a;
  asm_init(&a, g, v, rand_size(g, 0));   /* the operand size does not matter */
  asm_op(&a, 1, ops[which]);
  if (which >= 4) {   /* the base: mostly 10; AAM 0 raises #DE */
    uint32_t r = rn(g, 100);
    asm_imm(&a, 1, r < 75 ? 10 : r < 92 ? rnd(g) : r < 97 ? 16 : 0);
  }
  if (chance(g, 60)) {   /* two decimal digits, or one more than that */
    uint64_t al = rn(g, 10) << 4 | rn(g, chance(g, 80) ? 10 : 16);
    if (chance(g, 20)) al = rn(g, 256);
    v->in.gpr[RAX] = (v->in.gpr[RAX] & ~0xffULL) | al;
  }
  asm_finish(&a);
  v->flags_mask = masks[which];
}

/* E0 LOOPNE, E1 LOOPE, E2 LOOP, E3 JCXZ/JECXZ: CX or ECX by address size (67h), small counts,
 * garbage above. The LOOPs also branch back onto themselves (running until the count or ZF
 * ends them); JCXZ only forward (a loop onto itself with CX = 0 would never end). */
static void gen_loop(struct gen *g, struct dvec *v, int op)
{
  struct asmb a;
  int pfx67 = chance(g, 40), self = op != 0xe3 && chance(g, 30);
  asm_init(&a, g, v, rand_size(g, 0));
  asm_op(&a, 1, op);
  if (pfx67) asm_prefix(&a, 0x67);
  asm_imm(&a, 1, TAKEN_OFF);
  uint64_t count = chance(g, 70) ? rn(g, 4) : rn(g, 40);
  if (self) count++;   /* from 0 it would run 2^16 or 2^32 times */
  else if (chance(g, 10)) count = rand_val(g);
  v->in.gpr[RCX] = garbage_above(g, count, addr_size(g->mode, pfx67));
  asm_finish(&a);
  if (self) v->code[v->len - 1] = (uint8_t)-v->len;
}

/* 70+cc Jcc rel8, 0F 80+cc Jcc rel16/32, EB JMP rel8, E9 JMP rel16/32: all to TAKEN_OFF */
static void gen_jcc(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int size = rand_size(g, 0), form = (int)rn(g, 5), cc = (int)rn(g, 16);
  asm_init(&a, g, v, size);
  switch (form) {
  case 0: case 1: asm_op(&a, 1, 0x70 + cc); asm_imm(&a, 1, TAKEN_OFF); break;
  case 2: case 3: asm_op(&a, 2, 0x0f, 0x80 + cc); asm_imm(&a, size, TAKEN_OFF); break;
  default:
    if (chance(g, 50)) asm_op(&a, 1, 0xeb), asm_imm(&a, 1, TAKEN_OFF);
    else asm_op(&a, 1, 0xe9), asm_imm(&a, size, TAKEN_OFF);
    break;
  }
  asm_finish(&a);
  (void)unused;
}

/* E8 CALL rel16/32 (to TAKEN_OFF; pushes the offset of the next instruction), C3 RET,
 * C2 iw RET imm16 (the popped offset is one of the two landing points) */
static void gen_callret(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int size = rand_size(g, 0), form = (int)rn(g, 3);
  uint64_t sp = set_stack(g, v, 0x40);
  asm_init(&a, g, v, size);
  if (form == 0) {
    asm_op(&a, 1, 0xe8);
    asm_imm(&a, size, TAKEN_OFF);
  } else {
    asm_op(&a, 1, form == 1 ? 0xc3 : 0xc2);
    if (form == 2) asm_imm(&a, 2, chance(g, 50) ? rn(g, 16) * 2 : rnd(g));
  }
  asm_finish(&a);
  if (form) poke(v, sp, v->len + (chance(g, 50) ? TAKEN_OFF : 0), size);
  (void)unused;
}

/* segment selectors to load: the LDT's data and code segments with various RPLs, null, past
 * the LDT's limit, and in the GDT (the engine's and the host's GDT differ: only null there) */
static uint16_t rand_sel(struct gen *g)
{
  static const uint16_t sels[] = {SEL_DATA16, SEL_DATA32, SEL_DATA16, SEL_DATA32, SEL_DATA32 & ~3,
                                  SEL_DATA16 & ~1, SEL_CODE16, SEL_CODE32, 0, 3, 0x27, 0x3f};
  return sels[rn(g, sizeof(sels) / sizeof(sels[0]))];
}

/* 06/0E/16/1E PUSH ES/CS/SS/DS with 16-bit operands (a 32-bit push of a selector writes 2 or 4
 * bytes depending on the processor), 07/17/1F POP ES/SS/DS at both sizes */
static void gen_sreg(struct gen *g, struct dvec *v, int pop)
{
  static const uint8_t push_ops[] = {0x06, 0x0e, 0x16, 0x1e}, pop_ops[] = {0x07, 0x17, 0x1f};
  struct asmb a;
  uint64_t sp = set_stack(g, v, 0x10);
  int size = pop ? rand_size(g, 0) : 2;
  asm_init(&a, g, v, size);
  asm_op(&a, 1, pop ? pop_ops[rn(g, 3)] : push_ops[rn(g, 4)]);
  if (pop) poke(v, sp, garbage_above(g, rand_sel(g), 2), size);
  asm_finish(&a);
}

/* C4 LES, C5 LDS, 0F B2 LSS r, m16:16/m16:32 (memory forms only: C4/C5 with a register
 * operand are VEX) */
static void gen_lxs(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int size = rand_size(g, 0), form = (int)rn(g, 3);
  uint64_t t = data_target(g, 6);
  asm_init(&a, g, v, size);
  if (form < 2) asm_op(&a, 1, 0xc4 + form);
  else asm_op(&a, 2, 0x0f, 0xb2);
  asm_rm_mem(&a, rreg(g), t, 0, 0);
  poke(v, t, rand_val(g), size);
  poke(v, t + (uint64_t)size, rand_sel(g), 2);
  asm_finish(&a);
  (void)unused;
}

const struct family families_legacy[] = {
    {"inc r (40+r)", gen_incdec1, 0, 0, 400}, {"dec r (48+r)", gen_incdec1, 1, 0, 400},
    {"pusha", gen_pusha, 0, 0, 400},          {"popa", gen_pusha, 1, 0, 400},
    {"aaa", gen_bcd, 0, 0, 500},              {"aas", gen_bcd, 1, 0, 500},
    {"daa", gen_bcd, 2, 0, 600},              {"das", gen_bcd, 3, 0, 600},
    {"aam", gen_bcd, 4, 0, 500},              {"aad", gen_bcd, 5, 0, 500},
    {"loopne", gen_loop, 0xe0, 0, 400},       {"loope", gen_loop, 0xe1, 0, 400},
    {"loop", gen_loop, 0xe2, 0, 400},         {"jcxz/jecxz", gen_loop, 0xe3, 0, 400},
    {"jcc/jmp", gen_jcc, 0, 0, 600},          {"call/ret", gen_callret, 0, 0, 600},
    {"push sreg", gen_sreg, 0, 0, 300},       {"pop sreg", gen_sreg, 1, 0, 500},
    {"les/lds/lss", gen_lxs, 0, 0, 500},
    {0},
};
