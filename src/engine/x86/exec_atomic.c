/* Read-modify-write exchange instructions: XADD, CMPXCHG, CMPXCHG8B, CMPXCHG16B. With LOCK (and
 * always for CMPXCHG8B/16B) a RAM operand is updated with a host atomic, so SMP guests are correct;
 * MMIO and page-crossing operands fall back to a plain read and write. */
#include "exec.h"

/* Host pointer for an atomic update of the memory operand, or NULL (checks write access). */
static uint8_t *atomic_ptr(struct x86_cpu *cpu, const struct x86_insn *in, int size)
{
  uint64_t lin = seg_linear(cpu, in->seg, insn_ea(cpu, in), size, ACC_WRITE);
  return lin_host_ptr(cpu, lin, size, ACC_WRITE);
}

static uint64_t atomic_fetch_add_sized(uint8_t *p, uint64_t v, int size)
{
  switch (size) {
  case 1: return __atomic_fetch_add(p, (uint8_t)v, __ATOMIC_SEQ_CST);
  case 2: return __atomic_fetch_add((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST);
  case 4: return __atomic_fetch_add((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST);
  default: return __atomic_fetch_add((uint64_t *)p, v, __ATOMIC_SEQ_CST);
  }
}

/* Compare-and-swap of size bytes at p: returns the old value (== expected on success). */
static uint64_t atomic_cas_sized(uint8_t *p, uint64_t expected, uint64_t desired, int size)
{
#define CAS(type)                                                                               \
  do {                                                                                          \
    type e = (type)expected;                                                                    \
    __atomic_compare_exchange_n((type *)p, &e, (type)desired, false, __ATOMIC_SEQ_CST,          \
                                __ATOMIC_SEQ_CST);                                              \
    return e;                                                                                   \
  } while (0)
  switch (size) {
  case 1: CAS(uint8_t);
  case 2: CAS(uint16_t);
  case 4: CAS(uint32_t);
  default: CAS(uint64_t);
  }
#undef CAS
}

/* XADD r/m, r: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP. Flags as ADD. */
HANDLER(xadd)
{
  int size = in->op[0].size;
  uint64_t src = op_read(cpu, in, 1), old;
  uint8_t *p = NULL;
  if (in->op[0].kind == OP_MEM && (in->prefixes & PFX_LOCK)) p = atomic_ptr(cpu, in, size);
  if (p) {
    old = atomic_fetch_add_sized(p, src, size) & size_mask(size);
    op_write(cpu, in, 1, old);
  } else if (in->op[0].kind == OP_MEM) {
    old = op_read(cpu, in, 0);
    op_write(cpu, in, 0, old + src);   /* the memory write may fault: before any register */
    op_write(cpu, in, 1, old);
  } else {
    old = op_read(cpu, in, 0);
    op_write(cpu, in, 1, old);         /* xadd r, r with the same register: the sum wins */
    op_write(cpu, in, 0, old + src);
  }
  flags_add(cpu, old, src, 0, size);
}

/* CMPXCHG r/m, r: compare the accumulator with DEST; equal: ZF=1, DEST = SRC; else ZF=0 and the
 * accumulator = DEST. A memory destination is always written (its old value when unequal); a
 * register destination only when equal. Flags as CMP accumulator, DEST. */
HANDLER(cmpxchg)
{
  int size = in->op[0].size;
  uint64_t acc = reg_read(cpu, R_AX, size), src = op_read(cpu, in, 1), old;
  uint8_t *p = NULL;
  if (in->op[0].kind == OP_MEM && (in->prefixes & PFX_LOCK)) p = atomic_ptr(cpu, in, size);
  if (p) {
    old = atomic_cas_sized(p, acc, src, size) & size_mask(size);
  } else {
    old = op_read(cpu, in, 0);
    if (in->op[0].kind == OP_MEM) op_write(cpu, in, 0, old == acc ? src : old);
    else if (old == acc) op_write(cpu, in, 0, src);
  }
  flags_sub(cpu, acc, old, 0, size);
  if (old != acc) reg_write(cpu, R_AX, size, old);
}

static bool host_cas16(uint8_t *p, uint64_t *lo, uint64_t *hi, uint64_t nlo, uint64_t nhi)
{
  bool ok;
  __asm__ volatile("lock cmpxchg16b %1"
                   : "=@ccz"(ok), "+m"(*(unsigned __int128 *)p), "+a"(*lo), "+d"(*hi)
                   : "b"(nlo), "c"(nhi)
                   : "memory");
  return ok;
}

/* CMPXCHG8B m64 / CMPXCHG16B m128: compare rDX:rAX with the operand; equal: ZF=1 and the operand =
 * rCX:rBX; else ZF=0 and rDX:rAX = the operand (a 32-bit write, zero-extending in 64-bit mode).
 * Only ZF changes. CMPXCHG16B needs a 16-byte aligned operand (#GP(0)). */
static void cmpxchg_wide(struct x86_cpu *cpu, const struct x86_insn *in, int half)
{
  int size = half * 2;
  uint64_t ea = insn_ea(cpu, in);
  uint64_t lin = seg_linear(cpu, in->seg, ea, size, ACC_WRITE);
  if (size == 16 && (lin & 15)) RAISE_ERR(cpu, EXC_GP, 0);
  uint64_t lo = reg_read(cpu, R_AX, half), hi = reg_read(cpu, R_DX, half);
  uint64_t nlo = reg_read(cpu, R_BX, half), nhi = reg_read(cpu, R_CX, half);
  uint8_t *p = lin_host_ptr(cpu, lin, size, ACC_WRITE);
  bool eq;
  if (p && size == 16) {
    eq = host_cas16(p, &lo, &hi, nlo, nhi);
  } else if (p) {
    uint64_t exp = hi << 32 | lo;
    uint64_t old = atomic_cas_sized(p, exp, nhi << 32 | nlo, 8);
    eq = old == exp;
    lo = (uint32_t)old, hi = old >> 32;
  } else if (size == 8) {
    uint64_t old = mem_read(cpu, in->seg, ea, 8);
    eq = old == (hi << 32 | lo);
    mem_write(cpu, in->seg, ea, 8, eq ? nhi << 32 | nlo : old);
    lo = (uint32_t)old, hi = old >> 32;
  } else {   /* aligned 16 bytes never cross a page: this is MMIO */
    uint64_t ea2 = (ea + 8) & addr_mask(in->addrsize);
    uint64_t olo = mem_read(cpu, in->seg, ea, 8), ohi = mem_read(cpu, in->seg, ea2, 8);
    eq = olo == lo && ohi == hi;
    mem_write(cpu, in->seg, ea, 8, eq ? nlo : olo);
    mem_write(cpu, in->seg, ea2, 8, eq ? nhi : ohi);
    lo = olo, hi = ohi;
  }
  cpu->rflags = eq ? cpu->rflags | F_ZF : cpu->rflags & ~(uint64_t)F_ZF;
  if (!eq) {
    reg_write(cpu, R_AX, half, lo);
    reg_write(cpu, R_DX, half, hi);
  }
}

HANDLER(cmpxchg8b) { cmpxchg_wide(cpu, in, 4); }
HANDLER(cmpxchg16b) { cmpxchg_wide(cpu, in, 8); }
