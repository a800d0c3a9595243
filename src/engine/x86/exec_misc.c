/* Miscellaneous user-level integer instructions: MOVBE, XLAT, RDRAND/RDSEED, CLFLUSH/CLFLUSHOPT/
 * CLWB, ADCX/ADOX, and the VEX-encoded BMI1/BMI2 group (operand order as Zydis gives it). */
#include <errno.h>
#include <sys/random.h>

#include <Zydis/Zydis.h>

#include "exec.h"

static uint64_t bswap_sized(uint64_t v, int size)
{
  switch (size) {
  case 2: return __builtin_bswap16((uint16_t)v);
  case 4: return __builtin_bswap32((uint32_t)v);
  default: return __builtin_bswap64(v);
  }
}

/* MOVBE r, m / MOVBE m, r */
HANDLER(movbe) { op_write(cpu, in, 0, bswap_sized(op_read(cpu, in, 1), in->op[0].size)); }

/* XLAT: AL = [seg:rBX + AL] (the segment override applies; the address wraps at address size) */
HANDLER(xlat)
{
  uint64_t off = (cpu->gpr[R_BX] + (cpu->gpr[R_AX] & 0xff)) & addr_mask(in->addrsize);
  reg_write(cpu, R_AX, 1, mem_read(cpu, in->seg, off, 1));
}

/* RDRAND/RDSEED r: random bits from the host kernel; CF=1 when valid (CF=0 and a zero result when
 * no entropy is available right now, which guests must retry anyway); OF/SF/ZF/AF/PF cleared. */
HANDLER(rdrand)
{
  int size = in->op[0].size;
  uint64_t v = 0;
  ssize_t n;
  do n = getrandom(&v, (size_t)size, GRND_NONBLOCK);
  while (n < 0 && errno == EINTR);
  bool ok = n == size;
  op_write(cpu, in, 0, ok ? v : 0);
  cpu->rflags &= ~(uint64_t)F_ARITH;
  if (ok) cpu->rflags |= F_CF;
}

/* CLFLUSH/CLFLUSHOPT/CLWB m8: caches are coherent here, but the address must translate
 * (segment checks, #PF) as for a 1-byte read; MMIO is not accessed. */
HANDLER(clflush)
{
  uint64_t lin = seg_linear(cpu, in->seg, insn_ea(cpu, in), 1, ACC_READ);
  mmu_translate(cpu, lin, ACC_READ);
}

/* ADCX (CF) / ADOX (OF): unsigned add with carry through one flag, the other flags untouched. */
HANDLER(adx)
{
  int size = in->op[0].size;
  uint64_t f = in->mnemonic == ZYDIS_MNEMONIC_ADOX ? F_OF : F_CF;
  uint64_t a = op_read(cpu, in, 0), b = op_read(cpu, in, 1), c = (cpu->rflags & f) ? 1 : 0;
  uint64_t m = size_mask(size), r = (a + b + c) & m;
  bool carry = r < a || (c && r == a);
  op_write(cpu, in, 0, r);
  cpu->rflags = carry ? cpu->rflags | f : cpu->rflags & ~f;
}

/* ---- BMI1 ---- */

static void set_cf(struct x86_cpu *cpu, bool on)
{
  cpu->rflags = on ? cpu->rflags | F_CF : cpu->rflags & ~(uint64_t)F_CF;
}

/* ANDN r, v, r/m: r = ~v & r/m. SF/ZF from the result, OF/CF cleared (AF/PF undefined: PF set). */
HANDLER(andn)
{
  uint64_t r = ~op_read(cpu, in, 1) & op_read(cpu, in, 2);
  op_write(cpu, in, 0, r);
  flags_logic(cpu, r, in->op[0].size);
}

/* BEXTR r, r/m, v: start = v[7:0], length = v[15:8]. ZF from the result, CF/OF cleared. */
HANDLER(bextr)
{
  int bits = in->op[0].size * 8;
  uint64_t src = op_read(cpu, in, 1), ctl = op_read(cpu, in, 2);
  unsigned start = ctl & 0xff, len = (ctl >> 8) & 0xff;
  uint64_t r = start < (unsigned)bits ? src >> start : 0;
  if (len < 64) r &= (1ULL << len) - 1;
  op_write(cpu, in, 0, r);
  flags_logic(cpu, r, in->op[0].size);
}

