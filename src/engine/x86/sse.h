/* SSE/SSE2/SSE3 execution (exec_sse_*.c): shared helpers. XMM0-15 and MXCSR live in cpu->fpu
 * (struct kvm_fpu). Floating-point work runs on the host with the guest's MXCSR loaded, so
 * results, NaN propagation, rounding and the exception flags are the host CPU's, bit for bit. */
#ifndef SKVM_SSE_H
#define SKVM_SSE_H

#include <string.h>

#include "exec.h"

#define EXC_XM 19

#define MXCSR_FLAGS 0x3fu     /* IE DE ZE OE UE PE */
#define MXCSR_MASKS 0x1f80u   /* IM DM ZM OM UM PM */
#define MXCSR_VALID 0xffffu   /* MXCSR_MASK reported by FXSAVE: every bit below 16 (DAZ included) */

typedef long long v2di __attribute__((vector_size(16)));

/* The binary operations a host instruction of the same name performs on (xmm dest, xmm/m src),
 * with no immediate: X(ZYDIS mnemonic suffix, host assembler mnemonic). */
#define SSE_BINOPS(X)                                                                              \
  X(ADDPS, addps) X(ADDPD, addpd) X(ADDSS, addss) X(ADDSD, addsd)                                 \
  X(SUBPS, subps) X(SUBPD, subpd) X(SUBSS, subss) X(SUBSD, subsd)                                 \
  X(MULPS, mulps) X(MULPD, mulpd) X(MULSS, mulss) X(MULSD, mulsd)                                 \
  X(DIVPS, divps) X(DIVPD, divpd) X(DIVSS, divss) X(DIVSD, divsd)                                 \
  X(MINPS, minps) X(MINPD, minpd) X(MINSS, minss) X(MINSD, minsd)                                 \
  X(MAXPS, maxps) X(MAXPD, maxpd) X(MAXSS, maxss) X(MAXSD, maxsd)                                 \
  X(SQRTPS, sqrtps) X(SQRTPD, sqrtpd) X(SQRTSS, sqrtss) X(SQRTSD, sqrtsd)                         \
  X(RCPPS, rcpps) X(RCPSS, rcpss) X(RSQRTPS, rsqrtps) X(RSQRTSS, rsqrtss)                         \
  X(ANDPS, andps) X(ANDPD, andpd) X(ANDNPS, andnps) X(ANDNPD, andnpd)                             \
  X(ORPS, orps) X(ORPD, orpd) X(XORPS, xorps) X(XORPD, xorpd)                                     \
  X(CVTSS2SD, cvtss2sd) X(CVTSD2SS, cvtsd2ss) X(CVTDQ2PS, cvtdq2ps) X(CVTPS2DQ, cvtps2dq)         \
  X(CVTTPS2DQ, cvttps2dq) X(CVTDQ2PD, cvtdq2pd) X(CVTPD2DQ, cvtpd2dq) X(CVTTPD2DQ, cvttpd2dq)     \
  X(CVTPS2PD, cvtps2pd) X(CVTPD2PS, cvtpd2ps)                                                     \
  X(UNPCKLPS, unpcklps) X(UNPCKHPS, unpckhps) X(UNPCKLPD, unpcklpd) X(UNPCKHPD, unpckhpd)         \
  X(PADDB, paddb) X(PADDW, paddw) X(PADDD, paddd) X(PADDQ, paddq)                                 \
  X(PSUBB, psubb) X(PSUBW, psubw) X(PSUBD, psubd) X(PSUBQ, psubq)                                 \
  X(PADDSB, paddsb) X(PADDSW, paddsw) X(PADDUSB, paddusb) X(PADDUSW, paddusw)                     \
  X(PSUBSB, psubsb) X(PSUBSW, psubsw) X(PSUBUSB, psubusb) X(PSUBUSW, psubusw)                     \
  X(PCMPEQB, pcmpeqb) X(PCMPEQW, pcmpeqw) X(PCMPEQD, pcmpeqd)                                     \
  X(PCMPGTB, pcmpgtb) X(PCMPGTW, pcmpgtw) X(PCMPGTD, pcmpgtd)                                     \
  X(PMULLW, pmullw) X(PMULHW, pmulhw) X(PMULHUW, pmulhuw) X(PMULUDQ, pmuludq)                     \
  X(PMADDWD, pmaddwd) X(PSADBW, psadbw) X(PAVGB, pavgb) X(PAVGW, pavgw)                           \
  X(PMINUB, pminub) X(PMAXUB, pmaxub) X(PMINSW, pminsw) X(PMAXSW, pmaxsw)                         \
  X(PAND, pand) X(PANDN, pandn) X(POR, por) X(PXOR, pxor)                                         \
  X(PUNPCKLBW, punpcklbw) X(PUNPCKLWD, punpcklwd) X(PUNPCKLDQ, punpckldq)                         \
  X(PUNPCKLQDQ, punpcklqdq) X(PUNPCKHBW, punpckhbw) X(PUNPCKHWD, punpckhwd)                       \
  X(PUNPCKHDQ, punpckhdq) X(PUNPCKHQDQ, punpckhqdq)                                               \
  X(PACKSSWB, packsswb) X(PACKSSDW, packssdw) X(PACKUSWB, packuswb)                               \
  X(HADDPS, haddps) X(HADDPD, haddpd) X(HSUBPS, hsubps) X(HSUBPD, hsubpd)                         \
  X(ADDSUBPS, addsubps) X(ADDSUBPD, addsubpd)                                                     \
  X(MOVDDUP, movddup) X(MOVSHDUP, movshdup) X(MOVSLDUP, movsldup)

