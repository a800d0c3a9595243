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
enum { K_NONE, K_RIMM, K_STR };
enum { FT_NONE, FT_SSSE3, FT_SSE41, FT_SSE42, FT_COUNT };

struct form {
  const char *text;
  uint8_t bytes[24];
  int len;
  int kind, arg, feat;
};

static const struct form forms[] = {
#include "sse4_forms.h"
};

struct st {
  uint64_t r[16];
  uint64_t fl;
  uint64_t mx;
  uint8_t x[16][16];
};

/* ---- native execution ---- */
void sse4_native_enter(struct st *s, void *code);
__asm__(".text\n"
        ".type sse4_native_enter,@function\n"
        "sse4_native_enter:\n"
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
        ".size sse4_native_enter,.-sse4_native_enter\n");

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
  sse4_native_enter(s, jit);
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
  if (f->kind == K_STR) {
    static const uint8_t alpha[] = {0, 'a', 'b', 'c', 'A', 0x80, 0xff, 'a'};
    int zero_odds = 3 + (int)(rng() % 20);
    for (int i = 0; i < 16; i++)
      for (int j = 0; j < 16; j++) s->x[i][j] = (rng() % zero_odds) ? alpha[1 + rng() % 7] : alpha[rng() % 8];
    for (int j = 0; j < DATA_SIZE; j++) data[j] = (rng() % zero_odds) ? alpha[1 + rng() % 7] : alpha[rng() % 8];
    if (rng() % 4) {
      s->r[RAX] = (uint64_t)(int64_t)((int)(rng() % 41) - 20);
      s->r[RDX] = (uint64_t)(int64_t)((int)(rng() % 41) - 20);
      if (rng() % 3 == 0) s->r[RAX] = (uint32_t)s->r[RAX];   /* negative only as a 32-bit value */
    }
  }
}

static int n_native, n_engine_only, n_mismatch;

