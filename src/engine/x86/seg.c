/* Segmentation: descriptor loads and checks, segmented addressing, control registers, mode. */
#include "far.h"

void x86_seg_to_kvm(const struct x86_seg *s, struct kvm_segment *k)
{
  k->base = s->base;
  k->limit = s->limit;
  k->selector = s->sel;
  k->type = s->type;
  k->present = s->present;
  k->dpl = s->dpl;
  k->db = s->db;
  k->s = s->s;
  k->l = s->l;
  k->g = s->g;
  k->avl = s->avl;
  k->unusable = s->unusable;
  k->padding = 0;
}

void x86_seg_from_kvm(struct x86_seg *s, const struct kvm_segment *k)
{
  s->base = k->base;
  s->limit = k->limit;
  s->sel = k->selector;
  s->type = k->type;
  s->present = k->present;
  s->dpl = k->dpl;
  s->db = k->db;
  s->s = k->s;
  s->l = k->l;
  s->g = k->g;
  s->avl = k->avl;
  s->unusable = k->unusable;
}

void x86_cpu_update_mode(struct x86_cpu *cpu)
{
  cpu->fetch_tag = 0;   /* fetch permission depends on CPL and mode */
  if (!(cpu->cr0 & CR0_PE)) {
    cpu->cpl = 0;
    cpu->code_bits = cpu->seg[S_CS].db ? 32 : 16;
  } else if (cpu->rflags & F_VM) {
    cpu->cpl = 3;
    cpu->code_bits = 16;
  } else {
    cpu->cpl = cpu->seg[S_CS].sel & 3;
    if ((cpu->efer & EFER_LMA) && cpu->seg[S_CS].l) cpu->code_bits = 64;
    else cpu->code_bits = cpu->seg[S_CS].db ? 32 : 16;
  }
  cpu->stack_bits = cpu->code_bits == 64 ? 64 : (cpu->seg[S_SS].db ? 32 : 16);
  cpu->paging = (cpu->cr0 & CR0_PG) && (cpu->cr0 & CR0_PE);
  cpu->dec_mode = decoder_mode(cpu);
}

uint64_t seg_linear(struct x86_cpu *cpu, int seg, uint64_t off, int size, int acc)
{
  const struct x86_seg *s = &cpu->seg[seg];
  if (cpu->code_bits == 64) {
    uint64_t lin = off + (seg >= S_FS ? s->base : 0);
    if (!is_canonical(lin) || !is_canonical(lin + size - 1)) {
      if (seg == S_SS) RAISE_ERR(cpu, EXC_SS, 0);
      RAISE_ERR(cpu, EXC_GP, 0);
    }
    return lin;
  }
  if (prot_mode(cpu) && !(cpu->rflags & F_VM)) {
    bool expand_down = s->s && !(s->type & 8) && (s->type & 4);
    if (s->unusable || (acc & ACC_WRITE && s->s && ((s->type & 8) || !(s->type & 2))))
      RAISE_ERR(cpu, seg == S_SS ? EXC_SS : EXC_GP, 0);
    uint64_t last = off + size - 1;
    uint64_t upper = expand_down ? (s->db ? 0xffffffffULL : 0xffff) : s->limit;
    if ((!expand_down && last > s->limit) || (expand_down && (off <= s->limit || last > upper)))
      RAISE_ERR(cpu, seg == S_SS ? EXC_SS : EXC_GP, 0);
  }
  return (s->base + off) & 0xffffffffULL;
}

uint64_t mem_read(struct x86_cpu *cpu, int seg, uint64_t off, int size)
{
  return lin_read(cpu, seg_linear(cpu, seg, off, size, ACC_READ), size, ACC_READ);
}

void mem_write(struct x86_cpu *cpu, int seg, uint64_t off, int size, uint64_t val)
{
  lin_write(cpu, seg_linear(cpu, seg, off, size, ACC_WRITE), size, val, ACC_WRITE);
}

