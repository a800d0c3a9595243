/* Far JMP, CALL and RET in protected and long mode (SDM Vol. 2, CALL/JMP/RET; Vol. 3, 5.8):
 * code segments (seg.c's load_cs_far), call gates with the switch to an inner ring's stack from
 * the TSS and the parameter copy, task gates and TSS descriptors (task.c), and returns to an
 * outer privilege level. */
#include "far.h"

/* A stack other than the live SS:rSP, or the live one before rSP is committed. */
struct stk {
  struct x86_seg ss;
  uint64_t sp;
  int bits;                   /* 16, 32 or 64 */
  uint16_t err;               /* #SS error code */
  int acc;                    /* ACC_SYS for an inner ring's stack */
};

static uint64_t stk_mask(const struct stk *s) { return s->bits == 64 ? ~0ULL : size_mask(s->bits / 8); }

/* linear address of off..off+size-1 on s: limit (expand-down too) or canonical checks, #SS */
static uint64_t stk_lin(struct x86_cpu *cpu, const struct stk *s, uint64_t off, int size)
{
  if (s->bits == 64) {
    if (!is_canonical(off) || !is_canonical(off + size - 1)) RAISE_ERR(cpu, EXC_SS, s->err);
    return off;
  }
  bool down = s->ss.type & 4;
  uint64_t last = off + size - 1, upper = down ? (s->ss.db ? 0xffffffffULL : 0xffff) : s->ss.limit;
  if (last > upper || (down && off <= s->ss.limit)) RAISE_ERR(cpu, EXC_SS, s->err);
  return (uint32_t)(s->ss.base + off);
}

static void stk_push(struct x86_cpu *cpu, struct stk *s, int size, uint64_t v)
{
  s->sp = (s->sp - size) & stk_mask(s);
  lin_write(cpu, stk_lin(cpu, s, s->sp, size), size, v, s->acc);
}

static uint64_t stk_read(struct x86_cpu *cpu, const struct stk *s, uint64_t off, int size)
{
  off &= stk_mask(s);
  return lin_read(cpu, stk_lin(cpu, s, off, size), size, ACC_READ);
}

static struct stk live_stack(struct x86_cpu *cpu)
{
  return (struct stk){ cpu->seg[S_SS], cpu->gpr[R_SP], cpu->stack_bits, 0, ACC_WRITE };
}

/* rSP = s->sp within the stack's width (a 16-bit stack keeps rSP's upper bits) */
static void set_sp(struct x86_cpu *cpu, const struct stk *s)
{
  uint64_t m = s->bits == 16 ? 0xffff : ~0ULL;
  cpu->gpr[R_SP] = (cpu->gpr[R_SP] & ~m) | (s->sp & m);
}

/* 8 bytes of sel's descriptor (16 with hi); vec(sel) when outside its table */
static uint64_t desc_raw(struct x86_cpu *cpu, uint16_t sel, uint64_t *hi, int vec)
{
  uint64_t lin;
  if (!desc_addr(cpu, sel, hi ? 16 : 8, &lin)) RAISE_ERR(cpu, vec, sel & 0xfffc);
  if (hi) *hi = lin_read(cpu, lin + 8, 8, ACC_SYS);
  return lin_read(cpu, lin, 8, ACC_SYS);
}

static bool long_mode(const struct x86_cpu *cpu) { return cpu->efer & EFER_LMA; }

/* the new IP within the target code segment (#GP(0)), masked to its width */
static uint64_t target_ip(struct x86_cpu *cpu, const struct x86_seg *cs, uint64_t ip)
{
  if (long_mode(cpu) && cs->l) {
    if (!is_canonical(ip)) RAISE_ERR(cpu, EXC_GP, 0);
    return ip;
  }
  ip &= cs->db ? 0xffffffffULL : 0xffff;
  if (ip > cs->limit) RAISE_ERR(cpu, EXC_GP, 0);
  return ip;
}

static void commit_cs(struct x86_cpu *cpu, struct x86_seg *cs, uint16_t sel, uint64_t ip)
{
  desc_set_accessed(cpu, sel, cs);
  cs->sel = sel;
  cpu->seg[S_CS] = *cs;
  x86_cpu_update_mode(cpu);
  cpu->next_rip = ip;
}

