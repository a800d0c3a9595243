/* A small x86-64 assembler for the generators: legacy prefixes in random order (plus an ignored
 * segment prefix now and then), REX (also an empty one at random), opcode, ModRM with every
 * addressing form (register, [base], [base+disp8/32], SIB with and without base/index, absolute
 * disp32, RIP-relative, 67h 32-bit addressing), immediates. A memory operand is given as the
 * address it must reach; asm_finish picks the base/index register values (and the RIP-relative
 * displacement) that make it so, leaving random garbage wherever the hardware ignores bits.
 * In 32- and 16-bit code (a->mode): no REX, eight registers, the mode's default operand and
 * address sizes (66h/67h select the other), the 16-bit ModRM forms ([bx+si] ... [bx]) for 16-bit
 * addressing, and addresses are offsets from the data segment's base (DATA_BASE). */
#include <stdarg.h>
#include <string.h>

#include "diff.h"

void asm_init(struct asmb *a, struct gen *g, struct dvec *v, int opsize)
{
  memset(a, 0, sizeof(*a));
  a->g = g, a->v = v, a->opsize = opsize, a->mode = g->mode;
  a->opreg = -1;
  a->m.base = a->m.index = a->m.rm16 = -1;
}

void asm_op(struct asmb *a, int n, ...)
{
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) a->op[a->nop++] = (uint8_t)va_arg(ap, int);
  va_end(ap);
}

void asm_prefix(struct asmb *a, uint8_t p) { a->pfx[a->npfx++] = p; }

void asm_rm_reg(struct asmb *a, int reg, int rm)
{
  a->has_modrm = 1, a->reg = reg, a->rm_mem = 0, a->rm = rm;
}

void asm_imm(struct asmb *a, int size, uint64_t imm) { a->immsize = size, a->imm = imm; }

static int pick_reg(struct gen *g, uint32_t avoid, int no_rsp)
{
  for (;;) {
    int r = rreg(g);
    if (!(avoid >> r & 1) && !(no_rsp && r == RSP)) return r;
  }
}

/* 16-bit addressing: ModRM.rm 0..7 = [bx+si] [bx+di] [bp+si] [bp+di] [si] [di] [bp] [bx];
 * 8 stands for mod 00 rm 110, [disp16]. */
static const int8_t base16[8] = {RBX, RBX, RBP, RBP, RSI, RDI, RBP, RBX};
static const int8_t index16[8] = {RSI, RDI, RSI, RDI, -1, -1, -1, -1};

static void rm_mem16(struct asmb *a, uint32_t avoid, int flags)
{
  struct gen *g = a->g;
  struct mem *m = &a->m;
  int rm = 8;
  for (int tries = 0; tries < 8; tries++) {
    int r = (int)rn(g, (flags & MEM_NEED_REG) ? 8 : 9);
    if (r == 8 || (!(avoid >> base16[r] & 1) && (index16[r] < 0 || !(avoid >> index16[r] & 1)))) {
      rm = r;
      break;
    }
  }
  m->rm16 = rm, m->scale = 1;
  if (rm == 8) {
    m->dispsize = 2;
    return;
  }
  m->base = base16[rm], m->index = index16[rm];
  m->dispsize = (int)rn(g, 3);
  if (rm == 6 && m->dispsize == 0) m->dispsize = 1;   /* mod 00 rm 110 is [disp16] */
  m->disp = m->dispsize == 1 ? (int8_t)rnd(g) : m->dispsize == 2 ? (int16_t)rnd(g) : 0;
}

void asm_rm_mem(struct asmb *a, int reg, uint64_t target, uint32_t avoid, int flags)
{
  struct gen *g = a->g;
  struct mem *m = &a->m;
  a->has_modrm = 1, a->reg = reg, a->rm_mem = 1;
  m->target = target;
  m->base = m->index = m->rm16 = -1;
  m->scale = 1 << rn(g, 4);
  m->pfx67 = !(flags & MEM_NO_ADDR32) && chance(g, a->mode == MODE64 ? 15 : 35);
  if (addr_size(a->mode, m->pfx67) == 2) {
    rm_mem16(a, avoid, flags);
    return;
  }
  int form = (int)rn(g, 10);
  if (form == 0 && ((flags & MEM_NO_RIP) || a->mode != MODE64)) form = 1;   /* no RIP-relative */
  if (form <= 1 && (flags & MEM_NEED_REG)) form = 2 + (int)rn(g, 8);
  uint32_t all = a->mode == MODE64 ? 0xffef : 0xef;
  if ((avoid & all) == all && form > 1 && !(flags & MEM_NEED_REG)) form = 1;   /* no usable register */
  switch (form) {
  case 0: m->riprel = 1, m->dispsize = 4; break;
  case 1: m->dispsize = 4; break;                      /* absolute [disp32] */
  case 2: case 3: case 4:                              /* [base + disp] */
    m->base = pick_reg(g, avoid, 0);
    m->dispsize = (int)rn(g, 3);
    if (m->dispsize == 2) m->dispsize = 4;
    break;
  case 5:                                              /* [index*scale + disp32] */
    m->index = pick_reg(g, avoid, 1);
    m->dispsize = 4;
    break;
  default:                                             /* [base + index*scale + disp] */
    m->base = pick_reg(g, avoid, 0);
    m->index = pick_reg(g, avoid, 1);
    m->dispsize = (int)rn(g, 3);
    if (m->dispsize == 2) m->dispsize = 4;
    break;
  }
  if (m->base >= 0 && (m->base & 7) == 5 && m->dispsize == 0) m->dispsize = 1;   /* mod 00 = no base */
  if (m->dispsize == 1) m->disp = (int8_t)rnd(g);
  else if (m->dispsize == 4) m->disp = chance(g, 50) ? (int32_t)rnd(g) : (int64_t)rn(g, 0x2000) - 0x1000;
  if (m->index >= 0) m->disp /= 2;   /* room for fix_regs to adjust it */
}

