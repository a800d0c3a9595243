/* Control transfer: jumps, calls, returns, loops, software interrupts, IRET, HLT, flag bits. */
#include "exec.h"
#include "far.h"

static uint64_t ip_mask(const struct x86_cpu *cpu, int opsize)
{
  return cpu->code_bits == 64 ? ~0ULL : size_mask(opsize);
}

static uint64_t rel_target(struct x86_cpu *cpu, const struct x86_insn *in)
{
  return (cpu->next_rip + in->imm) & ip_mask(cpu, in->opsize);
}

static void jump_to(struct x86_cpu *cpu, uint64_t target)
{
  if (cpu->code_bits != 64 && target > cpu->seg[S_CS].limit) RAISE_ERR(cpu, EXC_GP, 0);
  if (cpu->code_bits == 64 && !is_canonical(target)) RAISE_ERR(cpu, EXC_GP, 0);
  cpu->next_rip = target;
}

/* A far pointer operand: ptr16:16/32 immediate, or m16:16/32/64 in memory (offset first). */
static bool far_operand(struct x86_cpu *cpu, const struct x86_insn *in, uint16_t *sel, uint64_t *off)
{
  const struct x86_operand *o = &in->op[0];
  if (o->kind == OP_FAR) {
    *sel = in->imm2;
    *off = in->imm;
    return true;
  }
  if (o->kind == OP_MEM && o->size == in->opsize + 2) {
    uint64_t ea = insn_ea(cpu, in);
    *off = mem_read(cpu, in->seg, ea, in->opsize);
    *sel = mem_read(cpu, in->seg, (ea + in->opsize) & addr_mask(in->addrsize), 2);
    return true;
  }
  return false;
}

HANDLER(jmp)
{
  uint16_t sel;
  uint64_t off;
  if (far_operand(cpu, in, &sel, &off)) {
    far_jmp(cpu, sel, off);
    return;
  }
  uint64_t t = in->op[0].kind == OP_IMM ? rel_target(cpu, in) : op_read(cpu, in, 0) & ip_mask(cpu, in->opsize);
  jump_to(cpu, t);
}


HANDLER(jcc)
{
  if (cond_true(cpu, in->opcode & 0xf)) jump_to(cpu, rel_target(cpu, in));
}

HANDLER(jcxz)   /* JCXZ / JECXZ / JRCXZ: the address size picks the counter */
{
  if (!reg_read(cpu, R_CX, in->addrsize)) jump_to(cpu, rel_target(cpu, in));
}

HANDLER(loop)   /* LOOP (E2), LOOPE (E1), LOOPNE (E0) */
{
  uint64_t c = (reg_read(cpu, R_CX, in->addrsize) - 1) & size_mask(in->addrsize);
  bool take = c != 0;
  if (in->opcode == 0xe1) take = take && (cpu->rflags & F_ZF);
  if (in->opcode == 0xe0) take = take && !(cpu->rflags & F_ZF);
  uint64_t t = take ? rel_target(cpu, in) : 0;
  if (take && cpu->code_bits != 64 && t > cpu->seg[S_CS].limit) RAISE_ERR(cpu, EXC_GP, 0);
  reg_write(cpu, R_CX, in->addrsize == 4 && cpu->code_bits != 64 ? 4 : in->addrsize, c);
  if (take) cpu->next_rip = t;
}

HANDLER(call)
{
  uint16_t sel;
  uint64_t off;
  if (far_operand(cpu, in, &sel, &off)) {
    far_call(cpu, sel, off, in->opsize);
    return;
  }
  uint64_t t = in->op[0].kind == OP_IMM ? rel_target(cpu, in) : op_read(cpu, in, 0) & ip_mask(cpu, in->opsize);
  if (cpu->code_bits != 64 && t > cpu->seg[S_CS].limit) RAISE_ERR(cpu, EXC_GP, 0);
  push(cpu, in->opsize, cpu->next_rip);
  jump_to(cpu, t);
}


static void release_stack(struct x86_cpu *cpu, uint64_t n)
{
  uint64_t m = cpu->stack_bits == 64 ? ~0ULL : size_mask(cpu->stack_bits / 8);
  cpu->gpr[R_SP] = (cpu->gpr[R_SP] & ~m) | ((cpu->gpr[R_SP] + n) & m);
}

HANDLER(ret_far) { far_ret(cpu, in->opsize, in->nops ? in->imm & 0xffff : 0); }

HANDLER(ret)
{
  if (in->opcode == 0xca || in->opcode == 0xcb) {
    exec_ret_far(cpu, in);
    return;
  }
  uint64_t t = pop(cpu, in->opsize) & ip_mask(cpu, in->opsize);
  if (in->nops) release_stack(cpu, in->imm & 0xffff);
  jump_to(cpu, t);
}

static void soft_int(struct x86_cpu *cpu, int vector)
{
  if ((cpu->rflags & F_VM) && ((cpu->rflags & F_IOPL) >> 12) < 3) RAISE_ERR(cpu, EXC_GP, 0);
  deliver_event(cpu, vector, 0, false, true, cpu->next_rip);
  cpu->next_rip = cpu->rip;
}

