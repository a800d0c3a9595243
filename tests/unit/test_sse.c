/* SSE/SSE2/SSE3 (exec_sse_*.c), checked against the host CPU: each form in sse_forms.h runs in the
 * engine (64-bit mode, through KVM_RUN) and natively (the same bytes, called from a trampoline that
 * loads and saves all GPRs, RFLAGS, XMM0-15 and MXCSR) on the same random inputs -- special
 * floating-point values (signed zeros, infinities, quiet and signalling NaNs with payloads,
 * denormals, limits, values that round differently), random integers, every rounding mode, DAZ
 * and FTZ, with all exceptions masked -- and the GPRs, arithmetic flags, XMM registers, MXCSR and
 * memory must agree. RSI and RDI point into a data buffer (guest-physical DATA_GPA+MID in the
 * engine, a host buffer natively) and are compared relative to it. The engine loads MXCSR with a
 * LDMXCSR before the instruction and stores it with STMXCSR after it (KVM_GET_FPU does not carry
 * MXCSR). Then, in the engine only: #UD (CR4.OSFXSR clear, CR0.EM set), #NM (CR0.TS set),
 * #GP (misaligned 16-byte operands, reserved MXCSR bits), #XM / #UD for unmasked exceptions,
 * FXSAVE/FXRSTOR, the string MOVSD/CMPSD sharing their mnemonics, and the CPUID bits. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostcmp.h"
#include "softkvm.h"
#include "testlib.h"
#include "vmtest.h"

#define DATA_SIZE 0x1000
#define MID 0x800
#define ITERS 150

enum { K_NONE, K_SHCNT, K_LDMX };
enum { FT_NONE, FT_SSE3, FT_COUNT };

static const struct hc_form forms[] = {
#include "sse_forms.h"
};

static bool host_has[FT_COUNT];

static void make_input(const struct hc_form *f, struct hc_state *s, uint8_t *data)
{
  hc_vec_input(s, data);
  switch (f->kind) {
  case K_SHCNT:
    if (hc_rng() % 4) {
      uint64_t c = hc_rng() % 70;
      memcpy(s->x[1], &c, 8);
      memcpy(data + MID + 16, &c, 8);
    }
    break;
  case K_LDMX: {
    uint32_t m = (uint32_t)hc_rng() & 0xffff;
    memcpy(data + MID + f->arg, &m, 4);
    break;
  }
  }
}

static void input(struct hc_case *c, struct hc_state *in, uint8_t *data, void *f)
{
  make_input(f, in, data);
}

static void run_form(const struct hc_form *f)
{
  struct hc_case c = {.text = f->text, .bytes = f->bytes, .len = f->len, .native = host_has[f->feat],
                      .vec = true, .fmask = F_ARITH, .nptr = 2, .ptr = {{RSI, 0}, {RDI, 64}}};
  hc_cases(&c, ITERS, input, (void *)f);
}

/* ---- faults (engine only) ---- */

