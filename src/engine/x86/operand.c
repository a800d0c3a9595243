/* Operand access: registers, effective addresses, memory operands, the stack. */
#include "engine.h"

uint64_t reg_read(struct x86_cpu *cpu, int reg, int size)
{
  return cpu->gpr[reg] & size_mask(size);
}

void reg_write(struct x86_cpu *cpu, int reg, int size, uint64_t v)
{
  switch (size) {
  case 1: cpu->gpr[reg] = (cpu->gpr[reg] & ~0xffULL) | (v & 0xff); break;
  case 2: cpu->gpr[reg] = (cpu->gpr[reg] & ~0xffffULL) | (v & 0xffff); break;
  case 4: cpu->gpr[reg] = (uint32_t)v; break;   /* 32-bit writes zero-extend */
  default: cpu->gpr[reg] = v; break;
  }
}

uint64_t insn_ea(struct x86_cpu *cpu, const struct x86_insn *in)
{
  uint64_t ea = (uint64_t)in->disp;
  if (in->base == 0xfe) ea += cpu->next_rip;
  else if (in->base != 0xff) ea += cpu->gpr[in->base];
  if (in->index != 0xff) ea += cpu->gpr[in->index] * in->scale;
  return ea & addr_mask(in->addrsize);
}

uint64_t op_read_any(struct x86_cpu *cpu, const struct x86_insn *in, int i)
{
  const struct x86_operand *o = &in->op[i];
  switch (o->kind) {
  case OP_REG:
    if (o->high8) return (cpu->gpr[o->reg] >> 8) & 0xff;
    return cpu->gpr[o->reg] & size_mask(o->size);
  case OP_MEM: return mem_read(cpu, in->seg, insn_ea(cpu, in), o->size);
  case OP_IMM: return in->imm & size_mask(o->size);
  case OP_SEG: return cpu->seg[o->reg].sel;
  default: x86_internal_error(cpu, in->bytes, in->len);
  }
}

void op_write_any(struct x86_cpu *cpu, const struct x86_insn *in, int i, uint64_t v)
{
  const struct x86_operand *o = &in->op[i];
  switch (o->kind) {
  case OP_REG:
    if (o->high8) cpu->gpr[o->reg] = (cpu->gpr[o->reg] & ~0xff00ULL) | ((v & 0xff) << 8);
    else reg_write(cpu, o->reg, o->size, v);
    return;
  case OP_MEM: mem_write(cpu, in->seg, insn_ea(cpu, in), o->size, v); return;
  case OP_SEG: load_seg(cpu, o->reg, (uint16_t)v); return;
  default: x86_internal_error(cpu, in->bytes, in->len);
  }
}

static uint64_t stack_mask(const struct x86_cpu *cpu)
{
  return size_mask(cpu->stack_bits / 8);
}

/* The stack pointer is only updated after the memory access succeeds. */
void push(struct x86_cpu *cpu, int size, uint64_t v)
{
  uint64_t m = stack_mask(cpu);
  uint64_t sp = (cpu->gpr[R_SP] - size) & m;
  mem_write(cpu, S_SS, sp, size, v);
  cpu->gpr[R_SP] = (cpu->gpr[R_SP] & ~m) | sp;
}

uint64_t pop(struct x86_cpu *cpu, int size)
{
  uint64_t m = stack_mask(cpu);
  uint64_t sp = cpu->gpr[R_SP] & m;
  uint64_t v = mem_read(cpu, S_SS, sp, size);
  cpu->gpr[R_SP] = (cpu->gpr[R_SP] & ~m) | ((sp + size) & m);
  return v;
}
