/* MMX (and the SSE/SSE2 instructions with MMX operands). MM0-7 alias the x87 registers (x87.h).
 * Packed integer operations run as the host's SSE2 instruction of the same name on the 64-bit
 * values zero-extended to 128 bits (the unpack-high and pack forms rearranged to fit); the
 * conversions run as the host's packed SSE conversion with the guest's MXCSR. The decoder sends
 * every instruction with an MMX register operand whose mnemonic mmx_route() accepts here. */
#include <Zydis/Zydis.h>

#include "x87.h"

typedef sse_stub mmx_stub;

/* MMX mnemonic -> the SSE2 instruction whose host stub does the same work on the MMX values
 * zero-extended to 128 bits (high unpacks use the low form on those zero-extended values). */
#define MMX_BINOPS(X)                                                                              \
  X(PADDB, PADDB) X(PADDW, PADDW) X(PADDD, PADDD) X(PADDQ, PADDQ)                                 \
  X(PSUBB, PSUBB) X(PSUBW, PSUBW) X(PSUBD, PSUBD) X(PSUBQ, PSUBQ)                                 \
  X(PADDSB, PADDSB) X(PADDSW, PADDSW) X(PADDUSB, PADDUSB) X(PADDUSW, PADDUSW)                     \
  X(PSUBSB, PSUBSB) X(PSUBSW, PSUBSW) X(PSUBUSB, PSUBUSB) X(PSUBUSW, PSUBUSW)                     \
  X(PCMPEQB, PCMPEQB) X(PCMPEQW, PCMPEQW) X(PCMPEQD, PCMPEQD)                                     \
  X(PCMPGTB, PCMPGTB) X(PCMPGTW, PCMPGTW) X(PCMPGTD, PCMPGTD)                                     \
  X(PMULLW, PMULLW) X(PMULHW, PMULHW) X(PMULHUW, PMULHUW) X(PMULUDQ, PMULUDQ)                     \
  X(PMADDWD, PMADDWD) X(PSADBW, PSADBW) X(PAVGB, PAVGB) X(PAVGW, PAVGW)                           \
  X(PMINUB, PMINUB) X(PMAXUB, PMAXUB) X(PMINSW, PMINSW) X(PMAXSW, PMAXSW)                         \
  X(PAND, PAND) X(PANDN, PANDN) X(POR, POR) X(PXOR, PXOR)                                         \
  X(PUNPCKLBW, PUNPCKLBW) X(PUNPCKLWD, PUNPCKLWD) X(PUNPCKLDQ, PUNPCKLDQ)                         \
  X(PUNPCKHBW, PUNPCKLBW) X(PUNPCKHWD, PUNPCKLWD) X(PUNPCKHDQ, PUNPCKLDQ)                         \
  X(PSLLW, PSLLW) X(PSLLD, PSLLD) X(PSLLQ, PSLLQ) X(PSRLW, PSRLW) X(PSRLD, PSRLD)                 \
  X(PSRLQ, PSRLQ) X(PSRAW, PSRAW) X(PSRAD, PSRAD)                                                 \
  X(PACKSSWB, PACKSSWB) X(PACKSSDW, PACKSSDW) X(PACKUSWB, PACKUSWB)                               \
  X(CVTPI2PS, CVTDQ2PS) X(CVTPS2PI, CVTPS2DQ) X(CVTTPS2PI, CVTTPS2DQ) X(CVTPI2PD, CVTDQ2PD)       \
  X(CVTPD2PI, CVTPD2DQ) X(CVTTPD2PI, CVTTPD2DQ)

static mmx_stub mmx_stub_for(int mnemonic)
{
  switch (mnemonic) {
#define X(M, S) case ZYDIS_MNEMONIC_##M: return sse_host_stub(ZYDIS_MNEMONIC_##S);
  MMX_BINOPS(X)
#undef X
  }
  return NULL;
}

x86_handler mmx_route(int mnemonic)
{
  switch (mnemonic) {
  case ZYDIS_MNEMONIC_MOVD: case ZYDIS_MNEMONIC_MOVQ: case ZYDIS_MNEMONIC_PSHUFW:
  case ZYDIS_MNEMONIC_PINSRW: case ZYDIS_MNEMONIC_PEXTRW: case ZYDIS_MNEMONIC_PMOVMSKB:
  case ZYDIS_MNEMONIC_MOVNTQ: case ZYDIS_MNEMONIC_MASKMOVQ: case ZYDIS_MNEMONIC_MOVQ2DQ:
  case ZYDIS_MNEMONIC_MOVDQ2Q: case ZYDIS_MNEMONIC_EMMS:
    return exec_mmx;
  default:
    return mmx_stub_for(mnemonic) ? exec_mmx : NULL;
  }
}

/* #UD (CR0.EM; for the forms with an XMM operand or FP conversion also !CR4.OSFXSR), #NM (TS),
 * then #MF for a pending x87 exception when an MMX register is involved */
