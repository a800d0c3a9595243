/* Port I/O and string instructions (MOVS/STOS/LODS/CMPS/SCAS/INS/OUTS) with REP prefixes. */
#include <string.h>

#include "exec.h"

#define REP_BATCH 4096        /* iterations per step, so long REPs stay interruptible */

HANDLER(in)
{
  uint16_t port = in->op[1].kind == OP_IMM ? in->imm & 0xff : (uint16_t)cpu->gpr[R_DX];
  op_write(cpu, in, 0, io_in(cpu, port, in->op[0].size));
}

HANDLER(out)
{
  uint16_t port = in->op[0].kind == OP_IMM ? in->imm & 0xff : (uint16_t)cpu->gpr[R_DX];
  if (!io_out(cpu, port, in->op[1].size, op_read(cpu, in, 1))) return;
  /* As KVM's fast PIO path: RIP stays at the OUT while userspace handles the exit and moves
   * past it on the next KVM_RUN (if userspace left RIP alone). */
  cpu->out_skip_rip = cpu->rip;
  cpu->out_next_rip = cpu->next_rip;
  cpu->pending_completion = PEND_OUT;
  cpu->next_rip = cpu->rip;
}

enum str_kind { STR_MOVS, STR_STOS, STR_LODS, STR_CMPS, STR_SCAS, STR_INS, STR_OUTS };

static void advance(struct x86_cpu *cpu, int reg, int as, int size)
{
  uint64_t delta = (cpu->rflags & F_DF) ? (uint64_t)-size : (uint64_t)size;
  reg_write(cpu, reg, as, reg_read(cpu, reg, as) + delta);
}

/* One element of a string instruction. */
static void string_step(struct x86_cpu *cpu, const struct x86_insn *in, enum str_kind k, int size)
{
  int as = in->addrsize;
  uint64_t si = reg_read(cpu, R_SI, as), di = reg_read(cpu, R_DI, as), v;
  switch (k) {
  case STR_MOVS:
    v = mem_read(cpu, in->seg, si, size);
    mem_write(cpu, S_ES, di, size, v);
    advance(cpu, R_SI, as, size);
    advance(cpu, R_DI, as, size);
    break;
  case STR_STOS:
    mem_write(cpu, S_ES, di, size, cpu->gpr[R_AX]);
    advance(cpu, R_DI, as, size);
    break;
  case STR_LODS:
    reg_write(cpu, R_AX, size, mem_read(cpu, in->seg, si, size));
    advance(cpu, R_SI, as, size);
    break;
  case STR_CMPS: {
    uint64_t a = mem_read(cpu, in->seg, si, size), b = mem_read(cpu, S_ES, di, size);
    flags_sub(cpu, a, b, 0, size);
    advance(cpu, R_SI, as, size);
    advance(cpu, R_DI, as, size);
    break;
  }
  case STR_SCAS:
    flags_sub(cpu, cpu->gpr[R_AX], mem_read(cpu, S_ES, di, size), 0, size);
    advance(cpu, R_DI, as, size);
    break;
  case STR_INS:
    seg_linear(cpu, S_ES, di, size, ACC_WRITE);
    v = io_in(cpu, (uint16_t)cpu->gpr[R_DX], size);
    mem_write(cpu, S_ES, di, size, v);
    advance(cpu, R_DI, as, size);
    break;
  case STR_OUTS:
    v = mem_read(cpu, in->seg, si, size);
    io_out(cpu, (uint16_t)cpu->gpr[R_DX], size, v);
    advance(cpu, R_SI, as, size);
    break;
  }
}

/* REP INS from userspace, batched as KVM's pio_in_emulated: one exit brings as many elements as
 * fit in 1 KiB, before RDI leaves its page and RCX runs out; the re-executed instruction stores
 * them (stopping early if userspace lowered RCX meanwhile) and goes on with the rest. */
#define INS_BATCH_BYTES 1024

