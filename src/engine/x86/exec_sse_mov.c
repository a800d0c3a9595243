/* SSE/SSE2 data movement and shuffles: MOVAPS..MOVDQU, MOVSS/MOVSD, MOVD/MOVQ, MOVHPS..MOVLHPS,
 * MOVMSK*, MOVNT*, MASKMOVDQU, PINSRW/PEXTRW, PSHUFD/LW/HW, SHUFPS/PD, PSLLDQ/PSRLDQ. */
#include <Zydis/Zydis.h>

#include "sse.h"

/* Stores n bytes of src into operand 0 (XMM register: the low n bytes, the rest kept). */
static void store_low(struct x86_cpu *cpu, const struct x86_insn *in, const uint8_t *src, int n)
{
  if (in->op[0].kind == OP_MEM)
    sse_mem_write(cpu, in, insn_ea(cpu, in), n, src, n == 16 && sse_aligned(in, 0));
  else if (in->op[0].kind == OP_XMM)
    memcpy(xmm(cpu, in->op[0].reg), src, n);
  else
    x86_internal_error(cpu, in->bytes, in->len);
}

/* MOVAPS MOVUPS MOVAPD MOVUPD MOVDQA MOVDQU LDDQU MOVNTPS MOVNTPD MOVNTDQ */
HANDLER(sse_mov)
{
  sse_check(cpu);
  uint8_t v[16];
  if (in->op[1].kind != OP_XMM && in->op[1].kind != OP_MEM) x86_internal_error(cpu, in->bytes, in->len);
  sse_read_op(cpu, in, 1, v);
  store_low(cpu, in, v, 16);
}

/* MOVSS / MOVSD (xmm forms): register to register merges the low element; a load zeroes the
 * rest of the register; a store writes the element only. */
static void movs_scalar(struct x86_cpu *cpu, const struct x86_insn *in, int n)
{
  sse_check(cpu);
  uint8_t v[16];
  sse_read_op(cpu, in, 1, v);
  if (in->op[0].kind == OP_XMM && in->op[1].kind == OP_MEM) store_low(cpu, in, v, 16);
  else store_low(cpu, in, v, n);
}

HANDLER(movss_x) { movs_scalar(cpu, in, 4); }

HANDLER(movsd_x)
{
  if (in->opcode == 0xa5) exec_movs(cpu, in);   /* the string instruction MOVSD */
  else movs_scalar(cpu, in, 8);
}

/* MOVD/MOVQ: to an XMM register the value is zero-extended to 128 bits; from one the low 4 or
 * 8 bytes go to a GPR or memory. MMX forms are not implemented. */
HANDLER(movd_q)
{
  int n = in->mnemonic == ZYDIS_MNEMONIC_MOVQ ? 8 : 4;
  if (in->op[0].kind == OP_MMX || in->op[1].kind == OP_MMX) x86_internal_error(cpu, in->bytes, in->len);
  sse_check(cpu);
  uint8_t v[16];
  sse_read_op(cpu, in, 1, v);
  memset(v + n, 0, 16 - n);
  if (in->op[0].kind == OP_XMM) {
    memcpy(xmm(cpu, in->op[0].reg), v, 16);
  } else if (in->op[0].kind == OP_REG) {
    uint64_t x = 0;
    memcpy(&x, v, n);
    reg_write(cpu, in->op[0].reg, n, x);
  } else {
    store_low(cpu, in, v, n);
  }
}

/* MOVLPS/MOVLPD/MOVHPS/MOVHPD (one half to or from m64), MOVHLPS, MOVLHPS */
HANDLER(movhl)
{
  sse_check(cpu);
  uint8_t v[16];
  sse_read_op(cpu, in, 1, v);
  bool high = in->mnemonic == ZYDIS_MNEMONIC_MOVHPS || in->mnemonic == ZYDIS_MNEMONIC_MOVHPD;
  if (in->op[0].kind == OP_MEM) {   /* store */
    sse_mem_write(cpu, in, insn_ea(cpu, in), 8, v + (high ? 8 : 0), false);
    return;
  }
  sse_need_xmm(cpu, in, 0);
  uint8_t *d = xmm(cpu, in->op[0].reg);
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_MOVHLPS: memcpy(d, v + 8, 8); break;
  case ZYDIS_MNEMONIC_MOVLHPS: memcpy(d + 8, v, 8); break;
  default: memcpy(d + (high ? 8 : 0), v, 8); break;
  }
}

/* MOVMSKPS / MOVMSKPD / PMOVMSKB: sign bits into a GPR (zero-extended) */
HANDLER(movmsk)
{
  sse_need_xmm(cpu, in, 1);
  sse_check(cpu);
  const uint8_t *s = xmm(cpu, in->op[1].reg);
  int step = in->mnemonic == ZYDIS_MNEMONIC_MOVMSKPS ? 4 : in->mnemonic == ZYDIS_MNEMONIC_MOVMSKPD ? 8 : 1;
  uint64_t m = 0;
  for (int i = 0; i < 16 / step; i++) m |= (uint64_t)(s[i * step + step - 1] >> 7) << i;
  reg_write(cpu, in->op[0].reg, 8, m);
}

