/* Generators: ADD..CMP (every form), TEST, INC/DEC/NEG/NOT, MUL/IMUL (1, 2 and 3 operands),
 * DIV/IDIV. Flag masks follow the SDM's "Flags Affected" of each instruction. */
#include "diff.h"

#define MASK_LOGIC (FL_CMP & ~FL_AF)          /* AND/OR/XOR/TEST: AF undefined */
#define MASK_MUL (FL_CF | FL_OF | FL_DF)      /* MUL/IMUL: SF ZF AF PF undefined */
#define MASK_DIV FL_DF                        /* DIV/IDIV: all arithmetic flags undefined */

static uint64_t imm_val(struct gen *g) { return rand_val(g); }

/* op: 0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP */
static void gen_alu(struct gen *g, struct dvec *v, int op)
{
  struct asmb a;
  int form = (int)rn(g, 9);
  int size = (form == 0 || form == 2 || form == 4 || form == 6) ? 1 : rand_size(g, 0);
  int lockable = (form <= 1 || form >= 6) && op != 7;
  int lock = lockable && chance(g, 20);
  int reg = rreg(g);
  asm_init(&a, g, v, size);
  switch (form) {
  case 0: case 1: case 2: case 3:
    asm_op(&a, 1, op * 8 + form);
    if (lock) asm_rm_locked(&a, reg, size, 0);
    else asm_rm_any(&a, reg, 45, size, 0);
    break;
  case 4: asm_op(&a, 1, op * 8 + 4); asm_imm(&a, 1, imm_val(g)); break;
  case 5: asm_op(&a, 1, op * 8 + 5); asm_imm(&a, size == 2 ? 2 : 4, imm_val(g)); break;
  default:
    asm_op(&a, 1, form == 6 ? 0x80 : form == 7 ? 0x81 : 0x83);
    if (lock) asm_rm_locked(&a, op, size, 0);
    else asm_rm_any(&a, op, 45, size, 0);
    asm_imm(&a, form == 7 ? (size == 2 ? 2 : 4) : 1, imm_val(g));
    break;
  }
  /* now and then an invalid LOCK (register destination, CMP, or a load form): #UD both sides */
  if (!lock && chance(g, 2)) asm_prefix(&a, 0xf0);
  asm_finish(&a);
  if (op == 1 || op == 4 || op == 6) v->flags_mask = MASK_LOGIC;
}

static void gen_test(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int form = (int)rn(g, 6), size = form % 2 == 0 ? 1 : rand_size(g, 0);
  asm_init(&a, g, v, size);
  switch (form) {
  case 0: case 1: asm_op(&a, 1, 0x84 + form); asm_rm_any(&a, rreg(g), 40, size, 0); break;
  case 2: case 3: asm_op(&a, 1, 0xa8 + form - 2); asm_imm(&a, size == 1 ? 1 : size == 2 ? 2 : 4, imm_val(g)); break;
  default:
    asm_op(&a, 1, 0xf6 + form - 4);
    asm_rm_any(&a, 0, 40, size, 0);
    asm_imm(&a, size == 1 ? 1 : size == 2 ? 2 : 4, imm_val(g));
    break;
  }
  asm_finish(&a);
  v->flags_mask = MASK_LOGIC;
  (void)unused;
}

/* digit: FE/FF /0 INC, /1 DEC; F6/F7 /2 NOT, /3 NEG */
static void gen_unary(struct gen *g, struct dvec *v, int digit)
{
  struct asmb a;
  int size = rand_size(g, 1);
  asm_init(&a, g, v, size);
  asm_op(&a, 1, (digit < 2 ? 0xfe : 0xf6) + (size > 1));
  if (chance(g, 20)) asm_rm_locked(&a, digit, size, 0);
  else asm_rm_any(&a, digit, 40, size, 0);
  asm_finish(&a);
}

static uint64_t with_garbage(struct gen *g, uint64_t val, int size)
{
  uint64_t m = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
  return (rnd(g) & ~m) | (val & m);
}

static int64_t sx(uint64_t v, int size)
{
  int sh = 64 - size * 8;
  return sh ? (int64_t)(v << sh) >> sh : (int64_t)v;
}

