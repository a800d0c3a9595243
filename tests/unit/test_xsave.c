/* The XSAVE feature set (exec_xsave.c) and its KVM ABI: XGETBV/XSETBV semantics and faults
 * (#UD without CR4.OSXSAVE, #GP for a bad XCR index or value), CPUID.1:ECX.OSXSAVE following
 * CR4 and leaf 0xD, XSAVE/XSAVEOPT/XRSTOR round trips with XCR0 and EDX:EAX masks and XSTATE_BV
 * (components initialized when their bit is clear, MXCSR always loaded), the header and MXCSR
 * checks, 64-byte alignment, #NM; then KVM_GET/SET_XCRS and KVM_GET/SET_XSAVE round trips and
 * their EINVAL cases (Linux 6.1 x86.c / fpu/xstate.c), and the CR4.OSXSAVE checks of
 * KVM_SET_SREGS and MOV CR4 against the guest's CPUID. */
#define _GNU_SOURCE
#include <errno.h>
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

#define AREA_GPA 0x10000 /* 64-byte aligned XSAVE area */
#define AREA2_GPA 0x11000
#define CR4_OSXSAVE 0x40000ULL

/* Runs code+HLT at CODE_GPA with *r (rip/rsp/rflags set here); *r gets the registers back.
 * RES_OK, RES_EXC + vector, another exit reason, or RES_BADRIP. */
static int run_code(const uint8_t *code, int len, struct kvm_regs *r)
{
  r->rflags = 2;
  return hc_exec(code, len, r, NULL);
}

static const uint8_t XGETBV[] = {0x0f, 0x01, 0xd0};
static const uint8_t XSETBV[] = {0x0f, 0x01, 0xd1};
static const uint8_t CPUID[] = {0x0f, 0xa2};

static int xgetbv(uint32_t ecx, uint64_t *v)
{
  struct kvm_regs r = {.rcx = ecx, .rax = 0xaaaaaaaaaaaaaaaaULL, .rdx = 0xbbbbbbbbbbbbbbbbULL};
  int rc = run_code(XGETBV, 3, &r);
  *v = (r.rdx << 32) | (uint32_t)r.rax;
  if (rc == RES_OK) CHECK(r.rax >> 32 == 0 && r.rdx >> 32 == 0);
  return rc;
}

static int xsetbv(uint64_t ecx, uint64_t v)
{
  struct kvm_regs r = {.rcx = ecx, .rax = (uint32_t)v | 0xffffffff00000000ULL, .rdx = v >> 32};
  return run_code(XSETBV, 3, &r);
}

static uint64_t xcr0_now(void)
{
  uint64_t v = 0;
  CHECK_EQ(xgetbv(0, &v), RES_OK);
  return v;
}

static void guest_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
  struct kvm_regs r = {.rax = leaf, .rcx = sub};
  CHECK_EQ(run_code(CPUID, 2, &r), RES_OK);
  out[0] = (uint32_t)r.rax, out[1] = (uint32_t)r.rbx, out[2] = (uint32_t)r.rcx, out[3] = (uint32_t)r.rdx;
}

