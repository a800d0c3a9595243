/* Bit, atomic and BMI instructions (exec_bit.c, exec_atomic.c, exec_misc.c), checked against the
 * host CPU: each form in isa_bits_forms.h runs in the engine (64-bit mode, through KVM_RUN) and
 * natively (the same bytes, called from hostcmp's trampoline, which loads and saves all GPRs and
 * RFLAGS; XMM zero, MXCSR 0x1f80) on the same random inputs; the results, memory and the flags the
 * SDM defines must agree. The VM has no IDT: an exception is a shutdown. RSI (and
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

#include "hostcmp.h"
#include "softkvm.h"
#include "testlib.h"
#include "vmtest.h"

#define DATA_SIZE 0x4000
#define MID 0x2000 /* RSI = buffer + MID; BT register offsets reach +-4 KiB from it */
#define ITERS 48

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

static bool host_has[FT_COUNT];

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

/* ---- inputs ---- */
static uint64_t rnd_val(void)
{
  unsigned k = hc_rng() % 10;
  switch (k) {
  case 6: return (uint32_t)hc_rng();
  case 7: return hc_rng() & 0xffff;
  case 8: case 9: return hc_rng();
  default: return hc_rnd_edge(k);
  }
}

static void make_input(const struct form *f, struct hc_state *s, uint8_t *data)
{
  memset(s, 0, sizeof(*s)); /* XMM0-15 zero, MXCSR at its reset value: the forms do not use them */
  s->mx = 0x1f80;
  for (int i = 0; i < 16; i++) s->r[i] = rnd_val();
  s->r[RSP] = 0;
  s->fl = 2 | (hc_rng() & F_ARITH);
  for (int i = 0; i < DATA_SIZE; i += 8) {
    uint64_t v = (i >= MID - 64 && i < MID + 64) ? rnd_val() : hc_rng();
    memcpy(data + i, &v, 8);
  }
  uint64_t m;
  switch (f->kind) {
  case K_BITOFF: s->r[f->arg] = (uint64_t)((int64_t)(hc_rng() % 65536) - 32768); break;
  case K_SPARSE: if (hc_rng() % 4 == 0) s->r[f->arg] = 0; break;
  case K_SHXD16_CL: s->r[RCX] = (s->r[RCX] & ~0xffULL) | (hc_rng() % 17) | (hc_rng() % 8) << 5; break;
  case K_BEXTR: s->r[f->arg] = (s->r[f->arg] & ~0xffffULL) | (hc_rng() % 72) | (hc_rng() % 72) << 8; break;
  case K_BZHI: s->r[f->arg] = (s->r[f->arg] & ~0xffULL) | (hc_rng() % 72); break;
  case K_CMPXCHG:
    if (hc_rng() % 2) break;
    if (f->arg < 0) memcpy(&s->r[RAX], data + MID, 8);
    else if (f->arg >= 16) s->r[RAX] = s->r[f->arg - 16] >> 8;
    else s->r[RAX] = s->r[f->arg];
    break;
  case K_CX8: case K_CX16:
    if (hc_rng() % 2) break;
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
static uint32_t shxd_mask(const struct form *f, const struct hc_state *s)
{
  unsigned count = f->kind == K_SHXD_IMM ? (unsigned)f->arg
                                         : (unsigned)(s->r[RCX] & (f->arg == 8 ? 63 : 31));
  if (!count) return F_ARITH;
  return F_CF | F_SF | F_ZF | F_PF | (count == 1 ? F_OF : 0);
}

static void input(struct hc_case *c, struct hc_state *in, uint8_t *data, void *arg)
{
  const struct form *f = arg;
  make_input(f, in, data);
  c->fmask = f->fmask ? f->fmask : shxd_mask(f, in);
}

static void run_form(const struct form *f)
{
  struct hc_case c = {.text = f->text, .bytes = f->bytes, .len = f->len, .native = host_has[f->feat],
                      .nptr = f->kind == K_XLAT ? 2 : 1, .ptr = {{RSI, 0}, {RBX, 0}}};
  hc_cases(&c, ITERS, input, (void *)f);
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
      struct hc_state s = {.fl = 2 | F_ARITH};
      s.r[RAX] = 0x5555555555555555ULL;
      CHECK_EQ(hc_engine_exec(ops[i].b, ops[i].len, &s), RES_OK);
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
  struct hc_state s = {.fl = 2};
  s.r[RSI] = DATA_GPA + MID;
  CHECK_EQ(hc_engine_exec(b, sizeof(b), &s), KVM_EXIT_SHUTDOWN);
}

static void test_cpuid_bits(void)
{
  struct kvm_cpuid2 *c = vmt_supported_cpuid(hc_vm.sys);
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
  uint32_t want7b = 1u << 1 | 1u << 3 | 1u << 8 | 1u << 10 | 1u << 18 | 1u << 19 | 1u << 23 | 1u << 24;
  CHECK_EQ(l7b, want7b); /* TSC_ADJUST BMI1 BMI2 INVPCID RDSEED ADX CLFLUSHOPT CLWB, and nothing else */
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
  struct smp_vcpu v[2] = {{hc_vm.vcpu, hc_vm.run, -1}, {-1, NULL, -1}};
  v[1].fd = skvm_ioctl(hc_vm.vm, KVM_CREATE_VCPU, (void *)1);
  CHECK(v[1].fd >= 0);
  if (v[1].fd < 0) return;
  v[1].run = skvm_mmap(NULL, (size_t)hc_vm.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v[1].fd, 0);
  CHECK(v[1].run != MAP_FAILED);
  struct kvm_cpuid2 *c = vmt_supported_cpuid(hc_vm.sys);
  struct kvm_sregs s;
  CHECK(c && skvm_ioctl(v[1].fd, KVM_SET_CPUID2, c) == 0);
  free(c);
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_GET_SREGS, &s), 0);
  CHECK_EQ(skvm_ioctl(v[1].fd, KVM_SET_SREGS, &s), 0);
  memcpy(hc_vm.mem + CODE_GPA, smp_code, sizeof(smp_code));
  memset(hc_vm.mem + DATA_GPA + MID, 0, 64);
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
  memcpy(&xadd_count, hc_vm.mem + DATA_GPA + MID, 4);
  memcpy(&cas_count, hc_vm.mem + DATA_GPA + MID + 8, 4);
  memcpy(&bits, hc_vm.mem + DATA_GPA + MID + 16, 4);
  memcpy(cas16, hc_vm.mem + DATA_GPA + MID + 32, 16);
  CHECK_EQ(xadd_count, 2 * SMP_ITERS);
  CHECK_EQ(cas_count, 2 * SMP_ITERS);
  CHECK_EQ(bits, 0);
  CHECK_EQ(cas16[0], 2 * SMP_ITERS);
  CHECK_EQ(cas16[1], 0);
  if (v[1].run != MAP_FAILED) munmap(v[1].run, (size_t)hc_vm.run_size);
  skvm_close(v[1].fd);
}

int main(void)
{
  host_features();
  int rc = hc_setup(DATA_SIZE, MID, false);
  if (rc == 0) {
    for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) run_form(&forms[i]);
    hc_print_counts(sizeof(forms) / sizeof(forms[0]));
    test_random();
    test_cpuid_bits();
    test_smp_lock();
    test_cx16_align();
  }
  hc_fini();
  return test_summary();
}
