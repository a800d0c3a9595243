/* Bit instructions: BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT/POPCNT, SHLD/SHRD. */
#include "exec.h"

static void set_flag(struct x86_cpu *cpu, uint64_t flag, bool on)
{
  cpu->rflags = on ? cpu->rflags | flag : cpu->rflags & ~flag;
}

/* ---- BT family ---- */

enum { BT_TEST, BT_SET, BT_RESET, BT_COMPLEMENT };

static uint64_t bt_apply(int op, uint64_t v, uint64_t mask)
{
  switch (op) {
  case BT_SET: return v | mask;
  case BT_RESET: return v & ~mask;
  case BT_COMPLEMENT: return v ^ mask;
  default: return v;
  }
}

#define BT_ATOMIC(type)                                                                         \
  do {                                                                                          \
    type *q = (type *)p, m = (type)mask;                                                        \
    if (op == BT_SET) old = __atomic_fetch_or(q, m, __ATOMIC_SEQ_CST);                          \
    else if (op == BT_RESET) old = __atomic_fetch_and(q, (type)~m, __ATOMIC_SEQ_CST);           \
    else old = __atomic_fetch_xor(q, m, __ATOMIC_SEQ_CST);                                      \
  } while (0)

/* Only CF is defined (the selected bit); ZF is unaffected and OF/SF/AF/PF are left as they were. */
static void bt_common(struct x86_cpu *cpu, const struct x86_insn *in, int op)
{
  int size = in->op[0].size, bits = size * 8;
  uint64_t old, mask;
  if (in->op[0].kind != OP_MEM) {
    unsigned bit = (unsigned)op_read(cpu, in, 1) & (bits - 1);
    mask = 1ULL << bit;
    old = op_read(cpu, in, 0);
    if (op != BT_TEST) op_write(cpu, in, 0, bt_apply(op, old, mask));
    set_flag(cpu, F_CF, old & mask);
    return;
  }
  /* memory: a register bit offset is signed and may address outside the operand */
  uint64_t ea = insn_ea(cpu, in);
  unsigned bit;
  if (in->op[1].kind == OP_IMM) {
    bit = (unsigned)in->imm & (bits - 1);
  } else {
    int64_t off = sign_extend(op_read(cpu, in, 1), size);
    bit = (unsigned)off & (bits - 1);
    int64_t units = off >> (size == 2 ? 4 : size == 4 ? 5 : 6);
    ea = (ea + (uint64_t)units * size) & addr_mask(in->addrsize);
  }
  mask = 1ULL << bit;
  if (op == BT_TEST) {
    old = mem_read(cpu, in->seg, ea, size);
  } else {
    uint8_t *p = NULL;
    if (in->prefixes & PFX_LOCK) {
      uint64_t lin = seg_linear(cpu, in->seg, ea, size, ACC_WRITE);
      p = lin_host_ptr(cpu, lin, size, ACC_WRITE);
    }
    if (p) {
      switch (size) {
      case 2: BT_ATOMIC(uint16_t); break;
      case 4: BT_ATOMIC(uint32_t); break;
      default: BT_ATOMIC(uint64_t); break;
      }
    } else {
      old = mem_read(cpu, in->seg, ea, size);
      mem_write(cpu, in->seg, ea, size, bt_apply(op, old, mask));
    }
  }
  set_flag(cpu, F_CF, old & mask);
}

HANDLER(bt) { bt_common(cpu, in, BT_TEST); }
HANDLER(bts) { bt_common(cpu, in, BT_SET); }
HANDLER(btr) { bt_common(cpu, in, BT_RESET); }
HANDLER(btc) { bt_common(cpu, in, BT_COMPLEMENT); }

/* ---- bit scans and counts ---- */

/* BSF/BSR: ZF=1 and the destination unchanged for a zero source (as hardware does); the other
 * arithmetic flags are undefined and left as they were. */
HANDLER(bsf)
{
  uint64_t v = op_read(cpu, in, 1);
  if (v) op_write(cpu, in, 0, (uint64_t)__builtin_ctzll(v));
  set_flag(cpu, F_ZF, !v);
}