static void test_xgetbv_xsetbv(void)
{
  uint64_t v;
  /* CR4.OSXSAVE clear: #UD for all of them */
  hc_set_cr(CR0_BASE, CR4_BASE);
  CHECK_EQ(xgetbv(0, &v), RES_EXC + 6);
  CHECK_EQ(xsetbv(0, 3), RES_EXC + 6);
  static const uint8_t xsave[] = {0x0f, 0xae, 0x26};   /* xsave [rsi] */
  static const uint8_t xrstor[] = {0x0f, 0xae, 0x2e};  /* xrstor [rsi] */
  struct kvm_regs r = {.rsi = AREA_GPA, .rax = 3};
  CHECK_EQ(run_code(xsave, 3, &r), RES_EXC + 6);
  r = (struct kvm_regs){.rsi = AREA_GPA, .rax = 3};
  CHECK_EQ(run_code(xrstor, 3, &r), RES_EXC + 6);
  /* CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE; XSAVE is always there */
  uint32_t c[4];
  guest_cpuid(1, 0, c);
  CHECK_EQ(c[2] & (1u << 27 | 1u << 26), 1u << 26);
  hc_set_cr(CR0_BASE, CR4_BASE | CR4_OSXSAVE);
  guest_cpuid(1, 0, c);
  CHECK_EQ(c[2] & (1u << 27 | 1u << 26), 1u << 27 | 1u << 26);
  CHECK_EQ(c[2] & (1u << 28), 0);   /* no AVX */
  guest_cpuid(0, 0, c);
  CHECK(c[0] >= 0xd);
  guest_cpuid(0xd, 0, c);
  CHECK_EQ(c[0], 3);     /* x87 | SSE */
  CHECK_EQ(c[1], 576);   /* for the current XCR0 */
  CHECK_EQ(c[2], 576);
  CHECK_EQ(c[3], 0);
  guest_cpuid(0xd, 1, c);
  CHECK_EQ(c[0], 0xfu);   /* XSAVEOPT, XSAVEC, XGETBV ECX=1, XSAVES (tests/guests/xsave64.asm) */
  CHECK_EQ(c[1], 576);    /* compacted size for XCR0 | XSS */

  /* reset value: XCR0 = x87 */
  CHECK_EQ(xgetbv(0, &v), RES_OK);
  CHECK_EQ(v, 1);
  CHECK_EQ(xgetbv(1, &v), RES_OK);   /* XINUSE & XCR0 */
  CHECK_EQ(v & ~1ULL, 0);
  CHECK_EQ(xgetbv(2, &v), RES_EXC + 13);
  CHECK_EQ(xgetbv(0x80000000u, &v), RES_EXC + 13);
  CHECK_EQ(xsetbv(0, 3), RES_OK);
  CHECK_EQ(xcr0_now(), 3);
  CHECK_EQ(xsetbv(1ULL << 32, 1), RES_OK);   /* only ECX selects the XCR */
  CHECK_EQ(xcr0_now(), 1);
  CHECK_EQ(xsetbv(0, 3), RES_OK);
  /* #GP(0), XCR0 unchanged: no x87, an unsupported bit (AVX, bit 63), XCR1 */
  CHECK_EQ(xsetbv(0, 2), RES_EXC + 13);
  CHECK_EQ(xsetbv(0, 0), RES_EXC + 13);
  CHECK_EQ(xsetbv(0, 7), RES_EXC + 13);
  CHECK_EQ(xsetbv(0, 1ULL << 32 | 3), RES_EXC + 13);
  CHECK_EQ(xsetbv(0, 1ULL << 63 | 3), RES_EXC + 13);
  CHECK_EQ(xsetbv(1, 3), RES_EXC + 13);
  CHECK_EQ(xcr0_now(), 3);
  /* XGETBV runs at any CR0.TS; XSETBV too */
  hc_set_cr(CR0_BASE | 8, CR4_BASE | CR4_OSXSAVE);
  CHECK_EQ(xgetbv(0, &v), RES_OK);
  CHECK_EQ(xsetbv(0, 3), RES_OK);
  hc_set_cr(CR0_BASE, CR4_BASE | CR4_OSXSAVE);
  /* MOV CR4 may set and clear OSXSAVE; XCR0 survives */
  static const uint8_t cr4_clr[] = {0x0f, 0x20, 0xe0, 0x25, 0xff, 0xff, 0xfb, 0xff, 0x0f, 0x22, 0xe0};
  static const uint8_t cr4_set[] = {0x0f, 0x20, 0xe0, 0x0d, 0x00, 0x00, 0x04, 0x00, 0x0f, 0x22, 0xe0};
  r = (struct kvm_regs){0};
  CHECK_EQ(run_code(cr4_clr, sizeof(cr4_clr), &r), RES_OK);
  CHECK_EQ(xgetbv(0, &v), RES_EXC + 6);
  r = (struct kvm_regs){0};
  CHECK_EQ(run_code(cr4_set, sizeof(cr4_set), &r), RES_OK);
  CHECK_EQ(xcr0_now(), 3);
}

