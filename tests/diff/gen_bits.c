/* Generators: BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT/POPCNT, SHLD/SHRD, XADD, CMPXCHG,
 * CMPXCHG8B/16B, MOVBE, XLAT, ADCX/ADOX, and the VEX-encoded BMI1/BMI2 integer instructions. */
#include <cpuid.h>

#include "diff.h"

static uint64_t with_garbage(struct gen *g, uint64_t val, int size)
{
  uint64_t m = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
  return (rnd(g) & ~m) | (val & m);
}

/* r/m source operand holding val (40% memory); returns the register, or -1 for memory */
static int rm_src(struct asmb *a, int reg, int size, uint64_t val, uint32_t avoid)
{
  if (chance(a->g, 40)) {
    uint64_t t = data_target(a->g, size);
    asm_rm_mem(a, reg, t, avoid, 0);
    poke(a->v, t, val, size);
    return -1;
  }
  int rm;
  do rm = rreg(a->g); while (avoid >> rm & 1);
  asm_rm_reg(a, reg, rm);
  a->v->in.gpr[rm] = with_garbage(a->g, val, size);
  return rm;
}

static uint64_t src_val(struct gen *g) { return chance(g, 15) ? 0 : rand_val(g); }

/* digit 4 BT, 5 BTS, 6 BTR, 7 BTC: 0F BA /digit ib, or 0F A3/AB/B3/BB r/m, r (the register bit
 * offset reaches beyond the addressed operand, signed) */
static void gen_bt(struct gen *g, struct dvec *v, int digit)
{
  static const uint8_t rr[] = {0xa3, 0xab, 0xb3, 0xbb};
  struct asmb a;
  int size = rand_size(g, 0), reg = rreg(g);
  int lock = digit != 4 && chance(g, 20);
  asm_init(&a, g, v, size);
  int imm_form = chance(g, 50);
  if (imm_form) {
    asm_op(&a, 2, 0x0f, 0xba);
    asm_imm(&a, 1, chance(g, 80) ? rn(g, 70) : rnd(g));
    reg = digit;
  } else {
    asm_op(&a, 2, 0x0f, rr[digit - 4]);
  }
  if (chance(g, 40) || lock) {
    uint64_t t = DATA_BASE + 0x900 + rn(g, 0xa00);
    if (lock) t &= ~(uint64_t)(size - 1);
    asm_rm_mem(&a, reg, t, 1u << reg, 0);
    if (lock) asm_prefix(&a, 0xf0);
    if (!imm_form) {   /* register bit offset: keep the access in the buffer */
      int64_t off = (int64_t)rn(g, 0x6000) - 0x3000;
      v->in.gpr[reg] = with_garbage(g, (uint64_t)off, size);
    }
  } else {
    asm_rm_reg(&a, reg, rreg(g));
  }
  asm_finish(&a);
  v->flags_mask = FL_CF | FL_ZF | FL_DF;   /* OF SF AF PF undefined, ZF unaffected */
}

/* 0 BSF, 1 BSR, 2 TZCNT, 3 LZCNT, 4 POPCNT */
static int host_lzcnt(void)
{
  unsigned a, b, c, d;
  return __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 5));
}

static void gen_bitscan(struct gen *g, struct dvec *v, int which)
{
  static const uint8_t ops[] = {0xbc, 0xbd, 0xbc, 0xbd, 0xb8};
  static const uint32_t masks[] = {FL_ZF | FL_DF, FL_ZF | FL_DF, FL_CF | FL_ZF | FL_DF,
                                   FL_CF | FL_ZF | FL_DF, FL_CMP};
  struct asmb a;
  int size = rand_size(g, 0), reg = rreg(g);
  if (which == 3 && !host_lzcnt()) which = 1;   /* without LZCNT the host runs F3 0F BD as BSR */
  asm_init(&a, g, v, size);
  if (which >= 2) asm_prefix(&a, 0xf3);
  asm_op(&a, 2, 0x0f, ops[which]);
  uint64_t val = src_val(g);
  rm_src(&a, reg, size, val, 0);
  asm_finish(&a);
  v->flags_mask = masks[which];
}

