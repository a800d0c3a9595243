/* Integer arithmetic and logic: ADD..CMP, TEST, INC/DEC/NEG/NOT, MUL/IMUL/DIV/IDIV, shifts. */
#include <Zydis/Zydis.h>

#include "exec.h"

enum alu_op { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP,
              ALU_INC, ALU_DEC, ALU_NEG, ALU_NOT };

/* Computes a op b at size, updating flags; returns the (unmasked) result. */
static inline __attribute__((always_inline)) uint64_t alu(struct x86_cpu *cpu, enum alu_op op, uint64_t a, uint64_t b, int size)
{
  uint64_t cf = cpu->rflags & F_CF, r;
  switch (op) {
  case ALU_ADD: flags_add(cpu, a, b, 0, size); return a + b;
  case ALU_ADC: flags_add(cpu, a, b, cf, size); return a + b + cf;
  case ALU_SUB:
  case ALU_CMP: flags_sub(cpu, a, b, 0, size); return a - b;
  case ALU_SBB: flags_sub(cpu, a, b, cf, size); return a - b - cf;
  case ALU_OR: r = a | b; break;
  case ALU_AND: r = a & b; break;
  case ALU_XOR: r = a ^ b; break;
  case ALU_INC: flags_add(cpu, a, 1, 0, size); cpu->rflags = (cpu->rflags & ~(uint64_t)F_CF) | cf; return a + 1;
  case ALU_DEC: flags_sub(cpu, a, 1, 0, size); cpu->rflags = (cpu->rflags & ~(uint64_t)F_CF) | cf; return a - 1;
  case ALU_NEG: flags_sub(cpu, 0, a, 0, size); return -a;
  case ALU_NOT: return ~a;
  }
  flags_logic(cpu, r, size);
  return r;
}

#define ATOMIC_RMW(type)                                                          \
  do {                                                                            \
    type old = __atomic_load_n((type *)p, __ATOMIC_RELAXED), nv;                  \
    do {                                                                          \
      cpu->rflags = flags0;                                                       \
      nv = (type)alu(cpu, op, old, b, size);                                      \
    } while (!__atomic_compare_exchange_n((type *)p, &old, nv, false,             \
                                          __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));   \
  } while (0)

/* dst = dst op src, with LOCK done as a host atomic on guest RAM. */
static inline __attribute__((always_inline)) void alu_rmw(struct x86_cpu *cpu, const struct x86_insn *in, enum alu_op op, uint64_t b)
{
  int size = in->op[0].size;
  if ((in->prefixes & PFX_LOCK) && in->op[0].kind == OP_MEM) {
    uint64_t lin = seg_linear(cpu, in->seg, insn_ea(cpu, in), size, ACC_WRITE);
    uint8_t *p = lin_host_ptr(cpu, lin, size, ACC_WRITE);
    if (p) {
      uint64_t flags0 = cpu->rflags;
      switch (size) {
      case 1: ATOMIC_RMW(uint8_t); break;
      case 2: ATOMIC_RMW(uint16_t); break;
      case 4: ATOMIC_RMW(uint32_t); break;
      default: ATOMIC_RMW(uint64_t); break;
      }
      return;
    }
  }
  uint64_t a = op_read(cpu, in, 0);
  uint64_t r = alu(cpu, op, a, b, size);
  if (op != ALU_CMP) op_write(cpu, in, 0, r);
}

HANDLER(add) { alu_rmw(cpu, in, ALU_ADD, op_read(cpu, in, 1)); }
HANDLER(or) { alu_rmw(cpu, in, ALU_OR, op_read(cpu, in, 1)); }
HANDLER(adc) { alu_rmw(cpu, in, ALU_ADC, op_read(cpu, in, 1)); }
HANDLER(sbb) { alu_rmw(cpu, in, ALU_SBB, op_read(cpu, in, 1)); }
HANDLER(and) { alu_rmw(cpu, in, ALU_AND, op_read(cpu, in, 1)); }
HANDLER(sub) { alu_rmw(cpu, in, ALU_SUB, op_read(cpu, in, 1)); }
HANDLER(xor) { alu_rmw(cpu, in, ALU_XOR, op_read(cpu, in, 1)); }
HANDLER(cmp) { alu_rmw(cpu, in, ALU_CMP, op_read(cpu, in, 1)); }
HANDLER(inc) { alu_rmw(cpu, in, ALU_INC, 0); }
HANDLER(dec) { alu_rmw(cpu, in, ALU_DEC, 0); }
HANDLER(neg) { alu_rmw(cpu, in, ALU_NEG, 0); }
HANDLER(not) { alu_rmw(cpu, in, ALU_NOT, 0); }