/* a recognizable FPU/SSE state through KVM_SET_FPU, MXCSR through KVM_SET_XSAVE */
static struct kvm_fpu pattern_fpu(int seed)
{
  struct kvm_fpu f;
  memset(&f, 0, sizeof(f));
  f.fcw = 0x027f, f.fsw = 0x3800, f.ftwx = 0x81, f.last_opcode = 0x1d9;
  f.last_ip = 0x1122334455667788ULL, f.last_dp = 0x99aabbccddeeff00ULL;
  for (int i = 0; i < 8; i++) for (int j = 0; j < 10; j++) f.fpr[i][j] = (uint8_t)(seed + i * 16 + j);
  for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) f.xmm[i][j] = (uint8_t)(seed + 0x80 + i * 7 + j);
  return f;
}

static void set_mxcsr(uint32_t mx)
{
  static struct kvm_xsave xs;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_XSAVE, &xs), 0);
  memcpy((uint8_t *)xs.region + 24, &mx, 4);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XSAVE, &xs), 0);
}

static uint32_t get_mxcsr(void)
{
  static struct kvm_xsave xs;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_XSAVE, &xs), 0);
  return ((uint32_t *)xs.region)[6];
}

static const uint8_t XSAVE64[] = {0x48, 0x0f, 0xae, 0x26};    /* xsave64 [rsi] */
static const uint8_t XSAVEOPT[] = {0x0f, 0xae, 0x36};         /* xsaveopt [rsi] */
static const uint8_t XRSTOR64[] = {0x48, 0x0f, 0xae, 0x2e};   /* xrstor64 [rsi] */
static const uint8_t FXSAVE64[] = {0x48, 0x0f, 0xae, 0x07};   /* fxsave64 [rdi] */

static int run_xsave(const uint8_t *code, int len, uint64_t area, uint64_t mask)
{
  struct kvm_regs r = {.rsi = area, .rdi = AREA2_GPA, .rax = (uint32_t)mask | 0xdead00000000ULL,
                       .rdx = mask >> 32};
  return run_code(code, len, &r);
}

