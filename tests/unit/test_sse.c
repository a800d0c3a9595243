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
#include <sys/mman.h>

#include "softkvm.h"
#include "testlib.h"
#include "vmtest.h"

#define GUEST_MEM 0x200000
#define GDT_GPA 0x500
#define IDT_GPA 0x1000
#define PML4_GPA 0x2000
#define PDPT_GPA 0x3000
#define PD_GPA 0x4000
#define MX_GPA 0x6000 /* MXCSR in (+0), out (+4) */
#define CODE_GPA 0x8000
#define STUB_GPA 0x9000 /* exception stubs: mov eax, vector; hlt (16 bytes apart) */
#define DATA_GPA 0x10000
#define DATA_SIZE 0x1000
#define MID 0x800
#define STACK_TOP 0x20000
#define ITERS 150

#define F_CF 0x1u
#define F_PF 0x4u
#define F_AF 0x10u
#define F_ZF 0x40u
#define F_SF 0x80u
#define F_OF 0x800u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };
enum { K_NONE, K_SHCNT, K_LDMX };
enum { FT_NONE, FT_SSE3, FT_COUNT };

struct form {
  const char *text;
  uint8_t bytes[15];
  int len;
  int kind, arg, feat;
};

static const struct form forms[] = {
#include "sse_forms.h"
};

struct st {
  uint64_t r[16];
  uint64_t fl;
  uint64_t mx;
  uint8_t x[16][16];
};

/* ---- native execution ---- */
void sse_native_enter(struct st *s, void *code);
__asm__(".text\n"
        ".type sse_native_enter,@function\n"
        "sse_native_enter:\n"
        "push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "push %rdi\n push %rsi\n"
        "movdqu 144(%rdi),%xmm0\n movdqu 160(%rdi),%xmm1\n movdqu 176(%rdi),%xmm2\n"
        "movdqu 192(%rdi),%xmm3\n movdqu 208(%rdi),%xmm4\n movdqu 224(%rdi),%xmm5\n"
        "movdqu 240(%rdi),%xmm6\n movdqu 256(%rdi),%xmm7\n movdqu 272(%rdi),%xmm8\n"
        "movdqu 288(%rdi),%xmm9\n movdqu 304(%rdi),%xmm10\n movdqu 320(%rdi),%xmm11\n"
        "movdqu 336(%rdi),%xmm12\n movdqu 352(%rdi),%xmm13\n movdqu 368(%rdi),%xmm14\n"
        "movdqu 384(%rdi),%xmm15\n ldmxcsr 136(%rdi)\n"
        "pushq 128(%rdi)\n popfq\n"
        "mov 0(%rdi),%rax\n mov 8(%rdi),%rcx\n mov 16(%rdi),%rdx\n mov 24(%rdi),%rbx\n"
        "mov 40(%rdi),%rbp\n mov 48(%rdi),%rsi\n mov 64(%rdi),%r8\n mov 72(%rdi),%r9\n"
        "mov 80(%rdi),%r10\n mov 88(%rdi),%r11\n mov 96(%rdi),%r12\n mov 104(%rdi),%r13\n"
        "mov 112(%rdi),%r14\n mov 120(%rdi),%r15\n mov 56(%rdi),%rdi\n"
        "call *(%rsp)\n"
        "push %rdi\n mov 16(%rsp),%rdi\n"
        "mov %rax,0(%rdi)\n mov %rcx,8(%rdi)\n mov %rdx,16(%rdi)\n mov %rbx,24(%rdi)\n"
        "mov %rbp,40(%rdi)\n mov %rsi,48(%rdi)\n mov %r8,64(%rdi)\n mov %r9,72(%rdi)\n"
        "mov %r10,80(%rdi)\n mov %r11,88(%rdi)\n mov %r12,96(%rdi)\n mov %r13,104(%rdi)\n"
        "mov %r14,112(%rdi)\n mov %r15,120(%rdi)\n"
        "pop %rax\n mov %rax,56(%rdi)\n"
        "pushfq\n pop %rax\n mov %rax,128(%rdi)\n"
        "stmxcsr 136(%rdi)\n"
        "movdqu %xmm0,144(%rdi)\n movdqu %xmm1,160(%rdi)\n movdqu %xmm2,176(%rdi)\n"
        "movdqu %xmm3,192(%rdi)\n movdqu %xmm4,208(%rdi)\n movdqu %xmm5,224(%rdi)\n"
        "movdqu %xmm6,240(%rdi)\n movdqu %xmm7,256(%rdi)\n movdqu %xmm8,272(%rdi)\n"
        "movdqu %xmm9,288(%rdi)\n movdqu %xmm10,304(%rdi)\n movdqu %xmm11,320(%rdi)\n"
        "movdqu %xmm12,336(%rdi)\n movdqu %xmm13,352(%rdi)\n movdqu %xmm14,368(%rdi)\n"
        "movdqu %xmm15,384(%rdi)\n"
        "add $16,%rsp\n"
        "pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret\n"
        ".size sse_native_enter,.-sse_native_enter\n");

