/* Bit, atomic and BMI instructions (exec_bit.c, exec_atomic.c, exec_misc.c), checked against the
 * host CPU: each form in isa_bits_forms.h runs in the engine (64-bit mode, through KVM_RUN) and
 * natively (the same bytes, called from a trampoline that loads and saves all GPRs and RFLAGS) on
 * the same random inputs; the results, memory and the flags the SDM defines must agree. RSI (and
 * RBX for XLAT) point at a data buffer: guest-physical DATA_GPA+MID in the engine, a host buffer
 * natively, and are compared relative to it. A form whose feature the host lacks runs in the
 * engine only. RDRAND/RDSEED, CMPXCHG16B alignment and CPUID bits are checked on their own, and
 * two vCPUs on two threads hammer the LOCK forms to show they are host atomics. */
#define _GNU_SOURCE
#include <cpuid.h>
#include <linux/kvm.h>
#include <pthread.h>
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
#define PML4_GPA 0x2000
#define PDPT_GPA 0x3000
#define PD_GPA 0x4000
#define CODE_GPA 0x8000
#define DATA_GPA 0x10000
#define DATA_SIZE 0x4000
#define MID 0x2000 /* RSI = buffer + MID; BT register offsets reach +-4 KiB from it */
#define STACK_TOP 0x20000
#define ITERS 48

#define F_CF 0x1u
#define F_PF 0x4u
#define F_AF 0x10u
#define F_ZF 0x40u
#define F_SF 0x80u
#define F_OF 0x800u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };
enum { K_NONE, K_BITOFF, K_SPARSE, K_SHXD_CL, K_SHXD16_CL, K_SHXD_IMM, K_CMPXCHG, K_CX8, K_CX16,
       K_XLAT, K_BEXTR, K_BZHI };
enum { FT_NONE, FT_LZCNT, FT_BMI1, FT_BMI2, FT_ADX, FT_MOVBE, FT_POPCNT, FT_CX16, FT_CLFLUSHOPT,
       FT_CLWB, FT_COUNT };

struct form {
  const char *text;
  uint8_t bytes[15];
  int len;
  uint32_t fmask; /* flags to compare (0: computed, SHLD/SHRD) */
  int kind, arg, feat;
};

static const struct form forms[] = {
#include "isa_bits_forms.h"
};

struct st {
  uint64_t r[16];
  uint64_t fl;
};

/* ---- native execution: call the instruction bytes (followed by RET) with every GPR loaded ---- */
void isa_native_enter(struct st *s, void *code);
__asm__(".text\n"
        ".type isa_native_enter,@function\n"
        "isa_native_enter:\n"
        "push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "push %rdi\n push %rsi\n"
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
        "add $16,%rsp\n"
        "pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret\n"
        ".size isa_native_enter,.-isa_native_enter\n");

static uint8_t *jit;   /* one page: instruction + RET */
static uint8_t *ndata; /* the native data buffer */
static bool host_has[FT_COUNT];

/* Returns false (and runs nothing) where the host refuses executable memory. */
static bool native_run(const struct form *f, struct st *s)
{
  if (mprotect(jit, 4096, PROT_READ | PROT_WRITE)) return false;
  memcpy(jit, f->bytes, f->len);
  jit[f->len] = 0xc3;
  if (mprotect(jit, 4096, PROT_READ | PROT_EXEC)) return false;
  isa_native_enter(s, jit);
  return true;
}

static void host_features(void)
{
  unsigned a, b, c, d;
  host_has[FT_NONE] = true;
  if (__get_cpuid(1, &a, &b, &c, &d)) {
    host_has[FT_MOVBE] = c >> 22 & 1;
    host_has[FT_POPCNT] = c >> 23 & 1;
    host_has[FT_CX16] = c >> 13 & 1;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    host_has[FT_BMI1] = b >> 3 & 1;
    host_has[FT_BMI2] = b >> 8 & 1;
    host_has[FT_ADX] = b >> 19 & 1;
    host_has[FT_CLFLUSHOPT] = b >> 23 & 1;
    host_has[FT_CLWB] = b >> 24 & 1;
  }
  if (__get_cpuid(0x80000001, &a, &b, &c, &d)) host_has[FT_LZCNT] = c >> 5 & 1;
}