static void test_xsave_xrstor(void)
{
  CHECK_EQ(xsetbv(0, 3), RES_OK);
  struct kvm_fpu f = pattern_fpu(0);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, &f), 0);
  set_mxcsr(0x9fc0);
  /* the legacy region equals FXSAVE64's image; XSTATE_BV = 3; 416-511 and the rest of the
   * header are not written */
  for (int form = 0; form < 2; form++) {
    memset(hc_vm.mem + AREA_GPA, 0xee, 1024);
    hc_put64(AREA_GPA + 512, 0);
    memset(hc_vm.mem + AREA2_GPA, 0, 512);
    CHECK_EQ(run_xsave(FXSAVE64, 4, AREA_GPA, 0), RES_OK);   /* rdi = AREA2 */
    CHECK_EQ(run_xsave(form ? XSAVEOPT : XSAVE64, form ? 3 : 4, AREA_GPA, ~0ULL), RES_OK);
    CHECK(!memcmp(hc_vm.mem + AREA_GPA, hc_vm.mem + AREA2_GPA, 416));
    CHECK_EQ(hc_get32(AREA_GPA + 24), 0x9fc0);
    CHECK_EQ(hc_get64(AREA_GPA + 512), 3);
    CHECK_EQ(hc_vm.mem[AREA_GPA + 416], 0xee);
    CHECK_EQ(hc_vm.mem[AREA_GPA + 511], 0xee);
    CHECK_EQ(hc_vm.mem[AREA_GPA + 520], 0xee);
    CHECK_EQ(hc_vm.mem[AREA_GPA + 575], 0xee);
  }
  /* RFBM = XCR0 & EDX:EAX: x87 only leaves MXCSR and the XMM area alone; XSTATE_BV bits outside
   * RFBM are kept */
  memset(hc_vm.mem + AREA_GPA, 0xee, 576);
  hc_put64(AREA_GPA + 512, 2);
  CHECK_EQ(run_xsave(XSAVE64, 4, AREA_GPA, 1), RES_OK);
  CHECK(!memcmp(hc_vm.mem + AREA_GPA, hc_vm.mem + AREA2_GPA, 24));
  CHECK(!memcmp(hc_vm.mem + AREA_GPA + 32, hc_vm.mem + AREA2_GPA + 32, 128));
  CHECK_EQ(hc_get64(AREA_GPA + 24), 0xeeeeeeeeeeeeeeeeULL);
  CHECK_EQ(hc_vm.mem[AREA_GPA + 160], 0xee);
  CHECK_EQ(hc_get64(AREA_GPA + 512), 3);
  /* SSE only: MXCSR, MXCSR_MASK and the XMM registers */
  memset(hc_vm.mem + AREA_GPA, 0xee, 576);
  hc_put64(AREA_GPA + 512, 0);
  CHECK_EQ(run_xsave(XSAVE64, 4, AREA_GPA, 2), RES_OK);
  CHECK_EQ(hc_vm.mem[AREA_GPA + 0], 0xee);
  CHECK_EQ(hc_vm.mem[AREA_GPA + 32], 0xee);
  CHECK(!memcmp(hc_vm.mem + AREA_GPA + 24, hc_vm.mem + AREA2_GPA + 24, 8));
  CHECK(!memcmp(hc_vm.mem + AREA_GPA + 160, hc_vm.mem + AREA2_GPA + 160, 256));
  CHECK_EQ(hc_get64(AREA_GPA + 512), 2);
  /* XCR0 = x87: SSE is not saved whatever EDX:EAX asks */
  CHECK_EQ(xsetbv(0, 1), RES_OK);
  memset(hc_vm.mem + AREA_GPA, 0xee, 576);
  hc_put64(AREA_GPA + 512, 0);
  CHECK_EQ(run_xsave(XSAVE64, 4, AREA_GPA, ~0ULL), RES_OK);
  CHECK_EQ(hc_vm.mem[AREA_GPA + 24], 0xee);
  CHECK_EQ(hc_vm.mem[AREA_GPA + 160], 0xee);
  CHECK_EQ(hc_get64(AREA_GPA + 512), 1);
  CHECK_EQ(xsetbv(0, 3), RES_OK);

  /* XRSTOR round trip: the full image back after the state changed */
  memset(hc_vm.mem + AREA_GPA + 512, 0, 64);
  CHECK_EQ(run_xsave(XSAVE64, 4, AREA_GPA, ~0ULL), RES_OK);
  struct kvm_fpu g = pattern_fpu(0x40);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, &g), 0);
  set_mxcsr(0x1f80);
  CHECK_EQ(run_xsave(XRSTOR64, 4, AREA_GPA, ~0ULL), RES_OK);
  struct kvm_fpu h;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
  CHECK(!memcmp(h.xmm, f.xmm, sizeof(f.xmm)));
  CHECK(!memcmp(h.fpr, f.fpr, sizeof(f.fpr)));
  CHECK_EQ(h.fcw, f.fcw);
  CHECK_EQ(h.ftwx, f.ftwx);
  CHECK_EQ(get_mxcsr(), 0x9fc0);
  /* RFBM = SSE with XSTATE_BV[1] = 0: XMM registers zeroed, MXCSR still loaded, x87 untouched */
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, &g), 0);
  hc_put64(AREA_GPA + 512, 1);
  hc_put32(AREA_GPA + 24, 0x1f81);
  CHECK_EQ(run_xsave(XRSTOR64, 4, AREA_GPA, 2), RES_OK);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
  static const uint8_t zero[256];
  CHECK(!memcmp(h.xmm, zero, 256));
  CHECK(!memcmp(h.fpr, g.fpr, sizeof(g.fpr)));
  CHECK_EQ(get_mxcsr(), 0x1f81);
  /* RFBM = x87 with XSTATE_BV[0] = 0: x87 initialized (FCW 037FH), XMM and MXCSR untouched */
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, &g), 0);
  hc_put64(AREA_GPA + 512, 0);
  CHECK_EQ(run_xsave(XRSTOR64, 4, AREA_GPA, 1), RES_OK);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
  CHECK_EQ(h.fcw, 0x37f);
  CHECK_EQ(h.fsw, 0);
  CHECK_EQ(h.ftwx, 0);
  CHECK_EQ(h.last_ip, 0);
  CHECK_EQ(h.fpr[3][2], 0);
  CHECK(!memcmp(h.xmm, g.xmm, sizeof(g.xmm)));
  CHECK_EQ(get_mxcsr(), 0x1f81);
  /* RFBM = 0: nothing changes */
  hc_put64(AREA_GPA + 512, 3);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, &g), 0);
  CHECK_EQ(run_xsave(XRSTOR64, 4, AREA_GPA, 0), RES_OK);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
  CHECK(!memcmp(&h, &g, sizeof(g)));

  /* #GP(0) with the state unchanged: XSTATE_BV outside XCR0, XCOMP_BV, header bytes 16-23,
   * a reserved MXCSR bit (when SSE is restored) */
  uint8_t img[576];
  hc_put64(AREA_GPA + 512, 3);
  hc_put32(AREA_GPA + 24, 0x1f80);
  memcpy(img, hc_vm.mem + AREA_GPA, 576);
  for (int k = 0; k < 5; k++) {
    memcpy(hc_vm.mem + AREA_GPA, img, 576);
    uint64_t mask = ~0ULL;
    switch (k) {
    case 0: hc_put64(AREA_GPA + 512, 7); break;
    case 1: hc_put64(AREA_GPA + 520, 3); break;   /* XCOMP_BV without bit 63 */
    case 2: hc_vm.mem[AREA_GPA + 530] = 1; break;
    case 3: hc_put32(AREA_GPA + 24, 0x11f80); break;
    case 4: CHECK_EQ(xsetbv(0, 1), RES_OK); hc_put64(AREA_GPA + 512, 3); mask = 1; break;   /* BV vs XCR0 */
    }
    CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, &g), 0);
    CHECK_EQ(run_xsave(XRSTOR64, 4, AREA_GPA, mask), RES_EXC + 13);
    CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
    CHECK(!memcmp(&h, &g, sizeof(g)));
    CHECK_EQ(xsetbv(0, 3), RES_OK);
  }
  /* a reserved MXCSR bit does not matter when SSE is not restored */
  memcpy(hc_vm.mem + AREA_GPA, img, 576);
  hc_put32(AREA_GPA + 24, 0x11f80);
  CHECK_EQ(run_xsave(XRSTOR64, 4, AREA_GPA, 1), RES_OK);
  /* header bytes 24-63 are not checked by the standard form */
  memcpy(hc_vm.mem + AREA_GPA, img, 576);
  hc_vm.mem[AREA_GPA + 512 + 40] = 0x55;
  CHECK_EQ(run_xsave(XRSTOR64, 4, AREA_GPA, ~0ULL), RES_OK);

  /* 64-byte alignment (#GP even when 16-aligned), #NM with CR0.TS, the 32-bit-operand forms */
  static const uint8_t xsave[] = {0x0f, 0xae, 0x26};   /* xsave [rsi] */
  static const uint8_t xrstor[] = {0x0f, 0xae, 0x2e};  /* xrstor [rsi] */
  memset(hc_vm.mem + AREA_GPA, 0x5a, 1024);
  CHECK_EQ(run_xsave(xsave, 3, AREA_GPA + 16, ~0ULL), RES_EXC + 13);
  CHECK_EQ(run_xsave(XSAVE64, 4, AREA_GPA + 32, ~0ULL), RES_EXC + 13);
  CHECK_EQ(hc_vm.mem[AREA_GPA + 16], 0x5a);
  CHECK_EQ(hc_vm.mem[AREA_GPA + 32 + 512], 0x5a);
  CHECK_EQ(run_xsave(xrstor, 3, AREA_GPA + 32, ~0ULL), RES_EXC + 13);
  hc_set_cr(CR0_BASE | 8, CR4_BASE | CR4_OSXSAVE);
  CHECK_EQ(run_xsave(xsave, 3, AREA_GPA, ~0ULL), RES_EXC + 7);
  CHECK_EQ(run_xsave(xrstor, 3, AREA_GPA, ~0ULL), RES_EXC + 7);
  hc_set_cr(CR0_BASE | 4, CR4_BASE | CR4_OSXSAVE);   /* CR0.EM does not matter */
  memset(hc_vm.mem + AREA_GPA + 512, 0, 64);
  CHECK_EQ(run_xsave(xsave, 3, AREA_GPA, ~0ULL), RES_OK);
  CHECK_EQ(hc_get64(AREA_GPA + 512), 3);
  CHECK_EQ(run_xsave(xrstor, 3, AREA_GPA, ~0ULL), RES_OK);
  hc_set_cr(CR0_BASE, CR4_BASE | CR4_OSXSAVE);
  /* an area running into unmapped memory: #PF, nothing written */
  memset(hc_vm.mem + GUEST_MEM - 512, 0x77, 512);
  CHECK_EQ(run_xsave(XSAVE64, 4, GUEST_MEM - 512, ~0ULL), RES_EXC + 14);
  CHECK_EQ(hc_vm.mem[GUEST_MEM - 512], 0x77);
  CHECK_EQ(hc_vm.mem[GUEST_MEM - 1], 0x77);
}

