/* x87 FPU and MMX (exec_x87.c, exec_mmx.c), checked against the host CPU: each form in x87_forms.h
 * runs in the engine (64-bit mode, through KVM_RUN, x87 state set with KVM_SET_FPU) and natively
 * (the same bytes, called from a trampoline that loads the same state with FXRSTOR64 and saves it
 * with FXSAVE64) on the same random inputs -- special 80-bit values (signed zeros, infinities,
 * quiet and signalling NaNs, denormals, pseudo-denormals, unnormals, pseudo-infinities), random
 * values of every exponent range, integers and BCD in memory, any TOP and tag word, every rounding
 * mode and precision control, masked and unmasked exceptions -- and FCW, FSW (C0-C3, TOP, flags,
 * ES), the abridged tag word, the eight 80-bit registers, XMM0-15, MXCSR, RAX, the arithmetic
 * flags and memory must agree. FNSTENV/FNSAVE images are compared except for the FPU pointer
 * fields (FIP, FCS, FOP, FDP, FDS: the host's are its own). Then, in the engine only: #NM/#UD
 * (CR0.EM, CR0.TS, CR0.MP for FWAIT), #MF at the next waiting instruction after an unmasked
 * exception, the FPU pointers in FNSTENV, the stack-order FXSAVE image, and the CPUID bits. */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hostcmp.h"
#include "softkvm.h"
#include "testlib.h"
#include "vmtest.h"

#define DATA_SIZE 0x1000
#define MID 0x800
#define ITERS 300

enum { K_NONE, K_CW, K_STENV32, K_STENV16, K_ENV32, K_ENV16, K_SAVE32, K_SAVE16, K_MMX };
enum { T_RAND, T_F32, T_F64, T_F80, T_I16, T_I32, T_I64, T_BCD };

struct form {
  const char *text;
  uint8_t bytes[24];
  int len, kind, type;
};

static const struct form forms[] = {
#include "x87_forms.h"
};

/* the state both sides run on: GPRs used by the forms, RFLAGS, and an FXSAVE64 image */
struct st {
  uint64_t rax, rsi, rdi, fl;
  uint8_t pad[16];
  _Alignas(16) uint8_t img[512];
};

/* Its own trampoline (not hostcmp's): the x87, XMM and MXCSR state goes in and out as the FXSAVE64
 * image, with the host's own saved around it. */
void x87_native_enter(struct st *s, void *code);
__asm__(".text\n"
        ".type x87_native_enter,@function\n"
        "x87_native_enter:\n"
        "push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "sub $520, %rsp\n"                /* 16-byte aligned host save area at (%rsp) */
        "fxsave64 (%rsp)\n"
        "mov %rdi, %r12\n mov %rsi, %r13\n"
        "fxrstor64 48(%r12)\n"
        "mov 0(%r12), %rax\n mov 8(%r12), %rsi\n mov 16(%r12), %rdi\n"
        "pushq 24(%r12)\n popfq\n"
        "call *%r13\n"
        "pushfq\n popq 24(%r12)\n"
        "mov %rax, 0(%r12)\n mov %rsi, 8(%r12)\n mov %rdi, 16(%r12)\n"
        "fxsave64 48(%r12)\n"
        "fnclex\n"
        "fxrstor64 (%rsp)\n"
        "add $520, %rsp\n"
        "pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret\n"
        ".size x87_native_enter,.-x87_native_enter\n");

static void native_run(const struct form *f, struct st *s)
{
  hc_jit_load(f->bytes, f->len);
  x87_native_enter(s, hc_jit);
}

/* ---- the engine ---- */
static void img_to_fpu(const uint8_t *img, struct kvm_fpu *f)
{
  memset(f, 0, sizeof(*f));
  memcpy(&f->fcw, img, 2);
  memcpy(&f->fsw, img + 2, 2);
  f->ftwx = img[4];
  for (int i = 0; i < 8; i++) memcpy(f->fpr[i], img + 32 + i * 16, 10);
  memcpy(f->xmm, img + 160, 256);
}