struct gate {
  uint16_t sel;               /* target code segment */
  uint64_t off;
  int count;                  /* parameters to copy (32-bit and 16-bit gates) */
  int size;                   /* push width: 2, 4 or 8 */
};

/* Call gate sel (raw lo): the gate's checks, then its code segment's (into cs) */
static void call_gate(struct x86_cpu *cpu, uint16_t sel, uint64_t lo, struct gate *g, struct x86_seg *cs)
{
  bool lm = long_mode(cpu);
  int dpl = lo >> 45 & 3, type = lo >> 40 & 0xf;
  if (dpl < cpu->cpl || dpl < (sel & 3)) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  if (!(lo >> 47 & 1)) RAISE_ERR(cpu, EXC_NP, sel & 0xfffc);
  g->sel = lo >> 16 & 0xffff;
  g->off = (lo & 0xffff) | (lo >> 32 & 0xffff0000);
  g->count = lo >> 32 & 0x1f;
  g->size = lm ? 8 : type == 0xc ? 4 : 2;
  if (lm) {   /* 16-byte gate: offset 63:32, and a zero type in the upper half */
    uint64_t hi;
    desc_raw(cpu, sel, &hi, EXC_GP);
    if (hi >> 40 & 0x1f) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
    g->off |= (hi & 0xffffffff) << 32;
    g->count = 0;
  } else if (g->size == 2) {
    g->off &= 0xffff;
  }
  if ((g->sel & ~3) == 0) RAISE_ERR(cpu, EXC_GP, 0);
  read_descriptor(cpu, g->sel, cs, EXC_GP);
  if (!cs->s || !(cs->type & 8) || cs->dpl > cpu->cpl || (lm && (!cs->l || cs->db)))
    RAISE_ERR(cpu, EXC_GP, g->sel & 0xfffc);
  if (!cs->present) RAISE_ERR(cpu, EXC_NP, g->sel & 0xfffc);
}

/* A far JMP/CALL to a task gate or TSS descriptor: privilege checks, then the task switch. */
static void to_task(struct x86_cpu *cpu, uint16_t sel, uint64_t lo, int source)
{
  int dpl = lo >> 45 & 3, type = lo >> 40 & 0xf;
  if (dpl < cpu->cpl || dpl < (sel & 3)) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  if (type == 5) {
    if (!(lo >> 47 & 1)) RAISE_ERR(cpu, EXC_NP, sel & 0xfffc);
    sel = task_gate_tss(cpu, lo, 0);
  }
  task_switch(cpu, sel, source, cpu->next_rip, false, 0, 0);
}

/* system descriptor kinds a far JMP/CALL may name: call gate, task gate, TSS; 0 otherwise */
enum { SYS_NONE, SYS_CALL_GATE, SYS_TASK };
static int sys_kind(const struct x86_cpu *cpu, uint64_t lo)
{
  int type = lo >> 40 & 0xf;
  if (type == 0xc) return SYS_CALL_GATE;
  if (long_mode(cpu)) return SYS_NONE;
  if (type == 4) return SYS_CALL_GATE;
  if (type == 5 || type == 1 || type == 9) return SYS_TASK;
  return SYS_NONE;
}

void far_jmp(struct x86_cpu *cpu, uint16_t sel, uint64_t off)
{
  if (!prot_mode(cpu) || (cpu->rflags & F_VM) || (sel & ~3) == 0) {
    load_cs_far(cpu, sel, off);
    return;
  }
  uint64_t lo = desc_raw(cpu, sel, NULL, EXC_GP);
  if (lo >> 44 & 1) {   /* code or data segment */
    load_cs_far(cpu, sel, off);
    return;
  }
  switch (sys_kind(cpu, lo)) {
  case SYS_CALL_GATE: {
    struct gate g;
    struct x86_seg cs;
    call_gate(cpu, sel, lo, &g, &cs);
    /* no privilege change: conforming code at or above CPL, non-conforming at CPL */
    if (!(cs.type & 4) && cs.dpl != cpu->cpl) RAISE_ERR(cpu, EXC_GP, g.sel & 0xfffc);
    uint64_t ip = target_ip(cpu, &cs, g.off);
    commit_cs(cpu, &cs, (g.sel & ~3) | cpu->cpl, ip);
    return;
  }
  case SYS_TASK: to_task(cpu, sel, lo, TASK_JMP); return;
  }
  RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
}

