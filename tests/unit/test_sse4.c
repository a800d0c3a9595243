/* SSSE3, SSE4.1 and SSE4.2 (exec_sse4.c), checked against the host CPU the way test_sse.c checks
 * SSE/SSE2: each form in sse4_forms.h runs in the engine (64-bit mode, through KVM_RUN) and natively
 * (the same bytes, from a trampoline that loads and saves all GPRs, RFLAGS, XMM0-15 and MXCSR) on
 * the same random inputs, and the GPRs, arithmetic flags, XMM registers, MXCSR and memory must
 * agree. Forms with an immediate get a random one each iteration (the same bytes on both sides;
 * the last byte, or byte arg); the string compares get short strings over a small alphabet with
 * embedded zeros and lengths in -20..20 (or random). The MMX forms of SSSE3 run as
 * movdq2q/op/movq2dq/emms sequences. A host without an extension skips its native comparison
 * (counted as engine-only: the engine then reports KVM_EXIT_INTERNAL_ERROR, which is accepted).
 * Then, in the engine only: #UD (CR4.OSFXSR clear, CR0.EM), #NM (CR0.TS), #GP for misaligned
 * 16-byte operands (none for the string compares), #XM from ROUNDPS, CRC32 independent of CR0/CR4,
 * the MMX form's checks, and the CPUID bits. */
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

enum { K_NONE, K_RIMM, K_STR };
enum { FT_NONE, FT_SSSE3, FT_SSE41, FT_SSE42, FT_COUNT };

static const struct hc_form forms[] = {
#include "sse4_forms.h"
};

static bool host_has[FT_COUNT];

static void make_input(const struct hc_form *f, struct hc_state *s, uint8_t *data)
{
  hc_vec_input(s, data);
  if (f->kind == K_STR) {
    static const uint8_t alpha[] = {0, 'a', 'b', 'c', 'A', 0x80, 0xff, 'a'};
    int zero_odds = 3 + (int)(hc_rng() % 20);
    for (int i = 0; i < 16; i++)
      for (int j = 0; j < 16; j++) s->x[i][j] = (hc_rng() % zero_odds) ? alpha[1 + hc_rng() % 7] : alpha[hc_rng() % 8];
    for (int j = 0; j < DATA_SIZE; j++) data[j] = (hc_rng() % zero_odds) ? alpha[1 + hc_rng() % 7] : alpha[hc_rng() % 8];
    if (hc_rng() % 4) {
      s->r[RAX] = (uint64_t)(int64_t)((int)(hc_rng() % 41) - 20);
      s->r[RDX] = (uint64_t)(int64_t)((int)(hc_rng() % 41) - 20);
      if (hc_rng() % 3 == 0) s->r[RAX] = (uint32_t)s->r[RAX];   /* negative only as a 32-bit value */
    }
  }
}

/* a form with its immediate, for one iteration */
struct iter {
  const struct hc_form *f;
  struct hc_form fm;
  char text[160];
};

static void input(struct hc_case *c, struct hc_state *in, uint8_t *data, void *arg)
{
  struct iter *t = arg;
  const struct hc_form *f = t->f;
  make_input(f, in, data);
  if (f->kind == K_RIMM || f->kind == K_STR) t->fm.bytes[f->arg ? f->arg : f->len - 1] = (uint8_t)hc_rng();
  snprintf(t->text, sizeof(t->text), "%s (imm 0x%02x)", f->text, t->fm.bytes[f->len - 1]);
}

static void run_form(const struct hc_form *f)
{
  struct iter t = {.f = f, .fm = *f};
  struct hc_case c = {.text = t.text, .bytes = t.fm.bytes, .len = f->len, .native = host_has[f->feat],
                      .missing_ok = true, .vec = true, .fmask = F_ARITH, .nptr = 2,
                      .ptr = {{RSI, 0}, {RDI, 64}}};
  hc_cases(&c, ITERS, input, &t);
}

/* ---- faults (engine only) ---- */

