/* Interrupt and exception delivery through the IVT (real mode) or the IDT (protected, long). */
#include <stdio.h>

#include "engine.h"
#include "far.h"

static void deliver_real(struct x86_cpu *cpu, int vector, uint64_t ret_rip)
{
  if ((uint32_t)vector * 4 + 3 > cpu->idt.limit) RAISE_ERR(cpu, EXC_GP, vector * 8 + 2);
  uint32_t ent = (uint32_t)lin_read(cpu, cpu->idt.base + vector * 4, 4, ACC_SYS);
  push(cpu, 2, cpu->rflags);
  push(cpu, 2, cpu->seg[S_CS].sel);
  push(cpu, 2, ret_rip);
  cpu->rflags &= ~(uint64_t)(F_IF | F_TF | F_AC | F_RF);
  cpu->seg[S_CS].sel = ent >> 16;
  cpu->seg[S_CS].base = (ent >> 16) << 4;
  cpu->rip = ent & 0xffff;
}

/* Reads a field of the current TSS as an implicit supervisor access: #TS(TR) past its limit. */
uint64_t tss_read(struct x86_cpu *cpu, uint32_t off, int size)
{
  if (off + size - 1 > cpu->tr.limit) RAISE_ERR(cpu, EXC_TS, cpu->tr.sel & 0xfffc);
  return lin_read(cpu, cpu->tr.base + off, size, ACC_SYS);
}

