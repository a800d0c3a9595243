/* Data movement: MOV and friends, stack operations, flags transfer, conversions. */
#include <Zydis/Zydis.h>

#include "exec.h"

HANDLER(mov)
{
  const struct x86_operand *d = &in->op[0], *s = &in->op[1];
  if (d->kind == OP_CR || s->kind == OP_CR || d->kind == OP_DR || s->kind == OP_DR) {
    exec_mov_cr(cpu, in);
    return;
  }
  op_write(cpu, in, 0, op_read(cpu, in, 1));
  if (d->kind == OP_SEG && d->reg == S_SS) cpu->shadow = X86_SHADOW_MOV_SS;
}

HANDLER(movzx) { op_write(cpu, in, 0, op_read(cpu, in, 1)); }
HANDLER(movsx) { op_write(cpu, in, 0, (uint64_t)sign_extend(op_read(cpu, in, 1), in->op[1].size)); }
HANDLER(lea) { op_write(cpu, in, 0, insn_ea(cpu, in)); }
HANDLER(nop) { (void)cpu, (void)in; }

HANDLER(xchg)
{
  int size = in->op[0].size;
  if (in->op[0].kind == OP_MEM || in->op[1].kind == OP_MEM) {
    /* XCHG with memory is always locked: a host atomic exchange on guest RAM */
    int mem = in->op[0].kind == OP_MEM ? 0 : 1, reg = 1 - mem;
    uint64_t v = op_read(cpu, in, reg);
    uint64_t lin = seg_linear(cpu, in->seg, insn_ea(cpu, in), size, ACC_WRITE);
    uint8_t *p = lin_host_ptr(cpu, lin, size, ACC_WRITE);
    uint64_t old;
    if (p) {
      switch (size) {
      case 1: old = __atomic_exchange_n(p, (uint8_t)v, __ATOMIC_SEQ_CST); break;
      case 2: old = __atomic_exchange_n((uint16_t *)p, (uint16_t)v, __ATOMIC_SEQ_CST); break;
      case 4: old = __atomic_exchange_n((uint32_t *)p, (uint32_t)v, __ATOMIC_SEQ_CST); break;
      default: old = __atomic_exchange_n((uint64_t *)p, v, __ATOMIC_SEQ_CST); break;
      }
    } else {
      old = op_read(cpu, in, mem);
      op_write(cpu, in, mem, v);
    }
    op_write(cpu, in, reg, old);
    return;
  }
  uint64_t a = op_read(cpu, in, 0), b = op_read(cpu, in, 1);
  op_write(cpu, in, 0, b);
  op_write(cpu, in, 1, a);
}

HANDLER(push)
{
  uint64_t v = in->op[0].kind == OP_IMM ? in->imm : op_read(cpu, in, 0);
  push(cpu, in->opsize, v & size_mask(in->opsize));
}

HANDLER(pop)
{
  int size = in->opsize;
  uint64_t m = cpu->stack_bits == 64 ? ~0ULL : size_mask(cpu->stack_bits / 8);
  uint64_t sp = cpu->gpr[R_SP], new_sp = (sp & ~m) | ((sp + size) & m);
  uint64_t v = mem_read(cpu, S_SS, sp & m, size);
  if (in->op[0].kind == OP_MEM) {
    /* the destination address uses the incremented stack pointer; RSP changes only on success */
    cpu->gpr[R_SP] = new_sp;
    uint64_t ea = insn_ea(cpu, in);
    cpu->gpr[R_SP] = sp;
    mem_write(cpu, in->seg, ea, in->op[0].size, v);
  } else {
    op_write(cpu, in, 0, v);   /* POP rSP leaves the popped value, so SP is set first below */
    if (in->op[0].kind == OP_REG && in->op[0].reg == R_SP) return;
  }
  cpu->gpr[R_SP] = new_sp;
  if (in->op[0].kind == OP_SEG && in->op[0].reg == S_SS) cpu->shadow = X86_SHADOW_MOV_SS;
}

static uint64_t popf_mask(struct x86_cpu *cpu)
{
  uint64_t m = F_ARITH | F_TF | F_DF | F_NT | F_AC | F_ID;
  if (!prot_mode(cpu) || cpu->cpl == 0) m |= F_IF | F_IOPL;
  else if (cpu->cpl <= ((cpu->rflags & F_IOPL) >> 12)) m |= F_IF;
  return m;
}

HANDLER(pushf)
{
  push(cpu, in->opsize, cpu->rflags & ~(uint64_t)(F_VM | F_RF) & size_mask(in->opsize));
}

HANDLER(popf)
{
  uint64_t v = pop(cpu, in->opsize);
  uint64_t m = popf_mask(cpu) & size_mask(in->opsize);
  set_rflags(cpu, v, m);
  cpu->rflags &= ~(uint64_t)F_RF;
}

