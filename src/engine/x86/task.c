/* Hardware task switching in legacy protected mode (SDM Vol. 3, 8.3), 32-bit TSSs: JMP/CALL to a
 * TSS descriptor or task gate, INT and exceptions through a task gate, IRET with NT = 1. */
#include "far.h"

/* 32-bit TSS layout */
enum { TSS_LINK = 0x00, TSS_CR3 = 0x1c, TSS_EIP = 0x20, TSS_EFLAGS = 0x24, TSS_EAX = 0x28,
       TSS_ES = 0x48, TSS_LDT = 0x60, TSS_MIN_LIMIT = 0x67 };

static uint64_t gdt_lin(struct x86_cpu *cpu, uint16_t sel) { return cpu->gdt.base + (sel & ~7); }

void tss_set_busy(struct x86_cpu *cpu, uint16_t sel, bool busy)
{
  uint64_t lin = gdt_lin(cpu, sel) + 5;
  uint8_t b = lin_read(cpu, lin, 1, ACC_SYS);
  lin_write(cpu, lin, 1, busy ? b | 2 : b & ~2, ACC_SYS);
}

uint16_t task_gate_tss(struct x86_cpu *cpu, uint64_t gate, int ext)
{
  uint16_t sel = gate >> 16 & 0xffff;
  if (sel & 4) RAISE_ERR(cpu, EXC_GP, (sel & 0xfffc) | ext);
  struct x86_seg d;
  read_descriptor(cpu, sel, &d, EXC_GP);
  if (d.s || (d.type != 1 && d.type != 9)) RAISE_ERR(cpu, EXC_GP, (sel & 0xfffc) | ext);
  if (!d.present) RAISE_ERR(cpu, EXC_NP, (sel & 0xfffc) | ext);
  return sel;
}

/* Loads segment register seg from the new task's selector, checked against the new CPL (#TS,
 * or #NP/#SS when not present). */
static void task_load_seg(struct x86_cpu *cpu, int seg, uint16_t sel)
{
  struct x86_seg *s = &cpu->seg[seg];
  if (cpu->rflags & F_VM) {
    *s = (struct x86_seg){ .base = (uint64_t)sel << 4, .limit = 0xffff, .sel = sel, .type = seg == S_CS ? 0xb : 3,
                           .s = 1, .dpl = 3, .present = 1 };
    return;
  }
  int err = sel & 0xfffc;
  if ((sel & ~3) == 0) {
    if (seg == S_CS || seg == S_SS) RAISE_ERR(cpu, EXC_TS, 0);
    *s = (struct x86_seg){ .sel = sel, .unusable = 1 };
    return;
  }
  struct x86_seg d;
  read_descriptor(cpu, sel, &d, EXC_TS);
  bool code = d.type & 8, conforming = code && (d.type & 4);
  int cpl = cpu->seg[S_CS].sel & 3, rpl = sel & 3;
  if (seg == S_CS) {
    if (!d.s || !code || (conforming ? d.dpl > rpl : d.dpl != rpl)) RAISE_ERR(cpu, EXC_TS, err);
  } else if (seg == S_SS) {
    if (!d.s || code || !(d.type & 2) || rpl != cpl || d.dpl != cpl) RAISE_ERR(cpu, EXC_TS, err);
    if (!d.present) RAISE_ERR(cpu, EXC_SS, err);
  } else {
    if (!d.s || (code && !(d.type & 2)) || (!conforming && (d.dpl < cpl || d.dpl < rpl)))
      RAISE_ERR(cpu, EXC_TS, err);
  }
  if (!d.present) RAISE_ERR(cpu, EXC_NP, err);
  desc_set_accessed(cpu, sel, &d);
  *s = d;
}