HANDLER(test)
{
  flags_logic(cpu, op_read(cpu, in, 0) & op_read(cpu, in, 1), in->op[0].size);
}

/* rDX:rAX (AH:AL for bytes) pair used by one-operand MUL/IMUL/DIV/IDIV */
static unsigned __int128 read_acc_pair(struct x86_cpu *cpu, int size)
{
  if (size == 1) return cpu->gpr[R_AX] & 0xffff;
  return ((unsigned __int128)reg_read(cpu, R_DX, size) << (size * 8)) | reg_read(cpu, R_AX, size);
}

static void write_acc_pair(struct x86_cpu *cpu, int size, uint64_t lo, uint64_t hi)
{
  if (size == 1) {
    reg_write(cpu, R_AX, 2, (lo & 0xff) | (hi & 0xff) << 8);
    return;
  }
  reg_write(cpu, R_AX, size, lo);
  reg_write(cpu, R_DX, size, hi);
}

static void mul_flags(struct x86_cpu *cpu, bool overflow, uint64_t lo, int size)
{
  flags_szp(cpu, lo, size);   /* SF/ZF/PF/AF are undefined; this matches common hardware */
  cpu->rflags &= ~(uint64_t)(F_CF | F_OF | F_AF);
  if (overflow) cpu->rflags |= F_CF | F_OF;
}

HANDLER(mul)
{
  int size = in->op[0].size, bits = size * 8;
  unsigned __int128 r = (unsigned __int128)reg_read(cpu, R_AX, size) * op_read(cpu, in, 0);
  uint64_t lo = (uint64_t)r & size_mask(size), hi = (uint64_t)(r >> bits) & size_mask(size);
  write_acc_pair(cpu, size, lo, hi);
  mul_flags(cpu, hi != 0, lo, size);
}

HANDLER(imul)
{
  int size = in->op[0].size, bits = size * 8;
  __int128 a, b;
  if (in->nops == 1) {
    a = sign_extend(reg_read(cpu, R_AX, size), size);
    b = sign_extend(op_read(cpu, in, 0), size);
  } else {
    a = sign_extend(op_read(cpu, in, 1), size);
    b = sign_extend(in->nops == 3 ? in->imm & size_mask(size) : op_read(cpu, in, 0), size);
  }
  __int128 r = a * b;
  uint64_t lo = (uint64_t)r & size_mask(size);
  bool overflow = r != (__int128)sign_extend(lo, size);
  if (in->nops == 1) write_acc_pair(cpu, size, lo, (uint64_t)(r >> bits) & size_mask(size));
  else op_write(cpu, in, 0, lo);
  mul_flags(cpu, overflow, lo, size);
}

HANDLER(div)
{
  int size = in->op[0].size;
  uint64_t d = op_read(cpu, in, 0);
  if (!d) RAISE(cpu, EXC_DE);
  unsigned __int128 n = read_acc_pair(cpu, size);
  unsigned __int128 q = n / d;
  if (q > size_mask(size)) RAISE(cpu, EXC_DE);
  write_acc_pair(cpu, size, (uint64_t)q, (uint64_t)(n % d));
}

HANDLER(idiv)
{
  int size = in->op[0].size;
  int64_t d = sign_extend(op_read(cpu, in, 0), size);
  if (!d) RAISE(cpu, EXC_DE);
  unsigned __int128 raw = read_acc_pair(cpu, size);
  int sh = 128 - size * 16;
  __int128 n = (__int128)(raw << sh) >> sh;
  if (d == -1 && (unsigned __int128)n == (unsigned __int128)1 << 127) RAISE(cpu, EXC_DE);
  __int128 q = n / d, r = n % d;
  __int128 qmax = ((__int128)1 << (size * 8 - 1)) - 1;
  if (q > qmax || q < -qmax - 1) RAISE(cpu, EXC_DE);
  write_acc_pair(cpu, size, (uint64_t)q & size_mask(size), (uint64_t)r & size_mask(size));
}