static void fpu_to_img(const struct kvm_fpu *f, uint8_t *img)
{
  memcpy(img, &f->fcw, 2);
  memcpy(img + 2, &f->fsw, 2);
  img[4] = f->ftwx;
  for (int i = 0; i < 8; i++) memcpy(img + 32 + i * 16, f->fpr[i], 10);
  memcpy(img + 160, f->xmm, 256);
}

/* code+HLT at CODE_GPA on state s (MXCSR from the image, loaded with LDMXCSR, stored after) */
static int engine_exec(const uint8_t *insn, int len, struct st *s, bool mx)
{
  uint8_t code[64];
  int n = len;
  uint32_t mxv;
  if (mx) n = hc_mx_wrap(code, insn, len);
  else memcpy(code, insn, len);
  memcpy(&mxv, s->img + 24, 4);
  hc_put32(MX_GPA, mxv);
  struct kvm_regs r;
  memset(&r, 0, sizeof(r));
  r.rax = s->rax, r.rsi = s->rsi, r.rdi = s->rdi, r.rflags = s->fl;
  struct kvm_fpu fpu;
  img_to_fpu(s->img, &fpu);
  int rc = hc_exec(code, n, &r, &fpu);
  if (rc == -1) return -1;
  s->rax = r.rax, s->rsi = r.rsi, s->rdi = r.rdi, s->fl = r.rflags;
  fpu_to_img(&fpu, s->img);
  if (mx) { mxv = hc_get32(MX_GPA + 4); memcpy(s->img + 24, &mxv, 4); }
  return rc;
}

/* ---- inputs ---- */
#define SEED 0x243f6a8885a308d3ULL

static void put80(uint8_t *p, uint64_t m, unsigned se)
{
  memcpy(p, &m, 8);
  p[8] = (uint8_t)se, p[9] = (uint8_t)(se >> 8);
}

static void rnd80(uint8_t *p)
{
  unsigned s = (hc_rng() & 1) << 15;
  uint64_t r = hc_rng();
  switch (hc_rng() % 16) {
  case 0: put80(p, 0, s); break;                                         /* zero */
  case 1: put80(p, 1ULL << 63, s | 0x7fff); break;                       /* infinity */
  case 2: put80(p, 3ULL << 62 | (hc_rng() % 4 ? 0 : r >> 2), s | 0x7fff); break;   /* QNaN */
  case 3: put80(p, 1ULL << 63 | ((r >> 2) | 1), s | 0x7fff); break;      /* SNaN */
  case 4: put80(p, r >> 1, s); break;                                    /* denormal */
  case 5:
    switch (hc_rng() % 4) {
    case 0: put80(p, r | 1ULL << 63, s); break;                           /* pseudo-denormal */
    case 1: put80(p, r >> 1, s | (1 + hc_rng() % 0x7ffe)); break;           /* unnormal */
    case 2: put80(p, 0, s | 0x7fff); break;                              /* pseudo-infinity */
    default: put80(p, r | 1ULL << 63, s | 1); break;                      /* smallest normals */
    }
    break;
  case 6: case 7: put80(p, r | 1ULL << 63, s | (0x3fff - 70 + hc_rng() % 140)); break;
  case 8: put80(p, r | 1ULL << 63, s | (hc_rng() % 0x7fff)); break;
  case 9: { /* integers and half-integers */
    long double v = (long double)(int64_t)(hc_rng() % 200000) / (hc_rng() % 2 ? 1 : 2);
    if (hc_rng() % 4 == 0) v = (long double)(int64_t)r;
    if (s) v = -v;
    memcpy(p, &v, 10);
    break;
  }
  case 10: { /* near multiples of pi/4 (FSIN, FPTAN, FPREM) and big arguments */
    long double v = 0.785398163397448309616L * (long double)(hc_rng() % 64) * (1 + (long double)(r % 100) * 1e-19L);
    if (hc_rng() % 4 == 0) v = (long double)r * 1e3L;
    if (s) v = -v;
    memcpy(p, &v, 10);
    break;
  }
  case 11: put80(p, 1ULL << 63 | (r & 0xffffff), s | (0x3fff + hc_rng() % 3)); break;
  case 12: put80(p, 1ULL << 63 | (r >> 40), s | (0x3fff - 1 - hc_rng() % 3)); break;   /* near 1, 0.5 */
  case 13: put80(p, r | 1ULL << 63, s | (0x43fe - 3 + hc_rng() % 6)); break;           /* int64 limits */
  case 14: put80(p, r | 1ULL << 63, s | (0x3fff + 14 + hc_rng() % 20)); break;          /* int16/32 limits */
  default: put80(p, r | 1ULL << 63, s | (0x3f80 + hc_rng() % 0x100)); break;
  }
}