/* MOVNTI m32/m64, r: a plain store (no SSE state involved) */
HANDLER(movnti)
{
  op_write(cpu, in, 0, op_read(cpu, in, 1));
}

/* MASKMOVDQU xmm1, xmm2: the bytes of xmm1 whose xmm2 byte has bit 7 set go to DS:rDI */
HANDLER(maskmovdqu)
{
  sse_need_xmm(cpu, in, 0);
  sse_need_xmm(cpu, in, 1);
  sse_check(cpu);
  const uint8_t *s = xmm(cpu, in->op[0].reg), *m = xmm(cpu, in->op[1].reg);
  uint64_t ea = cpu->gpr[R_DI] & addr_mask(in->addrsize);
  bool any = false;
  for (int i = 0; i < 16; i++) any |= m[i] >> 7;
  if (!any) return;
  uint64_t lin = seg_linear(cpu, in->seg, ea, 16, ACC_WRITE);
  mmu_translate(cpu, lin, ACC_WRITE);
  uint64_t last = cpu->code_bits == 64 ? lin + 15 : (lin + 15) & 0xffffffffULL;
  mmu_translate(cpu, last, ACC_WRITE);
  for (int i = 0; i < 16; i++) {
    if (!(m[i] >> 7)) continue;
    uint64_t a = cpu->code_bits == 64 ? lin + i : (lin + i) & 0xffffffffULL;
    lin_write(cpu, a, 1, s[i], ACC_WRITE);
  }
}

/* PINSRW xmm, r32/m16, imm8 */
HANDLER(pinsrw)
{
  sse_need_xmm(cpu, in, 0);
  sse_check(cpu);
  uint16_t w = (uint16_t)op_read(cpu, in, 1);
  memcpy(xmm(cpu, in->op[0].reg) + (in->imm & 7) * 2, &w, 2);
}

/* PEXTRW r32/r64, xmm, imm8 (and the SSE4.1 m16 form) */
HANDLER(pextrw)
{
  sse_need_xmm(cpu, in, 1);
  sse_check(cpu);
  uint16_t w;
  memcpy(&w, xmm(cpu, in->op[1].reg) + (in->imm & 7) * 2, 2);
  if (in->op[0].kind == OP_REG) reg_write(cpu, in->op[0].reg, 8, w);
  else op_write(cpu, in, 0, w);
}

/* PSHUFD / PSHUFLW / PSHUFHW xmm, xmm/m128, imm8 */
HANDLER(pshuf)
{
  sse_need_xmm(cpu, in, 0);
  sse_check(cpu);
  uint8_t s[16], r[16];
  sse_read_op(cpu, in, 1, s);
  memcpy(r, s, 16);
  unsigned imm = (unsigned)in->imm;
  if (in->mnemonic == ZYDIS_MNEMONIC_PSHUFD) {
    for (int i = 0; i < 4; i++) memcpy(r + i * 4, s + ((imm >> (i * 2)) & 3) * 4, 4);
  } else {
    int base = in->mnemonic == ZYDIS_MNEMONIC_PSHUFHW ? 8 : 0;
    for (int i = 0; i < 4; i++) memcpy(r + base + i * 2, s + base + ((imm >> (i * 2)) & 3) * 2, 2);
  }
  memcpy(xmm(cpu, in->op[0].reg), r, 16);
}

/* SHUFPS / SHUFPD xmm, xmm/m128, imm8: low result elements from the destination, high from the
 * source */
HANDLER(shufp)
{
  sse_need_xmm(cpu, in, 0);
  sse_check(cpu);
  uint8_t s[16], r[16];
  sse_read_op(cpu, in, 1, s);
  uint8_t *d = xmm(cpu, in->op[0].reg);
  unsigned imm = (unsigned)in->imm;
  if (in->mnemonic == ZYDIS_MNEMONIC_SHUFPS) {
    memcpy(r + 0, d + (imm & 3) * 4, 4);
    memcpy(r + 4, d + ((imm >> 2) & 3) * 4, 4);
    memcpy(r + 8, s + ((imm >> 4) & 3) * 4, 4);
    memcpy(r + 12, s + ((imm >> 6) & 3) * 4, 4);
  } else {
    memcpy(r + 0, d + (imm & 1) * 8, 8);
    memcpy(r + 8, s + ((imm >> 1) & 1) * 8, 8);
  }
  memcpy(d, r, 16);
}

/* PSLLDQ / PSRLDQ xmm, imm8: byte shifts; a count above 15 clears the register */
HANDLER(pbshift)
{
  sse_need_xmm(cpu, in, 0);
  sse_check(cpu);
  uint8_t *d = xmm(cpu, in->op[0].reg), r[16] = { 0 };
  unsigned n = (unsigned)in->imm & 0xff;
  if (n < 16) {
    if (in->mnemonic == ZYDIS_MNEMONIC_PSLLDQ) memcpy(r + n, d, 16 - n);
    else memcpy(r, d + n, 16 - n);
  }
  memcpy(d, r, 16);
}