/* The shifts by an xmm/m128 count; the imm8 forms run as the same instruction on a count vector. */
#define SSE_SHIFTS(X)                                                                              \
  X(PSLLW, psllw) X(PSLLD, pslld) X(PSLLQ, psllq) X(PSRLW, psrlw) X(PSRLD, psrld)                 \
  X(PSRLQ, psrlq) X(PSRAW, psraw) X(PSRAD, psrad)

/* The host stub that runs an SSE_BINOPS/SSE_SHIFTS instruction: d = op(d, s); NULL if none. */
typedef void (*sse_stub)(v2di *d, const v2di *s);
sse_stub sse_host_stub(int mnemonic);

static inline uint8_t *xmm(struct x86_cpu *cpu, int i) { return cpu->fpu.xmm[i]; }

/* #UD / #NM checks every SSE instruction starts with (CR0.EM, CR4.OSFXSR, CR0.TS). */
static inline void sse_check(struct x86_cpu *cpu)
{
  if ((cpu->cr0 & CR0_EM) || !(cpu->cr4 & CR4_OSFXSR)) RAISE(cpu, EXC_UD);
  if (cpu->cr0 & CR0_TS) RAISE(cpu, EXC_NM);
}

/* The operand needs 16-byte alignment: a 16-byte memory operand of any legacy-SSE instruction
 * except the explicitly unaligned ones. */
bool sse_aligned(const struct x86_insn *in, int i);

/* Memory of any size (up to 512 bytes) at the instruction's memory operand address ea.
 * Writes check every page before storing a byte. align: #GP(0) unless 16-byte aligned. */
void sse_mem_read(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t ea, int size, void *buf,
                  bool align);
void sse_mem_write(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t ea, int size,
                   const void *buf, bool align);

/* Operand i (XMM register: 16 bytes; memory: op size bytes, zero-padded; GPR: its value) into
 * buf[16], with the alignment check. */
void sse_read_op(struct x86_cpu *cpu, const struct x86_insn *in, int i, uint8_t buf[16]);
/* Operand 0 must be an XMM register (MMX forms are not implemented). */
void sse_need_xmm(struct x86_cpu *cpu, const struct x86_insn *in, int i);

/* Host MXCSR switch around a host SIMD operation: enter loads the guest's MXCSR with every
 * exception masked and the flags clear (returns the host's); leave restores the host's and returns
 * the flags the operation raised. Keep only opaque calls or volatile asm in between. */
static inline uint32_t sse_host_enter(const struct x86_cpu *cpu)
{
  uint32_t host, g = (cpu->fpu.mxcsr | MXCSR_MASKS) & ~MXCSR_FLAGS & MXCSR_VALID;
  __asm__ volatile("stmxcsr %0\n\tldmxcsr %1" : "=m"(host) : "m"(g) : "memory");
  return host;
}
static inline uint32_t sse_host_leave(uint32_t host)
{
  uint32_t out;
  __asm__ volatile("stmxcsr %0\n\tldmxcsr %1" : "=m"(out) : "m"(host) : "memory");
  return out & MXCSR_FLAGS;
}

/* Accounts the raised flags in the guest MXCSR; an unmasked one raises #XM (#UD without
 * CR4.OSXMMEXCPT) before the destination is written. Call before writing any result. */
void sse_fp_flags(struct x86_cpu *cpu, uint32_t raised);

#endif