/* ---- the engine: one long-mode VM, reused for every case ---- */
static struct vmt T;

static void put64(uint64_t gpa, uint64_t v) { memcpy(T.mem + gpa, &v, 8); }

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
  s.idt.base = 0, s.idt.limit = 0;
  put64(PML4_GPA, PDPT_GPA | 3);
  put64(PDPT_GPA, PD_GPA | 3);
  put64(PD_GPA, 0x83); /* 2 MiB identity page */
  s.cr0 = 0x80050033, s.cr4 = 0x620, s.efer = 0x500, s.cr3 = PML4_GPA;
  return skvm_ioctl(T.vcpu, KVM_SET_SREGS, &s);
}

static const int kvm_order[16] = {RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, 8, 9, 10, 11, 12, 13, 14, 15};

/* Runs code+HLT; returns the exit reason (KVM_EXIT_HLT expected), the state in *s. */
static int engine_run(const uint8_t *code, int len, struct st *s)
{
  memcpy(T.mem + CODE_GPA, code, len);
  T.mem[CODE_GPA + len] = 0xf4;
  struct kvm_regs r;
  memset(&r, 0, sizeof(r));
  uint64_t *rr = (uint64_t *)&r.rax;
  for (int i = 0; i < 16; i++) rr[i] = s->r[kvm_order[i]];
  r.rsp = STACK_TOP, r.rip = CODE_GPA, r.rflags = s->fl;
  if (skvm_ioctl(T.vcpu, KVM_SET_REGS, &r)) return -1;
  if (vmt_run(&T)) return -1;
  r = vmt_regs(&T);
  for (int i = 0; i < 16; i++) s->r[kvm_order[i]] = rr[i];
  s->fl = r.rflags;
  if (T.run->exit_reason == KVM_EXIT_HLT && r.rip != (uint64_t)CODE_GPA + len + 1) return -2;
  return (int)T.run->exit_reason;
}

/* ---- inputs ---- */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return rng_state;
}

static uint64_t rnd_val(void)
{
  switch (rng() % 10) {
  case 0: return 0;
  case 1: return ~0ULL;
  case 2: return rng() % 80;
  case 3: return 1ULL << (rng() % 64);
  case 4: return (1ULL << (rng() % 64)) - 1;
  case 5: return -(rng() % 80);
  case 6: return (uint32_t)rng();
  case 7: return rng() & 0xffff;
  default: return rng();
  }
}

static void make_input(const struct form *f, struct st *s, uint8_t *data)
{
  for (int i = 0; i < 16; i++) s->r[i] = rnd_val();
  s->r[RSP] = 0;
  s->fl = 2 | (rng() & F_ARITH);
  for (int i = 0; i < DATA_SIZE; i += 8) {
    uint64_t v = (i >= MID - 64 && i < MID + 64) ? rnd_val() : rng();
    memcpy(data + i, &v, 8);
  }
  uint64_t m;
  switch (f->kind) {
  case K_BITOFF: s->r[f->arg] = (uint64_t)((int64_t)(rng() % 65536) - 32768); break;
  case K_SPARSE: if (rng() % 4 == 0) s->r[f->arg] = 0; break;
  case K_SHXD16_CL: s->r[RCX] = (s->r[RCX] & ~0xffULL) | (rng() % 17) | (rng() % 8) << 5; break;
  case K_BEXTR: s->r[f->arg] = (s->r[f->arg] & ~0xffffULL) | (rng() % 72) | (rng() % 72) << 8; break;
  case K_BZHI: s->r[f->arg] = (s->r[f->arg] & ~0xffULL) | (rng() % 72); break;
  case K_CMPXCHG:
    if (rng() % 2) break;
    if (f->arg < 0) memcpy(&s->r[RAX], data + MID, 8);
    else if (f->arg >= 16) s->r[RAX] = s->r[f->arg - 16] >> 8;
    else s->r[RAX] = s->r[f->arg];
    break;
  case K_CX8: case K_CX16:
    if (rng() % 2) break;
    if (f->kind == K_CX8) {
      memcpy(&m, data + MID + f->arg, 8);
      s->r[RAX] = (s->r[RAX] & ~0xffffffffULL) | (uint32_t)m;
      s->r[RDX] = (s->r[RDX] & ~0xffffffffULL) | m >> 32;
    } else {
      memcpy(&s->r[RAX], data + MID + f->arg, 8);
      memcpy(&s->r[RDX], data + MID + f->arg + 8, 8);
    }
    break;
  }
}