static const uint32_t f32s[] = {0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00001, 0x00000001,
                                0x807fffff, 0x3f800000, 0xbf000000, 0x7f7fffff, 0x4f000000, 0xc7000000};
static const uint64_t f64s[] = {0, 0x8000000000000000ULL, 0x7ff0000000000000ULL, 0xfff8000000000000ULL,
                                0x7ff4000000000000ULL, 1, 0x000fffffffffffffULL, 0x3ff0000000000000ULL,
                                0x43e0000000000000ULL, 0xc1e0000000000000ULL, 0x7fefffffffffffffULL};

static uint64_t rnd_int(int bytes)
{
  uint64_t v;
  switch (hc_rng() % 6) {
  case 0: v = hc_rng() % 100; break;
  case 1: v = -(hc_rng() % 100); break;
  case 2: v = 1ULL << (bytes * 8 - 1); break;
  case 3: v = (1ULL << (bytes * 8 - 1)) - 1 - hc_rng() % 2; break;
  default: v = hc_rng(); break;
  }
  return v;
}

static void fill_data(uint8_t *d, int type)
{
  switch (type) {
  case T_F32: {
    uint32_t v = hc_rng() % 2 ? f32s[hc_rng() % (sizeof(f32s) / 4)] : (uint32_t)hc_rng();
    memcpy(d, &v, 4);
    break;
  }
  case T_F64: {
    uint64_t v = hc_rng() % 2 ? f64s[hc_rng() % (sizeof(f64s) / 8)] : hc_rng();
    memcpy(d, &v, 8);
    break;
  }
  case T_F80: rnd80(d); break;
  case T_I16: case T_I32: case T_I64: {
    int b = type == T_I16 ? 2 : type == T_I32 ? 4 : 8;
    uint64_t v = rnd_int(b);
    memcpy(d, &v, b);
    break;
  }
  case T_BCD:
    for (int i = 0; i < 9; i++) d[i] = hc_rng() % 8 ? (uint8_t)(hc_rng() % 10 | (hc_rng() % 10) << 4) : (uint8_t)hc_rng();
    d[9] = hc_rng() % 2 ? 0x80 : 0;
    if (hc_rng() % 8 == 0) d[9] = (uint8_t)hc_rng();
    break;
  }
}

static uint16_t rnd_fcw(void)
{
  static const unsigned pc[] = {0, 2, 3, 3};
  uint16_t cw = 0x40 | (uint16_t)(hc_rng() % 4) << 10 | (uint16_t)pc[hc_rng() % 4] << 8;
  cw |= hc_rng() % 3 ? 0x3f : (uint16_t)(hc_rng() & 0x3f);
  return cw;
}