/* The inner ring's stack pointer and SS, from the TSS */
static struct stk inner_stack(struct x86_cpu *cpu, int ncpl)
{
  struct stk s = { .acc = ACC_SYS };
  if (long_mode(cpu)) {   /* SS becomes a null selector with RPL = the new CPL */
    s.sp = tss_read(cpu, 4 + ncpl * 8, 8);
    s.ss = (struct x86_seg){ .sel = ncpl, .dpl = ncpl, .unusable = 1 };
    s.bits = 64;
    return s;
  }
  uint16_t nss;
  if (cpu->tr.type & 8) {
    s.sp = tss_read(cpu, 4 + ncpl * 8, 4);
    nss = tss_read(cpu, 8 + ncpl * 8, 2);
  } else {
    s.sp = tss_read(cpu, 2 + ncpl * 4, 2);
    nss = tss_read(cpu, 4 + ncpl * 4, 2);
  }
  if ((nss & ~3) == 0) RAISE_ERR(cpu, EXC_TS, 0);
  read_descriptor(cpu, nss, &s.ss, EXC_TS);
  if ((nss & 3) != ncpl || !s.ss.s || (s.ss.type & 8) || !(s.ss.type & 2) || s.ss.dpl != ncpl)
    RAISE_ERR(cpu, EXC_TS, nss & 0xfffc);
  if (!s.ss.present) RAISE_ERR(cpu, EXC_SS, nss & 0xfffc);
  s.bits = s.ss.db ? 32 : 16;
  s.err = nss & 0xfffc;
  return s;
}

void far_call(struct x86_cpu *cpu, uint16_t sel, uint64_t off, int opsize)
{
  struct stk s = live_stack(cpu);
  if (!prot_mode(cpu) || (cpu->rflags & F_VM) || (sel & ~3) == 0 ||
      (desc_raw(cpu, sel, NULL, EXC_GP) >> 44 & 1)) {   /* a code segment (or real mode) */
    uint16_t old_cs = cpu->seg[S_CS].sel;
    stk_push(cpu, &s, opsize, old_cs);
    stk_push(cpu, &s, opsize, cpu->next_rip);
    load_cs_far(cpu, sel, off);
    set_sp(cpu, &s);
    return;
  }
  uint64_t lo = desc_raw(cpu, sel, NULL, EXC_GP);
  int kind = sys_kind(cpu, lo);
  if (kind == SYS_TASK) {
    to_task(cpu, sel, lo, TASK_CALL);
    return;
  }
  if (kind != SYS_CALL_GATE) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  struct gate g;
  struct x86_seg cs;
  call_gate(cpu, sel, lo, &g, &cs);
  uint16_t old_cs = cpu->seg[S_CS].sel, old_ss = cpu->seg[S_SS].sel;
  if ((cs.type & 4) || cs.dpl == cpu->cpl) {   /* same privilege: CS:IP in the gate's width */
    stk_push(cpu, &s, g.size, old_cs);
    stk_push(cpu, &s, g.size, cpu->next_rip);
    uint64_t ip = target_ip(cpu, &cs, g.off);
    commit_cs(cpu, &cs, (g.sel & ~3) | cpu->cpl, ip);
    set_sp(cpu, &s);
    return;
  }
  /* to an inner ring: SS:rSP from the TSS; push the old SS:rSP, the parameters, CS:IP */
  int ncpl = cs.dpl;
  struct stk n = inner_stack(cpu, ncpl);
  stk_push(cpu, &n, g.size, old_ss);
  stk_push(cpu, &n, g.size, s.sp);
  for (int i = g.count - 1; i >= 0; i--)
    stk_push(cpu, &n, g.size, stk_read(cpu, &s, s.sp + (uint64_t)i * g.size, g.size));
  stk_push(cpu, &n, g.size, old_cs);
  stk_push(cpu, &n, g.size, cpu->next_rip);
  uint64_t ip = target_ip(cpu, &cs, g.off);
  if (n.bits != 64) desc_set_accessed(cpu, n.ss.sel, &n.ss);
  cpu->seg[S_SS] = n.ss;
  commit_cs(cpu, &cs, (g.sel & ~3) | ncpl, ip);
  cpu->gpr[R_SP] = n.bits == 16 ? (cpu->gpr[R_SP] & ~0xffffULL) | n.sp : n.sp;
}