static void test_faults(void)
{
  static const uint8_t pshufb[] = {0x66, 0x0f, 0x38, 0x00, 0xc1};               /* pshufb xmm0, xmm1 */
  static const uint8_t ptest_m[] = {0x66, 0x0f, 0x38, 0x17, 0x46, 0x08};        /* ptest xmm0, [rsi+8] */
  static const uint8_t palignr_m[] = {0x66, 0x0f, 0x3a, 0x0f, 0x46, 0x08, 0x01}; /* palignr xmm0, [rsi+8], 1 */
  static const uint8_t movntdqa_m[] = {0x66, 0x0f, 0x38, 0x2a, 0x46, 0x08};     /* movntdqa xmm0, [rsi+8] */
  static const uint8_t pmovsx_m[] = {0x66, 0x0f, 0x38, 0x20, 0x46, 0x01};       /* pmovsxbw xmm0, [rsi+1] */
  static const uint8_t pcmpestri_m[] = {0x66, 0x0f, 0x3a, 0x61, 0x46, 0x01, 0x00}; /* pcmpestri xmm0, [rsi+1], 0 */
  static const uint8_t roundss_m[] = {0x66, 0x0f, 0x3a, 0x0a, 0x46, 0x01, 0x00}; /* roundss xmm0, [rsi+1], 0 */
  static const uint8_t crc32[] = {0xf2, 0x0f, 0x38, 0xf1, 0xc1};                /* crc32 eax, ecx */
  bool ssse3 = host_has[FT_SSSE3], sse41 = host_has[FT_SSE41], sse42 = host_has[FT_SSE42];

  if (ssse3) {
    CHECK_EQ(hc_fault_of(pshufb, 5, CR0_BASE, CR4_BASE & ~0x200ULL), RES_EXC + 6);   /* OSFXSR clear */
    CHECK_EQ(hc_fault_of(pshufb, 5, CR0_BASE | 4, CR4_BASE), RES_EXC + 6);           /* CR0.EM */
    CHECK_EQ(hc_fault_of(pshufb, 5, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);           /* CR0.TS */
    CHECK_EQ(hc_fault_of(pshufb, 5, CR0_BASE, CR4_BASE), RES_OK);
    CHECK_EQ(hc_fault_of(palignr_m, 7, CR0_BASE, CR4_BASE), RES_EXC + 13);           /* misaligned m128 */
    static const uint8_t pshufb_mm[] = {0x0f, 0x38, 0x00, 0xc1};                /* pshufb mm0, mm1 */
    CHECK_EQ(hc_fault_of(pshufb_mm, 4, CR0_BASE, CR4_BASE & ~0x600ULL), RES_OK);     /* no OSFXSR needed */
    CHECK_EQ(hc_fault_of(pshufb_mm, 4, CR0_BASE | 4, CR4_BASE), RES_EXC + 6);
    CHECK_EQ(hc_fault_of(pshufb_mm, 4, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);
  }
  if (sse41) {
    CHECK_EQ(hc_fault_of(ptest_m, 6, CR0_BASE, CR4_BASE), RES_EXC + 13);
    CHECK_EQ(hc_fault_of(movntdqa_m, 6, CR0_BASE, CR4_BASE), RES_EXC + 13);
    CHECK_EQ(hc_fault_of(pmovsx_m, 6, CR0_BASE, CR4_BASE), RES_OK);                  /* m64: no alignment */
    CHECK_EQ(hc_fault_of(roundss_m, 7, CR0_BASE, CR4_BASE), RES_OK);
    CHECK_EQ(hc_fault_of(ptest_m, 6, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);          /* #NM before #GP */
  }
  if (sse42) {
    CHECK_EQ(hc_fault_of(pcmpestri_m, 7, CR0_BASE, CR4_BASE), RES_OK);               /* unaligned allowed */
    CHECK_EQ(hc_fault_of(pcmpestri_m, 7, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);
    /* CRC32 is a general-purpose instruction: no CR0/CR4 gating */
    CHECK_EQ(hc_fault_of(crc32, 5, CR0_BASE | 8 | 4, CR4_BASE & ~0x600ULL), RES_OK);
    struct hc_state s = hc_plain_state();
    uint32_t want = 0xffffffff;
    __asm__("crc32l %1, %0" : "+r"(want) : "r"(0x64636261u));
    s.r[RAX] = 0x12345678ffffffffULL;
    s.r[RCX] = 0x64636261; /* "abcd" */
    CHECK_EQ(hc_engine_exec(crc32, 5, &s), RES_OK);
    CHECK_EQ(s.r[RAX], want); /* upper half of RAX cleared */
  }
  /* ROUNDPS: precision exception unmasked -> #XM (xmm0 unchanged); imm8[3] suppresses it */
  if (sse41) {
    static const uint8_t code[] = {0x0f, 0xae, 0x16,                        /* ldmxcsr [rsi] */
                                   0x66, 0x0f, 0x3a, 0x08, 0xc1, 0x00};    /* roundps xmm0, xmm1, 0 */
    uint8_t code8[sizeof(code)];
    memcpy(code8, code, sizeof(code));
    code8[sizeof(code) - 1] = 0x08;
    for (int sup = 0; sup < 2; sup++) {
      struct hc_state s = hc_plain_state();
      float x = 1.5f;
      for (int i = 0; i < 4; i++) memcpy(s.x[1] + i * 4, &x, 4);
      uint8_t before[16];
      memcpy(before, s.x[0], 16);
      hc_put32(DATA_GPA + MID, 0x1f80 & ~0x1000u);   /* PM clear */
      CHECK_EQ(hc_engine_exec(sup ? code8 : code, sizeof(code), &s), sup ? RES_OK : RES_EXC + 19);
      if (!sup) CHECK(!memcmp(s.x[0], before, 16));
      else { float r; memcpy(&r, s.x[0], 4); CHECK(r == 2.0f); }
    }
  }
}

static void test_cpuid_bits(void)
{
  struct kvm_cpuid2 *c = vmt_supported_cpuid(hc_vm.sys);
  CHECK(c != NULL);
  if (!c) return;
  uint32_t l1c = 0;
  for (uint32_t i = 0; i < c->nent; i++)
    if (c->entries[i].function == 1) l1c = c->entries[i].ecx;
  CHECK_EQ(!!(l1c & 1u << 9), host_has[FT_SSSE3]);
  CHECK_EQ(!!(l1c & 1u << 19), host_has[FT_SSE41]);
  CHECK_EQ(!!(l1c & 1u << 20), host_has[FT_SSE42]);
  CHECK_EQ(l1c & (1u << 28), 0);   /* no AVX */
  free(c);
}

int main(void)
{
  unsigned a, b, c, d;
  host_has[FT_NONE] = true;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    host_has[FT_SSSE3] = c >> 9 & 1;
    host_has[FT_SSE41] = c >> 19 & 1;
    host_has[FT_SSE42] = c >> 20 & 1;
  }
  if (!host_has[FT_SSSE3] || !host_has[FT_SSE41] || !host_has[FT_SSE42])
    printf("host lacks SSSE3/SSE4.1/SSE4.2 (%d/%d/%d): those forms are engine-only\n",
           host_has[FT_SSSE3], host_has[FT_SSE41], host_has[FT_SSE42]);
  int rc = hc_setup(DATA_SIZE, MID, true);
  if (rc == 0) {
    for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) run_form(&forms[i]);
    hc_print_counts(sizeof(forms) / sizeof(forms[0]));
    test_faults();
    test_cpuid_bits();
  }
  hc_fini();
  return test_summary();
}