void desc_parse(uint64_t d, struct x86_seg *s)
{
  uint32_t lo = (uint32_t)d, hi = (uint32_t)(d >> 32);
  s->limit = (lo & 0xffff) | (hi & 0xf0000);
  s->base = (lo >> 16) | ((uint64_t)(hi & 0xff) << 16) | (hi & 0xff000000u);
  s->type = (hi >> 8) & 0xf;
  s->s = (hi >> 12) & 1;
  s->dpl = (hi >> 13) & 3;
  s->present = (hi >> 15) & 1;
  s->avl = (hi >> 20) & 1;
  s->l = (hi >> 21) & 1;
  s->db = (hi >> 22) & 1;
  s->g = (hi >> 23) & 1;
  if (s->g) s->limit = (s->limit << 12) | 0xfff;
  s->unusable = 0;
}

bool desc_addr(struct x86_cpu *cpu, uint16_t sel, unsigned bytes, uint64_t *lin)
{
  uint64_t base = cpu->gdt.base, limit = cpu->gdt.limit;
  if (sel & 4) {
    if (cpu->ldtr.unusable) return false;
    base = cpu->ldtr.base, limit = cpu->ldtr.limit;
  }
  if ((uint32_t)(sel & ~7) + bytes - 1 > limit) return false;
  *lin = base + (sel & ~7);
  return true;
}

/* Reads the descriptor for sel into s; #GP/#TS(sel) (fault_vec) if outside the table. */
void read_descriptor(struct x86_cpu *cpu, uint16_t sel, struct x86_seg *s, int fault_vec)
{
  uint64_t lin;
  if (!desc_addr(cpu, sel, 8, &lin)) RAISE_ERR(cpu, fault_vec, sel & 0xfffc);
  desc_parse(lin_read(cpu, lin, 8, ACC_SYS), s);
  s->sel = sel;
  /* system descriptors in long mode are 16 bytes: the upper half holds base 63:32 */
  if (!s->s && (cpu->efer & EFER_LMA))
    s->base |= (uint64_t)(uint32_t)lin_read(cpu, lin + 8, 4, ACC_SYS) << 32;
}

/* For LAR/LSL/VERR/VERW: reads sel's descriptor without faulting on a null selector or one
 * outside its table (false then); *hi gets the raw high dword. */
/* LLDT (#GP, #NP) and the LDT of a task switch (#TS for both) */
void load_ldtr(struct x86_cpu *cpu, uint16_t sel, int fault_vec, int np_vec)
{
  if ((sel & ~3) == 0) {
    cpu->ldtr = (struct x86_seg){ .sel = sel, .unusable = 1 };
    return;
  }
  if (sel & 4) RAISE_ERR(cpu, fault_vec, sel & 0xfffc);
  struct x86_seg d;
  read_descriptor(cpu, sel, &d, fault_vec);
  if (d.s || d.type != 2) RAISE_ERR(cpu, fault_vec, sel & 0xfffc);
  if (!d.present) RAISE_ERR(cpu, np_vec, sel & 0xfffc);
  cpu->ldtr = d;
}

bool peek_descriptor(struct x86_cpu *cpu, uint16_t sel, struct x86_seg *s, uint32_t *hi)
{
  uint64_t lin;
  if ((sel & ~3) == 0 || !desc_addr(cpu, sel, 8, &lin)) return false;
  uint64_t d = lin_read(cpu, lin, 8, ACC_SYS);
  desc_parse(d, s);
  s->sel = sel;
  *hi = (uint32_t)(d >> 32);
  return true;
}

void desc_set_accessed(struct x86_cpu *cpu, uint16_t sel, struct x86_seg *s)
{
  if (s->type & 1) return;
  s->type |= 1;
  uint64_t base = (sel & 4) ? cpu->ldtr.base : cpu->gdt.base;
  uint64_t lin = base + (sel & ~7) + 5;
  lin_write(cpu, lin, 1, lin_read(cpu, lin, 1, ACC_SYS) | 1, ACC_SYS);
}