/* 0F A4/A5 SHLD, 0F AC/AD SHRD (imm8 / CL) */
static void gen_shxd(struct gen *g, struct dvec *v, int right)
{
  struct asmb a;
  int size = rand_size(g, 0), by_cl = (int)rn(g, 2);
  unsigned count = chance(g, 85) ? rn(g, 71) : (unsigned)(rnd(g) & 0xff);
  unsigned masked = count & (size == 8 ? 63 : 31);
  if (size == 2 && masked > 16) count &= ~16u, masked &= 15;   /* > 16: result undefined */
  asm_init(&a, g, v, size);
  asm_op(&a, 2, 0x0f, (right ? 0xac : 0xa4) + by_cl);
  asm_rm_any(&a, rreg(g), 35, size, by_cl ? 1u << RCX : 0);
  if (by_cl) v->in.gpr[RCX] = (v->in.gpr[RCX] & ~0xffULL) | count;
  else asm_imm(&a, 1, count);
  asm_finish(&a);
  if (masked) v->flags_mask = FL_CMP & ~FL_AF & ~(masked == 1 ? 0 : FL_OF);
}

/* 0F C0/C1 XADD, 0F B0/B1 CMPXCHG; LOCK on memory now and then */
static void gen_xadd_cmpxchg(struct gen *g, struct dvec *v, int cmpxchg)
{
  struct asmb a;
  int size = rand_size(g, 1), reg = rreg(g);
  asm_init(&a, g, v, size);
  asm_op(&a, 2, 0x0f, (cmpxchg ? 0xb0 : 0xc0) + (size > 1));
  uint64_t dst = rand_val(g);
  if (chance(g, 25)) {
    asm_rm_locked(&a, reg, size, cmpxchg ? 1u << RAX : 0);
    poke(v, a.m.target, dst, size);
  } else {
    rm_src(&a, reg, size, dst, cmpxchg ? 1u << RAX : 0);
  }
  if (cmpxchg && chance(g, 50)) v->in.gpr[RAX] = with_garbage(g, dst, size);   /* equal */
  asm_finish(&a);
}

/* 0F C7 /1 CMPXCHG8B m64, REX.W CMPXCHG16B m128 (16-byte aligned, else #GP) */
static void gen_cmpxchg_wide(struct gen *g, struct dvec *v, int wide)
{
  struct asmb a;
  int half = wide ? 8 : 4;
  uint64_t t = data_target(g, 16);
  if (wide) t = chance(g, 90) ? t & ~15ULL : t | 8;
  else if ((t & 63) + 8 > 64) t -= 8;
  asm_init(&a, g, v, wide ? 8 : 4);
  asm_op(&a, 2, 0x0f, 0xc7);
  asm_rm_mem(&a, 1, t, (1u << RAX) | (1u << RDX) | (1u << RBX) | (1u << RCX), 0);
  if (chance(g, 50)) asm_prefix(&a, 0xf0);
  uint64_t lo = rand_val(g), hi = rand_val(g);
  poke(v, t, lo, half);
  poke(v, t + (uint64_t)half, hi, half);
  if (chance(g, 50)) {
    v->in.gpr[RAX] = with_garbage(g, lo, half);
    v->in.gpr[RDX] = with_garbage(g, chance(g, 90) ? hi : hi ^ 1, half);
  }
  asm_finish(&a);
}

/* 0F 38 F0 MOVBE r, m; 0F 38 F1 MOVBE m, r */
static void gen_movbe(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int size = rand_size(g, 0);
  asm_init(&a, g, v, size);
  asm_op(&a, 3, 0x0f, 0x38, 0xf0 + rn(g, 2));
  uint64_t t = data_target(g, size);
  asm_rm_mem(&a, rreg(g), t, 0, 0);
  asm_finish(&a);
  (void)unused;
}

/* D7 XLAT: AL = [rBX + AL] */
static void gen_xlat(struct gen *g, struct dvec *v, int unused)
{
  struct asmb a;
  int pfx67 = chance(g, 20);
  asm_init(&a, g, v, rand_size(g, 0));
  asm_op(&a, 1, 0xd7);
  if (pfx67) asm_prefix(&a, 0x67);
  uint64_t bx = DATA_BASE + 0x100 + rn(g, DATA_SIZE - 0x300);
  v->in.gpr[RBX] = garbage_above(g, data_off(g, bx), addr_size(g->mode, pfx67));
  asm_finish(&a);
  (void)unused;
}

/* 66 0F 38 F6 ADCX, F3 0F 38 F6 ADOX */
static void gen_adx(struct gen *g, struct dvec *v, int adox)
{
  struct asmb a;
  int size = chance(g, 50) || g->mode != MODE64 ? 4 : 8;
  asm_init(&a, g, v, size);
  asm_prefix(&a, adox ? 0xf3 : 0x66);
  asm_op(&a, 3, 0x0f, 0x38, 0xf6);
  rm_src(&a, rreg(g), size, rand_val(g), 0);
  asm_finish(&a);
}