/* digit: F6/F7 /4 MUL, /5 IMUL, /6 DIV, /7 IDIV. For DIV/IDIV most dividends are chosen so the
 * quotient fits; the rest are random (#DE on both sides, or neither). */
static void gen_muldiv(struct gen *g, struct dvec *v, int digit)
{
  struct asmb a;
  int size = rand_size(g, 1);
  uint64_t m = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
  uint32_t avoid = (1u << RAX) | (1u << RDX);
  asm_init(&a, g, v, size);
  asm_op(&a, 1, 0xf6 + (size > 1));
  int rm = -1;
  uint64_t divisor = rand_val(g) & m;
  if (chance(g, 40)) {
    uint64_t t = data_target(g, size);
    asm_rm_mem(&a, digit, t, avoid, 0);
    if (digit >= 6 && chance(g, 97) && !divisor) divisor = 1;
    poke(v, t, divisor, size);
  } else {
    static const int regs8[] = {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15};
    if (size > 1) rm = rreg(g);
    else rm = g->mode == MODE64 ? regs8[rn(g, 12)] : (int)rn(g, 4);   /* never AH..BH */
    asm_rm_reg(&a, digit, rm);
    if (digit >= 6 && chance(g, 97) && !divisor) divisor = 1;
    v->in.gpr[rm] = with_garbage(g, divisor, size);
  }
  if (digit >= 6 && chance(g, 80) && rm != RAX && rm != RDX) {
    uint64_t lo = rand_val(g) & m, hi;
    if (digit == 6) hi = divisor ? (rnd(g) & m) % divisor : 0;
    else hi = chance(g, 70) ? (sx(lo, size) < 0 ? m : 0) : (rand_val(g) & m);
    if (digit == 7 && chance(g, 50)) {   /* a dividend near the limit: q * d + r */
      int64_t q = sx(rand_val(g), size), d = sx(divisor, size);
      __int128 n = (__int128)q * d;
      lo = (uint64_t)n & m;
      hi = (uint64_t)(n >> (size * 8)) & m;
    }
    if (size == 1) {
      v->in.gpr[RAX] = with_garbage(g, (hi << 8) | lo, 2);
    } else {
      v->in.gpr[RAX] = with_garbage(g, lo, size);
      v->in.gpr[RDX] = with_garbage(g, hi, size);
    }
  }
  asm_finish(&a);
  v->flags_mask = digit >= 6 ? MASK_DIV : MASK_MUL;
}

/* 0: IMUL r, r/m (0F AF); 1: IMUL r, r/m, imm32/16 (69); 2: IMUL r, r/m, imm8 (6B) */
static void gen_imul_n(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int form = (int)rn(g, 3), size = rand_size(g, 0);
  asm_init(&a, g, v, size);
  if (form == 0) asm_op(&a, 2, 0x0f, 0xaf);
  else asm_op(&a, 1, form == 1 ? 0x69 : 0x6b);
  asm_rm_any(&a, rreg(g), 40, size, 0);
  if (form == 1) asm_imm(&a, size == 2 ? 2 : 4, imm_val(g));
  if (form == 2) asm_imm(&a, 1, imm_val(g));
  asm_finish(&a);
  v->flags_mask = MASK_MUL;
  (void)unused;
}

const struct family families_alu[] = {
    {"add", gen_alu, 0, 6000, 400},   {"or", gen_alu, 1, 4000, 400},     {"adc", gen_alu, 2, 6000, 400},
    {"sbb", gen_alu, 3, 6000, 400},   {"and", gen_alu, 4, 4000, 400},    {"sub", gen_alu, 5, 6000, 400},
    {"xor", gen_alu, 6, 4000, 400},   {"cmp", gen_alu, 7, 5000, 400},    {"test", gen_test, 0, 4000, 400},
    {"inc", gen_unary, 0, 3000, 400}, {"dec", gen_unary, 1, 3000, 400},  {"not", gen_unary, 2, 2000, 200},
    {"neg", gen_unary, 3, 3000, 300}, {"mul", gen_muldiv, 4, 4000, 400}, {"imul", gen_muldiv, 5, 4000, 400},
    {"imul2/3", gen_imul_n, 0, 5000, 400}, {"div", gen_muldiv, 6, 6000, 500}, {"idiv", gen_muldiv, 7, 6000, 500},
    {0},
};