int asm_rm_any(struct asmb *a, int reg, int mem_pct, int access_size, uint32_t avoid)
{
  if (chance(a->g, (uint32_t)mem_pct)) {
    uint64_t t = data_target(a->g, access_size);
    asm_rm_mem(a, reg, t, avoid, 0);
    poke(a->v, t, rand_val(a->g), access_size);
    return 1;
  }
  asm_rm_reg(a, reg, rreg(a->g));
  return 0;
}

/* A LOCKed memory operand: possibly misaligned, but never split across a cache line (a split
 * lock may be fatal on the host). */
void asm_rm_locked(struct asmb *a, int reg, int access_size, uint32_t avoid)
{
  uint64_t t = data_target(a->g, access_size);
  if ((t & 63) + (uint64_t)access_size > 64) t -= (uint64_t)access_size;
  asm_rm_mem(a, reg, t, avoid, 0);
  poke(a->v, t, rand_val(a->g), access_size);
  asm_prefix(a, 0xf0);
}

/* 16-bit addressing: base + index + disp == target's offset (mod 2^16), garbage above. */
static void fix_regs16(struct asmb *a)
{
  struct mem *m = &a->m;
  struct gen *g = a->g;
  uint64_t *gpr = a->v->in.gpr;
  uint64_t t = data_off(g, m->target);
  if (m->rm16 == 8) {
    m->disp = (int16_t)t;
    return;
  }
  uint64_t idx = 0;
  if (m->index >= 0) {
    idx = rand_val(g);
    gpr[m->index] = garbage_above(g, idx, 2);
  }
  gpr[m->base] = garbage_above(g, (t - (uint64_t)m->disp - idx) & 0xffff, 2);
}

/* Register values for the memory operand: base + index*scale + disp == target (mod 2^64, or
 * mod 2^32 with random upper halves under 32-bit addressing). May adjust disp (returned via m). */
static void fix_regs(struct asmb *a)
{
  struct mem *m = &a->m;
  struct gen *g = a->g;
  uint64_t *gpr = a->v->in.gpr;
  uint64_t t = data_off(g, m->target);
  int as = addr_size(a->mode, m->pfx67);
  if (as == 2) {
    fix_regs16(a);
    return;
  }
  uint64_t hi = as == 4 ? rnd(g) & 0xffffffff00000000ULL : 0;
  if (m->base == RSP || m->index == RSP) hi = 0;   /* RSP must stay canonical (see main.c) */
  uint64_t lo_mask = as == 4 ? 0xffffffffULL : ~0ULL;
  if (m->base < 0 && m->index < 0) return;
  if (m->index < 0) {
    gpr[m->base] = hi | ((t - (uint64_t)m->disp) & lo_mask);
    return;
  }
  /* the registers' product part must divide evenly when index is the only register */
  int64_t mult = m->scale + (m->base == m->index ? 1 : 0);
  if (m->base < 0 || m->base == m->index) {
    int64_t x = (int64_t)(t - (uint64_t)m->disp);
    int64_t rem = x % mult;
    m->disp += rem;
    if (m->dispsize == 1 && (m->disp < -128 || m->disp > 127)) m->dispsize = 4;
    x -= rem;
    gpr[m->index] = hi | ((uint64_t)(x / mult) & lo_mask);
    return;
  }
  for (int tries = 0;; tries++) {
    uint64_t idx = tries < 8 ? rand_val(g) : 0;
    gpr[m->index] = as == 4 ? (rnd(g) & 0xffffffff00000000ULL) | (idx & lo_mask) : idx;
    gpr[m->base] = hi | ((t - (uint64_t)m->disp - idx * (uint64_t)m->scale) & lo_mask);
    /* RSP must stay canonical (see main.c) */
    if (m->base != RSP || (uint64_t)((int64_t)(gpr[RSP] << 16) >> 16) == gpr[RSP]) break;
  }
}

