/* Generators: MOV (all forms incl. imm64 and moffs), MOVZX/MOVSX/MOVSXD, LEA, XCHG, CMOVcc, SETcc,
 * BSWAP, CBW/CWDE/CDQE, CWD/CDQ/CQO, LAHF/SAHF, CLC/STC/CMC/CLD/STD, NOPs. */
#include "diff.h"

static int imm_size(int size) { return size == 1 ? 1 : size == 2 ? 2 : 4; }

static void gen_mov(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int form = (int)rn(g, 9), size = rand_size(g, 1);
  if (form == 4 || form == 6) size = 1;
  if (form == 5 || form == 7) size = rand_size(g, 0);
  asm_init(&a, g, v, size);
  switch (form) {
  case 0: case 1: case 2: case 3:
    asm_op(&a, 1, 0x88 + (form & 2) + (size > 1));
    asm_rm_any(&a, rreg(g), 50, size, 0);
    break;
  case 4: asm_op(&a, 1, 0xb0); a.opreg = rreg(g); asm_imm(&a, 1, rand_val(g)); break;
  case 5: asm_op(&a, 1, 0xb8); a.opreg = rreg(g); asm_imm(&a, size == 8 ? 8 : imm_size(size), rand_val(g)); break;
  case 6: case 7:
    asm_op(&a, 1, 0xc6 + (size > 1));
    asm_rm_any(&a, 0, 50, size, 0);
    asm_imm(&a, imm_size(size), rand_val(g));
    break;
  default: {   /* A0-A3: mov AL/rAX <-> [moffs] */
    uint64_t t = data_target(g, size);
    asm_op(&a, 1, 0xa0 + (rn(g, 2) << 1) + (size > 1));
    a.moffs = 1;
    a.m.target = t;
    a.m.pfx67 = chance(g, 25);
    poke(v, t, rand_val(g), size);
    break;
  }
  }
  asm_finish(&a);
  (void)unused;
}

static void gen_movx(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int form = (int)rn(g, 5), size = rand_size(g, 0);
  if (form == 4 && g->mode != MODE64) form = (int)rn(g, 4);   /* 63 is ARPL there */
  if (form == 4) {   /* MOVSXD (63 /r) at every size */
    asm_init(&a, g, v, size);
    asm_op(&a, 1, 0x63);
    asm_rm_any(&a, rreg(g), 40, size == 8 ? 4 : size, 0);
  } else {           /* 0F B6 MOVZX r, r/m8; B7 r, r/m16; BE MOVSX r, r/m8; BF r, r/m16 */
    static const uint8_t ops[] = {0xb6, 0xb7, 0xbe, 0xbf};
    asm_init(&a, g, v, size);
    asm_op(&a, 2, 0x0f, ops[form]);
    asm_rm_any(&a, rreg(g), 40, (form & 1) ? 2 : 1, 0);
  }
  asm_finish(&a);
  (void)unused;
}

static void gen_lea(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  asm_init(&a, g, v, rand_size(g, 0));
  asm_op(&a, 1, 0x8d);
  asm_rm_mem(&a, rreg(g), (uint64_t)(int64_t)(int32_t)rnd(g), 0, 0);
  if (chance(g, 50) && g->mode == MODE64) a.m.pfx67 = 1;
  a.no_fix = 1;   /* the address is only computed: keep the random registers */
  asm_finish(&a);
  (void)unused;
}

static void gen_xchg(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int form = (int)rn(g, 3), size = form == 0 ? 1 : rand_size(g, 0);
  asm_init(&a, g, v, size);
  if (form == 2) {   /* 90+r: XCHG rAX, r (90 itself is NOP unless REX.B) */
    asm_op(&a, 1, 0x90);
    a.opreg = rreg(g);
  } else {
    asm_op(&a, 1, 0x86 + form);
    if (chance(g, 50)) {
      asm_rm_reg(&a, rreg(g), rreg(g));
    } else if (chance(g, 50)) {
      asm_rm_locked(&a, rreg(g), size, 0);
    } else {         /* implicitly locked: keep it inside a cache line too */
      uint64_t t = data_target(g, size);
      if ((t & 63) + (uint64_t)size > 64) t -= (uint64_t)size;
      asm_rm_mem(&a, rreg(g), t, 0, 0);
    }
  }
  asm_finish(&a);
  (void)unused;
}