static uint8_t *jit;   /* one page: instruction + RET */
static uint8_t *ndata; /* the native data buffer */
static bool host_has[FT_COUNT];

static bool native_run(const struct form *f, struct st *s)
{
  if (mprotect(jit, 4096, PROT_READ | PROT_WRITE)) return false;
  memcpy(jit, f->bytes, f->len);
  jit[f->len] = 0xc3;
  if (mprotect(jit, 4096, PROT_READ | PROT_EXEC)) return false;
  uint32_t host;
  __asm__ volatile("stmxcsr %0" : "=m"(host));
  sse_native_enter(s, jit);
  __asm__ volatile("ldmxcsr %0" : : "m"(host));
  s->mx &= 0xffffffffu;
  return true;
}

/* ---- the engine: one long-mode VM with an IDT whose stubs report the vector in EAX ---- */
static struct vmt T;

static void put64(uint64_t gpa, uint64_t v) { memcpy(T.mem + gpa, &v, 8); }
static void put32(uint64_t gpa, uint32_t v) { memcpy(T.mem + gpa, &v, 4); }
static uint32_t get32(uint64_t gpa) { uint32_t v; memcpy(&v, T.mem + gpa, 4); return v; }

static struct kvm_sregs base_sregs;

static int setup_vm(void)
{
  if (vmt_init(&T, GUEST_MEM) || vmt_set_cpuid(&T)) return -1;
  struct kvm_sregs s;
  if (skvm_ioctl(T.vcpu, KVM_GET_SREGS, &s)) return -1;
  struct kvm_segment code = {.base = 0, .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1,
                             .s = 1, .l = 1, .g = 1};
  struct kvm_segment data = code;
  data.selector = 0x10, data.type = 3, data.l = 0, data.db = 1;
  s.cs = code;
  s.ds = s.es = s.fs = s.gs = s.ss = data;
  put64(GDT_GPA + 8, 0x00af9b000000ffffULL);
  put64(GDT_GPA + 16, 0x00cf93000000ffffULL);
  s.gdt.base = GDT_GPA, s.gdt.limit = 0x17;
  for (int v = 0; v < 32; v++) {
    uint64_t h = STUB_GPA + v * 16;
    put64(IDT_GPA + v * 16, (h & 0xffff) | 8ULL << 16 | 0x8eULL << 40 | (h >> 16 & 0xffff) << 48);
    put64(IDT_GPA + v * 16 + 8, h >> 32);
    T.mem[h] = 0xb8;
    put32(h + 1, (uint32_t)v);
    T.mem[h + 5] = 0xf4;
  }
  s.idt.base = IDT_GPA, s.idt.limit = 32 * 16 - 1;
  put64(PML4_GPA, PDPT_GPA | 3);
  put64(PDPT_GPA, PD_GPA | 3);
  put64(PD_GPA, 0x83); /* 2 MiB identity page */
  s.cr0 = 0x80050033, s.cr4 = 0x620, s.efer = 0x500, s.cr3 = PML4_GPA;
  base_sregs = s;
  return skvm_ioctl(T.vcpu, KVM_SET_SREGS, &s);
}

static void set_cr(uint64_t cr0, uint64_t cr4)
{
  struct kvm_sregs s = base_sregs;
  s.cr0 = cr0, s.cr4 = cr4;
  CHECK_EQ(skvm_ioctl(T.vcpu, KVM_SET_SREGS, &s), 0);
}