/* After a return to an outer ring: data segment registers this ring may not use become null. */
static void drop_inner_segments(struct x86_cpu *cpu)
{
  static const int segs[4] = { S_ES, S_DS, S_FS, S_GS };
  for (int i = 0; i < 4; i++) {
    struct x86_seg *d = &cpu->seg[segs[i]];
    bool conforming_code = (d->type & 0xc) == 0xc;
    if (d->unusable || (d->sel & ~3) == 0 || conforming_code || d->dpl >= cpu->cpl) continue;
    d->sel = 0;
    d->unusable = 1;
    d->present = 0;
  }
}

void far_ret(struct x86_cpu *cpu, int size, uint16_t extra)
{
  struct stk s = live_stack(cpu);
  uint64_t off = stk_read(cpu, &s, s.sp, size);
  uint16_t sel = stk_read(cpu, &s, s.sp + size, size);
  if (!prot_mode(cpu) || (cpu->rflags & F_VM)) {
    s.sp = (s.sp + 2 * size + extra) & stk_mask(&s);
    load_cs_far(cpu, sel, off);
    set_sp(cpu, &s);
    return;
  }
  int rpl = sel & 3;
  if ((sel & ~3) == 0) RAISE_ERR(cpu, EXC_GP, 0);
  if (rpl < cpu->cpl) RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  struct x86_seg cs;
  read_descriptor(cpu, sel, &cs, EXC_GP);
  if (!cs.s || !(cs.type & 8) || ((cs.type & 4) ? cs.dpl > rpl : cs.dpl != rpl) ||
      (long_mode(cpu) && cs.l && cs.db))
    RAISE_ERR(cpu, EXC_GP, sel & 0xfffc);
  if (!cs.present) RAISE_ERR(cpu, EXC_NP, sel & 0xfffc);
  if (rpl == cpu->cpl) {
    uint64_t ip = target_ip(cpu, &cs, off);
    s.sp = (s.sp + 2 * size + extra) & stk_mask(&s);
    commit_cs(cpu, &cs, sel, ip);
    set_sp(cpu, &s);
    return;
  }
  /* to an outer ring: its SS:rSP follow the parameters on this stack */
  uint64_t p = s.sp + 2 * size + extra;
  uint64_t nsp = stk_read(cpu, &s, p, size);
  uint16_t nss = stk_read(cpu, &s, p + size, size);
  struct x86_seg ss;
  if ((nss & ~3) == 0) {
    if (!(long_mode(cpu) && cs.l && rpl != 3)) RAISE_ERR(cpu, EXC_GP, 0);
    ss = (struct x86_seg){ .sel = nss, .dpl = rpl, .unusable = 1 };
  } else {
    read_descriptor(cpu, nss, &ss, EXC_GP);
    if ((nss & 3) != rpl || !ss.s || (ss.type & 8) || !(ss.type & 2) || ss.dpl != rpl)
      RAISE_ERR(cpu, EXC_GP, nss & 0xfffc);
    if (!ss.present) RAISE_ERR(cpu, EXC_SS, nss & 0xfffc);
    desc_set_accessed(cpu, nss, &ss);
  }
  uint64_t ip = target_ip(cpu, &cs, off);
  cpu->seg[S_SS] = ss;
  commit_cs(cpu, &cs, sel, ip);
  struct stk n = live_stack(cpu);
  n.sp = (nsp + extra) & stk_mask(&n);
  cpu->gpr[R_SP] = n.bits == 16 ? (cpu->gpr[R_SP] & ~0xffffULL) | n.sp : n.sp;
  drop_inner_segments(cpu);
}