void task_switch(struct x86_cpu *cpu, uint16_t sel, int source, uint64_t ret_eip, bool has_error,
                 uint32_t error, int ext)
{
  int err = (sel & 0xfffc) | ext;
  if (sel & 4) RAISE_ERR(cpu, EXC_GP, err);
  struct x86_seg nt;
  read_descriptor(cpu, sel, &nt, EXC_GP);
  bool busy = nt.type & 2;
  if (nt.s || (nt.type & 5) != 1) RAISE_ERR(cpu, EXC_GP, err);
  if (source == TASK_IRET ? !busy : busy) RAISE_ERR(cpu, source == TASK_IRET ? EXC_TS : EXC_GP, err);
  if (!nt.present) RAISE_ERR(cpu, EXC_NP, err);
  if (nt.limit < TSS_MIN_LIMIT) RAISE_ERR(cpu, EXC_TS, err);
  if (!(nt.type & 8) || !(cpu->tr.type & 8)) {   /* 16-bit TSSs: not implemented */
    static const uint8_t none[1];
    x86_internal_error(cpu, none, 0);
  }
  if (cpu->tr.limit < TSS_MIN_LIMIT) RAISE_ERR(cpu, EXC_TS, (cpu->tr.sel & 0xfffc) | ext);

  /* read the whole new TSS first, so that its faults come before any change */
  uint32_t t[26];
  for (int i = 0; i < 26; i++) t[i] = lin_read(cpu, (uint32_t)(nt.base + i * 4), 4, ACC_SYS);

  /* save the current task */
  uint64_t ob = cpu->tr.base;
  uint32_t fl = cpu->rflags;
  if (source == TASK_IRET) fl &= ~F_NT;
  lin_write(cpu, (uint32_t)(ob + TSS_EIP), 4, ret_eip, ACC_SYS);
  lin_write(cpu, (uint32_t)(ob + TSS_EFLAGS), 4, fl, ACC_SYS);
  for (int i = 0; i < 8; i++) lin_write(cpu, (uint32_t)(ob + TSS_EAX + i * 4), 4, cpu->gpr[i], ACC_SYS);
  for (int i = 0; i < 6; i++) lin_write(cpu, (uint32_t)(ob + TSS_ES + i * 4), 2, cpu->seg[i].sel, ACC_SYS);

  /* busy bits and back link */
  uint16_t old_tr = cpu->tr.sel;
  if (source == TASK_JMP || source == TASK_IRET) tss_set_busy(cpu, old_tr, false);
  if (source != TASK_IRET) tss_set_busy(cpu, sel, true);
  uint32_t nfl = t[TSS_EFLAGS / 4];
  if (source == TASK_CALL || source == TASK_INT) {
    lin_write(cpu, (uint32_t)(nt.base + TSS_LINK), 2, old_tr, ACC_SYS);
    nfl |= F_NT;
  }

  /* load the new task: from here on, faults belong to it */
  nt.type |= 2;
  nt.sel = sel;
  cpu->tr = nt;
  cpu->cr0 |= CR0_TS;
  if (cpu->cr0 & CR0_PG) {
    cpu->cr3 = t[TSS_CR3 / 4];
    x86_tlb_flush(cpu);
  }
  cpu->rip = cpu->next_rip = t[TSS_EIP / 4];
  cpu->rflags = (nfl & 0x3f7fd5) | 2;
  for (int i = 0; i < 8; i++) cpu->gpr[i] = t[TSS_EAX / 4 + i];
  uint16_t sels[6];
  for (int i = 0; i < 6; i++) {   /* selectors first, descriptors checked after the LDT */
    sels[i] = t[TSS_ES / 4 + i];
    cpu->seg[i].sel = sels[i];
  }
  x86_cpu_update_mode(cpu);   /* CPL: the new CS's RPL */
  load_ldtr(cpu, t[TSS_LDT / 4], EXC_TS, EXC_TS);
  task_load_seg(cpu, S_CS, sels[S_CS]);
  x86_cpu_update_mode(cpu);
  task_load_seg(cpu, S_SS, sels[S_SS]);
  static const int data[4] = { S_ES, S_DS, S_FS, S_GS };
  for (int i = 0; i < 4; i++) task_load_seg(cpu, data[i], sels[data[i]]);
  x86_cpu_update_mode(cpu);
  if (cpu->rip > cpu->seg[S_CS].limit) RAISE_ERR(cpu, EXC_GP, 0);
  if (has_error) push(cpu, 4, error);
}

void task_iret(struct x86_cpu *cpu)
{
  uint16_t link = lin_read(cpu, cpu->tr.base + TSS_LINK, 2, ACC_SYS);
  if (link & 4) RAISE_ERR(cpu, EXC_TS, link & 0xfffc);
  struct x86_seg d;
  read_descriptor(cpu, link, &d, EXC_TS);
  if (d.s || (d.type & 7) != 3) RAISE_ERR(cpu, EXC_TS, link & 0xfffc);
  task_switch(cpu, link, TASK_IRET, cpu->next_rip, false, 0, 0);
}