static void make_input(const struct form *f, struct st *s, uint8_t *data)
{
  memset(s, 0, sizeof(*s));
  s->rax = hc_rng();
  s->fl = 2 | (hc_rng() & F_ARITH);
  uint16_t fcw = rnd_fcw(), fsw;
  if (strchr(f->text, ';') && f->text[0] != '.') fcw |= 0x3f;   /* sequences: no #MF in between */
  fsw = (uint16_t)(hc_rng() % 8) << 11 | (uint16_t)(hc_rng() & 0x4700);
  fsw |= (uint16_t)(hc_rng() & fcw & 0x3f);   /* only masked flags are set: nothing pending */
  memcpy(s->img, &fcw, 2);
  memcpy(s->img + 2, &fsw, 2);
  s->img[4] = hc_rng() % 3 ? 0xff : (uint8_t)hc_rng();
  for (int i = 0; i < 8; i++) rnd80(s->img + 32 + i * 16);
  if (hc_rng() % 6 == 0) memcpy(s->img + 32 + 16, s->img + 32, 10);   /* equal operands */
  for (int i = 0; i < 32; i++) {
    uint64_t v = hc_rng() % 3 ? hc_rng() : f64s[hc_rng() % (sizeof(f64s) / 8)];
    if (hc_rng() % 3 == 0) v = (uint64_t)f32s[hc_rng() % (sizeof(f32s) / 4)] << 32 | f32s[hc_rng() % (sizeof(f32s) / 4)];
    memcpy(s->img + 160 + i * 8, &v, 8);
  }
  uint32_t mx = 0x1f80 | (uint32_t)(hc_rng() % 4) << 13 | (uint32_t)(hc_rng() & 1) << 15 | (uint32_t)(hc_rng() & 1) << 6;
  memcpy(s->img + 24, &mx, 4);
  for (int i = 0; i < DATA_SIZE; i++) data[i] = (uint8_t)hc_rng();
  if (f->kind == K_MMX) {   /* MMX values: any 64 bits, any exponent */
    for (int i = 0; i < 8; i++) memset(s->img + 32 + i * 16 + 8, hc_rng() % 2 ? 0xff : (int)(hc_rng() & 0xff), 2);
    for (int i = 0; i < 64; i += 8) {
      uint64_t v = hc_rng() % 2 ? hc_rng() : rnd_int(8);
      if (hc_rng() % 4 == 0) v = (uint64_t)f32s[hc_rng() % (sizeof(f32s) / 4)] << 32 | f32s[hc_rng() % (sizeof(f32s) / 4)];
      memcpy(data + MID + i, &v, 8);
    }
  }
  fill_data(data + MID, f->type);
  uint8_t *m = data + MID;
  switch (f->kind) {
  case K_CW: { uint16_t cw = hc_rng() % 2 ? rnd_fcw() : (uint16_t)hc_rng(); memcpy(m, &cw, 2); break; }
  case K_ENV32: case K_ENV16: case K_SAVE32: case K_SAVE16: {
    bool w16 = f->kind == K_ENV16 || f->kind == K_SAVE16;
    uint16_t cw = rnd_fcw(), sw = (uint16_t)hc_rng(), tw = (uint16_t)hc_rng();
    if (hc_rng() % 2) sw &= (uint16_t)~0x80bf, sw |= (uint16_t)(hc_rng() & cw & 0x3f);
    if (hc_rng() % 2) tw = 0;
    int w = w16 ? 2 : 4;
    memcpy(m, &cw, 2), memcpy(m + w, &sw, 2), memcpy(m + 2 * w, &tw, 2);
    if (f->kind == K_SAVE32 || f->kind == K_SAVE16)
      for (int i = 0; i < 8; i++) rnd80(m + (w16 ? 14 : 28) + i * 10);
    break;
  }
  }
}

static int n_native, n_mismatch;

static const char *reg_names[] = {"rax", "rsi", "rdi"};

