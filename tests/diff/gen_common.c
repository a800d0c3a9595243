/* Random numbers and the value distributions the generators draw from. */
#include <string.h>

#include "diff.h"

uint64_t rnd(struct gen *g)   /* splitmix64 */
{
  uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static const uint64_t interesting[] = {
    0, 1, 2, 3, 0x7f, 0x80, 0x81, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xffff, 0x10000,
    0x7fffffff, 0x80000000, 0x80000001, 0xffffffff, 0x100000000ULL, 0x7fffffffffffffffULL,
    0x8000000000000000ULL, 0x8000000000000001ULL, 0xffffffffffffffffULL, 0xfffffffffffffffeULL,
    0x5555555555555555ULL, 0xaaaaaaaaaaaaaaaaULL, 0x0f0f0f0f0f0f0f0fULL, 0x1f, 0x20, 0x3f, 0x40,
};

int rand_size(struct gen *g, int allow8)
{
  static const int s[] = {1, 2, 4, 8};
  int n = g->mode == MODE64 ? 4 : 3;
  return allow8 ? s[rn(g, (uint32_t)n)] : s[1 + rn(g, (uint32_t)n - 1)];
}

int rreg(struct gen *g) { return (int)rn(g, g->mode == MODE64 ? 16 : 8); }

uint64_t data_off(const struct gen *g, uint64_t lin) { return g->mode == MODE64 ? lin : lin - DATA_BASE; }

uint64_t garbage_above(struct gen *g, uint64_t val, int size)
{
  if (size >= 8) return val;
  uint64_t m = (1ULL << (size * 8)) - 1;
  return (rnd(g) & ~m) | (val & m);
}

int addr_size(int mode, int pfx67)
{
  switch (mode) {
  case MODE64: return pfx67 ? 4 : 8;
  case MODE32: return pfx67 ? 2 : 4;
  default: return pfx67 ? 4 : 2;
  }
}

uint64_t rand_val(struct gen *g)
{
  uint64_t r = rnd(g);
  switch (rn(g, 6)) {
  case 0: return r;
  case 1: return interesting[rn(g, sizeof(interesting) / sizeof(interesting[0]))];
  case 2: {   /* an interesting value in the low 8/16/32 bits, garbage above */
    int bits = 8 << rn(g, 3);
    uint64_t m = (1ULL << bits) - 1;
    uint64_t x = interesting[rn(g, sizeof(interesting) / sizeof(interesting[0]))];
    if (chance(g, 50)) x = -x;
    return (r & ~m) | (x & m);
  }
  case 3: return (uint64_t)((int64_t)(rn(g, 33)) - 16);
  case 4: return r >> rn(g, 64);
  default: return -(r >> rn(g, 64));
  }
}

uint32_t rand_flags(struct gen *g)
{
  return ((uint32_t)rnd(g) & (FL_ARITH | FL_DF)) | 2;
}

uint64_t data_target(struct gen *g, int size)
{
  return DATA_BASE + 0x100 + rn(g, DATA_SIZE - 0x300 - (uint32_t)size);
}

void poke(struct dvec *v, uint64_t addr, uint64_t val, int size)
{
  memcpy(v->init + (addr - DATA_BASE), &val, (size_t)size);
}

uint64_t peek(const struct dvec *v, uint64_t addr, int size)
{
  uint64_t x = 0;
  memcpy(&x, v->init + (addr - DATA_BASE), (size_t)size);
  return x;
}