/* The flags SHLD/SHRD define for this count (none for a 16-bit count above 16: not generated). */
static uint32_t shxd_mask(const struct form *f, const struct st *s)
{
  unsigned count = f->kind == K_SHXD_IMM ? (unsigned)f->arg
                                         : (unsigned)(s->r[RCX] & (f->arg == 8 ? 63 : 31));
  if (!count) return F_ARITH;
  return F_CF | F_SF | F_ZF | F_PF | (count == 1 ? F_OF : 0);
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
    if (f->kind == K_XLAT) e.r[RBX] = gbase, n.r[RBX] = hbase;
    memcpy(T.mem + DATA_GPA, init, DATA_SIZE);
    int ex = engine_run(f->bytes, f->len, &e);
    if (ex != KVM_EXIT_HLT) {
      test_fail(__FILE__, __LINE__, "%s: engine exit %d (want HLT)", f->text, ex);
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
    if (f->kind == K_XLAT) e.r[RBX] -= gbase, n.r[RBX] -= hbase;
    uint32_t fm = f->fmask ? f->fmask : shxd_mask(f, &in);
    bool bad = false;
    for (int i = 0; i < 16; i++) {
      if (i == RSP || e.r[i] == n.r[i]) continue;
      test_fail(__FILE__, __LINE__, "%s: reg %d engine 0x%llx native 0x%llx (input 0x%llx)", f->text, i,
                (unsigned long long)e.r[i], (unsigned long long)n.r[i], (unsigned long long)in.r[i]);
      bad = true;
    }
    if ((e.fl ^ n.fl) & fm) {
      test_fail(__FILE__, __LINE__, "%s: flags engine 0x%llx native 0x%llx (mask 0x%x, input 0x%llx)",
                f->text, (unsigned long long)e.fl, (unsigned long long)n.fl, fm, (unsigned long long)in.fl);
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
      fprintf(stderr, "  input: rax %llx rbx %llx rcx %llx rdx %llx fl %llx\n",
              (unsigned long long)in.r[RAX], (unsigned long long)in.r[RBX],
              (unsigned long long)in.r[RCX], (unsigned long long)in.r[RDX], (unsigned long long)in.fl);
    } else {
      test_passed++;
    }
  }
}

/* RDRAND/RDSEED: CF=1 with other arithmetic flags clear, and not a constant. */
static void test_random(void)
{
  static const struct { const char *text; uint8_t b[4]; int len; } ops[] = {
      {"rdrand eax", {0x0f, 0xc7, 0xf0}, 3}, {"rdrand rax", {0x48, 0x0f, 0xc7, 0xf0}, 4},
      {"rdrand ax", {0x66, 0x0f, 0xc7, 0xf0}, 4}, {"rdseed eax", {0x0f, 0xc7, 0xf8}, 3},
      {"rdseed rax", {0x48, 0x0f, 0xc7, 0xf8}, 4}};
  for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    uint64_t seen[4];
    int distinct = 0;
    uint64_t width = ops[i].len == 3 ? 0xffffffffULL : ops[i].b[0] == 0x66 ? 0xffff : ~0ULL;
    for (int k = 0; k < 4; k++) {
      struct st s = {.fl = 2 | F_ARITH};
      s.r[RAX] = 0x5555555555555555ULL;
      CHECK_EQ(engine_run(ops[i].b, ops[i].len, &s), KVM_EXIT_HLT);
      CHECK_EQ(s.fl & F_ARITH, F_CF);
      if (width == 0xffffffffULL) CHECK_EQ(s.r[RAX] >> 32, 0);
      if (width == 0xffff) CHECK_EQ(s.r[RAX] >> 16, 0x555555555555ULL);
      seen[k] = s.r[RAX] & width;
      bool dup = false;
      for (int j = 0; j < k; j++) dup |= seen[j] == seen[k];
      distinct += !dup;
    }
    if (width != 0xffff) CHECK(distinct >= 3);
  }
}

