/* Instruction handlers: one signature for all, grouped by family in exec_*.c. */
#ifndef SKVM_EXEC_H
#define SKVM_EXEC_H

#include "engine.h"

#define HANDLER(name) void exec_##name(struct x86_cpu *cpu, const struct x86_insn *in)

/* every handler, as X(name); handlers.c maps Zydis mnemonics to them */
#define EXEC_HANDLERS(X)                                                                          \
  X(add) X(or) X(adc) X(sbb) X(and) X(sub) X(xor) X(cmp) X(test) X(inc) X(dec) X(neg) X(not)    \
  X(mul) X(imul) X(div) X(idiv) X(shift)                                                         \
  X(mov) X(movzx) X(movsx) X(lea) X(xchg) X(push) X(pop) X(pushf) X(popf) X(lahf) X(sahf)       \
  X(cbw) X(cwd) X(cmovcc) X(setcc) X(bswap) X(enter) X(leave) X(pusha) X(popa) X(nop)           \
  X(jmp) X(jcc) X(jcxz) X(loop) X(call) X(ret) X(ret_far) X(int)         \
  X(int3) X(into) X(iret) X(hlt) X(cli) X(sti) X(cld) X(std) X(clc) X(stc) X(cmc)               \
  X(lgdt) X(lidt) X(sgdt) X(sidt) X(lldt) X(ltr) X(sldt) X(str) X(lar) X(lsl) X(verr) X(verw) X(mov_cr) X(mov_dr) X(rdmsr)    \
  X(wrmsr) X(cpuid) X(rdtsc) X(rdtscp) X(invlpg) X(invpcid) X(clts) X(lmsw) X(smsw) X(ud) X(swapgs) X(priv_nop) X(vmcall) X(vmmcall) X(monitor) X(mwait)    \
  X(syscall) X(sysret) X(sysenter) X(sysexit)      \
  X(in) X(out) X(ins) X(outs) X(movs) X(stos) X(lods) X(cmps) X(scas)                         \
  X(bt) X(bts) X(btr) X(btc) X(bsf) X(bsr) X(tzcnt) X(lzcnt) X(popcnt) X(shld) X(shrd)       \
  X(xadd) X(cmpxchg) X(cmpxchg8b) X(cmpxchg16b)                                                \
  X(movbe) X(xlat) X(rdrand) X(clflush) X(adx) X(andn) X(bextr) X(blsi) X(blsmsk) X(blsr)    \
  X(bzhi) X(pdep) X(pext) X(rorx) X(shiftx) X(mulx)                                          \
  X(sse_mov) X(movss_x) X(movsd_x) X(movd_q) X(movhl) X(movmsk) X(movnti) X(maskmovdqu)        \
  X(pinsrw) X(pextrw) X(pshuf) X(shufp) X(pbshift) X(sse_binop) X(sse_shift) X(sse_cmp)        \
  X(comis) X(cvt_si2f) X(cvt_f2si) X(ldmxcsr) X(stmxcsr) X(fxsave) X(fxrstor) X(x87) X(mmx) \
  X(sse4_binop) X(sse4_imm) X(sse4_blendv) X(ptest) X(movntdqa) X(sse4_extract) X(sse4_insert)   \
  X(pcmpstr) X(crc32) X(xgetbv) X(xsetbv) X(xsave) X(xrstor) X(bcd) X(lxs)

#define X(name) HANDLER(name);
EXEC_HANDLERS(X)
#undef X

/* #GP(0) unless CPL 0 (privileged instructions). */
static inline void require_cpl0(struct x86_cpu *cpu)
{
  if (cpu->cpl) RAISE_ERR(cpu, EXC_GP, 0);
}

#endif
