/* SSE/SSE2/SSE3 arithmetic, logic, packed integer, conversions and compares. Each operation runs
 * as the same host instruction on the same operands with the guest's MXCSR loaded (sse.h), which
 * makes results, NaN propagation, rounding, DAZ/FTZ and the exception flags exact. */
#include <Zydis/Zydis.h>

#include "sse.h"

#define STUB(m, insn)                                                                             \
  static __attribute__((noinline)) void stub_##m(v2di *d, const v2di *s)                         \
  {                                                                                              \
    __asm__ volatile(insn " %1, %0" : "+x"(*d) : "x"(*s));                                       \
  }
#define X(M, m) STUB(m, #m)
SSE_BINOPS(X)
SSE_SHIFTS(X)
#undef X

static const sse_stub stubs[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
#define X(M, m) [ZYDIS_MNEMONIC_##M] = stub_##m,
  SSE_BINOPS(X)
  SSE_SHIFTS(X)
#undef X
};

sse_stub sse_host_stub(int mnemonic)
{
  return mnemonic >= 0 && mnemonic <= ZYDIS_MNEMONIC_MAX_VALUE ? stubs[mnemonic] : NULL;
}

/* d = op(d, s) on the host; the MXCSR flags are accounted before d is written */
static void run_stub(struct x86_cpu *cpu, const struct x86_insn *in, sse_stub fn, const uint8_t *src)
{
  v2di d, s;
  memcpy(&d, xmm(cpu, in->op[0].reg), 16);
  memcpy(&s, src, 16);
  uint32_t host = sse_host_enter(cpu);
  fn(&d, &s);
  sse_fp_flags(cpu, sse_host_leave(host));
  memcpy(xmm(cpu, in->op[0].reg), &d, 16);
}

HANDLER(sse_binop)
{
  sse_stub fn = stubs[in->mnemonic];
  sse_need_xmm(cpu, in, 0);
  if (!fn || in->op[1].kind == OP_MMX) x86_internal_error(cpu, in->bytes, in->len);
  sse_check(cpu);
  uint8_t s[16];
  sse_read_op(cpu, in, 1, s);
  run_stub(cpu, in, fn, s);
}

/* PSLL/PSRL/PSRA W/D/Q by xmm/m128 or by imm8 (run as a count vector holding the immediate) */
HANDLER(sse_shift)
{
  sse_stub fn = stubs[in->mnemonic];
  sse_need_xmm(cpu, in, 0);
  if (!fn) x86_internal_error(cpu, in->bytes, in->len);
  sse_check(cpu);
  uint8_t s[16] = { 0 };
  if (in->op[1].kind == OP_IMM) s[0] = (uint8_t)in->imm;
  else if (in->op[1].kind == OP_XMM || in->op[1].kind == OP_MEM) sse_read_op(cpu, in, 1, s);
  else x86_internal_error(cpu, in->bytes, in->len);
  run_stub(cpu, in, fn, s);
}

/* ---- CMPPS/CMPPD/CMPSS/CMPSD xmm, xmm/m, imm8: predicate imm8[2:0] ---- */

#define CMP_STUB(m, p)                                                                            \
  static __attribute__((noinline)) void stub_##m##_##p(v2di *d, const v2di *s)                   \
  {                                                                                              \
    __asm__ volatile(#m " $" #p ", %1, %0" : "+x"(*d) : "x"(*s));                                \
  }
#define CMP_STUBS(m)                                                                              \
  CMP_STUB(m, 0) CMP_STUB(m, 1) CMP_STUB(m, 2) CMP_STUB(m, 3)                                     \
  CMP_STUB(m, 4) CMP_STUB(m, 5) CMP_STUB(m, 6) CMP_STUB(m, 7)                                     \
  static const sse_stub m##_stubs[8] = { stub_##m##_0, stub_##m##_1, stub_##m##_2, stub_##m##_3, \
                                         stub_##m##_4, stub_##m##_5, stub_##m##_6, stub_##m##_7 };
CMP_STUBS(cmpps)
CMP_STUBS(cmppd)
CMP_STUBS(cmpss)
CMP_STUBS(cmpsd)

HANDLER(sse_cmp)
{
  const sse_stub *t;
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_CMPPS: t = cmpps_stubs; break;
  case ZYDIS_MNEMONIC_CMPPD: t = cmppd_stubs; break;
  case ZYDIS_MNEMONIC_CMPSS: t = cmpss_stubs; break;
  default:
    if (in->opcode == 0xa7) {   /* the string instruction CMPSD */
      exec_cmps(cpu, in);
      return;
    }
    t = cmpsd_stubs;
    break;
  }
  sse_need_xmm(cpu, in, 0);
  sse_check(cpu);
  uint8_t s[16];
  sse_read_op(cpu, in, 1, s);
  run_stub(cpu, in, t[in->imm & 7], s);
}

/* ---- COMISS/UCOMISS/COMISD/UCOMISD: ZF PF CF from the compare, OF SF AF cleared ---- */