/* SHL/SAL/SHR/SAR/ROL/ROR/RCL/RCR: reg field of the ModRM selects the operation. */
HANDLER(shift)
{
  int size = in->op[0].size, bits = size * 8;
  uint64_t m = size_mask(size);
  unsigned count = (in->nops > 1 ? op_read(cpu, in, 1) : 1) & (size == 8 ? 63 : 31);
  if (!count) {   /* no flags change, but the operand is still accessed */
    uint64_t v = op_read(cpu, in, 0);
    if (in->op[0].kind == OP_REG && size == 4) op_write(cpu, in, 0, v);   /* still zero-extends */
    return;
  }
  uint64_t a = op_read(cpu, in, 0), r = a;
  uint64_t f = cpu->rflags;
  uint64_t cf = 0;
  int op;   /* the ModRM reg encoding: 0 rol, 1 ror, 2 rcl, 3 rcr, 4 shl, 5 shr, 7 sar */
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_ROL: op = 0; break;
  case ZYDIS_MNEMONIC_ROR: op = 1; break;
  case ZYDIS_MNEMONIC_RCL: op = 2; break;
  case ZYDIS_MNEMONIC_RCR: op = 3; break;
  case ZYDIS_MNEMONIC_SHR: op = 5; break;
  case ZYDIS_MNEMONIC_SAR: op = 7; break;
  default: op = 4; break;
  }
  switch (op) {
  case 0: { unsigned c = count % bits; r = ((a << c) | (c ? a >> (bits - c) : 0)) & m; cf = r & 1;
            f = (f & ~(uint64_t)(F_CF | F_OF)) | cf | (((r >> (bits - 1)) ^ cf) ? F_OF : 0); break; }
  case 1: { unsigned c = count % bits; r = ((a >> c) | (c ? a << (bits - c) : 0)) & m; cf = (r >> (bits - 1)) & 1;
            f = (f & ~(uint64_t)(F_CF | F_OF)) | cf | ((((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1) ? F_OF : 0); break; }
  case 2: case 3: {
    unsigned c = count % (bits + 1);
    unsigned __int128 v = ((unsigned __int128)(f & F_CF) << bits) | a;   /* CF:a as bits+1 wide */
    unsigned __int128 vm = (((unsigned __int128)1) << (bits + 1)) - 1;
    if (op == 2) v = ((v << c) | (c ? v >> (bits + 1 - c) : 0)) & vm;
    else v = ((v >> c) | (c ? v << (bits + 1 - c) : 0)) & vm;
    r = (uint64_t)v & m;
    cf = (uint64_t)(v >> bits) & 1;
    bool of = op == 2 ? ((r >> (bits - 1)) & 1) ^ cf : (((r >> (bits - 1)) ^ (r >> (bits - 2))) & 1);
    f = (f & ~(uint64_t)(F_CF | F_OF)) | cf | (of ? F_OF : 0);
    break;
  }
  case 4: case 6:
    r = count < 64 ? (a << count) & m : 0;
    cf = count <= (unsigned)bits ? (a >> (bits - count)) & 1 : 0;
    cpu->rflags = f;
    flags_szp(cpu, r, size);
    f = (cpu->rflags & ~(uint64_t)(F_CF | F_OF | F_AF)) | cf | ((((r >> (bits - 1)) & 1) ^ cf) ? F_OF : 0);
    break;
  case 5:
    r = a >> count;
    cf = (a >> (count - 1)) & 1;
    cpu->rflags = f;
    flags_szp(cpu, r, size);
    f = (cpu->rflags & ~(uint64_t)(F_CF | F_OF | F_AF)) | cf | (((a >> (bits - 1)) & 1) ? F_OF : 0);
    break;
  case 7: {
    int64_t s = sign_extend(a, size);
    r = (uint64_t)(s >> count) & m;
    cf = ((uint64_t)(s >> (count - 1))) & 1;
    cpu->rflags = f;
    flags_szp(cpu, r, size);
    f = (cpu->rflags & ~(uint64_t)(F_CF | F_OF | F_AF)) | cf;
    break;
  }
  }
  op_write(cpu, in, 0, r);
  cpu->rflags = f;
}