static void run_form(const struct form *f0)
{
  static uint8_t init[DATA_SIZE];
  struct form fm = *f0;
  const struct form *f = &fm;
  bool native = host_has[f->feat];
  int fails = 0;
  for (int it = 0; it < ITERS && fails < 3; it++) {
    struct st in, e, n;
    make_input(f, &in, init);
    if (f->kind == K_RIMM || f->kind == K_STR) fm.bytes[f->arg ? f->arg : fm.len - 1] = (uint8_t)rng();
    uint64_t gbase = DATA_GPA + MID, hbase = (uint64_t)(uintptr_t)ndata + MID;
    e = in, n = in;
    e.r[RSI] = gbase, n.r[RSI] = hbase;
    e.r[RDI] = gbase + 64, n.r[RDI] = hbase + 64;
    memcpy(T.mem + DATA_GPA, init, DATA_SIZE);
    int ex = engine_run(f->bytes, f->len, &e);
    if (ex == KVM_EXIT_INTERNAL_ERROR && !native) { n_engine_only++; continue; }   /* host lacks it */
    if (ex != RES_OK) {
      test_fail(__FILE__, __LINE__, "%s (imm 0x%02x): engine result %d (want HLT)%s%02x %02x %02x", f->text, fm.bytes[fm.len - 1], ex,
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
      test_fail(__FILE__, __LINE__, "%s: imm 0x%02x reg %d engine 0x%llx native 0x%llx (input 0x%llx)", f->text, fm.bytes[fm.len - 1], i,
                (unsigned long long)e.r[i], (unsigned long long)n.r[i], (unsigned long long)in.r[i]);
      bad = true;
    }
    if ((e.fl ^ n.fl) & F_ARITH) {
      test_fail(__FILE__, __LINE__, "%s: imm 0x%02x flags engine 0x%llx native 0x%llx", f->text, fm.bytes[fm.len - 1],
                (unsigned long long)e.fl, (unsigned long long)n.fl);
      bad = true;
    }
    if (e.mx != n.mx) {
      test_fail(__FILE__, __LINE__, "%s: imm 0x%02x mxcsr engine 0x%llx native 0x%llx (input 0x%llx)", f->text, fm.bytes[fm.len - 1],
                (unsigned long long)e.mx, (unsigned long long)n.mx, (unsigned long long)in.mx);
      bad = true;
    }
    for (int i = 0; i < 16; i++) {
      if (!memcmp(e.x[i], n.x[i], 16)) continue;
      uint64_t a[2], b[2], c[2];
      memcpy(a, e.x[i], 16), memcpy(b, n.x[i], 16), memcpy(c, in.x[i], 16);
      test_fail(__FILE__, __LINE__, "%s: imm 0x%02x xmm%d engine %016llx%016llx native %016llx%016llx (input %016llx%016llx, mxcsr 0x%llx)",
                f->text, fm.bytes[fm.len - 1], i, (unsigned long long)a[1], (unsigned long long)a[0], (unsigned long long)b[1],
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
    CHECK_EQ(fault_of(pshufb, 5, CR0_BASE, CR4_BASE & ~0x200ULL), RES_EXC + 6);   /* OSFXSR clear */
    CHECK_EQ(fault_of(pshufb, 5, CR0_BASE | 4, CR4_BASE), RES_EXC + 6);           /* CR0.EM */
    CHECK_EQ(fault_of(pshufb, 5, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);           /* CR0.TS */
    CHECK_EQ(fault_of(pshufb, 5, CR0_BASE, CR4_BASE), RES_OK);
    CHECK_EQ(fault_of(palignr_m, 7, CR0_BASE, CR4_BASE), RES_EXC + 13);           /* misaligned m128 */
    static const uint8_t pshufb_mm[] = {0x0f, 0x38, 0x00, 0xc1};                /* pshufb mm0, mm1 */
    CHECK_EQ(fault_of(pshufb_mm, 4, CR0_BASE, CR4_BASE & ~0x600ULL), RES_OK);     /* no OSFXSR needed */
    CHECK_EQ(fault_of(pshufb_mm, 4, CR0_BASE | 4, CR4_BASE), RES_EXC + 6);
    CHECK_EQ(fault_of(pshufb_mm, 4, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);
  }
  if (sse41) {
    CHECK_EQ(fault_of(ptest_m, 6, CR0_BASE, CR4_BASE), RES_EXC + 13);
    CHECK_EQ(fault_of(movntdqa_m, 6, CR0_BASE, CR4_BASE), RES_EXC + 13);
    CHECK_EQ(fault_of(pmovsx_m, 6, CR0_BASE, CR4_BASE), RES_OK);                  /* m64: no alignment */
    CHECK_EQ(fault_of(roundss_m, 7, CR0_BASE, CR4_BASE), RES_OK);
    CHECK_EQ(fault_of(ptest_m, 6, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);          /* #NM before #GP */
  }
  if (sse42) {
    CHECK_EQ(fault_of(pcmpestri_m, 7, CR0_BASE, CR4_BASE), RES_OK);               /* unaligned allowed */
    CHECK_EQ(fault_of(pcmpestri_m, 7, CR0_BASE | 8, CR4_BASE), RES_EXC + 7);
    /* CRC32 is a general-purpose instruction: no CR0/CR4 gating */
    CHECK_EQ(fault_of(crc32, 5, CR0_BASE | 8 | 4, CR4_BASE & ~0x600ULL), RES_OK);
    struct st s = plain_state();
    uint32_t want = 0xffffffff;
    __asm__("crc32l %1, %0" : "+r"(want) : "r"(0x64636261u));
    s.r[RAX] = 0x12345678ffffffffULL;
    s.r[RCX] = 0x64636261; /* "abcd" */
    CHECK_EQ(engine_exec(crc32, 5, &s), RES_OK);
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
      struct st s = plain_state();
      float x = 1.5f;
      for (int i = 0; i < 4; i++) memcpy(s.x[1] + i * 4, &x, 4);
      uint8_t before[16];
      memcpy(before, s.x[0], 16);
      put32(DATA_GPA + MID, 0x1f80 & ~0x1000u);   /* PM clear */
      CHECK_EQ(engine_exec(sup ? code8 : code, sizeof(code), &s), sup ? RES_OK : RES_EXC + 19);
      if (!sup) CHECK(!memcmp(s.x[0], before, 16));
      else { float r; memcpy(&r, s.x[0], 4); CHECK(r == 2.0f); }
    }
  }
}

static void test_cpuid_bits(void)
{
  struct kvm_cpuid2 *c = vmt_supported_cpuid(T.sys);
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
    test_cpuid_bits();
  }
  vmt_fini(&T);
  return test_summary();
}