static void test_kvm_xcrs(void)
{
  CHECK_EQ(skvm_ioctl(hc_vm.vm, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_XSAVE), 1);
  CHECK_EQ(skvm_ioctl(hc_vm.vm, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_XCRS), 1);
  CHECK_EQ(skvm_ioctl(hc_vm.sys, KVM_CHECK_EXTENSION, (void *)(long)KVM_CAP_XSAVE), 1);
  struct kvm_xcrs x;
  CHECK_EQ(xsetbv(0, 3), RES_OK);
  memset(&x, 0xa5, sizeof(x));
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_XCRS, &x), 0);
  CHECK_EQ(x.nr_xcrs, 1);
  CHECK_EQ(x.flags, 0);
  CHECK_EQ(x.xcrs[0].xcr, 0);
  CHECK_EQ(x.xcrs[0].value, 3);
  CHECK_EQ(x.xcrs[1].value, 0);   /* the rest of the struct comes back zeroed */
  CHECK_EQ(x.padding[0], 0);

  memset(&x, 0, sizeof(x));
  x.nr_xcrs = 1, x.xcrs[0].xcr = 0, x.xcrs[0].value = 1;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XCRS, &x), 0);
  CHECK_EQ(xcr0_now(), 1);
  /* invalid values: EINVAL, XCR0 unchanged */
  uint64_t bad[] = {0, 2, 4, 7, 1ULL << 32 | 1, 1ULL << 63 | 3};
  for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    x.xcrs[0].value = bad[i];
    CHECK_ERRNO(skvm_ioctl(hc_vm.vcpu, KVM_SET_XCRS, &x), EINVAL);
  }
  x.xcrs[0].value = 3;
  x.flags = 1;
  CHECK_ERRNO(skvm_ioctl(hc_vm.vcpu, KVM_SET_XCRS, &x), EINVAL);
  x.flags = 0;
  x.nr_xcrs = KVM_MAX_XCRS + 1;
  CHECK_ERRNO(skvm_ioctl(hc_vm.vcpu, KVM_SET_XCRS, &x), EINVAL);
  x.nr_xcrs = 0;   /* nothing to set */
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XCRS, &x), 0);
  x.nr_xcrs = 2, x.xcrs[0].xcr = 1, x.xcrs[0].value = 0;   /* other XCRs are skipped */
  x.xcrs[1].xcr = 0, x.xcrs[1].value = 3;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XCRS, &x), 0);
  CHECK_EQ(xcr0_now(), 3);
  x.nr_xcrs = 1, x.xcrs[0].xcr = 5, x.xcrs[0].value = 0;    /* unknown XCR alone: accepted, ignored */
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XCRS, &x), 0);
  CHECK_EQ(xcr0_now(), 3);
  /* the guest sees it */
  x.nr_xcrs = 1, x.xcrs[0].xcr = 0, x.xcrs[0].value = 1;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XCRS, &x), 0);
  CHECK_EQ(xcr0_now(), 1);
  CHECK_EQ(xsetbv(0, 3), RES_OK);
}

