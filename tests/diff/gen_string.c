/* Generators: MOVS/STOS/LODS/CMPS/SCAS at every element size, with and without REP/REPE/REPNE,
 * small counts, DF both ways, 67h (ESI/EDI/ECX with garbage in the upper halves), and buffers
 * arranged so REPE/REPNE comparisons run for a while before stopping. */
#include <string.h>

#include "diff.h"

enum { S_MOVS, S_STOS, S_LODS, S_CMPS, S_SCAS };

static uint64_t str_ptr(struct gen *g, int addr32)
{
  uint64_t p = DATA_BASE + 0x300 + rn(g, DATA_SIZE - 0x600);
  return addr32 ? (rnd(g) & 0xffffffff00000000ULL) | p : p;
}

static void gen_string(struct gen *g, struct dvec *v, int kind)
{
  static const uint8_t ops[] = {0xa4, 0xaa, 0xac, 0xa6, 0xae};
  struct asmb a;
  int size = rand_size(g, 1), addr32 = chance(g, 15);
  int cond = kind == S_CMPS || kind == S_SCAS;
  int rep = chance(g, 65) ? (cond && chance(g, 50) ? 0xf2 : 0xf3) : 0;
  uint64_t *r = v->in.gpr;
  asm_init(&a, g, v, size);
  asm_op(&a, 1, ops[kind] + (size > 1));
  if (rep) asm_prefix(&a, (uint8_t)rep);
  if (addr32) asm_prefix(&a, 0x67);
  unsigned count = rn(g, 11);
  if (rep) r[RCX] = addr32 ? (rnd(g) & 0xffffffff00000000ULL) | count : count;
  r[RSI] = str_ptr(g, addr32);
  r[RDI] = str_ptr(g, addr32);
  int down = (v->in.rflags & FL_DF) != 0;
  int64_t step = down ? -size : size;
  unsigned n = rep ? count : 1;
  if (kind == S_CMPS && chance(g, 60)) {   /* equal elements, then maybe a difference */
    uint32_t si = (uint32_t)(r[RSI] - DATA_BASE), di = (uint32_t)(r[RDI] - DATA_BASE);
    memmove(v->init + di - 0x100, v->init + si - 0x100, 0x200);
    if (n && chance(g, 60)) v->init[di + (uint32_t)(step * rn(g, n)) + rn(g, (uint32_t)size)] ^= 1u << rn(g, 8);
  }
  if (kind == S_SCAS && n && chance(g, 70)) {
    unsigned k = rn(g, n);
    uint64_t elem = rand_val(g);
    r[RAX] = elem;
    uint64_t di = DATA_BASE + (uint32_t)(r[RDI] - DATA_BASE);
    if (rep == 0xf3) {                     /* REPE: k equal elements first */
      for (unsigned i = 0; i < k; i++) poke(v, di + (uint64_t)(step * i), elem, size);
    } else {                               /* REPNE / no REP: element k is the one searched for */
      poke(v, di + (uint64_t)(step * k), elem, size);
    }
  }
  asm_finish(&a);
}

const struct family families_string[] = {
    {"movs", gen_string, S_MOVS, 3000}, {"stos", gen_string, S_STOS, 3000},
    {"lods", gen_string, S_LODS, 3000}, {"cmps", gen_string, S_CMPS, 4000},
    {"scas", gen_string, S_SCAS, 4000},
    {0},
};