static void mmx_check(struct x86_cpu *cpu, bool sse, bool mmreg)
{
  if ((cpu->cr0 & CR0_EM) || (sse && !(cpu->cr4 & CR4_OSFXSR))) RAISE(cpu, EXC_UD);
  if (cpu->cr0 & CR0_TS) RAISE(cpu, EXC_NM);
  if (mmreg) x87_check_mf(cpu);
}

/* operand i as 64 bits: MMX register, memory (op size bytes, zero-extended), GPR, XMM low half */
static uint64_t read64(struct x86_cpu *cpu, const struct x86_insn *in, int i)
{
  const struct x86_operand *o = &in->op[i];
  switch (o->kind) {
  case OP_MMX: return mmx_get(cpu, o->reg);
  case OP_XMM: { uint64_t v; memcpy(&v, xmm(cpu, o->reg), 8); return v; }
  case OP_MEM: {
    uint64_t v = 0;
    sse_mem_read(cpu, in, insn_ea(cpu, in), o->size, &v, false);
    return v;
  }
  case OP_REG: return op_read(cpu, in, i);
  default: x86_internal_error(cpu, in->bytes, in->len);
  }
}

static bool is_mm(const struct x86_insn *in, int i) { return in->op[i].kind == OP_MMX; }

static uint64_t run_stub(struct x86_cpu *cpu, mmx_stub fn, uint64_t d0, uint64_t d1, uint64_t s0, bool fp,
                         uint64_t *hi)
{
  v2di d = { (long long)d0, (long long)d1 }, s = { (long long)s0, 0 };
  if (fp) {
    uint32_t host = sse_host_enter(cpu);
    fn(&d, &s);
    sse_fp_flags(cpu, sse_host_leave(host));
  } else {
    fn(&d, &s);
  }
  if (hi) *hi = (uint64_t)d[1];
  return (uint64_t)d[0];
}

static void conversions(struct x86_cpu *cpu, const struct x86_insn *in, mmx_stub fn)
{
  bool mmsrc = is_mm(in, 1), mmdst = is_mm(in, 0);
  mmx_check(cpu, true, mmsrc || mmdst);
  uint64_t s0, s1 = 0;
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_CVTPI2PS: case ZYDIS_MNEMONIC_CVTPI2PD:
    s0 = read64(cpu, in, 1);
    break;
  default:   /* CVT(T)PS2PI xmm/m64, CVT(T)PD2PI xmm/m128 */
    if (in->op[1].kind == OP_XMM) {
      memcpy(&s0, xmm(cpu, in->op[1].reg), 8);
      memcpy(&s1, xmm(cpu, in->op[1].reg) + 8, 8);
    } else {
      uint8_t b[16] = { 0 };
      int n = in->op[1].size == 16 ? 16 : 8;
      sse_mem_read(cpu, in, insn_ea(cpu, in), n, b, n == 16);
      memcpy(&s0, b, 8), memcpy(&s1, b + 8, 8);
    }
    if (in->mnemonic == ZYDIS_MNEMONIC_CVTPS2PI || in->mnemonic == ZYDIS_MNEMONIC_CVTTPS2PI) s1 = 0;
    break;
  }
  /* the conversion of s0:s1 (as the source operand) into d */
  v2di d = { 0, 0 }, s = { (long long)s0, (long long)s1 };
  uint32_t host = sse_host_enter(cpu);
  fn(&d, &s);
  sse_fp_flags(cpu, sse_host_leave(host));
  if (mmsrc || mmdst) mmx_enter(cpu);
  if (mmdst) {
    mmx_set(cpu, in->op[0].reg, (uint64_t)d[0]);
  } else if (in->mnemonic == ZYDIS_MNEMONIC_CVTPI2PS) {
    memcpy(xmm(cpu, in->op[0].reg), &d, 8);   /* the high half is kept */
  } else {
    memcpy(xmm(cpu, in->op[0].reg), &d, 16);
  }
}