static void run_form(const struct form *f)
{
  static uint8_t init[DATA_SIZE];
  int fails = 0;
  for (int it = 0; it < ITERS && fails < 3; it++) {
    struct st in, e, n;
    make_input(f, &in, init);
    uint64_t gbase = DATA_GPA + MID, hbase = (uint64_t)(uintptr_t)hc_ndata + MID;
    e = in, n = in;
    e.rsi = gbase, n.rsi = hbase;
    e.rdi = gbase + 64, n.rdi = hbase + 64;
    memcpy(hc_vm.mem + DATA_GPA, init, DATA_SIZE);
    int ex = engine_exec(f->bytes, f->len, &e, true);
    if (ex != RES_OK) {
      hc_engine_failed(f->text, ex);
      fails++;
      continue;
    }
    memcpy(hc_ndata, init, DATA_SIZE);
    native_run(f, &n);
    n_native++;
    e.rsi -= gbase, n.rsi -= hbase;
    e.rdi -= gbase, n.rdi -= hbase;
    bool bad = false;
    uint64_t *er = &e.rax, *nr = &n.rax;
    for (int i = 0; i < 3; i++)
      if (er[i] != nr[i]) {
        test_fail(__FILE__, __LINE__, "%s: %s engine 0x%llx native 0x%llx", f->text, reg_names[i],
                  (unsigned long long)er[i], (unsigned long long)nr[i]);
        bad = true;
      }
    bad |= hc_diff_flags(f->text, e.fl, n.fl, F_ARITH, in.fl);
    uint16_t ecw, ncw, esw, nsw;
    memcpy(&ecw, e.img, 2), memcpy(&ncw, n.img, 2), memcpy(&esw, e.img + 2, 2), memcpy(&nsw, n.img + 2, 2);
    if (ecw != ncw || esw != nsw || e.img[4] != n.img[4]) {
      test_fail(__FILE__, __LINE__, "%s: fcw/fsw/ftw engine %04x/%04x/%02x native %04x/%04x/%02x", f->text,
                ecw, esw, e.img[4], ncw, nsw, n.img[4]);
      bad = true;
    }
    for (int i = 0; i < 8; i++)
      if (memcmp(e.img + 32 + i * 16, n.img + 32 + i * 16, 10)) {
        uint64_t em, nm;
        memcpy(&em, e.img + 32 + i * 16, 8), memcpy(&nm, n.img + 32 + i * 16, 8);
        test_fail(__FILE__, __LINE__, "%s: st%d engine %02x%02x:%016llx native %02x%02x:%016llx", f->text, i,
                  e.img[41 + i * 16], e.img[40 + i * 16], (unsigned long long)em, n.img[41 + i * 16],
                  n.img[40 + i * 16], (unsigned long long)nm);
        bad = true;
      }
    if (memcmp(e.img + 160, n.img + 160, 256) || memcmp(e.img + 24, n.img + 24, 4)) {
      test_fail(__FILE__, __LINE__, "%s: xmm or mxcsr differ", f->text);
      bad = true;
    }
    uint8_t *em = hc_vm.mem + DATA_GPA, *nm = hc_ndata;
    if (f->kind == K_STENV32 || f->kind == K_STENV16) {   /* FPU pointers: the host's are its own */
      int lo = f->kind == K_STENV32 ? 12 : 6, hi = f->kind == K_STENV32 ? 28 : 14;
      memset(em + MID + 64 + lo, 0, hi - lo), memset(nm + MID + 64 + lo, 0, hi - lo);
    }
    bad |= hc_diff_mem(f->text, em, nm, DATA_SIZE, MID);
    if (bad) {
      fails++, n_mismatch++;
      uint16_t cw, sw;
      memcpy(&cw, in.img, 2), memcpy(&sw, in.img + 2, 2);
      fprintf(stderr, "  input: fcw %04x fsw %04x ftw %02x", cw, sw, in.img[4]);
      for (int i = 0; i < 3; i++) {
        uint64_t m;
        memcpy(&m, in.img + 32 + i * 16, 8);
        fprintf(stderr, " st%d %02x%02x:%016llx", i, in.img[41 + i * 16], in.img[40 + i * 16], (unsigned long long)m);
      }
      uint64_t d0;
      memcpy(&d0, init + MID, 8);
      fprintf(stderr, " [rsi] %016llx\n", (unsigned long long)d0);
    } else {
      test_passed++;
    }
  }
}

/* ---- engine-only checks ---- */

static struct st plain_state(void)
{
  struct st s;
  memset(&s, 0, sizeof(s));
  s.fl = 2;
  uint16_t cw = 0x37f;
  uint32_t mx = 0x1f80;
  memcpy(s.img, &cw, 2);
  memcpy(s.img + 24, &mx, 4);
  s.rsi = DATA_GPA + MID, s.rdi = DATA_GPA + MID + 64;
  return s;
}

static int fault_of(const uint8_t *code, int len, uint64_t cr0)
{
  struct st s = plain_state();
  hc_set_cr(cr0, CR4_BASE);
  int rc = engine_exec(code, len, &s, false);
  hc_set_cr(CR0_BASE, CR4_BASE);
  return rc;
}