static void test_faults(void)
{
  static const uint8_t addps[] = {0x0f, 0x58, 0xc1};                    /* addps xmm0, xmm1 */
  static const uint8_t ldmx[] = {0x0f, 0xae, 0x16};                     /* ldmxcsr [rsi] */
  static const uint8_t fxsave[] = {0x0f, 0xae, 0x06};                   /* fxsave [rsi] */
  static const uint8_t movaps_l[] = {0x0f, 0x28, 0x46, 0x08};           /* movaps xmm0, [rsi+8] */
  static const uint8_t movaps_s[] = {0x0f, 0x29, 0x46, 0x08};           /* movaps [rsi+8], xmm0 */
  static const uint8_t movdqa_l[] = {0x66, 0x0f, 0x6f, 0x46, 0x04};     /* movdqa xmm0, [rsi+4] */
  static const uint8_t addps_m[] = {0x0f, 0x58, 0x46, 0x08};            /* addps xmm0, [rsi+8] */
  static const uint8_t punpck_m[] = {0x66, 0x0f, 0x60, 0x46, 0x08};     /* punpcklbw xmm0, [rsi+8] */
  static const uint8_t movups_l[] = {0x0f, 0x10, 0x46, 0x08};           /* movups xmm0, [rsi+8] */
  static const uint8_t addss_m[] = {0xf3, 0x0f, 0x58, 0x46, 0x01};      /* addss xmm0, [rsi+1] */
  static const uint8_t movnti[] = {0x0f, 0xc3, 0x06};                   /* movnti [rsi], eax */
  static const uint8_t fxsave_m[] = {0x0f, 0xae, 0x46, 0x08};           /* fxsave [rsi+8] */
  static const uint8_t fxrstor_m[] = {0x0f, 0xae, 0x4e, 0x08};          /* fxrstor [rsi+8] */

  CHECK_EQ(hc_fault_of(addps, 3, CR0_BASE, CR4_BASE & ~0x200ULL), RES_EXC + 6);   /* OSFXSR clear */
  CHECK_EQ(hc_fault_of(ldmx, 3, CR0_BASE, CR4_BASE & ~0x200ULL), RES_EXC + 6);
  CHECK_EQ(hc_fault_of(addps, 3, CR0_BASE | 4, CR4_BASE), RES_EXC + 6);           /* CR0.EM */
  CHECK_EQ(hc_fault_of(addps, 3, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);           /* CR0.TS */
  CHECK_EQ(hc_fault_of(addps, 3, CR0_BASE | 8 | 4, CR4_BASE), RES_EXC + 6);       /* #UD before #NM */
  CHECK_EQ(hc_fault_of(ldmx, 3, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);
  CHECK_EQ(hc_fault_of(fxsave, 3, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);
  CHECK_EQ(hc_fault_of(fxsave, 3, CR0_BASE | 4, CR4_BASE), RES_EXC + 7);          /* FXSAVE: EM is #NM */
  CHECK_EQ(hc_fault_of(fxsave, 3, CR0_BASE, CR4_BASE & ~0x600ULL), RES_OK);       /* not OSFXSR-gated */
  CHECK_EQ(hc_fault_of(movnti, 3, CR0_BASE | 8 | 4, CR4_BASE & ~0x200ULL), RES_OK); /* a GPR store */
  CHECK_EQ(hc_fault_of(movaps_l, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(hc_fault_of(movdqa_l, 5, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(hc_fault_of(addps_m, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(hc_fault_of(punpck_m, 5, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(hc_fault_of(fxsave_m, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(hc_fault_of(fxrstor_m, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(hc_fault_of(movups_l, 4, CR0_BASE, CR4_BASE), RES_OK);
  CHECK_EQ(hc_fault_of(addss_m, 5, CR0_BASE, CR4_BASE), RES_OK);
  /* a misaligned aligned store leaves memory alone */
  memset(hc_vm.mem + DATA_GPA + MID, 0x5a, 32);
  CHECK_EQ(hc_fault_of(movaps_s, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK(hc_vm.mem[DATA_GPA + MID + 8] == 0x5a && hc_vm.mem[DATA_GPA + MID + 23] == 0x5a);
  /* a store crossing into an unmapped page: #PF, and the mapped half is not written either */
  static const uint8_t movups_s[] = {0x0f, 0x11, 0x06};                 /* movups [rsi], xmm0 */
  static const uint8_t fxsave64[] = {0x48, 0x0f, 0xae, 0x06};           /* fxsave64 [rsi] */
  for (int k = 0; k < 2; k++) {
    struct hc_state s = hc_plain_state();
    s.r[RSI] = GUEST_MEM - (k ? 256 : 8);
    memset(hc_vm.mem + GUEST_MEM - 256, 0x77, 256);
    CHECK_EQ(hc_engine_exec(k ? fxsave64 : movups_s, k ? 4 : 3, &s), RES_EXC + 14);
    CHECK(hc_vm.mem[GUEST_MEM - 256] == 0x77 && hc_vm.mem[GUEST_MEM - 1] == 0x77);
  }
  /* LDMXCSR with a reserved bit: #GP(0), MXCSR unchanged */
  hc_put32(DATA_GPA + MID, 0x10000 | 0x1f80);
  CHECK_EQ(hc_fault_of(ldmx, 3, CR0_BASE, CR4_BASE), RES_EXC + 13);
  hc_put32(DATA_GPA + MID, 0xffff);
  CHECK_EQ(hc_fault_of(ldmx, 3, CR0_BASE, CR4_BASE), RES_OK);   /* DAZ and everything below bit 16 */
}

/* divps xmm0, xmm1 by zero with ZM clear: #XM (or #UD without CR4.OSXMMEXCPT), xmm0 unchanged,
 * ZE set in MXCSR; a masked-only flag does not fault. */
static void test_unmasked(void)
{
  static const uint8_t code[] = {0x0f, 0xae, 0x16,   /* ldmxcsr [rsi] */
                                 0x0f, 0x5e, 0xc1};  /* divps xmm0, xmm1 */
  static const uint8_t stx[] = {0x0f, 0xae, 0x1e};   /* stmxcsr [rsi] */
  for (int osxmm = 0; osxmm < 2; osxmm++) {
    struct hc_state s = hc_plain_state();
    float one = 1.0f, zero = 0.0f;
    for (int i = 0; i < 4; i++) memcpy(s.x[0] + i * 4, &one, 4), memcpy(s.x[1] + i * 4, &zero, 4);
    uint8_t before[16];
    memcpy(before, s.x[0], 16);
    hc_put32(DATA_GPA + MID, 0x1f80 & ~0x200u);   /* ZM clear */
    hc_set_cr(CR0_BASE, osxmm ? CR4_BASE : CR4_BASE & ~0x400ULL);
    CHECK_EQ(hc_engine_exec(code, sizeof(code), &s), RES_EXC + (osxmm ? 19 : 6));
    CHECK(!memcmp(s.x[0], before, 16));
    s.r[RSI] = DATA_GPA + MID;
    CHECK_EQ(hc_engine_exec(stx, sizeof(stx), &s), RES_OK);
    CHECK_EQ(hc_get32(DATA_GPA + MID), (0x1f80 & ~0x200u) | 0x4);
    hc_set_cr(CR0_BASE, CR4_BASE);
  }
  /* 1/3 with PM clear: #XM with PE set (a post-computation exception) */
  struct hc_state s = hc_plain_state();
  float one = 1.0f, three = 3.0f;
  for (int i = 0; i < 4; i++) memcpy(s.x[0] + i * 4, &one, 4), memcpy(s.x[1] + i * 4, &three, 4);
  hc_put32(DATA_GPA + MID, 0x1f80 & ~0x1000u);
  CHECK_EQ(hc_engine_exec(code, sizeof(code), &s), RES_EXC + 19);
  s.r[RSI] = DATA_GPA + MID;
  CHECK_EQ(hc_engine_exec(stx, sizeof(stx), &s), RES_OK);
  CHECK_EQ(hc_get32(DATA_GPA + MID), (0x1f80 & ~0x1000u) | 0x20);
  /* masked: no fault, result written */
  hc_put32(DATA_GPA + MID, 0x1f80);
  s = hc_plain_state();
  for (int i = 0; i < 4; i++) memcpy(s.x[0] + i * 4, &one, 4), memcpy(s.x[1] + i * 4, &three, 4);
  CHECK_EQ(hc_engine_exec(code, sizeof(code), &s), RES_OK);
  float q;
  memcpy(&q, s.x[0], 4);
  CHECK(q == 1.0f / 3.0f);
}

/* FXSAVE/FXSAVE64 write the x87 image, MXCSR, MXCSR_MASK and XMM0-15; FXRSTOR reads them back. */
static void test_fxsave(void)
{
  static const uint8_t save64[] = {0x48, 0x0f, 0xae, 0x06};   /* fxsave64 [rsi] */
  static const uint8_t save[] = {0x0f, 0xae, 0x06};           /* fxsave [rsi] */
  static const uint8_t rstor64[] = {0x48, 0x0f, 0xae, 0x0e};  /* fxrstor64 [rsi] */
  static const uint8_t ldmx[] = {0x0f, 0xae, 0x56, 0xfc};     /* ldmxcsr [rsi-4] */
  for (int form = 0; form < 2; form++) {
    struct kvm_fpu f;
    CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &f), 0);
    f.fcw = 0x027f, f.fsw = 0x3800, f.ftwx = 0x81, f.last_opcode = 0x1d9;
    f.last_ip = 0x1122334455667788ULL, f.last_dp = 0x99aabbccddeeff00ULL;
    for (int i = 0; i < 8; i++) for (int j = 0; j < 16; j++) f.fpr[i][j] = (uint8_t)(i * 16 + j);
    for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) f.xmm[i][j] = (uint8_t)(0x80 + i * 7 + j);
    CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, &f), 0);
    memset(hc_vm.mem + DATA_GPA + MID, 0xee, 512);
    hc_put32(DATA_GPA + MID - 4, 0x9fc0);
    uint8_t code[16];
    memcpy(code, ldmx, 4);
    memcpy(code + 4, form ? save64 : save, form ? 4 : 3);
    struct hc_state s = hc_plain_state();
    memcpy(s.x, f.xmm, sizeof(s.x));
    CHECK_EQ(hc_engine_exec(code, form ? 8 : 7, &s), RES_OK);
    const uint8_t *a = hc_vm.mem + DATA_GPA + MID;
    uint16_t w;
    uint32_t d;
    uint64_t q;
    memcpy(&w, a, 2); CHECK_EQ(w, 0x027f);
    memcpy(&w, a + 2, 2); CHECK_EQ(w, 0x3800);
    CHECK_EQ(a[4], 0x81);
    memcpy(&w, a + 6, 2); CHECK_EQ(w, 0x1d9);
    memcpy(&q, a + 8, 8); CHECK_EQ(q, 0x1122334455667788ULL);
    memcpy(&q, a + 16, 8); CHECK_EQ(q, 0x99aabbccddeeff00ULL);
    memcpy(&d, a + 24, 4); CHECK_EQ(d, 0x9fc0);
    memcpy(&d, a + 28, 4); CHECK_EQ(d, 0xffff);
    for (int i = 0; i < 8; i++) CHECK(!memcmp(a + 32 + i * 16, f.fpr[i], 10));
    CHECK(!memcmp(a + 160, f.xmm, 256));
    CHECK_EQ(a[416], 0xee);
    CHECK_EQ(a[511], 0xee);
  }
  /* FXRSTOR64 from a modified image */
  uint8_t *a = hc_vm.mem + DATA_GPA + MID;
  hc_put32(DATA_GPA + MID + 24, 0x3f80);
  memset(a + 160 + 16 * 5, 0x42, 16);
  memset(a + 160 + 16 * 15, 0x43, 16);
  a[4] = 0x0f;
  memset(a + 32, 0x99, 10);
  struct hc_state s = hc_plain_state();
  CHECK_EQ(hc_engine_exec(rstor64, 4, &s), RES_OK);
  struct kvm_fpu f;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &f), 0);
  CHECK_EQ(f.ftwx, 0x0f);
  CHECK_EQ(f.fcw, 0x027f);
  CHECK_EQ(f.fpr[0][9], 0x99);
  CHECK_EQ(f.xmm[5][0], 0x42);
  CHECK_EQ(f.xmm[15][15], 0x43);
  CHECK_EQ(s.x[5][3], 0x42);
  static const uint8_t stx[] = {0x0f, 0xae, 0x5e, 0xfc};   /* stmxcsr [rsi-4] */
  CHECK_EQ(hc_engine_exec(stx, 4, &s), RES_OK);
  CHECK_EQ(hc_get32(DATA_GPA + MID - 4), 0x3f80);
  /* a reserved MXCSR bit in the image: #GP(0) */
  hc_put32(DATA_GPA + MID + 24, 0x21f80);
  s = hc_plain_state();
  CHECK_EQ(hc_engine_exec(rstor64, 4, &s), RES_EXC + 13);
  hc_set_cr(CR0_BASE, CR4_BASE);
}

/* The string instructions share the MOVSD/CMPSD mnemonics with the SSE2 ones. */
static void test_string_forms(void)
{
  static const uint8_t movsd[] = {0xf3, 0xa5};   /* rep movsd */
  static const uint8_t cmpsd[] = {0xa7};         /* cmpsd */
  struct hc_state s = hc_plain_state();
  s.r[RCX] = 3;
  s.r[RSI] = DATA_GPA + MID, s.r[RDI] = DATA_GPA + MID + 256;
  for (int i = 0; i < 16; i++) hc_vm.mem[DATA_GPA + MID + i] = (uint8_t)(i + 1);
  memset(hc_vm.mem + DATA_GPA + MID + 256, 0, 16);
  CHECK_EQ(hc_engine_exec(movsd, 2, &s), RES_OK);
  CHECK(!memcmp(hc_vm.mem + DATA_GPA + MID, hc_vm.mem + DATA_GPA + MID + 256, 12));
  CHECK_EQ(hc_vm.mem[DATA_GPA + MID + 256 + 12], 0);
  CHECK_EQ(s.r[RCX], 0);
  CHECK_EQ(s.r[RSI], DATA_GPA + MID + 12);
  s.r[RSI] = DATA_GPA + MID, s.r[RDI] = DATA_GPA + MID + 256;
  CHECK_EQ(hc_engine_exec(cmpsd, 1, &s), RES_OK);
  CHECK(s.fl & F_ZF);
  CHECK_EQ(s.r[RDI], DATA_GPA + MID + 260);
}

static void test_cpuid_bits(void)
{
  struct kvm_cpuid2 *c = vmt_supported_cpuid(hc_vm.sys);
  CHECK(c != NULL);
  if (!c) return;
  uint32_t l1c = 0, l1d = 0;
  for (uint32_t i = 0; i < c->nent; i++)
    if (c->entries[i].function == 1) l1c = c->entries[i].ecx, l1d = c->entries[i].edx;
  CHECK_EQ(l1d & (7u << 24), 7u << 24);   /* FXSR SSE SSE2 */
  CHECK_EQ(l1d & (1u << 0 | 1u << 23), 1u << 0 | 1u << 23); /* x87 FPU, MMX */
  CHECK(l1c & 1);                          /* SSE3 */
  CHECK_EQ(l1c & (1u << 28), 0);           /* no AVX (SSSE3/SSE4 are test_sse4's) */
  free(c);
}

int main(void)
{
  unsigned a, b, c, d;
  host_has[FT_NONE] = true;
  if (__get_cpuid(1, &a, &b, &c, &d)) host_has[FT_SSE3] = c & 1;
  int rc = hc_setup(DATA_SIZE, MID, true);
  if (rc == 0) {
    for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) run_form(&forms[i]);
    hc_print_counts(sizeof(forms) / sizeof(forms[0]));
    test_faults();
    test_unmasked();
    test_fxsave();
    test_string_forms();
    test_cpuid_bits();
  }
  hc_fini();
  return test_summary();
}