void load_seg(struct x86_cpu *cpu, int seg, uint16_t sel)
{
  struct x86_seg *s = &cpu->seg[seg];
  if (!prot_mode(cpu) || (cpu->rflags & F_VM)) {
    s->sel = sel;
    s->base = (uint64_t)sel << 4;
    if (seg == S_SS) x86_cpu_update_mode(cpu);
    return;
  }
  int rpl = sel & 3;
  if ((sel & ~3) == 0) {
    if (seg == S_SS && !(cpu->code_bits == 64 && cpu->cpl < 3 && rpl == cpu->cpl))
      RAISE_ERR(cpu, EXC_GP, 0);
    s->sel = sel;
    s->unusable = 1;
    s->present = 0;
    if (seg != S_SS || cpu->code_bits != 64) s->base = seg >= S_FS && cpu->code_bits == 64 ? s->base : 0;
    return;
  }
  struct x86_seg d;
  read_descriptor(cpu, sel, &d, EXC_GP);
  if (seg == S_SS) {
    if (rpl != cpu->cpl || !d.s || (d.type & 8) || !(d.type & 2) || d.dpl != cpu->cpl)
      RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
    if (!d.present) RAISE_ERR(cpu, EXC_SS, sel & 0xfffc);
  } else {
    bool code = d.type & 8, readable = d.type & 2, conforming = code && (d.type & 4);
    if (!d.s || (code && !readable)) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
    if (!conforming && (rpl > d.dpl || cpu->cpl > d.dpl)) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
    if (!d.present) RAISE_ERR(cpu, EXC_NP, sel & 0xfffc);
  }
  desc_set_accessed(cpu, sel, &d);
  *s = d;
  if (seg == S_SS) x86_cpu_update_mode(cpu);
}

/* Far transfer target for JMP/CALL/RET far to a code segment (gates and TSSs: far.c). */
void load_cs_far(struct x86_cpu *cpu, uint16_t sel, uint64_t rip)
{
  struct x86_seg *cs = &cpu->seg[S_CS];
  if (!prot_mode(cpu) || (cpu->rflags & F_VM)) {
    cs->sel = sel;
    cs->base = (uint64_t)sel << 4;
    cpu->next_rip = rip & 0xffff;
    if (!prot_mode(cpu)) cpu->next_rip = cpu->code_bits == 32 ? (uint32_t)rip : rip & 0xffff;
    return;
  }
  if ((sel & ~3) == 0) RAISE_ERR(cpu, EXC_GP, 0);
  struct x86_seg d;
  read_descriptor(cpu, sel, &d, EXC_GP);
  if (!d.s || !(d.type & 8)) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  bool conforming = d.type & 4;
  int rpl = sel & 3;
  if (conforming ? d.dpl > cpu->cpl : (rpl > cpu->cpl || d.dpl != cpu->cpl))
    RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  if (!d.present) RAISE_ERR(cpu, EXC_NP, sel & 0xfffc);
  desc_set_accessed(cpu, sel, &d);
  d.sel = (sel & ~3) | cpu->cpl;
  *cs = d;
  x86_cpu_update_mode(cpu);
  cpu->next_rip = cpu->code_bits == 64 ? rip : cpu->code_bits == 32 ? (uint32_t)rip : rip & 0xffff;
}

uint64_t get_cr(struct x86_cpu *cpu, int n)
{
  switch (n) {
  case 0: return cpu->cr0;
  case 2: return cpu->cr2;
  case 3: return cpu->cr3;
  case 4: return cpu->cr4;
  case 8: return cpu->irq_ops ? cpu->irq_ops->get_cr8(cpu->irq_opaque) : cpu->cr8;
  }
  RAISE(cpu, EXC_UD);
}

#define CR4_SUPPORTED (CR4_PSE | CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_OSXSAVE | CR4_PCIDE | \
                       0x1 | 0x2 | 0x4 | 0x8 | 0x40 | 0x100)

/* The CR4 bits the engine implements, less the feature bits the guest's CPUID lacks (KVM's
 * __cr4_reserved_bits; before KVM_SET_CPUID2 the supported CPUID stands in for the guest's). */
