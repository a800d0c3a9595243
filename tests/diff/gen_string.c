/* Generators: MOVS/STOS/LODS/CMPS/SCAS at every element size, with and without REP/REPE/REPNE,
 * small counts, DF both ways, 67h (ESI/EDI/ECX or SI/DI/CX, garbage above them), and buffers
 * arranged so REPE/REPNE comparisons run for a while before stopping. */
#include <string.h>

#include "diff.h"

enum { S_MOVS, S_STOS, S_LODS, S_CMPS, S_SCAS };

/* a pointer register for a string operand in the buffer; its linear address in *lin */
static uint64_t str_ptr(struct gen *g, int asz, uint64_t *lin)
{
  *lin = DATA_BASE + 0x300 + rn(g, DATA_SIZE - 0x600);
  return garbage_above(g, data_off(g, *lin), asz);
}

static void gen_string(struct gen *g, struct dvec *v, int kind)
{
  static const uint8_t ops[] = {0xa4, 0xaa, 0xac, 0xa6, 0xae};
  struct asmb a;
  int size = rand_size(g, 1), pfx67 = chance(g, 15);
  int asz = addr_size(g->mode, pfx67);
  int cond = kind == S_CMPS || kind == S_SCAS;
  int rep = chance(g, 65) ? (cond && chance(g, 50) ? 0xf2 : 0xf3) : 0;
  uint64_t *r = v->in.gpr, si, di;
  asm_init(&a, g, v, size);
  asm_op(&a, 1, ops[kind] + (size > 1));
  if (rep) asm_prefix(&a, (uint8_t)rep);
  if (pfx67) asm_prefix(&a, 0x67);
  unsigned count = rn(g, 11);
  if (rep) r[RCX] = garbage_above(g, count, asz);
  r[RSI] = str_ptr(g, asz, &si);
  r[RDI] = str_ptr(g, asz, &di);
  int down = (v->in.rflags & FL_DF) != 0;
  int64_t step = down ? -size : size;
  unsigned n = rep ? count : 1;
  if (kind == S_CMPS && chance(g, 60)) {   /* equal elements, then maybe a difference */
    uint32_t so = (uint32_t)(si - DATA_BASE), dof = (uint32_t)(di - DATA_BASE);
    memmove(v->init + dof - 0x100, v->init + so - 0x100, 0x200);
    if (n && chance(g, 60)) v->init[dof + (uint32_t)(step * rn(g, n)) + rn(g, (uint32_t)size)] ^= 1u << rn(g, 8);
  }
  if (kind == S_SCAS && n && chance(g, 70)) {
    unsigned k = rn(g, n);
    uint64_t elem = rand_val(g);
    r[RAX] = elem;
    if (rep == 0xf3) {                     /* REPE: k equal elements first */
      for (unsigned i = 0; i < k; i++) poke(v, di + (uint64_t)(step * i), elem, size);
    } else {                               /* REPNE / no REP: element k is the one searched for */
      poke(v, di + (uint64_t)(step * k), elem, size);
    }
  }
  asm_finish(&a);
}

const struct family families_string[] = {
    {"movs", gen_string, S_MOVS, 3000, 500}, {"stos", gen_string, S_STOS, 3000, 400},
    {"lods", gen_string, S_LODS, 3000, 400}, {"cmps", gen_string, S_CMPS, 4000, 600},
    {"scas", gen_string, S_SCAS, 4000, 600},
    {0},
};