HANDLER(mmx)
{
  int mn = in->mnemonic;
  switch (mn) {
  case ZYDIS_MNEMONIC_EMMS: {
    mmx_check(cpu, false, true);
    _Alignas(16) uint8_t img[512];
    x87_image(cpu, img);
    x87_host_exec(img, X87_STUB_EMMS, NULL, 0);   /* the host's EMMS (tags, and TOP on some) */
    x87_commit(cpu, img);
    return;
  }
  case ZYDIS_MNEMONIC_CVTPI2PS: case ZYDIS_MNEMONIC_CVTPS2PI: case ZYDIS_MNEMONIC_CVTTPS2PI:
  case ZYDIS_MNEMONIC_CVTPI2PD: case ZYDIS_MNEMONIC_CVTPD2PI: case ZYDIS_MNEMONIC_CVTTPD2PI:
    conversions(cpu, in, mmx_stub_for(mn));
    return;
  case ZYDIS_MNEMONIC_MOVQ2DQ: {   /* xmm <- mm, zero-extended */
    mmx_check(cpu, true, true);
    uint64_t v = mmx_get(cpu, in->op[1].reg);
    mmx_enter(cpu);
    memset(xmm(cpu, in->op[0].reg), 0, 16);
    memcpy(xmm(cpu, in->op[0].reg), &v, 8);
    return;
  }
  case ZYDIS_MNEMONIC_MOVDQ2Q: {   /* mm <- low half of xmm */
    mmx_check(cpu, true, true);
    uint64_t v;
    memcpy(&v, xmm(cpu, in->op[1].reg), 8);
    mmx_enter(cpu);
    mmx_set(cpu, in->op[0].reg, v);
    return;
  }
  default:
    break;
  }
  mmx_check(cpu, false, true);
  if (mn == ZYDIS_MNEMONIC_MOVD || mn == ZYDIS_MNEMONIC_MOVQ || mn == ZYDIS_MNEMONIC_MOVNTQ) {
    int n = in->op[0].kind == OP_MMX ? in->op[1].size : in->op[0].size;
    if (n != 4) n = 8;
    uint64_t v = read64(cpu, in, 1) & size_mask(n);
    if (is_mm(in, 0)) {
      mmx_enter(cpu);
      mmx_set(cpu, in->op[0].reg, v);
    } else if (in->op[0].kind == OP_REG) {
      mmx_enter(cpu);
      reg_write(cpu, in->op[0].reg, n, v);
    } else if (in->op[0].kind == OP_MEM) {
      sse_mem_write(cpu, in, insn_ea(cpu, in), n, &v, false);
      mmx_enter(cpu);
    } else {
      x86_internal_error(cpu, in->bytes, in->len);
    }
    return;
  }
  if (mn == ZYDIS_MNEMONIC_PEXTRW || mn == ZYDIS_MNEMONIC_PMOVMSKB) {
    if (!is_mm(in, 1) || in->op[0].kind != OP_REG) x86_internal_error(cpu, in->bytes, in->len);
    uint64_t s = mmx_get(cpu, in->op[1].reg), r = 0;
    if (mn == ZYDIS_MNEMONIC_PEXTRW) r = s >> ((in->imm & 3) * 16) & 0xffff;
    else for (int i = 0; i < 8; i++) r |= (s >> (i * 8 + 7) & 1) << i;
    mmx_enter(cpu);
    reg_write(cpu, in->op[0].reg, 8, r);
    return;
  }
  if (mn == ZYDIS_MNEMONIC_MASKMOVQ) {   /* bytes of mm1 under the sign bits of mm2 to DS:rDI */
    uint64_t s = mmx_get(cpu, in->op[0].reg), m = mmx_get(cpu, in->op[1].reg);
    if (m & 0x8080808080808080ULL) {
      uint64_t ea = cpu->gpr[R_DI] & addr_mask(in->addrsize);
      uint64_t lin = seg_linear(cpu, in->seg, ea, 8, ACC_WRITE);
      mmu_translate(cpu, lin, ACC_WRITE);
      uint64_t last = cpu->code_bits == 64 ? lin + 7 : (lin + 7) & 0xffffffffULL;
      mmu_translate(cpu, last, ACC_WRITE);
      for (int i = 0; i < 8; i++) {
        if (!(m >> (i * 8 + 7) & 1)) continue;
        uint64_t a = cpu->code_bits == 64 ? lin + i : (lin + i) & 0xffffffffULL;
        lin_write(cpu, a, 1, s >> (i * 8) & 0xff, ACC_WRITE);
      }
    }
    mmx_enter(cpu);
    return;
  }
  if (!is_mm(in, 0)) x86_internal_error(cpu, in->bytes, in->len);
  int dst = in->op[0].reg;
  uint64_t d = mmx_get(cpu, dst), r;
  if (mn == ZYDIS_MNEMONIC_PSHUFW) {
    uint64_t s = read64(cpu, in, 1);
    r = 0;
    for (int i = 0; i < 4; i++) r |= (s >> (((in->imm >> (i * 2)) & 3) * 16) & 0xffff) << (i * 16);
  } else if (mn == ZYDIS_MNEMONIC_PINSRW) {
    uint64_t w = read64(cpu, in, 1) & 0xffff;
    int sh = (int)(in->imm & 3) * 16;
    r = (d & ~(0xffffULL << sh)) | w << sh;
  } else {
    mmx_stub fn = mmx_stub_for(mn);
    if (!fn) x86_internal_error(cpu, in->bytes, in->len);
    uint64_t s = in->op[1].kind == OP_IMM ? (in->imm & 0xff) : read64(cpu, in, 1), hi;
    switch (mn) {
    case ZYDIS_MNEMONIC_PUNPCKHBW: case ZYDIS_MNEMONIC_PUNPCKHWD: case ZYDIS_MNEMONIC_PUNPCKHDQ:
      run_stub(cpu, fn, d, 0, s, false, &hi);
      r = hi;
      break;
    case ZYDIS_MNEMONIC_PACKSSWB: case ZYDIS_MNEMONIC_PACKSSDW: case ZYDIS_MNEMONIC_PACKUSWB: {
      v2di x = { (long long)d, (long long)s };
      fn(&x, &x);
      r = (uint64_t)x[0];
      break;
    }
    default:
      r = run_stub(cpu, fn, d, 0, s, false, NULL);
      break;
    }
  }
  mmx_enter(cpu);
  mmx_set(cpu, dst, r);
}