static void test_faults(void)
{
  static const uint8_t fld1[] = {0xd9, 0xe8}, fninit[] = {0xdb, 0xe3}, fwait[] = {0x9b};
  static const uint8_t paddb[] = {0x0f, 0xfc, 0xc1}, emms[] = {0x0f, 0x77};
  static const uint8_t cvtpi2ps[] = {0x0f, 0x2a, 0xc1};   /* cvtpi2ps xmm0, mm1 */
  CHECK_EQ(fault_of(fld1, 2, CR0_BASE | 4), RES_EXC + 7);      /* EM: #NM */
  CHECK_EQ(fault_of(fld1, 2, CR0_BASE | 8), RES_EXC + 7);      /* TS: #NM */
  CHECK_EQ(fault_of(fninit, 2, CR0_BASE | 8), RES_EXC + 7);
  CHECK_EQ(fault_of(fwait, 1, CR0_BASE | 8), RES_EXC + 7);     /* TS and MP */
  CHECK_EQ(fault_of(fwait, 1, (CR0_BASE & ~2ULL) | 8), RES_OK); /* TS without MP */
  CHECK_EQ(fault_of(fwait, 1, CR0_BASE | 4), RES_OK);           /* EM alone */
  CHECK_EQ(fault_of(paddb, 3, CR0_BASE | 4), RES_EXC + 6);     /* MMX: EM is #UD */
  CHECK_EQ(fault_of(paddb, 3, CR0_BASE | 8), RES_EXC + 7);
  CHECK_EQ(fault_of(emms, 2, CR0_BASE | 8), RES_EXC + 7);
  CHECK_EQ(fault_of(fld1, 2, CR0_BASE), RES_OK);
  /* a store that faults (#PF on the second page) changes neither memory nor the x87 state */
  static const uint8_t fld1_fstp[] = {0xd9, 0xe8, 0xdd, 0x1e};   /* fld1; fstp qword [rsi] */
  struct st s0 = plain_state();
  s0.rsi = GUEST_MEM - 4;
  memset(hc_vm.mem + GUEST_MEM - 4, 0x77, 4);
  CHECK_EQ(engine_exec(fld1_fstp, 4, &s0, false), RES_EXC + 14);
  uint16_t sw0;
  memcpy(&sw0, s0.img + 2, 2);
  CHECK_EQ(sw0 & 0x3800, 0x3800);   /* TOP 7: the FLD happened, the FSTP did not pop */
  CHECK_EQ(s0.img[4], 0x80);
  CHECK_EQ(hc_get32(GUEST_MEM - 4), 0x77777777);
  hc_set_cr(CR0_BASE, CR4_BASE & ~0x200ULL);   /* CR4.OSFXSR clear: #UD for CVTPI2PS, not for PADDB */
  struct st s = plain_state();
  CHECK_EQ(engine_exec(cvtpi2ps, 3, &s, false), RES_EXC + 6);
  s = plain_state();
  CHECK_EQ(engine_exec(paddb, 3, &s, false), RES_OK);
  hc_set_cr(CR0_BASE, CR4_BASE);
}

/* An unmasked exception sets ES/B; the next waiting instruction raises #MF, non-waiting ones run. */
static void test_mf(void)
{
  /* fldcw [rsi]; fld1; fldz; fdivp st(1), st -> ZE unmasked */
  static const uint8_t div0[] = {0xd9, 0x2e, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9};
  static const uint8_t fnstsw_ax[] = {0xdf, 0xe0}, fadd[] = {0xd8, 0xc1}, fwait[] = {0x9b};
  static const uint8_t paddb[] = {0x0f, 0xfc, 0xc1}, fnclex[] = {0xdb, 0xe2};
  uint16_t cw = 0x37b;
  memcpy(hc_vm.mem + DATA_GPA + MID, &cw, 2);
  struct st s = plain_state();
  CHECK_EQ(engine_exec(div0, sizeof(div0), &s, false), RES_OK);
  uint16_t sw;
  memcpy(&sw, s.img + 2, 2);
  CHECK_EQ(sw & 0x80bf, 0x8084);
  CHECK_EQ(engine_exec(fnstsw_ax, 2, &s, false), RES_OK);   /* non-waiting */
  CHECK_EQ(s.rax & 0xffff, sw);
  CHECK_EQ(engine_exec(fwait, 1, &s, false), RES_EXC + 16);
  CHECK_EQ(engine_exec(fadd, 2, &s, false), RES_EXC + 16);
  CHECK_EQ(engine_exec(paddb, 3, &s, false), RES_EXC + 16);
  hc_set_cr(CR0_BASE & ~0x20ULL, CR4_BASE);   /* CR0.NE clear: ignored (IGNNE#) */
  CHECK_EQ(engine_exec(fwait, 1, &s, false), RES_OK);
  hc_set_cr(CR0_BASE, CR4_BASE);
  CHECK_EQ(engine_exec(fnclex, 2, &s, false), RES_OK);
  CHECK_EQ(engine_exec(fwait, 1, &s, false), RES_OK);
  memcpy(&sw, s.img + 2, 2);
  CHECK_EQ(sw & 0x80ff, 0);
}