/* BLSI/BLSMSK/BLSR v, r/m. CF: BLSI source != 0, BLSMSK/BLSR source == 0; OF cleared. */
HANDLER(blsi)
{
  uint64_t s = op_read(cpu, in, 1), r = s & -s;
  op_write(cpu, in, 0, r);
  flags_logic(cpu, r, in->op[0].size);
  set_cf(cpu, s != 0);
}

HANDLER(blsmsk)
{
  int size = in->op[0].size;
  uint64_t s = op_read(cpu, in, 1), r = (s ^ (s - 1)) & size_mask(size);
  op_write(cpu, in, 0, r);
  flags_logic(cpu, r, size);   /* ZF: the result is never zero */
  set_cf(cpu, s == 0);
}

HANDLER(blsr)
{
  uint64_t s = op_read(cpu, in, 1), r = s & (s - 1);
  op_write(cpu, in, 0, r);
  flags_logic(cpu, r, in->op[0].size);
  set_cf(cpu, s == 0);
}

/* ---- BMI2 ---- */

/* BZHI r, r/m, v: clear bits from index v[7:0] up; CF = index beyond the operand. */
HANDLER(bzhi)
{
  int size = in->op[0].size, bits = size * 8;
  uint64_t src = op_read(cpu, in, 1);
  unsigned n = op_read(cpu, in, 2) & 0xff;
  uint64_t r = n < (unsigned)bits ? src & ((1ULL << n) - 1) : src;
  op_write(cpu, in, 0, r);
  flags_logic(cpu, r, size);
  set_cf(cpu, n > (unsigned)bits - 1);
}

/* PDEP r, v, r/m: deposit the low bits of v at the set bits of the mask r/m. No flags. */
HANDLER(pdep)
{
  uint64_t src = op_read(cpu, in, 1), mask = op_read(cpu, in, 2), r = 0;
  for (uint64_t k = 1; mask; mask &= mask - 1, k <<= 1)
    if (src & k) r |= mask & -mask;
  op_write(cpu, in, 0, r);
}

/* PEXT r, v, r/m: gather the bits of v at the set bits of the mask r/m into the low bits. */
HANDLER(pext)
{
  uint64_t src = op_read(cpu, in, 1), mask = op_read(cpu, in, 2), r = 0;
  for (uint64_t k = 1; mask; mask &= mask - 1, k <<= 1)
    if (src & mask & -mask) r |= k;
  op_write(cpu, in, 0, r);
}

/* RORX r, r/m, imm8. No flags. */
HANDLER(rorx)
{
  int size = in->op[0].size, bits = size * 8;
  uint64_t v = op_read(cpu, in, 1);
  unsigned c = (unsigned)in->imm & (bits - 1);
  op_write(cpu, in, 0, c ? ((v >> c) | (v << (bits - c))) & size_mask(size) : v);
}

/* SARX/SHLX/SHRX r, r/m, v: count masked to 5/6 bits. No flags. */
HANDLER(shiftx)
{
  int size = in->op[0].size;
  uint64_t v = op_read(cpu, in, 1);
  unsigned c = (unsigned)op_read(cpu, in, 2) & (size == 8 ? 63 : 31);
  uint64_t r;
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_SARX: r = (uint64_t)(sign_extend(v, size) >> c); break;
  case ZYDIS_MNEMONIC_SHLX: r = v << c; break;
  default: r = v >> c; break;
  }
  op_write(cpu, in, 0, r & size_mask(size));
}

/* MULX hi, lo, r/m: unsigned rDX * r/m; lo written first, so hi wins when they are the same. */
HANDLER(mulx)
{
  int size = in->op[0].size;
  unsigned __int128 p = (unsigned __int128)reg_read(cpu, R_DX, size) * op_read(cpu, in, 2);
  op_write(cpu, in, 1, (uint64_t)p & size_mask(size));
  op_write(cpu, in, 0, (uint64_t)(p >> (size * 8)) & size_mask(size));
}