static void deliver_prot(struct x86_cpu *cpu, int vector, uint32_t error, bool has_error, bool soft,
                         uint64_t ret_rip)
{
  bool lm = cpu->efer & EFER_LMA;
  int gsize = lm ? 16 : 8;
  uint32_t idt_err = vector * 8 + 2 + (soft ? 0 : 1);
  if ((uint32_t)vector * gsize + gsize - 1 > cpu->idt.limit) RAISE_ERR(cpu, EXC_GP, idt_err);
  uint64_t lo = lin_read(cpu, cpu->idt.base + vector * gsize, 8, ACC_SYS);
  uint64_t hi = lm ? lin_read(cpu, cpu->idt.base + vector * gsize + 8, 8, ACC_SYS) : 0;
  int type = (lo >> 40) & 0xf, dpl = (lo >> 45) & 3, present = (lo >> 47) & 1;
  uint16_t sel = (lo >> 16) & 0xffff;
  uint64_t off = (lo & 0xffff) | ((lo >> 32) & 0xffff0000);
  int ist = lm ? (lo >> 32) & 7 : 0;
  if (lm) off |= hi << 32;

  bool gate32 = type == 0xe || type == 0xf, gate16 = type == 0x6 || type == 0x7;
  bool task = !lm && type == 0x5;
  if (lm ? !gate32 : !(gate32 || gate16 || task)) RAISE_ERR(cpu, EXC_GP, idt_err);
  if (soft && dpl < cpu->cpl) RAISE_ERR(cpu, EXC_GP, idt_err);
  if (!present) RAISE_ERR(cpu, EXC_NP, idt_err);
  if (task) {   /* a task switch instead of a frame; the error code goes on the new stack */
    int ext = soft ? 0 : 1;
    task_switch(cpu, task_gate_tss(cpu, lo, ext), TASK_INT, ret_rip, has_error, error, ext);
    return;
  }

  struct x86_seg cs;
  if ((sel & ~3) == 0) RAISE_ERR(cpu, EXC_GP, soft ? 0 : 1);
  read_descriptor(cpu, sel, &cs, EXC_GP);
  if (!cs.s || !(cs.type & 8) || cs.dpl > cpu->cpl || (lm && (!cs.l || cs.db)))
    RAISE_ERR(cpu, EXC_GP, (sel & 0xfffc) | (soft ? 0 : 1));
  if (!cs.present) RAISE_ERR(cpu, EXC_NP, (sel & 0xfffc) | (soft ? 0 : 1));
  int new_cpl = (cs.type & 4) ? cpu->cpl : cs.dpl;   /* conforming code keeps CPL */

  uint64_t old_ss = cpu->seg[S_SS].sel, old_sp = cpu->gpr[R_SP], flags = cpu->rflags;
  struct x86_seg ss = cpu->seg[S_SS];
  uint64_t sp = old_sp;
  bool switch_stack = new_cpl < cpu->cpl;
  int psize = lm ? 8 : (gate32 ? 4 : 2);

  if (lm) {
    if (ist) sp = tss_read(cpu, 0x24 + (ist - 1) * 8, 8);
    else if (switch_stack) sp = tss_read(cpu, 4 + new_cpl * 8, 8);
    sp &= ~15ULL;
    if (switch_stack) {
      ss = (struct x86_seg){ 0 };
      ss.sel = new_cpl;
      ss.unusable = 1;
      ss.dpl = new_cpl;
    }
  } else if (switch_stack) {
    bool tss32 = (cpu->tr.type & 7) == 3 || (cpu->tr.type & 8);
    uint16_t nss;
    if (tss32) {
      sp = tss_read(cpu, 4 + new_cpl * 8, 4);
      nss = tss_read(cpu, 8 + new_cpl * 8, 2);
    } else {
      sp = tss_read(cpu, 2 + new_cpl * 4, 2);
      nss = tss_read(cpu, 4 + new_cpl * 4, 2);
    }
    read_descriptor(cpu, nss, &ss, EXC_TS);
    if (!ss.s || (ss.type & 8) || !(ss.type & 2) || ss.dpl != new_cpl || (nss & 3) != new_cpl)
      RAISE_ERR(cpu, EXC_TS, nss & 0xfffc);
    if (!ss.present) RAISE_ERR(cpu, EXC_SS, nss & 0xfffc);
  }

  /* Build the frame on the new stack with supervisor accesses, then commit. */
  uint64_t frame[6];
  int n = 0;
  if (lm || switch_stack) { frame[n++] = old_ss; frame[n++] = old_sp; }
  frame[n++] = flags;
  frame[n++] = cpu->seg[S_CS].sel;
  frame[n++] = ret_rip;
  if (has_error) frame[n++] = error;
  uint64_t spmask = lm ? ~0ULL : (ss.db ? 0xffffffffULL : 0xffff);
  for (int i = 0; i < n; i++) {
    sp = (sp - psize) & spmask;
    uint64_t lin = lm ? sp : (uint32_t)(ss.base + sp);
    lin_write(cpu, lin, psize, frame[i], ACC_SYS);
  }

  cs.sel = (sel & ~3) | new_cpl;
  cpu->seg[S_CS] = cs;
  cpu->seg[S_SS] = ss;
  cpu->gpr[R_SP] = lm ? sp : (cpu->gpr[R_SP] & ~spmask) | sp;
  cpu->rflags &= ~(uint64_t)(F_TF | F_NT | F_RF | F_VM);
  if (!(type & 1)) cpu->rflags &= ~(uint64_t)F_IF;   /* interrupt gate */
  cpu->rip = gate16 ? off & 0xffff : off;
  x86_cpu_update_mode(cpu);
}

void deliver_event(struct x86_cpu *cpu, int vector, uint32_t error, bool has_error, bool soft,
                   uint64_t ret_rip)
{
  cpu->delivering = soft ? -1 : vector;
  cpu->halted = false;
  if (cpu->trace)
    fprintf(stderr, "softkvm: event %d error %#x%s at %04x:%#llx\n", vector, error, soft ? " (soft)" : "",
            cpu->seg[S_CS].sel, (unsigned long long)cpu->rip);
  if (!prot_mode(cpu)) deliver_real(cpu, vector, ret_rip);
  else deliver_prot(cpu, vector, error, has_error, soft, ret_rip);
  cpu->delivering = -1;
}