#define COMI_STUB(m)                                                                              \
  static __attribute__((noinline)) unsigned comi_##m(const v2di *d, const v2di *s)               \
  {                                                                                              \
    bool z, p, c;                                                                                \
    __asm__ volatile(#m " %3, %4" : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c) : "x"(*s), "x"(*d));      \
    return (z ? F_ZF : 0) | (p ? F_PF : 0) | (c ? F_CF : 0);                                     \
  }
COMI_STUB(comiss)
COMI_STUB(ucomiss)
COMI_STUB(comisd)
COMI_STUB(ucomisd)

HANDLER(comis)
{
  unsigned (*fn)(const v2di *, const v2di *);
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_COMISS: fn = comi_comiss; break;
  case ZYDIS_MNEMONIC_UCOMISS: fn = comi_ucomiss; break;
  case ZYDIS_MNEMONIC_COMISD: fn = comi_comisd; break;
  default: fn = comi_ucomisd; break;
  }
  sse_need_xmm(cpu, in, 0);
  sse_check(cpu);
  v2di d, s;
  uint8_t sb[16];
  sse_read_op(cpu, in, 1, sb);
  memcpy(&s, sb, 16);
  memcpy(&d, xmm(cpu, in->op[0].reg), 16);
  uint32_t host = sse_host_enter(cpu);
  unsigned fl = fn(&d, &s);
  sse_fp_flags(cpu, sse_host_leave(host));
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ARITH) | fl;
}

/* ---- conversions between a GPR (or m32/m64) and a scalar ---- */

/* CVTSI2SS / CVTSI2SD xmm, r/m32 or r/m64 */
#define SI2F_STUB(name, insn, mod)                                                                \
  static __attribute__((noinline)) void name(v2di *d, uint64_t v)                                \
  {                                                                                              \
    __asm__ volatile(insn " %" mod "1, %0" : "+x"(*d) : "r"(v));                                 \
  }
SI2F_STUB(si2ss32, "cvtsi2ssl", "k")
SI2F_STUB(si2ss64, "cvtsi2ssq", "q")
SI2F_STUB(si2sd32, "cvtsi2sdl", "k")
SI2F_STUB(si2sd64, "cvtsi2sdq", "q")

HANDLER(cvt_si2f)
{
  sse_need_xmm(cpu, in, 0);
  if (in->op[1].kind != OP_REG && in->op[1].kind != OP_MEM) x86_internal_error(cpu, in->bytes, in->len);
  sse_check(cpu);
  bool sd = in->mnemonic == ZYDIS_MNEMONIC_CVTSI2SD, q = in->op[1].size == 8;
  void (*fn)(v2di *, uint64_t) = sd ? (q ? si2sd64 : si2sd32) : (q ? si2ss64 : si2ss32);
  uint64_t v = op_read(cpu, in, 1);
  v2di d;
  memcpy(&d, xmm(cpu, in->op[0].reg), 16);
  uint32_t host = sse_host_enter(cpu);
  fn(&d, v);
  sse_fp_flags(cpu, sse_host_leave(host));
  memcpy(xmm(cpu, in->op[0].reg), &d, 16);
}

/* CVT(T)SS2SI / CVT(T)SD2SI r32/r64, xmm/m32/m64 */
#define F2SI_STUB(name, insn, mod)                                                                \
  static __attribute__((noinline)) uint64_t name(const v2di *s)                                  \
  {                                                                                              \
    uint64_t r = 0;                                                                              \
    __asm__ volatile(insn " %1, %" mod "0" : "+r"(r) : "x"(*s));                                 \
    return r;                                                                                    \
  }
F2SI_STUB(ss2si32, "cvtss2si", "k")
F2SI_STUB(ss2si64, "cvtss2si", "q")
F2SI_STUB(tss2si32, "cvttss2si", "k")
F2SI_STUB(tss2si64, "cvttss2si", "q")
F2SI_STUB(sd2si32, "cvtsd2si", "k")
F2SI_STUB(sd2si64, "cvtsd2si", "q")
F2SI_STUB(tsd2si32, "cvttsd2si", "k")
F2SI_STUB(tsd2si64, "cvttsd2si", "q")

HANDLER(cvt_f2si)
{
  if (in->op[0].kind != OP_REG) x86_internal_error(cpu, in->bytes, in->len);
  bool q = in->op[0].size == 8;
  uint64_t (*fn)(const v2di *);
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_CVTSS2SI: fn = q ? ss2si64 : ss2si32; break;
  case ZYDIS_MNEMONIC_CVTTSS2SI: fn = q ? tss2si64 : tss2si32; break;
  case ZYDIS_MNEMONIC_CVTSD2SI: fn = q ? sd2si64 : sd2si32; break;
  default: fn = q ? tsd2si64 : tsd2si32; break;
  }
  sse_check(cpu);
  uint8_t sb[16];
  sse_read_op(cpu, in, 1, sb);
  v2di s;
  memcpy(&s, sb, 16);
  uint32_t host = sse_host_enter(cpu);
  uint64_t r = fn(&s);
  sse_fp_flags(cpu, sse_host_leave(host));
  reg_write(cpu, in->op[0].reg, q ? 8 : 4, r);
}