static void gen_cmov(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int size = rand_size(g, 0);
  asm_init(&a, g, v, size);
  asm_op(&a, 2, 0x0f, 0x40 + rn(g, 16));
  asm_rm_any(&a, rreg(g), 40, size, 0);
  asm_finish(&a);
  (void)unused;
}

static void gen_setcc(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  asm_init(&a, g, v, 1);
  asm_op(&a, 2, 0x0f, 0x90 + rn(g, 16));
  asm_rm_any(&a, chance(g, 80) ? 0 : (int)rn(g, 8), 40, 1, 0);   /* ModRM.reg is ignored */
  asm_finish(&a);
  (void)unused;
}

static void gen_bswap(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int size = chance(g, 10) ? 2 : (chance(g, 50) || g->mode != MODE64 ? 4 : 8);
  asm_init(&a, g, v, size);
  asm_op(&a, 2, 0x0f, 0xc8);
  a.opreg = rreg(g);
  asm_finish(&a);
  (void)unused;
}

/* one-byte instructions with an operand-size variant: 98 CBW/CWDE/CDQE, 99 CWD/CDQ/CQO,
 * 9E SAHF, 9F LAHF, F5 CMC, F8 CLC, F9 STC, FC CLD, FD STD */
static void gen_onebyte(struct gen *g, struct dvec *v, int which)
{
  static const uint8_t ops[] = {0x98, 0x99, 0x9e, 0x9f, 0xf5, 0xf8, 0xf9, 0xfc, 0xfd};
  struct asmb a;
  int op = which >= 0 ? ops[which] : ops[4 + rn(g, 5)];
  asm_init(&a, g, v, rand_size(g, 0));
  asm_op(&a, 1, op);
  asm_finish(&a);
}

/* NOP forms: 90, 66 90, F3 90 (PAUSE), 0F 1F /0 (multi-byte NOP: the address is not accessed) */
static void gen_nop(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int form = (int)rn(g, 3);
  asm_init(&a, g, v, form == 1 ? 2 : 4);
  if (form == 2) {
    asm_op(&a, 2, 0x0f, 0x1f);
    asm_rm_mem(&a, 0, (uint64_t)(int64_t)(int32_t)rnd(g), 0, 0);
    a.no_fix = 1;
  } else {
    if (form == 0 && chance(g, 50)) asm_prefix(&a, 0xf3);
    asm_op(&a, 1, 0x90);
    a.no_rex = 1;
  }
  asm_finish(&a);
  (void)unused;
}

const struct family families_data[] = {
    {"mov", gen_mov, 0, 6000, 500},       {"movzx/movsx/movsxd", gen_movx, 0, 4000, 400},
    {"lea", gen_lea, 0, 6000, 400},       {"xchg", gen_xchg, 0, 3000, 300},
    {"cmovcc", gen_cmov, 0, 4000, 300},   {"setcc", gen_setcc, 0, 3000, 200},
    {"bswap", gen_bswap, 0, 1500, 150},   {"cbw/cwde/cdqe", gen_onebyte, 0, 1000, 150},
    {"cwd/cdq/cqo", gen_onebyte, 1, 1000, 150}, {"sahf", gen_onebyte, 2, 1000, 100},
    {"lahf", gen_onebyte, 3, 1000, 100},  {"clc/stc/cmc/cld/std", gen_onebyte, -1, 1500, 150},
    {"nop", gen_nop, 0, 1000, 100},
    {0},
};