static const int kvm_order[16] = {RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, 8, 9, 10, 11, 12, 13, 14, 15};

enum { RES_OK = 0, RES_BADRIP = -2, RES_EXC = 100 };

/* Runs code+HLT at CODE_GPA with the state in *s; returns RES_OK (reached the HLT), RES_EXC + vector
 * (an exception reached its stub), another KVM exit reason, or RES_BADRIP. */
static int engine_exec(const uint8_t *code, int len, struct st *s)
{
  memcpy(T.mem + CODE_GPA, code, len);
  T.mem[CODE_GPA + len] = 0xf4;
  struct kvm_regs r;
  memset(&r, 0, sizeof(r));
  uint64_t *rr = (uint64_t *)&r.rax;
  for (int i = 0; i < 16; i++) rr[i] = s->r[kvm_order[i]];
  r.rsp = STACK_TOP, r.rip = CODE_GPA, r.rflags = s->fl;
  struct kvm_fpu fpu;
  if (skvm_ioctl(T.vcpu, KVM_GET_FPU, &fpu)) return -1;
  memcpy(fpu.xmm, s->x, sizeof(s->x));
  if (skvm_ioctl(T.vcpu, KVM_SET_REGS, &r) || skvm_ioctl(T.vcpu, KVM_SET_FPU, &fpu)) return -1;
  if (vmt_run(&T)) return -1;
  r = vmt_regs(&T);
  for (int i = 0; i < 16; i++) s->r[kvm_order[i]] = rr[i];
  s->fl = r.rflags;
  if (skvm_ioctl(T.vcpu, KVM_GET_FPU, &fpu)) return -1;
  memcpy(s->x, fpu.xmm, sizeof(s->x));
  if (T.run->exit_reason != KVM_EXIT_HLT) return (int)T.run->exit_reason;
  if (r.rip == (uint64_t)CODE_GPA + len + 1) return RES_OK;
  if (r.rip >= STUB_GPA && r.rip < STUB_GPA + 32 * 16 && (r.rip & 15) == 6) return RES_EXC + (int)((r.rip - STUB_GPA) / 16);
  return RES_BADRIP;
}

/* The instruction between LDMXCSR [MX_GPA] and STMXCSR [MX_GPA+4]. */
static int engine_run(const uint8_t *insn, int len, struct st *s)
{
  uint8_t code[40];
  static const uint8_t ld[] = {0x0f, 0xae, 0x14, 0x25}, stx[] = {0x0f, 0xae, 0x1c, 0x25};
  uint32_t a = MX_GPA, b = MX_GPA + 4;
  memcpy(code, ld, 4), memcpy(code + 4, &a, 4);
  memcpy(code + 8, insn, len);
  memcpy(code + 8 + len, stx, 4), memcpy(code + 12 + len, &b, 4);
  put32(MX_GPA, (uint32_t)s->mx);
  put32(MX_GPA + 4, 0xdeadbeef);
  int rc = engine_exec(code, len + 16, s);
  s->mx = get32(MX_GPA + 4);
  return rc;
}

