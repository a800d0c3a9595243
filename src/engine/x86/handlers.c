/* The dispatch table: Zydis mnemonic -> handler. A mnemonic missing here is an instruction the
 * engine does not implement yet: it exits with KVM_EXIT_INTERNAL_ERROR, never silently. */
#include <Zydis/Zydis.h>

#include "sse.h"
#include "sse4_ops.h"

#define M(mn) [ZYDIS_MNEMONIC_##mn]

static const x86_handler table[ZYDIS_MNEMONIC_MAX_VALUE + 1] = {
  /* arithmetic and logic */
  M(ADD) = exec_add, M(OR) = exec_or, M(ADC) = exec_adc, M(SBB) = exec_sbb, M(AND) = exec_and,
  M(SUB) = exec_sub, M(XOR) = exec_xor, M(CMP) = exec_cmp, M(TEST) = exec_test,
  M(INC) = exec_inc, M(DEC) = exec_dec, M(NEG) = exec_neg, M(NOT) = exec_not,
  M(MUL) = exec_mul, M(IMUL) = exec_imul, M(DIV) = exec_div, M(IDIV) = exec_idiv,
  M(AAA) = exec_bcd, M(AAS) = exec_bcd, M(DAA) = exec_bcd, M(DAS) = exec_bcd, M(AAM) = exec_bcd,
  M(AAD) = exec_bcd,
  M(SHL) = exec_shift, M(SHR) = exec_shift, M(SAR) = exec_shift, M(ROL) = exec_shift,
  M(ROR) = exec_shift, M(RCL) = exec_shift, M(RCR) = exec_shift,
  /* data movement */
  M(MOV) = exec_mov, M(MOVZX) = exec_movzx, M(MOVSX) = exec_movsx, M(MOVSXD) = exec_movsx,
  M(LEA) = exec_lea, M(XCHG) = exec_xchg, M(PUSH) = exec_push, M(POP) = exec_pop,
  M(LES) = exec_lxs, M(LDS) = exec_lxs, M(LSS) = exec_lxs, M(LFS) = exec_lxs, M(LGS) = exec_lxs,
  M(PUSHF) = exec_pushf, M(PUSHFD) = exec_pushf, M(PUSHFQ) = exec_pushf,
  M(POPF) = exec_popf, M(POPFD) = exec_popf, M(POPFQ) = exec_popf,
  M(LAHF) = exec_lahf, M(SAHF) = exec_sahf,
  M(CBW) = exec_cbw, M(CWDE) = exec_cbw, M(CDQE) = exec_cbw,
  M(CWD) = exec_cwd, M(CDQ) = exec_cwd, M(CQO) = exec_cwd,
  M(CMOVO) = exec_cmovcc, M(CMOVNO) = exec_cmovcc, M(CMOVB) = exec_cmovcc, M(CMOVNB) = exec_cmovcc,
  M(CMOVZ) = exec_cmovcc, M(CMOVNZ) = exec_cmovcc, M(CMOVBE) = exec_cmovcc, M(CMOVNBE) = exec_cmovcc,
  M(CMOVS) = exec_cmovcc, M(CMOVNS) = exec_cmovcc, M(CMOVP) = exec_cmovcc, M(CMOVNP) = exec_cmovcc,
  M(CMOVL) = exec_cmovcc, M(CMOVNL) = exec_cmovcc, M(CMOVLE) = exec_cmovcc, M(CMOVNLE) = exec_cmovcc,
  M(SETO) = exec_setcc, M(SETNO) = exec_setcc, M(SETB) = exec_setcc, M(SETNB) = exec_setcc,
  M(SETZ) = exec_setcc, M(SETNZ) = exec_setcc, M(SETBE) = exec_setcc, M(SETNBE) = exec_setcc,
  M(SETS) = exec_setcc, M(SETNS) = exec_setcc, M(SETP) = exec_setcc, M(SETNP) = exec_setcc,
  M(SETL) = exec_setcc, M(SETNL) = exec_setcc, M(SETLE) = exec_setcc, M(SETNLE) = exec_setcc,
  M(BSWAP) = exec_bswap, M(ENTER) = exec_enter, M(LEAVE) = exec_leave,
  M(PUSHA) = exec_pusha, M(PUSHAD) = exec_pusha, M(POPA) = exec_popa, M(POPAD) = exec_popa,
  M(NOP) = exec_nop, M(PAUSE) = exec_nop, M(ENDBR32) = exec_nop, M(ENDBR64) = exec_nop,
  M(PREFETCHNTA) = exec_nop, M(PREFETCHT0) = exec_nop, M(PREFETCHT1) = exec_nop,
  M(PREFETCHT2) = exec_nop, M(PREFETCHW) = exec_nop,
  M(LFENCE) = exec_nop, M(MFENCE) = exec_nop, M(SFENCE) = exec_nop,
  /* control transfer */
  M(JMP) = exec_jmp, M(CALL) = exec_call, M(RET) = exec_ret,
  M(JO) = exec_jcc, M(JNO) = exec_jcc, M(JB) = exec_jcc, M(JNB) = exec_jcc, M(JZ) = exec_jcc,
  M(JNZ) = exec_jcc, M(JBE) = exec_jcc, M(JNBE) = exec_jcc, M(JS) = exec_jcc, M(JNS) = exec_jcc,
  M(JP) = exec_jcc, M(JNP) = exec_jcc, M(JL) = exec_jcc, M(JNL) = exec_jcc, M(JLE) = exec_jcc,
  M(JNLE) = exec_jcc, M(JCXZ) = exec_jcxz, M(JECXZ) = exec_jcxz, M(JRCXZ) = exec_jcxz,
  M(LOOP) = exec_loop, M(LOOPE) = exec_loop, M(LOOPNE) = exec_loop,
  M(INT) = exec_int, M(INT3) = exec_int3, M(INTO) = exec_into,
  M(IRET) = exec_iret, M(IRETD) = exec_iret, M(IRETQ) = exec_iret,
  M(HLT) = exec_hlt, M(CLI) = exec_cli, M(STI) = exec_sti, M(CLD) = exec_cld, M(STD) = exec_std,
  M(CLC) = exec_clc, M(STC) = exec_stc, M(CMC) = exec_cmc,
  /* system */
  M(LGDT) = exec_lgdt, M(LIDT) = exec_lidt, M(SGDT) = exec_sgdt, M(SIDT) = exec_sidt,
  M(LLDT) = exec_lldt, M(LTR) = exec_ltr, M(SLDT) = exec_sldt, M(STR) = exec_str,
  M(LAR) = exec_lar, M(LSL) = exec_lsl, M(VERR) = exec_verr, M(VERW) = exec_verw,
  M(RDMSR) = exec_rdmsr, M(WRMSR) = exec_wrmsr, M(CPUID) = exec_cpuid, M(RDTSC) = exec_rdtsc,
  M(RDTSCP) = exec_rdtscp, M(INVLPG) = exec_invlpg, M(INVPCID) = exec_invpcid, M(CLTS) = exec_clts, M(LMSW) = exec_lmsw,
  M(SMSW) = exec_smsw, M(UD0) = exec_ud, M(UD1) = exec_ud, M(UD2) = exec_ud,
  M(SWAPGS) = exec_swapgs, M(VMCALL) = exec_vmcall, M(VMMCALL) = exec_vmmcall, M(MONITOR) = exec_monitor, M(MWAIT) = exec_mwait, M(WBINVD) = exec_priv_nop, M(INVD) = exec_priv_nop,
  M(SYSCALL) = exec_syscall, M(SYSRET) = exec_sysret, M(SYSENTER) = exec_sysenter,
  M(SYSEXIT) = exec_sysexit,
  /* port I/O and strings */
  M(IN) = exec_in, M(OUT) = exec_out, M(INSB) = exec_ins, M(INSW) = exec_ins, M(INSD) = exec_ins,
  M(OUTSB) = exec_outs, M(OUTSW) = exec_outs, M(OUTSD) = exec_outs,
  M(MOVSB) = exec_movs, M(MOVSW) = exec_movs, M(MOVSD) = exec_movsd_x /* string or SSE2 */, M(MOVSQ) = exec_movs,
  M(STOSB) = exec_stos, M(STOSW) = exec_stos, M(STOSD) = exec_stos, M(STOSQ) = exec_stos,
  M(LODSB) = exec_lods, M(LODSW) = exec_lods, M(LODSD) = exec_lods, M(LODSQ) = exec_lods,
  M(CMPSB) = exec_cmps, M(CMPSW) = exec_cmps, M(CMPSD) = exec_sse_cmp /* string or SSE2 */, M(CMPSQ) = exec_cmps,
  M(SCASB) = exec_scas, M(SCASW) = exec_scas, M(SCASD) = exec_scas, M(SCASQ) = exec_scas,
  /* bit operations (exec_bit.c) */
  M(BT) = exec_bt, M(BTS) = exec_bts, M(BTR) = exec_btr, M(BTC) = exec_btc,
  M(BSF) = exec_bsf, M(BSR) = exec_bsr, M(TZCNT) = exec_tzcnt, M(LZCNT) = exec_lzcnt,
  M(POPCNT) = exec_popcnt, M(SHLD) = exec_shld, M(SHRD) = exec_shrd,
  /* atomic read-modify-write (exec_atomic.c) */
  M(XADD) = exec_xadd, M(CMPXCHG) = exec_cmpxchg, M(CMPXCHG8B) = exec_cmpxchg8b,
  M(CMPXCHG16B) = exec_cmpxchg16b,
  /* misc, BMI1/BMI2 (exec_misc.c) */
  M(MOVBE) = exec_movbe, M(XLAT) = exec_xlat, M(RDRAND) = exec_rdrand, M(RDSEED) = exec_rdrand,
  M(CLFLUSH) = exec_clflush, M(CLFLUSHOPT) = exec_clflush, M(CLWB) = exec_clflush,
  M(ADCX) = exec_adx, M(ADOX) = exec_adx, M(ANDN) = exec_andn, M(BEXTR) = exec_bextr,
  M(BLSI) = exec_blsi, M(BLSMSK) = exec_blsmsk, M(BLSR) = exec_blsr, M(BZHI) = exec_bzhi,
  M(PDEP) = exec_pdep, M(PEXT) = exec_pext, M(RORX) = exec_rorx, M(SARX) = exec_shiftx,
  M(SHLX) = exec_shiftx, M(SHRX) = exec_shiftx, M(MULX) = exec_mulx,
  /* SSE, SSE2, SSE3 (exec_sse_*.c) */
  M(MOVAPS) = exec_sse_mov, M(MOVUPS) = exec_sse_mov, M(MOVAPD) = exec_sse_mov,
  M(MOVUPD) = exec_sse_mov, M(MOVDQA) = exec_sse_mov, M(MOVDQU) = exec_sse_mov,
  M(LDDQU) = exec_sse_mov, M(MOVNTPS) = exec_sse_mov, M(MOVNTPD) = exec_sse_mov,
  M(MOVNTDQ) = exec_sse_mov, M(MOVSS) = exec_movss_x, M(MOVD) = exec_movd_q, M(MOVQ) = exec_movd_q,
  M(MOVHPS) = exec_movhl, M(MOVLPS) = exec_movhl, M(MOVHPD) = exec_movhl, M(MOVLPD) = exec_movhl,
  M(MOVHLPS) = exec_movhl, M(MOVLHPS) = exec_movhl, M(MOVMSKPS) = exec_movmsk,
  M(MOVMSKPD) = exec_movmsk, M(PMOVMSKB) = exec_movmsk, M(MOVNTI) = exec_movnti,
  M(MASKMOVDQU) = exec_maskmovdqu, M(PINSRW) = exec_pinsrw, M(PEXTRW) = exec_pextrw,
  M(PSHUFD) = exec_pshuf, M(PSHUFLW) = exec_pshuf, M(PSHUFHW) = exec_pshuf,
  M(SHUFPS) = exec_shufp, M(SHUFPD) = exec_shufp, M(PSLLDQ) = exec_pbshift, M(PSRLDQ) = exec_pbshift,
  M(CMPPS) = exec_sse_cmp, M(CMPPD) = exec_sse_cmp, M(CMPSS) = exec_sse_cmp,
  M(COMISS) = exec_comis, M(UCOMISS) = exec_comis, M(COMISD) = exec_comis, M(UCOMISD) = exec_comis,
  M(CVTSI2SS) = exec_cvt_si2f, M(CVTSI2SD) = exec_cvt_si2f, M(CVTSS2SI) = exec_cvt_f2si,
  M(CVTTSS2SI) = exec_cvt_f2si, M(CVTSD2SI) = exec_cvt_f2si, M(CVTTSD2SI) = exec_cvt_f2si,
  M(LDMXCSR) = exec_ldmxcsr, M(STMXCSR) = exec_stmxcsr, M(FXSAVE) = exec_fxsave,
  M(FXSAVE64) = exec_fxsave, M(FXRSTOR) = exec_fxrstor, M(FXRSTOR64) = exec_fxrstor,
  /* x87 FPU (exec_x87.c) and MMX (exec_mmx.c; the decoder also routes here every instruction
   * with an MMX register operand that mmx_route() accepts) */
  M(FLD) = exec_x87, M(FST) = exec_x87, M(FSTP) = exec_x87, M(FSTPNCE) = exec_x87, M(FILD) = exec_x87,
  M(FIST) = exec_x87, M(FISTP) = exec_x87, M(FISTTP) = exec_x87, M(FBLD) = exec_x87, M(FBSTP) = exec_x87,
  M(FLD1) = exec_x87, M(FLDZ) = exec_x87, M(FLDPI) = exec_x87, M(FLDL2E) = exec_x87, M(FLDL2T) = exec_x87,
  M(FLDLG2) = exec_x87, M(FLDLN2) = exec_x87, M(FXCH) = exec_x87,
  M(FADD) = exec_x87, M(FADDP) = exec_x87, M(FIADD) = exec_x87, M(FSUB) = exec_x87, M(FSUBP) = exec_x87,
  M(FISUB) = exec_x87, M(FSUBR) = exec_x87, M(FSUBRP) = exec_x87, M(FISUBR) = exec_x87,
  M(FMUL) = exec_x87, M(FMULP) = exec_x87, M(FIMUL) = exec_x87, M(FDIV) = exec_x87, M(FDIVP) = exec_x87,
  M(FIDIV) = exec_x87, M(FDIVR) = exec_x87, M(FDIVRP) = exec_x87, M(FIDIVR) = exec_x87,
  M(FCOM) = exec_x87, M(FCOMP) = exec_x87, M(FCOMPP) = exec_x87, M(FUCOM) = exec_x87, M(FUCOMP) = exec_x87,
  M(FUCOMPP) = exec_x87, M(FCOMI) = exec_x87, M(FCOMIP) = exec_x87, M(FUCOMI) = exec_x87,
  M(FUCOMIP) = exec_x87, M(FICOM) = exec_x87, M(FICOMP) = exec_x87, M(FTST) = exec_x87, M(FXAM) = exec_x87,
  M(FCHS) = exec_x87, M(FABS) = exec_x87, M(FSQRT) = exec_x87, M(FRNDINT) = exec_x87, M(FSCALE) = exec_x87,
  M(FXTRACT) = exec_x87, M(FPREM) = exec_x87, M(FPREM1) = exec_x87, M(FSIN) = exec_x87, M(FCOS) = exec_x87,
  M(FSINCOS) = exec_x87, M(FPTAN) = exec_x87, M(FPATAN) = exec_x87, M(F2XM1) = exec_x87,
  M(FYL2X) = exec_x87, M(FYL2XP1) = exec_x87, M(FNINIT) = exec_x87, M(FNCLEX) = exec_x87,
  M(FNSTCW) = exec_x87, M(FLDCW) = exec_x87, M(FNSTSW) = exec_x87, M(FNSTENV) = exec_x87,
  M(FLDENV) = exec_x87, M(FNSAVE) = exec_x87, M(FRSTOR) = exec_x87, M(FFREE) = exec_x87,
  M(FFREEP) = exec_x87, M(FDECSTP) = exec_x87, M(FINCSTP) = exec_x87, M(FNOP) = exec_x87,
  M(FWAIT) = exec_x87, M(FENI8087_NOP) = exec_x87, M(FDISI8087_NOP) = exec_x87, M(FSETPM287_NOP) = exec_x87,
  M(FCMOVB) = exec_x87, M(FCMOVE) = exec_x87, M(FCMOVBE) = exec_x87, M(FCMOVU) = exec_x87,
  M(FCMOVNB) = exec_x87, M(FCMOVNE) = exec_x87, M(FCMOVNBE) = exec_x87, M(FCMOVNU) = exec_x87,
  M(EMMS) = exec_mmx, M(PSHUFW) = exec_mmx, M(MOVNTQ) = exec_mmx, M(MASKMOVQ) = exec_mmx,
  M(MOVQ2DQ) = exec_mmx, M(MOVDQ2Q) = exec_mmx, M(CVTPI2PS) = exec_mmx, M(CVTPS2PI) = exec_mmx,
  M(CVTTPS2PI) = exec_mmx, M(CVTPI2PD) = exec_mmx, M(CVTPD2PI) = exec_mmx, M(CVTTPD2PI) = exec_mmx,
  /* SSSE3, SSE4.1, SSE4.2 (exec_sse4.c), XSAVE (exec_xsave.c) */
#define X(MN, m, f) M(MN) = exec_sse4_binop,
  SSE4_BINOPS(X)
#undef X
#define X(MN, m, n, f, fp) M(MN) = exec_sse4_imm,
  SSE4_IMMOPS(X)
#undef X
  M(BLENDVPS) = exec_sse4_blendv, M(BLENDVPD) = exec_sse4_blendv, M(PBLENDVB) = exec_sse4_blendv,
  M(PTEST) = exec_ptest, M(MOVNTDQA) = exec_movntdqa, M(PEXTRB) = exec_sse4_extract,
  M(PEXTRD) = exec_sse4_extract, M(PEXTRQ) = exec_sse4_extract, M(EXTRACTPS) = exec_sse4_extract,
  M(PINSRB) = exec_sse4_insert, M(PINSRD) = exec_sse4_insert, M(PINSRQ) = exec_sse4_insert,
  M(PCMPESTRI) = exec_pcmpstr, M(PCMPESTRM) = exec_pcmpstr, M(PCMPISTRI) = exec_pcmpstr,
  M(PCMPISTRM) = exec_pcmpstr, M(CRC32) = exec_crc32, M(XGETBV) = exec_xgetbv,
  M(XSETBV) = exec_xsetbv, M(XSAVE) = exec_xsave, M(XSAVE64) = exec_xsave, M(XSAVEOPT) = exec_xsave,
  M(XSAVEOPT64) = exec_xsave, M(XRSTOR) = exec_xrstor, M(XRSTOR64) = exec_xrstor,
  M(XSAVEC) = exec_xsave, M(XSAVEC64) = exec_xsave, M(XSAVES) = exec_xsave, M(XSAVES64) = exec_xsave,
  M(XRSTORS) = exec_xrstor, M(XRSTORS64) = exec_xrstor,
#define X(MN, m) M(MN) = exec_sse_binop,
  SSE_BINOPS(X)
#undef X
#define X(MN, m) M(MN) = exec_sse_shift,
  SSE_SHIFTS(X)
#undef X
};

x86_handler handler_for(int mnemonic)
{
  if (mnemonic < 0 || mnemonic > ZYDIS_MNEMONIC_MAX_VALUE) return NULL;
  return table[mnemonic];
}