HANDLER(int) { soft_int(cpu, in->imm & 0xff); }
HANDLER(int3) { soft_int(cpu, EXC_BP); }
HANDLER(into)
{
  if (cpu->rflags & F_OF) soft_int(cpu, EXC_OF);
}

static uint64_t iret_flags_mask(struct x86_cpu *cpu, int size)
{
  uint64_t m = F_ARITH | F_TF | F_DF | F_NT | F_RF | F_AC | F_ID;
  if (!prot_mode(cpu) || cpu->cpl == 0) m |= F_IF | F_IOPL;
  else if (cpu->cpl <= ((cpu->rflags & F_IOPL) >> 12)) m |= F_IF;
  return m & size_mask(size);
}

HANDLER(iret)
{
  int size = in->opsize;
  cpu->nmi_blocked = false;
  if (!prot_mode(cpu)) {
    uint64_t ip = pop(cpu, size);
    uint16_t cs = pop(cpu, size);
    uint64_t fl = pop(cpu, size);
    set_rflags(cpu, fl, iret_flags_mask(cpu, size));
    cpu->seg[S_CS].sel = cs;
    cpu->seg[S_CS].base = (uint64_t)cs << 4;
    cpu->next_rip = ip & size_mask(size);
    return;
  }
  if ((cpu->rflags & F_NT) && !(cpu->efer & EFER_LMA)) {   /* return to the back-linked task */
    task_iret(cpu);
    return;
  }
  if (cpu->rflags & F_NT) RAISE_ERR(cpu, EXC_GP, 0);
  if (cpu->rflags & F_VM) x86_internal_error(cpu, in->bytes, in->len);  /* VM86 */
  uint64_t ip = pop(cpu, size);
  uint16_t sel = pop(cpu, size);
  uint64_t fl = pop(cpu, size);
  bool outer = (sel & 3) > cpu->cpl;
  bool pop_stack = cpu->code_bits == 64 || outer;   /* IRETQ always pops SS:RSP */
  uint64_t sp = pop_stack ? pop(cpu, size) : 0;
  uint16_t ss = pop_stack ? pop(cpu, size) : 0;
  if ((sel & ~3) == 0 || (sel & 3) < cpu->cpl) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  struct x86_seg d;
  read_descriptor(cpu, sel, &d, EXC_GP);
  if (!d.s || !(d.type & 8) || ((d.type & 4) ? d.dpl > (sel & 3) : d.dpl != (sel & 3)))
    RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  if (!d.present) RAISE_ERR(cpu, EXC_NP, sel & 0xfffc);
  uint64_t mask = iret_flags_mask(cpu, size);
  d.sel = sel;
  cpu->seg[S_CS] = d;
  set_rflags(cpu, fl, mask);
  x86_cpu_update_mode(cpu);   /* CPL is now the RPL of the new CS */
  if (pop_stack) {
    load_seg(cpu, S_SS, ss);
    cpu->gpr[R_SP] = cpu->stack_bits == 64 ? sp : cpu->stack_bits == 32 ? (uint32_t)sp
                                                 : (cpu->gpr[R_SP] & ~0xffffULL) | (sp & 0xffff);
  }
  cpu->next_rip = cpu->code_bits == 64 ? ip : ip & size_mask(size);
}

HANDLER(hlt)
{
  require_cpl0(cpu);
  if (cpu->irq_ops) {   /* in-kernel irqchip: wait for an interrupt instead of exiting */
    cpu->halted = true;
    if (cpu->irq_ops->halt(cpu->irq_opaque)) {
      cpu->halted = false;   /* woken: the run loop takes the interrupt after the HLT */
    } else {
      cpu->run->exit_reason = KVM_EXIT_INTR;   /* still halted on the next KVM_RUN */
      cpu->exit_ret = -1;
      cpu->exit_now = true;
    }
    return;
  }
  cpu->run->exit_reason = KVM_EXIT_HLT;
  cpu->exit_now = true;
}

static void check_iopl(struct x86_cpu *cpu)
{
  if (prot_mode(cpu) && cpu->cpl > ((cpu->rflags & F_IOPL) >> 12)) RAISE_ERR(cpu, EXC_GP, 0);
}

HANDLER(cli) { check_iopl(cpu); cpu->rflags &= ~(uint64_t)F_IF; }
HANDLER(sti)
{
  check_iopl(cpu);
  if (!(cpu->rflags & F_IF)) cpu->shadow = X86_SHADOW_STI;   /* interrupts wait one more instruction */
  cpu->rflags |= F_IF;
}
HANDLER(cld) { cpu->rflags &= ~(uint64_t)F_DF; }
HANDLER(std) { cpu->rflags |= F_DF; }
HANDLER(clc) { cpu->rflags &= ~(uint64_t)F_CF; }
HANDLER(stc) { cpu->rflags |= F_CF; }
HANDLER(cmc) { cpu->rflags ^= F_CF; }