static void test_kvm_xsave(void)
{
  static struct kvm_xsave xs, ys;
  uint8_t *b = (uint8_t *)xs.region;
  struct kvm_fpu f = pattern_fpu(0x11);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, &f), 0);
  set_mxcsr(0x3f80);
  memset(&xs, 0xa5, sizeof(xs));
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_XSAVE, &xs), 0);
  /* the legacy region is the guest's FXSAVE64 image */
  memset(hc_vm.mem + AREA2_GPA, 0, 512);
  CHECK_EQ(run_xsave(FXSAVE64, 4, AREA_GPA, 0), RES_OK);
  CHECK(!memcmp(b, hc_vm.mem + AREA2_GPA, 416));
  CHECK_EQ(hc_get32(AREA2_GPA + 24), 0x3f80);
  uint64_t q;
  memcpy(&q, b + 464, 8); CHECK_EQ(q, 3);   /* sw_reserved: the user xfeatures */
  memcpy(&q, b + 512, 8); CHECK_EQ(q, 3);   /* XSTATE_BV */
  int nonzero = 0;
  for (int i = 416; i < 464; i++) nonzero += b[i] != 0;
  for (int i = 472; i < 512; i++) nonzero += b[i] != 0;
  for (int i = 520; i < 4096; i++) nonzero += b[i] != 0;
  CHECK_EQ(nonzero, 0);

  /* round trip with changes, seen by the guest's XSAVE */
  memset(b + 160 + 5 * 16, 0x42, 16);
  b[0] = 0x7f, b[1] = 0x03;   /* FCW */
  memcpy(b + 24, &(uint32_t){0x1fbf}, 4);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XSAVE, &xs), 0);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_XSAVE, &ys), 0);
  CHECK(!memcmp(&xs, &ys, 576));
  struct kvm_fpu h;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
  CHECK_EQ(h.xmm[5][7], 0x42);
  CHECK_EQ(h.fcw, 0x37f);
  CHECK_EQ(run_xsave(XSAVE64, 4, AREA_GPA, ~0ULL), RES_OK);
  CHECK_EQ(hc_get32(AREA_GPA + 24), 0x1fbf);
  CHECK_EQ(hc_vm.mem[AREA_GPA + 160 + 5 * 16], 0x42);

  /* EINVAL, state unchanged: xfeatures beyond x87|SSE, XCOMP_BV, reserved header bytes,
   * a reserved MXCSR bit */
  for (int k = 0; k < 5; k++) {
    ys = xs;
    uint8_t *c = (uint8_t *)ys.region;
    switch (k) {
    case 0: c[512] = 7; break;
    case 1: c[520] = 3; break;
    case 2: c[527] = 0x80; break;
    case 3: c[575] = 1; break;
    case 4: memcpy(c + 24, &(uint32_t){0x21f80}, 4); break;
    }
    CHECK_ERRNO(skvm_ioctl(hc_vm.vcpu, KVM_SET_XSAVE, &ys), EINVAL);
  }
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_XSAVE, &ys), 0);
  CHECK(!memcmp(&xs, &ys, 576));
  /* bytes beyond the header and the software-reserved bytes are ignored */
  ys = xs;
  ((uint8_t *)ys.region)[600] = 9, ((uint8_t *)ys.region)[470] = 9, ((uint8_t *)ys.region)[420] = 9;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XSAVE, &ys), 0);
  /* a clear XSTATE_BV bit: that component in its initial state */
  ys = xs;
  uint8_t *c = (uint8_t *)ys.region;
  c[512] = 1;   /* x87 only: XMM zero, MXCSR from the image */
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XSAVE, &ys), 0);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
  static const uint8_t zero[256];
  CHECK(!memcmp(h.xmm, zero, 256));
  CHECK_EQ(h.fcw, 0x37f);
  CHECK_EQ(h.fpr[1][0], f.fpr[1][0]);
  CHECK_EQ(get_mxcsr(), 0x1fbf);
  c[512] = 2;   /* SSE only: x87 initialized */
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XSAVE, &ys), 0);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
  CHECK_EQ(h.xmm[5][0], 0x42);
  CHECK_EQ(h.fpr[1][0], 0);
  CHECK_EQ(h.ftwx, 0);
  CHECK_EQ(h.last_opcode, 0);
  c[512] = 0;   /* everything initial, MXCSR 1F80H */
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XSAVE, &ys), 0);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &h), 0);
  CHECK(!memcmp(h.xmm, zero, 256));
  CHECK_EQ(h.fcw, 0x37f);
  CHECK_EQ(get_mxcsr(), 0x1f80);
  /* an invalid MXCSR is ignored when neither x87 nor SSE is given */
  memcpy(c + 24, &(uint32_t){0x21f80}, 4);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_XSAVE, &ys), 0);
}