/* ---- inputs ---- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return rng_state;
}

static const uint32_t f32_special[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0xffe00001,
    0x7f800001, 0x7fa00000, 0xff812345, 0x00000001, 0x807fffff, 0x00400000, 0x7f7fffff, 0xff7fffff,
    0x00800000, 0x80800000, 0x3f800000, 0xbf800000, 0x3f000000, 0xbf000000, 0x3fc00000, 0x40200000,
    0xc0200000, 0x4f000000, 0xcf000000, 0x4effffff, 0x5f000000, 0xdf000000, 0x5effffff, 0x4b800001,
    0x3eaaaaab, 0x00ffffff, 0x7effffff, 0x4f800000};
static const uint64_t f64_special[] = {
    0x0000000000000000ULL, 0x8000000000000000ULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL,
    0x7ff8000000000000ULL, 0xfff8000000000000ULL, 0x7ff8000012345678ULL, 0x7ff0000000000001ULL,
    0xfff4000000000000ULL, 0x7ff0123456789abcULL, 0x0000000000000001ULL, 0x800fffffffffffffULL,
    0x0010000000000000ULL, 0x7fefffffffffffffULL, 0xffefffffffffffffULL, 0x3ff0000000000000ULL,
    0xbff0000000000000ULL, 0x3fe0000000000000ULL, 0xbfe0000000000000ULL, 0x3ff8000000000000ULL,
    0x4004000000000000ULL, 0xc004000000000000ULL, 0x41e0000000000000ULL, 0xc1e0000000000000ULL,
    0x41dfffffffc00000ULL, 0x41dfffffffe00000ULL, 0xc1e0000000100000ULL, 0x43e0000000000000ULL,
    0xc3e0000000000000ULL, 0x43dfffffffffffffULL, 0x3810000000000000ULL, 0x380fffffffffffffULL,
    0x47efffffe0000000ULL, 0x47efffff00000000ULL, 0x36a0000000000000ULL, 0x3fd5555555555555ULL,
    0x4340000000000001ULL};

static uint32_t rnd_f32(void)
{
  switch (rng() % 4) {
  case 0: case 1: return f32_special[rng() % (sizeof(f32_special) / 4)];
  case 2: return (uint32_t)(rng() & 0x80000000u) | (uint32_t)(100 + rng() % 60) << 23 | (uint32_t)(rng() & 0x7fffff);
  default: return (uint32_t)rng();
  }
}

static uint64_t rnd_f64(void)
{
  switch (rng() % 4) {
  case 0: case 1: return f64_special[rng() % (sizeof(f64_special) / 8)];
  case 2: return (rng() & 0x8000000000000000ULL) | (900 + rng() % 250) << 52 | (rng() & 0xfffffffffffffULL);
  default: return rng();
  }
}

static uint64_t rnd_int(void)
{
  switch (rng() % 10) {
  case 0: return 0;
  case 1: return ~0ULL;
  case 2: return rng() % 80;
  case 3: return 1ULL << (rng() % 64);
  case 4: return (1ULL << (rng() % 64)) - 1;
  case 5: return -(rng() % 80);
  case 6: return 0x80000000ULL | (rng() & 1) << 63;
  case 7: return (1ULL << 24) + 1 + (rng() % 2) * ((1ULL << 53) - (1ULL << 24));
  case 8: return (uint64_t)(int64_t)(int32_t)rng();
  default: return rng();
  }
}

static void fill_vec(uint8_t *v)
{
  switch (rng() % 4) {
  case 0:
    for (int i = 0; i < 4; i++) { uint32_t x = rnd_f32(); memcpy(v + i * 4, &x, 4); }
    break;
  case 1:
    for (int i = 0; i < 2; i++) { uint64_t x = rnd_f64(); memcpy(v + i * 8, &x, 8); }
    break;
  case 2:
    for (int i = 0; i < 2; i++) { uint64_t x = rng(); memcpy(v + i * 8, &x, 8); }
    break;
  default:
    for (int i = 0; i < 2; i++) { uint64_t x = rnd_int(); memcpy(v + i * 8, &x, 8); }
    break;
  }
}

static uint32_t rnd_mxcsr(void)
{
  if (rng() % 4 == 0) return 0x1f80;
  return 0x1f80 | (uint32_t)(rng() & 0x3f) | (uint32_t)(rng() % 4) << 13 | (uint32_t)(rng() & 1) << 6 |
         (uint32_t)(rng() & 1) << 15;
}

static void make_input(const struct form *f, struct st *s, uint8_t *data)
{
  for (int i = 0; i < 16; i++) s->r[i] = rnd_int();
  s->r[RSP] = 0;
  s->fl = 2 | (rng() & F_ARITH);
  s->mx = rnd_mxcsr();
  for (int i = 0; i < 16; i++) fill_vec(s->x[i]);
  for (int i = 0; i < DATA_SIZE; i += 16) fill_vec(data + i);
  if (rng() % 5 == 0) { /* equal operands (compares, min/max of equal values) */
    memcpy(s->x[1], s->x[0], 16);
    memcpy(s->x[3], s->x[9], 16);
    memcpy(data + MID, s->x[2], 16);
    memcpy(data + MID + 16, s->x[2], 16);
  }
  switch (f->kind) {
  case K_SHCNT:
    if (rng() % 4) {
      uint64_t c = rng() % 70;
      memcpy(s->x[1], &c, 8);
      memcpy(data + MID + 16, &c, 8);
    }
    break;
  case K_LDMX: {
    uint32_t m = (uint32_t)rng() & 0xffff;
    memcpy(data + MID + f->arg, &m, 4);
    break;
  }
  }
}