uint64_t x86_cr4_allowed(struct x86_cpu *cpu)
{
  static const struct { uint64_t cr4; uint8_t leaf, reg, bit; } needs[] = {
    { CR4_OSXSAVE, 1, 2, 26 },     /* XSAVE */
    { CR4_PCIDE, 1, 2, 17 },       /* PCID */
    { 1u << 13, 1, 2, 5 },         /* VMXE: VMX */
    { 1u << 16, 7, 1, 0 },         /* FSGSBASE */
    { CR4_SMEP, 7, 1, 7 },         /* SMEP */
    { 1u << 21, 7, 1, 20 },        /* SMAP */
    { 1u << 11, 7, 2, 2 },         /* UMIP */
    { 1u << 12, 7, 2, 16 },        /* LA57 */
    { 1u << 22, 7, 2, 3 },         /* PKE: PKU */
  };
  uint32_t l1[4], l7[4];
  x86_cpuid(cpu, 1, 0, l1);
  x86_cpuid(cpu, 7, 0, l7);
  uint64_t ok = CR4_SUPPORTED;
  for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
    const uint32_t *r = needs[i].leaf == 1 ? l1 : l7;
    if (!((r[needs[i].reg] >> needs[i].bit) & 1)) ok &= ~needs[i].cr4;
  }
  return ok;
}

void set_cr(struct x86_cpu *cpu, int n, uint64_t v)
{
  switch (n) {
  case 0: {
    if (cpu->code_bits == 64 ? v >> 32 : 0) RAISE_ERR(cpu, EXC_GP, 0);
    v = (uint32_t)v | CR0_ET;
    if ((v & CR0_PG) && !(v & CR0_PE)) RAISE_ERR(cpu, EXC_GP, 0);
    if ((v & CR0_NW) && !(v & CR0_CD)) RAISE_ERR(cpu, EXC_GP, 0);
    if ((v & CR0_PG) && !(cpu->cr0 & CR0_PG) && (cpu->efer & EFER_LME)) {
      if (!(cpu->cr4 & CR4_PAE)) RAISE_ERR(cpu, EXC_GP, 0);
      cpu->efer |= EFER_LMA;
    }
    if (!(v & CR0_PG) && (cpu->cr4 & CR4_PCIDE)) RAISE_ERR(cpu, EXC_GP, 0);
    if (!(v & CR0_PG) && (cpu->cr0 & CR0_PG) && (cpu->efer & EFER_LMA)) {
      if (cpu->code_bits == 64) RAISE_ERR(cpu, EXC_GP, 0);
      cpu->efer &= ~(uint64_t)EFER_LMA;
    }
    cpu->cr0 = v;
    x86_tlb_flush(cpu);
    x86_cpu_update_mode(cpu);
    return;
  }
  case 2: cpu->cr2 = v; return;
  case 3: {
    /* with PCIDE, bit 63 asks not to flush the new PCID's entries; it is not stored. The soft
     * TLB is not tagged with PCIDs, so only a write of the current value may keep it. */
    bool noflush = (cpu->cr4 & CR4_PCIDE) && (v >> 63);
    if (noflush) v &= ~(1ULL << 63);
    if (cpu->efer & EFER_LMA ? v >> 46 : 0) RAISE_ERR(cpu, EXC_GP, 0);
    bool same = v == cpu->cr3;
    cpu->cr3 = v;
    if (!(noflush && same)) x86_tlb_flush(cpu);
    return;
  }
  case 4:
    if (v & ~x86_cr4_allowed(cpu)) RAISE_ERR(cpu, EXC_GP, 0);
    /* PCIDE may be set only in IA-32e mode with PCID 0 (SDM MOV CR) */
    if ((v & CR4_PCIDE) && !(cpu->cr4 & CR4_PCIDE) && (!(cpu->efer & EFER_LMA) || (cpu->cr3 & 0xfff)))
      RAISE_ERR(cpu, EXC_GP, 0);
    if ((cpu->efer & EFER_LMA) && !(v & CR4_PAE)) RAISE_ERR(cpu, EXC_GP, 0);
    cpu->cr4 = v;
    x86_tlb_flush(cpu);
    return;
  case 8:
    if (v >> 4) RAISE_ERR(cpu, EXC_GP, 0);
    cpu->cr8 = v;
    if (cpu->irq_ops) cpu->irq_ops->set_cr8(cpu->irq_opaque, v);
    return;
  }
  RAISE(cpu, EXC_UD);
}