HANDLER(lahf)
{
  uint64_t ah = (cpu->rflags & (F_SF | F_ZF | F_AF | F_PF | F_CF)) | 2;
  cpu->gpr[R_AX] = (cpu->gpr[R_AX] & ~0xff00ULL) | ah << 8;
}

HANDLER(sahf)
{
  set_rflags(cpu, (cpu->gpr[R_AX] >> 8) & 0xff, F_SF | F_ZF | F_AF | F_PF | F_CF);
}

HANDLER(cbw)   /* CBW / CWDE / CDQE */
{
  int size = in->opsize;
  reg_write(cpu, R_AX, size, (uint64_t)sign_extend(cpu->gpr[R_AX], size / 2));
}

HANDLER(cwd)   /* CWD / CDQ / CQO */
{
  int size = in->opsize;
  reg_write(cpu, R_DX, size, sign_extend(cpu->gpr[R_AX], size) < 0 ? ~0ULL : 0);
}

HANDLER(cmovcc)
{
  uint64_t v = op_read(cpu, in, 1);
  if (cond_true(cpu, in->opcode & 0xf)) op_write(cpu, in, 0, v);
  else if (in->op[0].size == 4) op_write(cpu, in, 0, op_read(cpu, in, 0));  /* zero-extends */
}

HANDLER(setcc) { op_write(cpu, in, 0, cond_true(cpu, in->opcode & 0xf)); }

HANDLER(bswap)
{
  uint64_t v = op_read(cpu, in, 0);
  switch (in->op[0].size) {
  case 4: v = __builtin_bswap32((uint32_t)v); break;
  case 8: v = __builtin_bswap64(v); break;
  default: v = 0; break;     /* 16-bit BSWAP is undefined; hardware gives 0 */
  }
  op_write(cpu, in, 0, v);
}

HANDLER(enter)
{
  int size = in->opsize;
  unsigned alloc = in->imm & 0xffff, level = in->imm2 & 31;
  uint64_t m = cpu->stack_bits == 64 ? ~0ULL : size_mask(cpu->stack_bits / 8);
  push(cpu, size, reg_read(cpu, R_BP, size));
  uint64_t frame = cpu->gpr[R_SP] & m;
  uint64_t bp = cpu->gpr[R_BP];
  for (unsigned i = 1; i < level; i++) {
    bp = (bp & ~m) | ((bp - size) & m);
    push(cpu, size, mem_read(cpu, S_SS, bp & m, size));
  }
  if (level) push(cpu, size, frame);
  uint64_t sp = (cpu->gpr[R_SP] - alloc) & m;
  mem_read(cpu, S_SS, sp, 1);   /* the new stack top must be accessible */
  reg_write(cpu, R_BP, size, frame);
  cpu->gpr[R_SP] = (cpu->gpr[R_SP] & ~m) | sp;
}

HANDLER(leave)
{
  uint64_t m = cpu->stack_bits == 64 ? ~0ULL : size_mask(cpu->stack_bits / 8);
  uint64_t old_sp = cpu->gpr[R_SP];
  cpu->gpr[R_SP] = (cpu->gpr[R_SP] & ~m) | (cpu->gpr[R_BP] & m);
  uint64_t v;
  uint64_t sp = cpu->gpr[R_SP] & m;
  cpu->gpr[R_SP] = old_sp;
  v = mem_read(cpu, S_SS, sp, in->opsize);
  cpu->gpr[R_SP] = (cpu->gpr[R_SP] & ~m) | ((sp + in->opsize) & m);
  reg_write(cpu, R_BP, in->opsize, v);
}

HANDLER(pusha)
{
  int size = in->opsize;
  uint64_t sp = cpu->gpr[R_SP];
  for (int r = R_AX; r <= R_DI; r++) push(cpu, size, r == R_SP ? sp : cpu->gpr[r]);
}

HANDLER(popa)
{
  int size = in->opsize;
  for (int r = R_DI; r >= R_AX; r--) {
    uint64_t v = pop(cpu, size);
    if (r != R_SP) reg_write(cpu, r, size, v);
  }
}

/* LES/LDS/LSS/LFS/LGS r, m16:16/m16:32/m16:64: the selector follows the offset; the segment is
 * loaded (and checked) before the register is written */
HANDLER(lxs)
{
  int size = in->op[0].size, seg;
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_LES: seg = S_ES; break;
  case ZYDIS_MNEMONIC_LSS: seg = S_SS; break;
  case ZYDIS_MNEMONIC_LFS: seg = S_FS; break;
  case ZYDIS_MNEMONIC_LGS: seg = S_GS; break;
  default: seg = S_DS; break;
  }
  uint64_t ea = insn_ea(cpu, in);
  uint64_t off = mem_read(cpu, in->seg, ea, size);
  uint16_t sel = (uint16_t)mem_read(cpu, in->seg, (ea + (uint64_t)size) & addr_mask(in->addrsize), 2);
  load_seg(cpu, seg, sel);
  reg_write(cpu, in->op[0].reg, size, off);
}