static int n_native, n_engine_only, n_mismatch;

static void run_form(const struct form *f)
{
  static uint8_t init[DATA_SIZE];
  bool native = host_has[f->feat];
  int fails = 0;
  for (int it = 0; it < ITERS && fails < 3; it++) {
    struct st in, e, n;
    make_input(f, &in, init);
    uint64_t gbase = DATA_GPA + MID, hbase = (uint64_t)(uintptr_t)ndata + MID;
    e = in, n = in;
    e.r[RSI] = gbase, n.r[RSI] = hbase;
    e.r[RDI] = gbase + 64, n.r[RDI] = hbase + 64;
    memcpy(T.mem + DATA_GPA, init, DATA_SIZE);
    int ex = engine_run(f->bytes, f->len, &e);
    if (ex != RES_OK) {
      test_fail(__FILE__, __LINE__, "%s: engine result %d (want HLT)%s%02x %02x %02x", f->text, ex,
                ex == KVM_EXIT_INTERNAL_ERROR ? ", failing bytes " : "", T.run->emulation_failure.insn_bytes[0],
                T.run->emulation_failure.insn_bytes[1], T.run->emulation_failure.insn_bytes[2]);
      fails++;
      continue;
    }
    test_passed++;
    if (!native) { n_engine_only++; continue; }
    memcpy(ndata, init, DATA_SIZE);
    if (!native_run(f, &n)) {
      for (int k = 0; k < FT_COUNT; k++) host_has[k] = false;
      n_engine_only++;
      continue;
    }
    n_native++;
    e.r[RSI] -= gbase, n.r[RSI] -= hbase;
    e.r[RDI] -= gbase, n.r[RDI] -= hbase;
    bool bad = false;
    for (int i = 0; i < 16; i++) {
      if (i == RSP || e.r[i] == n.r[i]) continue;
      test_fail(__FILE__, __LINE__, "%s: reg %d engine 0x%llx native 0x%llx (input 0x%llx)", f->text, i,
                (unsigned long long)e.r[i], (unsigned long long)n.r[i], (unsigned long long)in.r[i]);
      bad = true;
    }
    if ((e.fl ^ n.fl) & F_ARITH) {
      test_fail(__FILE__, __LINE__, "%s: flags engine 0x%llx native 0x%llx", f->text,
                (unsigned long long)e.fl, (unsigned long long)n.fl);
      bad = true;
    }
    if (e.mx != n.mx) {
      test_fail(__FILE__, __LINE__, "%s: mxcsr engine 0x%llx native 0x%llx (input 0x%llx)", f->text,
                (unsigned long long)e.mx, (unsigned long long)n.mx, (unsigned long long)in.mx);
      bad = true;
    }
    for (int i = 0; i < 16; i++) {
      if (!memcmp(e.x[i], n.x[i], 16)) continue;
      uint64_t a[2], b[2], c[2];
      memcpy(a, e.x[i], 16), memcpy(b, n.x[i], 16), memcpy(c, in.x[i], 16);
      test_fail(__FILE__, __LINE__, "%s: xmm%d engine %016llx%016llx native %016llx%016llx (input %016llx%016llx, mxcsr 0x%llx)",
                f->text, i, (unsigned long long)a[1], (unsigned long long)a[0], (unsigned long long)b[1],
                (unsigned long long)b[0], (unsigned long long)c[1], (unsigned long long)c[0],
                (unsigned long long)in.mx);
      bad = true;
    }
    if (memcmp(T.mem + DATA_GPA, ndata, DATA_SIZE)) {
      int off = 0;
      while (T.mem[DATA_GPA + off] == ndata[off]) off++;
      test_fail(__FILE__, __LINE__, "%s: memory differs at MID%+d", f->text, off - MID);
      bad = true;
    }
    if (bad) {
      fails++, n_mismatch++;
      uint64_t x0[2], x1[2];
      memcpy(x0, in.x[0], 16), memcpy(x1, in.x[1], 16);
      fprintf(stderr, "  input: xmm0 %016llx%016llx xmm1 %016llx%016llx rax %llx\n",
              (unsigned long long)x0[1], (unsigned long long)x0[0], (unsigned long long)x1[1],
              (unsigned long long)x1[0], (unsigned long long)in.r[RAX]);
    } else {
      test_passed++;
    }
  }
}