/* FNSTENV records the last non-control instruction's address, opcode and operand offset; the
 * FXSAVE image has ST(i) in slot i; MMX register i is physical register i. */
static void test_pointers(void)
{
  /* fld dword [rsi+4]; fnstenv [rdi]; fnstcw [rdi+32] */
  static const uint8_t code[] = {0xd9, 0x46, 0x04, 0xd9, 0x37, 0xd9, 0x7f, 0x20};
  struct st s = plain_state();
  float one = 1.0f;
  memcpy(hc_vm.mem + DATA_GPA + MID + 4, &one, 4);
  CHECK_EQ(engine_exec(code, sizeof(code), &s, false), RES_OK);
  const uint8_t *env = hc_vm.mem + DATA_GPA + MID + 64;
  CHECK_EQ(hc_get32(DATA_GPA + MID + 64 + 12), CODE_GPA);          /* FIP */
  CHECK_EQ(hc_get32(DATA_GPA + MID + 64 + 16) >> 16, 0x146);       /* FOP: D9 46 */
  CHECK_EQ(hc_get32(DATA_GPA + MID + 64 + 20), DATA_GPA + MID + 4); /* FDP */
  CHECK_EQ(env[8] | env[9] << 8, 0x3fff);                       /* ST0 valid: tag 00 at R7 */
  CHECK_EQ(hc_get32(DATA_GPA + MID + 64 + 4) & 0xffff, 0x3800);    /* TOP 7 */
  CHECK_EQ(hc_vm.mem[DATA_GPA + MID + 96] & 0x3f, 0x3f);            /* FNSTENV masked everything */
  /* fld1; fldz; fxsave [rsi] */
  static const uint8_t code2[] = {0xd9, 0xe8, 0xd9, 0xee, 0x0f, 0xae, 0x06};
  s = plain_state();
  CHECK_EQ(engine_exec(code2, sizeof(code2), &s, false), RES_OK);
  const uint8_t *a = hc_vm.mem + DATA_GPA + MID;
  CHECK_EQ(a[32 + 9], 0);         /* ST0 = +0 */
  CHECK_EQ(a[48 + 9], 0x3f);      /* ST1 = 1.0 */
  CHECK_EQ(a[4], 0xc0);           /* R6 and R7 valid */
}

static void test_cpuid_bits(void)
{
  struct kvm_cpuid2 *c = vmt_supported_cpuid(hc_vm.sys);
  CHECK(c != NULL);
  if (!c) return;
  uint32_t l1d = 0;
  for (uint32_t i = 0; i < c->nent; i++)
    if (c->entries[i].function == 1) l1d = c->entries[i].edx;
  CHECK_EQ(l1d & (1u << 0 | 1u << 15 | 1u << 23), 1u << 0 | 1u << 15 | 1u << 23);   /* FPU CMOV MMX */
  free(c);
}

int main(void)
{
  hc_seed(SEED);
  int rc = hc_setup(DATA_SIZE, MID, true);
  if (rc == 0) {
    for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) run_form(&forms[i]);
    printf("%u forms: %d cases compared with the host, %d mismatching\n",
           (unsigned)(sizeof(forms) / sizeof(forms[0])), n_native, n_mismatch);
    test_faults();
    test_mf();
    test_pointers();
    test_cpuid_bits();
  }
  hc_fini();
  return test_summary();
}