void asm_finish(struct asmb *a)
{
  struct gen *g = a->g;
  struct mem *m = &a->m;
  uint8_t *b = a->v->code;
  int n = 0;
  if (a->rm_mem && !a->no_fix && !a->moffs) fix_regs(a);

  /* prefixes, shuffled */
  uint8_t p[10];
  int np = 0;
  int legacy = a->mode != MODE64;
  for (int i = 0; i < a->npfx; i++) p[np++] = a->pfx[i];
  if (a->opsize == (a->mode == MODE16 ? 4 : 2) && !a->vex) p[np++] = 0x66;
  if ((a->rm_mem || a->moffs) && m->pfx67) p[np++] = 0x67;
  if (chance(g, 8)) {   /* outside 64-bit code only DS, ES, SS: they share the data segment */
    static const uint8_t segs[] = {0x2e, 0x3e, 0x26, 0x36};
    p[np] = segs[rn(g, 4)];
    if (legacy && p[np] == 0x2e) p[np] = 0x3e;
    np++;
  }
  for (int i = np - 1; i > 0; i--) {
    int j = (int)rn(g, (uint32_t)i + 1);
    uint8_t t = p[i];
    p[i] = p[j], p[j] = t;
  }
  memcpy(b, p, (size_t)np);
  n = np;

  /* REX */
  int rex = 0;
  if (a->opsize == 8 || a->rex_w) rex |= 8;
  if (a->has_modrm && a->reg >= 8) rex |= 4;
  if (a->opreg >= 8) rex |= 1;
  if (a->has_modrm && !a->rm_mem && a->rm >= 8) rex |= 1;
  if (a->has_modrm && a->rm_mem) {
    if (m->base >= 8) rex |= 1;
    if (m->index >= 8) rex |= 2;
  }
  if (a->vex) {   /* C4 RXB.mmmmm W.vvvv.L.pp (L = 0) */
    b[n++] = 0xc4;
    b[n++] = (uint8_t)((~rex & 7) << 5 | a->vex_map);
    b[n++] = (uint8_t)((rex & 8) << 4 | (~a->vex_vvvv & 15) << 3 | a->vex_pp);
  } else if (!legacy && (rex || a->force_rex || (!a->no_rex && chance(g, 25)))) {
    b[n++] = (uint8_t)(0x40 | rex);
  }

  for (int i = 0; i < a->nop; i++) b[n++] = a->op[i];
  if (a->opreg >= 0) b[n - 1] = (uint8_t)(b[n - 1] + (a->opreg & 7));

  if (a->moffs) {
    uint64_t off = data_off(g, m->target);
    int as = addr_size(a->mode, m->pfx67);
    memcpy(b + n, &off, (size_t)as);
    n += as;
  }

  int disp_at = -1;
  if (a->has_modrm) {
    int reg = (a->reg & 7) << 3;
    if (!a->rm_mem) {
      b[n++] = (uint8_t)(0xc0 | reg | (a->rm & 7));
    } else {
      int ss = m->scale == 8 ? 3 : m->scale == 4 ? 2 : m->scale == 2 ? 1 : 0;
      int mod = m->dispsize == 1 ? 0x40 : m->dispsize >= 2 ? 0x80 : 0;
      if (m->rm16 >= 0) {
        b[n++] = (uint8_t)(m->rm16 == 8 ? reg | 6 : mod | reg | m->rm16);
      } else if (m->riprel) {
        b[n++] = (uint8_t)(reg | 5);
      } else if (legacy && m->base < 0 && m->index < 0 && chance(g, 50)) {
        b[n++] = (uint8_t)(reg | 5);                  /* [disp32] without SIB (RIP-relative in 64-bit code) */
      } else if (m->base < 0) {                       /* no base: SIB with base 101, mod 00 */
        b[n++] = (uint8_t)(reg | 4);
        int idx = m->index < 0 ? 4 : (m->index & 7);
        b[n++] = (uint8_t)((ss << 6) | (idx << 3) | 5);
      } else if (m->index >= 0 || (m->base & 7) == 4 || chance(g, 15)) {
        b[n++] = (uint8_t)(mod | reg | 4);
        int idx = m->index < 0 ? 4 : (m->index & 7);
        b[n++] = (uint8_t)((ss << 6) | (idx << 3) | (m->base & 7));
      } else {
        b[n++] = (uint8_t)(mod | reg | (m->base & 7));
      }
      disp_at = n;
      if (m->base < 0 && m->rm16 < 0) m->dispsize = 4;
      if (m->base < 0 && !m->riprel && m->index < 0 && m->rm16 < 0) m->disp = (int64_t)data_off(g, m->target);
      n += m->dispsize;
    }
  }
  if (a->immsize) {
    memcpy(b + n, &a->imm, (size_t)a->immsize);
    n += a->immsize;
  }
  if (disp_at >= 0) {
    if (m->riprel && !a->no_fix) m->disp = (int64_t)(m->target - (CODE_BASE + (uint64_t)n));
    if (m->dispsize == 1) b[disp_at] = (uint8_t)m->disp;
    else if (m->dispsize == 2) { int16_t d = (int16_t)m->disp; memcpy(b + disp_at, &d, 2); }
    else if (m->dispsize == 4) { int32_t d = (int32_t)m->disp; memcpy(b + disp_at, &d, 4); }
  }
  a->v->len = (uint8_t)n;
}