/* CR4.OSXSAVE needs XSAVE in the guest's CPUID: KVM_SET_SREGS EINVAL, MOV CR4 #GP */
static void test_cr4_cpuid(void)
{
  struct vmt t;
  struct kvm_sregs s;
  if (vmt_init(&t, GUEST_MEM)) { vmt_fini(&t); return; }
  struct kvm_cpuid2 *c = vmt_supported_cpuid(t.sys);
  CHECK(c != NULL);
  if (!c) { vmt_fini(&t); return; }
  for (uint32_t i = 0; i < c->nent; i++)
    if (c->entries[i].function == 1) c->entries[i].ecx &= ~(1u << 26 | 1u << 27);
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, c), 0);
  free(c);
  CHECK_ERRNO(hc_long_mode(&t, CR4_BASE | CR4_OSXSAVE, true, &s), EINVAL);
  s.cr4 &= ~CR4_OSXSAVE;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &s), 0);
  static const uint8_t cr4_set[] = {0x0f, 0x20, 0xe0, 0x0d, 0x00, 0x00, 0x04, 0x00, 0x0f, 0x22, 0xe0, 0xf4};
  memcpy(t.mem + CODE_GPA, cr4_set, sizeof(cr4_set));
  struct kvm_regs r = {.rip = CODE_GPA, .rsp = STACK_TOP, .rflags = 2};
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_REGS, &r), 0);
  CHECK_EQ(vmt_run(&t), 0);
  r = vmt_regs(&t);
  CHECK_EQ(t.run->exit_reason, KVM_EXIT_HLT);
  CHECK_EQ(r.rip, STUB_GPA + 13 * 16 + 6);   /* #GP */
  vmt_fini(&t);
}

int main(void)
{
  int rc = hc_vm_init(CR4_BASE | CR4_OSXSAVE, true);
  CHECK_EQ(rc, 0);
  if (rc == 0) {
    test_xgetbv_xsetbv();
    test_xsave_xrstor();
    test_kvm_xcrs();
    test_kvm_xsave();
    test_cr4_cpuid();
  }
  hc_fini();
  return test_summary();
}