/* ---- faults (engine only) ---- */

static struct st plain_state(void)
{
  struct st s;
  memset(&s, 0, sizeof(s));
  s.fl = 2;
  s.mx = 0x1f80;
  s.r[RSI] = DATA_GPA + MID;
  s.r[RDI] = DATA_GPA + MID + 64;
  for (int i = 0; i < 16; i++) memset(s.x[i], 0x11 * (i + 1), 16);
  return s;
}

#define CR0_BASE 0x80050033ULL
#define CR4_BASE 0x620ULL

/* code (no LDMXCSR/STMXCSR around it) under cr0/cr4: the result of engine_exec */
static int fault_of(const uint8_t *code, int len, uint64_t cr0, uint64_t cr4)
{
  struct st s = plain_state();
  set_cr(cr0, cr4);
  int rc = engine_exec(code, len, &s);
  set_cr(CR0_BASE, CR4_BASE);
  return rc;
}

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

  CHECK_EQ(fault_of(addps, 3, CR0_BASE, CR4_BASE & ~0x200ULL), RES_EXC + 6);   /* OSFXSR clear */
  CHECK_EQ(fault_of(ldmx, 3, CR0_BASE, CR4_BASE & ~0x200ULL), RES_EXC + 6);
  CHECK_EQ(fault_of(addps, 3, CR0_BASE | 4, CR4_BASE), RES_EXC + 6);           /* CR0.EM */
  CHECK_EQ(fault_of(addps, 3, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);           /* CR0.TS */
  CHECK_EQ(fault_of(addps, 3, CR0_BASE | 8 | 4, CR4_BASE), RES_EXC + 6);       /* #UD before #NM */
  CHECK_EQ(fault_of(ldmx, 3, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);
  CHECK_EQ(fault_of(fxsave, 3, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);
  CHECK_EQ(fault_of(fxsave, 3, CR0_BASE | 4, CR4_BASE), RES_EXC + 7);          /* FXSAVE: EM is #NM */
  CHECK_EQ(fault_of(fxsave, 3, CR0_BASE, CR4_BASE & ~0x600ULL), RES_OK);       /* not OSFXSR-gated */
  CHECK_EQ(fault_of(movnti, 3, CR0_BASE | 8 | 4, CR4_BASE & ~0x200ULL), RES_OK); /* a GPR store */
  CHECK_EQ(fault_of(movaps_l, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(fault_of(movdqa_l, 5, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(fault_of(addps_m, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(fault_of(punpck_m, 5, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(fault_of(fxsave_m, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(fault_of(fxrstor_m, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK_EQ(fault_of(movups_l, 4, CR0_BASE, CR4_BASE), RES_OK);
  CHECK_EQ(fault_of(addss_m, 5, CR0_BASE, CR4_BASE), RES_OK);
  /* a misaligned aligned store leaves memory alone */
  memset(T.mem + DATA_GPA + MID, 0x5a, 32);
  CHECK_EQ(fault_of(movaps_s, 4, CR0_BASE, CR4_BASE), RES_EXC + 13);
  CHECK(T.mem[DATA_GPA + MID + 8] == 0x5a && T.mem[DATA_GPA + MID + 23] == 0x5a);
  /* a store crossing into an unmapped page: #PF, and the mapped half is not written either */
  static const uint8_t movups_s[] = {0x0f, 0x11, 0x06};                 /* movups [rsi], xmm0 */
  static const uint8_t fxsave64[] = {0x48, 0x0f, 0xae, 0x06};           /* fxsave64 [rsi] */
  for (int k = 0; k < 2; k++) {
    struct st s = plain_state();
    s.r[RSI] = GUEST_MEM - (k ? 256 : 8);
    memset(T.mem + GUEST_MEM - 256, 0x77, 256);
    CHECK_EQ(engine_exec(k ? fxsave64 : movups_s, k ? 4 : 3, &s), RES_EXC + 14);
    CHECK(T.mem[GUEST_MEM - 256] == 0x77 && T.mem[GUEST_MEM - 1] == 0x77);
  }
  /* LDMXCSR with a reserved bit: #GP(0), MXCSR unchanged */
  put32(DATA_GPA + MID, 0x10000 | 0x1f80);
  CHECK_EQ(fault_of(ldmx, 3, CR0_BASE, CR4_BASE), RES_EXC + 13);
  put32(DATA_GPA + MID, 0xffff);
  CHECK_EQ(fault_of(ldmx, 3, CR0_BASE, CR4_BASE), RES_OK);   /* DAZ and everything below bit 16 */
}

/* divps xmm0, xmm1 by zero with ZM clear: #XM (or #UD without CR4.OSXMMEXCPT), xmm0 unchanged,
 * ZE set in MXCSR; a masked-only flag does not fault. */
static void test_unmasked(void)
{
  static const uint8_t code[] = {0x0f, 0xae, 0x16,   /* ldmxcsr [rsi] */
                                 0x0f, 0x5e, 0xc1};  /* divps xmm0, xmm1 */
  static const uint8_t stx[] = {0x0f, 0xae, 0x1e};   /* stmxcsr [rsi] */
  for (int osxmm = 0; osxmm < 2; osxmm++) {
    struct st s = plain_state();
    float one = 1.0f, zero = 0.0f;
    for (int i = 0; i < 4; i++) memcpy(s.x[0] + i * 4, &one, 4), memcpy(s.x[1] + i * 4, &zero, 4);
    uint8_t before[16];
    memcpy(before, s.x[0], 16);
    put32(DATA_GPA + MID, 0x1f80 & ~0x200u);   /* ZM clear */
    set_cr(CR0_BASE, osxmm ? CR4_BASE : CR4_BASE & ~0x400ULL);
    CHECK_EQ(engine_exec(code, sizeof(code), &s), RES_EXC + (osxmm ? 19 : 6));
    CHECK(!memcmp(s.x[0], before, 16));
    s.r[RSI] = DATA_GPA + MID;
    CHECK_EQ(engine_exec(stx, sizeof(stx), &s), RES_OK);
    CHECK_EQ(get32(DATA_GPA + MID), (0x1f80 & ~0x200u) | 0x4);
    set_cr(CR0_BASE, CR4_BASE);
  }
  /* 1/3 with PM clear: #XM with PE set (a post-computation exception) */
  struct st s = plain_state();
  float one = 1.0f, three = 3.0f;
  for (int i = 0; i < 4; i++) memcpy(s.x[0] + i * 4, &one, 4), memcpy(s.x[1] + i * 4, &three, 4);
  put32(DATA_GPA + MID, 0x1f80 & ~0x1000u);
  CHECK_EQ(engine_exec(code, sizeof(code), &s), RES_EXC + 19);
  s.r[RSI] = DATA_GPA + MID;
  CHECK_EQ(engine_exec(stx, sizeof(stx), &s), RES_OK);
  CHECK_EQ(get32(DATA_GPA + MID), (0x1f80 & ~0x1000u) | 0x20);
  /* masked: no fault, result written */
  put32(DATA_GPA + MID, 0x1f80);
  s = plain_state();
  for (int i = 0; i < 4; i++) memcpy(s.x[0] + i * 4, &one, 4), memcpy(s.x[1] + i * 4, &three, 4);
  CHECK_EQ(engine_exec(code, sizeof(code), &s), RES_OK);
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
    CHECK_EQ(skvm_ioctl(T.vcpu, KVM_GET_FPU, &f), 0);
    f.fcw = 0x027f, f.fsw = 0x3800, f.ftwx = 0x81, f.last_opcode = 0x1d9;
    f.last_ip = 0x1122334455667788ULL, f.last_dp = 0x99aabbccddeeff00ULL;
    for (int i = 0; i < 8; i++) for (int j = 0; j < 16; j++) f.fpr[i][j] = (uint8_t)(i * 16 + j);
    for (int i = 0; i < 16; i++) for (int j = 0; j < 16; j++) f.xmm[i][j] = (uint8_t)(0x80 + i * 7 + j);
    CHECK_EQ(skvm_ioctl(T.vcpu, KVM_SET_FPU, &f), 0);
    memset(T.mem + DATA_GPA + MID, 0xee, 512);
    put32(DATA_GPA + MID - 4, 0x9fc0);
    uint8_t code[16];
    memcpy(code, ldmx, 4);
    memcpy(code + 4, form ? save64 : save, form ? 4 : 3);
    struct st s = plain_state();
    memcpy(s.x, f.xmm, sizeof(s.x));
    CHECK_EQ(engine_exec(code, form ? 8 : 7, &s), RES_OK);
    const uint8_t *a = T.mem + DATA_GPA + MID;
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
  uint8_t *a = T.mem + DATA_GPA + MID;
  put32(DATA_GPA + MID + 24, 0x3f80);
  memset(a + 160 + 16 * 5, 0x42, 16);
  memset(a + 160 + 16 * 15, 0x43, 16);
  a[4] = 0x0f;
  memset(a + 32, 0x99, 10);
  struct st s = plain_state();
  CHECK_EQ(engine_exec(rstor64, 4, &s), RES_OK);
  struct kvm_fpu f;
  CHECK_EQ(skvm_ioctl(T.vcpu, KVM_GET_FPU, &f), 0);
  CHECK_EQ(f.ftwx, 0x0f);
  CHECK_EQ(f.fcw, 0x027f);
  CHECK_EQ(f.fpr[0][9], 0x99);
  CHECK_EQ(f.xmm[5][0], 0x42);
  CHECK_EQ(f.xmm[15][15], 0x43);
  CHECK_EQ(s.x[5][3], 0x42);
  static const uint8_t stx[] = {0x0f, 0xae, 0x5e, 0xfc};   /* stmxcsr [rsi-4] */
  CHECK_EQ(engine_exec(stx, 4, &s), RES_OK);
  CHECK_EQ(get32(DATA_GPA + MID - 4), 0x3f80);
  /* a reserved MXCSR bit in the image: #GP(0) */
  put32(DATA_GPA + MID + 24, 0x21f80);
  s = plain_state();
  CHECK_EQ(engine_exec(rstor64, 4, &s), RES_EXC + 13);
  set_cr(CR0_BASE, CR4_BASE);
}

/* The string instructions share the MOVSD/CMPSD mnemonics with the SSE2 ones. */
static void test_string_forms(void)
{
  static const uint8_t movsd[] = {0xf3, 0xa5};   /* rep movsd */
  static const uint8_t cmpsd[] = {0xa7};         /* cmpsd */
  struct st s = plain_state();
  s.r[RCX] = 3;
  s.r[RSI] = DATA_GPA + MID, s.r[RDI] = DATA_GPA + MID + 256;
  for (int i = 0; i < 16; i++) T.mem[DATA_GPA + MID + i] = (uint8_t)(i + 1);
  memset(T.mem + DATA_GPA + MID + 256, 0, 16);
  CHECK_EQ(engine_exec(movsd, 2, &s), RES_OK);
  CHECK(!memcmp(T.mem + DATA_GPA + MID, T.mem + DATA_GPA + MID + 256, 12));
  CHECK_EQ(T.mem[DATA_GPA + MID + 256 + 12], 0);
  CHECK_EQ(s.r[RCX], 0);
  CHECK_EQ(s.r[RSI], DATA_GPA + MID + 12);
  s.r[RSI] = DATA_GPA + MID, s.r[RDI] = DATA_GPA + MID + 256;
  CHECK_EQ(engine_exec(cmpsd, 1, &s), RES_OK);
  CHECK(s.fl & F_ZF);
  CHECK_EQ(s.r[RDI], DATA_GPA + MID + 260);
}

static void test_cpuid_bits(void)
{
  struct kvm_cpuid2 *c = vmt_supported_cpuid(T.sys);
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
  jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ndata = mmap(NULL, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(jit != MAP_FAILED && ndata != MAP_FAILED);
  int rc = setup_vm();
  CHECK_EQ(rc, 0);
  if (rc == 0 && jit != MAP_FAILED && ndata != MAP_FAILED) {
    for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) run_form(&forms[i]);
    printf("%u forms: %d cases compared with the host, %d engine-only, %d mismatching\n",
           (unsigned)(sizeof(forms) / sizeof(forms[0])), n_native, n_engine_only, n_mismatch);
    test_faults();
    test_unmasked();
    test_fxsave();
    test_string_forms();
    test_cpuid_bits();
  }
  vmt_fini(&T);
  return test_summary();
}