/* VEX-encoded BMI1/BMI2. which indexes the table; flags per the SDM. */
struct bmi {
  const char *name;
  int map, pp, op, digit;   /* digit >= 0: ModRM.reg is an opcode extension (BLSI & co) */
  int has_imm;
  uint32_t mask;
};
#define UNDEF_AP (FL_CMP & ~(FL_AF | FL_PF))
static const struct bmi bmis[] = {
    {"andn", 2, 0, 0xf2, -1, 0, UNDEF_AP},   {"bextr", 2, 0, 0xf7, -1, 0, FL_CMP & ~(FL_AF | FL_SF | FL_PF)},
    {"blsi", 2, 0, 0xf3, 3, 0, UNDEF_AP},    {"blsmsk", 2, 0, 0xf3, 2, 0, UNDEF_AP},
    {"blsr", 2, 0, 0xf3, 1, 0, UNDEF_AP},    {"bzhi", 2, 0, 0xf5, -1, 0, UNDEF_AP},
    {"pdep", 2, 3, 0xf5, -1, 0, FL_CMP},     {"pext", 2, 2, 0xf5, -1, 0, FL_CMP},
    {"rorx", 3, 3, 0xf0, -1, 1, FL_CMP},     {"sarx", 2, 2, 0xf7, -1, 0, FL_CMP},
    {"shlx", 2, 1, 0xf7, -1, 0, FL_CMP},     {"shrx", 2, 3, 0xf7, -1, 0, FL_CMP},
    {"mulx", 2, 3, 0xf6, -1, 0, FL_CMP},
};

static void gen_bmi(struct gen *g, struct dvec *v, int which)
{
  const struct bmi *b = &bmis[which];
  struct asmb a;
  int size = chance(g, 50) || g->mode != MODE64 ? 4 : 8;   /* VEX.W is ignored outside 64-bit code */
  asm_init(&a, g, v, size);
  a.vex = 1, a.vex_map = b->map, a.vex_pp = b->pp, a.vex_vvvv = rreg(g);
  if (which == 8 && chance(g, 90)) a.vex_vvvv = 0;   /* RORX: VEX.vvvv must be 1111b, else #UD */
  asm_op(&a, 1, b->op);
  asm_rm_any(&a, b->digit >= 0 ? b->digit : rreg(g), 40, size, 0);
  if (b->has_imm) asm_imm(&a, 1, rnd(g));
  if (which == 1 || which == 5) {   /* BEXTR start/len, BZHI index: mostly meaningful values */
    uint64_t c = chance(g, 80) ? (rn(g, 80) | (uint64_t)rn(g, 80) << 8) : rand_val(g);
    v->in.gpr[a.vex_vvvv] = c;
  }
  asm_finish(&a);
  v->flags_mask = b->mask;
}

const struct family families_bits[] = {
    {"bt", gen_bt, 4, 3000, 300},        {"bts", gen_bt, 5, 2000, 250},        {"btr", gen_bt, 6, 2000, 250},
    {"btc", gen_bt, 7, 2000, 250},       {"bsf", gen_bitscan, 0, 2000, 250},   {"bsr", gen_bitscan, 1, 2000, 250},
    {"tzcnt", gen_bitscan, 2, 2000, 200}, {"lzcnt", gen_bitscan, 3, 2000, 200}, {"popcnt", gen_bitscan, 4, 2000, 200},
    {"shld", gen_shxd, 0, 3000, 300},    {"shrd", gen_shxd, 1, 3000, 300},
    {"xadd", gen_xadd_cmpxchg, 0, 3000, 300}, {"cmpxchg", gen_xadd_cmpxchg, 1, 3000, 300},
    {"cmpxchg8b", gen_cmpxchg_wide, 0, 1500, 200}, {"cmpxchg16b", gen_cmpxchg_wide, 1, 1500, 0},
    {"movbe", gen_movbe, 0, 1500, 200},  {"xlat", gen_xlat, 0, 1000, 200},
    {"adcx", gen_adx, 0, 1500, 150},     {"adox", gen_adx, 1, 1500, 150},
    {"andn", gen_bmi, 0, 1000, 60},     {"bextr", gen_bmi, 1, 1500, 60},     {"blsi", gen_bmi, 2, 1000, 60},
    {"blsmsk", gen_bmi, 3, 1000, 60},   {"blsr", gen_bmi, 4, 1000, 60},      {"bzhi", gen_bmi, 5, 1500, 60},
    {"pdep", gen_bmi, 6, 1000, 60},     {"pext", gen_bmi, 7, 1000, 60},      {"rorx", gen_bmi, 8, 1000, 60},
    {"sarx", gen_bmi, 9, 1000, 60},     {"shlx", gen_bmi, 10, 1000, 60},     {"shrx", gen_bmi, 11, 1000, 60},
    {"mulx", gen_bmi, 12, 1000, 60},
    {0},
};