static void rep_ins(struct x86_cpu *cpu, const struct x86_insn *in, int size)
{
  int as = in->addrsize;
  uint16_t port = (uint16_t)cpu->gpr[R_DX];
  if (cpu->io_in_done) {
    cpu->io_in_done = false;
    const uint8_t *data = io_in_data(cpu);
    for (uint32_t i = 0; i < cpu->run->io.count; i++) {
      uint64_t c = reg_read(cpu, R_CX, as), v = 0;
      if (!c) return;
      memcpy(&v, data + (size_t)i * (size_t)size, (size_t)size);
      mem_write(cpu, S_ES, reg_read(cpu, R_DI, as), size, v);
      advance(cpu, R_DI, as, size);
      reg_write(cpu, R_CX, as, c - 1);
    }
    if (reg_read(cpu, R_CX, as)) cpu->next_rip = cpu->rip;   /* the rest at the next step */
    return;
  }
  for (int n = 0; n < REP_BATCH; n++) {
    uint64_t c = reg_read(cpu, R_CX, as), v;
    if (!c) return;
    uint64_t di = reg_read(cpu, R_DI, as);
    seg_linear(cpu, S_ES, di, size, ACC_WRITE);
    if (!io_in_kernel(cpu, port, size, &v)) {
      uint64_t off = di & 0xfff;
      uint64_t in_page = (cpu->rflags & F_DF) ? off : 0x1000 - off;
      uint64_t fit = (uint64_t)(INS_BATCH_BYTES / size);
      uint64_t count = in_page < fit ? in_page : fit;
      if (count > c) count = c;
      io_in_exit(cpu, port, size, count ? (uint32_t)count : 1);
    }
    mem_write(cpu, S_ES, di, size, v);
    advance(cpu, R_DI, as, size);
    reg_write(cpu, R_CX, as, c - 1);
  }
  if (reg_read(cpu, R_CX, as)) cpu->next_rip = cpu->rip;
}

static void string_op(struct x86_cpu *cpu, const struct x86_insn *in, enum str_kind k)
{
  int as = in->addrsize, size = in->opsize;
  bool rep = in->prefixes & (PFX_REP | PFX_REPNE);
  bool cond = k == STR_CMPS || k == STR_SCAS;
  if (!rep) {
    string_step(cpu, in, k, size);
    return;
  }
  if (k == STR_INS) {
    rep_ins(cpu, in, size);
    return;
  }
  for (int n = 0;; n++) {
    uint64_t c = reg_read(cpu, R_CX, as);
    if (!c) return;
    if (n == REP_BATCH) {
      cpu->next_rip = cpu->rip;   /* continue at the next step */
      return;
    }
    string_step(cpu, in, k, size);
    reg_write(cpu, R_CX, as, c - 1);
    if (cond && (in->prefixes & PFX_REPNE ? (cpu->rflags & F_ZF) : !(cpu->rflags & F_ZF))) return;
    if (cpu->exit_now) {         /* one I/O exit per element */
      if (c - 1) cpu->next_rip = cpu->rip;
      return;
    }
  }
}

/* Zydis names SSE MOVSD/CMPSD like the string forms: only A4-A7 are string instructions here. */
HANDLER(movs)
{
  if (in->opcode != 0xa4 && in->opcode != 0xa5) x86_internal_error(cpu, in->bytes, in->len);
  string_op(cpu, in, STR_MOVS);
}
HANDLER(stos) { string_op(cpu, in, STR_STOS); }
HANDLER(lods) { string_op(cpu, in, STR_LODS); }
HANDLER(cmps)
{
  if (in->opcode != 0xa6 && in->opcode != 0xa7) x86_internal_error(cpu, in->bytes, in->len);
  string_op(cpu, in, STR_CMPS);
}
HANDLER(scas) { string_op(cpu, in, STR_SCAS); }
HANDLER(ins) { string_op(cpu, in, STR_INS); }
HANDLER(outs) { string_op(cpu, in, STR_OUTS); }