/* CMPXCHG16B on an operand that is not 16-byte aligned: #GP(0), which with no IDT is a shutdown. */
static void test_cx16_align(void)
{
  static const uint8_t b[] = {0x48, 0x0f, 0xc7, 0x4e, 0x08}; /* cmpxchg16b [rsi+8] */
  struct st s = {.fl = 2};
  s.r[RSI] = DATA_GPA + MID;
  CHECK_EQ(engine_run(b, sizeof(b), &s), KVM_EXIT_SHUTDOWN);
}

static void test_cpuid_bits(void)
{
  struct kvm_cpuid2 *c = vmt_supported_cpuid(T.sys);
  CHECK(c != NULL);
  if (!c) return;
  uint32_t l0 = 0, l1c = 0, l1d = 0, l7b = 0, x1c = 0;
  for (uint32_t i = 0; i < c->nent; i++) {
    struct kvm_cpuid_entry2 *e = &c->entries[i];
    if (e->function == 0) l0 = e->eax;
    if (e->function == 1) l1c = e->ecx, l1d = e->edx;
    if (e->function == 7 && e->index == 0) {
      l7b = e->ebx;
      CHECK(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
    }
    if (e->function == 0x80000001u) x1c = e->ecx;
  }
  CHECK(l0 >= 7);
  uint32_t want1c = 1u << 13 | 1u << 22 | 1u << 23 | 1u << 30; /* CX16 MOVBE POPCNT RDRAND */
  CHECK_EQ(l1c & want1c, want1c);
  CHECK_EQ(l1d & (1u << 8 | 1u << 19), 1u << 8 | 1u << 19); /* CX8 CLFSH */
  uint32_t want7b = 1u << 3 | 1u << 8 | 1u << 18 | 1u << 19 | 1u << 23 | 1u << 24;
  CHECK_EQ(l7b, want7b); /* BMI1 BMI2 RDSEED ADX CLFLUSHOPT CLWB, and nothing else */
  CHECK(x1c & (1u << 5)); /* LZCNT */
  free(c);
}

/* ---- LOCK forms on two vCPUs at once (each on its own thread) ---- */
#define SMP_ITERS 100000
static const uint8_t smp_code[] = {
    0x41, 0xb8, 0xa0, 0x86, 0x01, 0x00,       /* mov r8d, SMP_ITERS */
    0xb8, 0x01, 0x00, 0x00, 0x00,             /* 1: mov eax, 1 */
    0xf0, 0x0f, 0xc1, 0x06,                   /* lock xadd [rsi], eax */
    0x8b, 0x46, 0x08,                         /* mov eax, [rsi+8] */
    0x8d, 0x50, 0x01,                         /* 2: lea edx, [rax+1] */
    0xf0, 0x0f, 0xb1, 0x56, 0x08,             /* lock cmpxchg [rsi+8], edx */
    0x75, 0xf6,                               /* jnz 2b */
    0xf0, 0x0f, 0xab, 0x7e, 0x10,             /* lock bts [rsi+16], edi (own bit: clear) */
    0x72, 0x24,                               /* jc fail */
    0xf0, 0x0f, 0xb3, 0x7e, 0x10,             /* lock btr [rsi+16], edi (own bit: set) */
    0x73, 0x1d,                               /* jnc fail */
    0x48, 0x8b, 0x46, 0x20,                   /* mov rax, [rsi+32] */
    0x48, 0x8b, 0x56, 0x28,                   /* mov rdx, [rsi+40] */
    0x48, 0x8d, 0x58, 0x01,                   /* 3: lea rbx, [rax+1] */
    0x48, 0x89, 0xd1,                         /* mov rcx, rdx */
    0xf0, 0x48, 0x0f, 0xc7, 0x4e, 0x20,       /* lock cmpxchg16b [rsi+32] */
    0x75, 0xf1,                               /* jnz 3b */
    0x41, 0xff, 0xc8,                         /* dec r8d */
    0x75, 0xc0,                               /* jnz 1b */
    0xf4,                                     /* hlt */
    0x0f, 0x0b,                               /* fail: ud2 (no IDT: shutdown) */
};

struct smp_vcpu {
  int fd;
  struct kvm_run *run;
  int rc;
};

static pthread_barrier_t smp_start;

static void *smp_thread(void *arg)
{
  struct smp_vcpu *v = arg;
  pthread_barrier_wait(&smp_start);
  v->rc = skvm_ioctl(v->fd, KVM_RUN, (void *)0);
  return NULL;
}

static void test_smp_lock(void)
{
  struct smp_vcpu v[2] = {{T.vcpu, T.run, -1}, {-1, NULL, -1}};
  v[1].fd = skvm_ioctl(T.vm, KVM_CREATE_VCPU, (void *)1);
  CHECK(v[1].fd >= 0);
  if (v[1].fd < 0) return;
  v[1].run = skvm_mmap(NULL, (size_t)T.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v[1].fd, 0);
  CHECK(v[1].run != MAP_FAILED);
  struct kvm_cpuid2 *c = vmt_supported_cpuid(T.sys);
  struct kvm_sregs s;
  CHECK(c && skvm_ioctl(v[1].fd, KVM_SET_CPUID2, c) == 0);
  free(c);
  CHECK_EQ(skvm_ioctl(T.vcpu, KVM_GET_SREGS, &s), 0);
  CHECK_EQ(skvm_ioctl(v[1].fd, KVM_SET_SREGS, &s), 0);
  memcpy(T.mem + CODE_GPA, smp_code, sizeof(smp_code));
  memset(T.mem + DATA_GPA + MID, 0, 64);
  for (int i = 0; i < 2; i++) {
    struct kvm_regs r;
    memset(&r, 0, sizeof(r));
    r.rip = CODE_GPA, r.rsp = STACK_TOP, r.rflags = 2;
    r.rsi = DATA_GPA + MID, r.rdi = (uint64_t)i * 7;   /* BTS/BTR bit 0 and bit 7 */
    CHECK_EQ(skvm_ioctl(v[i].fd, KVM_SET_REGS, &r), 0);
  }
  pthread_t th[2];
  pthread_barrier_init(&smp_start, NULL, 2);
  for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&th[i], NULL, smp_thread, &v[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&smp_start);
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(v[i].rc, 0);
    CHECK_EQ(v[i].run->exit_reason, KVM_EXIT_HLT);
  }
  uint32_t xadd_count, cas_count, bits;
  uint64_t cas16[2];
  memcpy(&xadd_count, T.mem + DATA_GPA + MID, 4);
  memcpy(&cas_count, T.mem + DATA_GPA + MID + 8, 4);
  memcpy(&bits, T.mem + DATA_GPA + MID + 16, 4);
  memcpy(cas16, T.mem + DATA_GPA + MID + 32, 16);
  CHECK_EQ(xadd_count, 2 * SMP_ITERS);
  CHECK_EQ(cas_count, 2 * SMP_ITERS);
  CHECK_EQ(bits, 0);
  CHECK_EQ(cas16[0], 2 * SMP_ITERS);
  CHECK_EQ(cas16[1], 0);
  if (v[1].run != MAP_FAILED) munmap(v[1].run, (size_t)T.run_size);
  skvm_close(v[1].fd);
}

int main(void)
{
  host_features();
  jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ndata = mmap(NULL, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(jit != MAP_FAILED && ndata != MAP_FAILED);
  int rc = setup_vm();
  CHECK_EQ(rc, 0);
  if (rc == 0 && jit != MAP_FAILED && ndata != MAP_FAILED) {
    for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) run_form(&forms[i]);
    printf("%u forms: %d cases compared with the host, %d engine-only, %d mismatching\n",
           (unsigned)(sizeof(forms) / sizeof(forms[0])), n_native, n_engine_only, n_mismatch);
    test_random();
    test_cpuid_bits();
    test_smp_lock();
    test_cx16_align();
  }
  vmt_fini(&T);
  return test_summary();
}