HANDLER(bsr)
{
  uint64_t v = op_read(cpu, in, 1);
  if (v) op_write(cpu, in, 0, (uint64_t)(63 - __builtin_clzll(v)));
  set_flag(cpu, F_ZF, !v);
}

/* TZCNT/LZCNT: CF = source was zero, ZF = result is zero; OF/SF/PF/AF undefined (left). */
static void count_flags(struct x86_cpu *cpu, uint64_t src, uint64_t res)
{
  set_flag(cpu, F_CF, !src);
  set_flag(cpu, F_ZF, !res);
}

HANDLER(tzcnt)
{
  int bits = in->op[0].size * 8;
  uint64_t v = op_read(cpu, in, 1);
  uint64_t r = v ? (uint64_t)__builtin_ctzll(v) : (uint64_t)bits;
  op_write(cpu, in, 0, r);
  count_flags(cpu, v, r);
}

HANDLER(lzcnt)
{
  int bits = in->op[0].size * 8;
  uint64_t v = op_read(cpu, in, 1);
  uint64_t r = v ? (uint64_t)(__builtin_clzll(v) - (64 - bits)) : (uint64_t)bits;
  op_write(cpu, in, 0, r);
  count_flags(cpu, v, r);
}

/* POPCNT: OF/SF/ZF/AF/CF/PF cleared, then ZF = source was zero. */
HANDLER(popcnt)
{
  uint64_t v = op_read(cpu, in, 1);
  op_write(cpu, in, 0, (uint64_t)__builtin_popcountll(v));
  cpu->rflags &= ~(uint64_t)F_ARITH;
  set_flag(cpu, F_ZF, !v);
}

/* ---- double-precision shifts ---- */

/* SHLD/SHRD r/m, r, imm8/CL. The count is masked to 5 (6 with REX.W) bits; a zero count changes
 * no flags. Flags: CF = last bit out, SF/ZF/PF from the result, OF = sign change (defined for a
 * count of 1 only), AF cleared. A 16-bit count above 16 is undefined: we shift through
 * dst:src:dst as Intel hardware does. */
static void shxd(struct x86_cpu *cpu, const struct x86_insn *in, bool left)
{
  int size = in->op[0].size, bits = size * 8;
  uint64_t m = size_mask(size);
  unsigned count = (unsigned)(in->op[2].kind == OP_IMM ? in->imm : op_read(cpu, in, 2));
  count &= size == 8 ? 63 : 31;
  uint64_t dst = op_read(cpu, in, 0);
  if (!count) {   /* no flags change; a 32-bit register is still written (zero-extended) */
    if (in->op[0].kind == OP_REG) op_write(cpu, in, 0, dst);
    return;
  }
  uint64_t src = op_read(cpu, in, 1);
  uint64_t r, cf;
  if (size == 2) {
    if (left) {
      uint64_t c3 = dst << 32 | src << 16 | dst;       /* 48 bits: dst:src:dst */
      r = (c3 << count >> 32) & m;
      cf = (c3 >> (48 - count)) & 1;
    } else {
      uint64_t c3 = dst << 32 | src << 16 | dst;       /* shifted right from the low end */
      r = (c3 >> count) & m;
      cf = (c3 >> (count - 1)) & 1;
    }
  } else if (left) {
    r = ((dst << count) | (src >> (bits - count))) & m;
    cf = (dst >> (bits - count)) & 1;
  } else {
    r = ((dst >> count) | (src << (bits - count))) & m;
    cf = (dst >> (count - 1)) & 1;
  }
  op_write(cpu, in, 0, r);
  flags_szp(cpu, r, size);
  cpu->rflags &= ~(uint64_t)(F_CF | F_OF | F_AF);
  if (cf) cpu->rflags |= F_CF;
  if (((r ^ dst) >> (bits - 1)) & 1) cpu->rflags |= F_OF;
}

HANDLER(shld) { shxd(cpu, in, true); }
HANDLER(shrd) { shxd(cpu, in, false); }
