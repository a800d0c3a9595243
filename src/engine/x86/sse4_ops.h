/* The SSSE3/SSE4 instructions exec_sse4.c runs as one host instruction (handlers.c maps their
 * mnemonics). */
#ifndef SKVM_SSE4_OPS_H
#define SKVM_SSE4_OPS_H

/* xmm, xmm/m without an immediate: X(ZYDIS mnemonic suffix, host mnemonic, FEAT_*) */
#define SSE4_BINOPS(X)                                                                             \
  X(PABSB, pabsb, FEAT_SSSE3) X(PABSW, pabsw, FEAT_SSSE3) X(PABSD, pabsd, FEAT_SSSE3)             \
  X(PHADDW, phaddw, FEAT_SSSE3) X(PHADDD, phaddd, FEAT_SSSE3) X(PHADDSW, phaddsw, FEAT_SSSE3)     \
  X(PHSUBW, phsubw, FEAT_SSSE3) X(PHSUBD, phsubd, FEAT_SSSE3) X(PHSUBSW, phsubsw, FEAT_SSSE3)     \
  X(PMADDUBSW, pmaddubsw, FEAT_SSSE3) X(PMULHRSW, pmulhrsw, FEAT_SSSE3)                           \
  X(PSHUFB, pshufb, FEAT_SSSE3) X(PSIGNB, psignb, FEAT_SSSE3) X(PSIGNW, psignw, FEAT_SSSE3)       \
  X(PSIGND, psignd, FEAT_SSSE3)                                                                   \
  X(PACKUSDW, packusdw, FEAT_SSE41) X(PCMPEQQ, pcmpeqq, FEAT_SSE41)                               \
  X(PMAXSB, pmaxsb, FEAT_SSE41) X(PMAXSD, pmaxsd, FEAT_SSE41) X(PMAXUW, pmaxuw, FEAT_SSE41)       \
  X(PMAXUD, pmaxud, FEAT_SSE41) X(PMINSB, pminsb, FEAT_SSE41) X(PMINSD, pminsd, FEAT_SSE41)       \
  X(PMINUW, pminuw, FEAT_SSE41) X(PMINUD, pminud, FEAT_SSE41)                                     \
  X(PMOVSXBW, pmovsxbw, FEAT_SSE41) X(PMOVSXBD, pmovsxbd, FEAT_SSE41)                             \
  X(PMOVSXBQ, pmovsxbq, FEAT_SSE41) X(PMOVSXWD, pmovsxwd, FEAT_SSE41)                             \
  X(PMOVSXWQ, pmovsxwq, FEAT_SSE41) X(PMOVSXDQ, pmovsxdq, FEAT_SSE41)                             \
  X(PMOVZXBW, pmovzxbw, FEAT_SSE41) X(PMOVZXBD, pmovzxbd, FEAT_SSE41)                             \
  X(PMOVZXBQ, pmovzxbq, FEAT_SSE41) X(PMOVZXWD, pmovzxwd, FEAT_SSE41)                             \
  X(PMOVZXWQ, pmovzxwq, FEAT_SSE41) X(PMOVZXDQ, pmovzxdq, FEAT_SSE41)                             \
  X(PMULDQ, pmuldq, FEAT_SSE41) X(PMULLD, pmulld, FEAT_SSE41)                                     \
  X(PHMINPOSUW, phminposuw, FEAT_SSE41) X(PCMPGTQ, pcmpgtq, FEAT_SSE42)

/* xmm, xmm/m, imm8: X(mnemonic, host mnemonic, immediate values (the bits used), FEAT_*, MXCSR) */
#define SSE4_IMMOPS(X)                                                                             \
  X(BLENDPS, blendps, 16, FEAT_SSE41, 0) X(BLENDPD, blendpd, 4, FEAT_SSE41, 0)                    \
  X(PBLENDW, pblendw, 256, FEAT_SSE41, 0) X(DPPS, dpps, 256, FEAT_SSE41, 1)                       \
  X(DPPD, dppd, 256, FEAT_SSE41, 1) X(MPSADBW, mpsadbw, 8, FEAT_SSE41, 0)                         \
  X(PALIGNR, palignr, 256, FEAT_SSSE3, 0) X(INSERTPS, insertps, 256, FEAT_SSE41, 0)               \
  X(ROUNDPS, roundps, 16, FEAT_SSE41, 1) X(ROUNDPD, roundpd, 16, FEAT_SSE41, 1)                   \
  X(ROUNDSS, roundss, 16, FEAT_SSE41, 1) X(ROUNDSD, roundsd, 16, FEAT_SSE41, 1)

#endif
