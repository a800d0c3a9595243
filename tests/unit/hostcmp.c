/* The engine-versus-host comparison pieces shared by the ISA unit tests: see hostcmp.h. */
#define _GNU_SOURCE
#include "hostcmp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "softkvm.h"
#include "testlib.h"

struct vmt hc_vm;
struct kvm_sregs hc_base_sregs;
uint8_t *hc_jit = MAP_FAILED, *hc_ndata = MAP_FAILED;
int hc_n_native, hc_n_engine_only, hc_n_mismatch;
static size_t data_size, data_mid;
static uint8_t *init; /* the inputs' data buffer (data_size bytes) */
static bool native_ok = true; /* false once the host refused executable memory */

/* ---- the VM ---- */

int hc_long_mode(struct vmt *t, uint64_t cr4, bool idt, struct kvm_sregs *out)
{
  struct kvm_sregs s;
  if (skvm_ioctl(t->vcpu, KVM_GET_SREGS, &s)) return -1;
  vmt_flat_seg(&s.cs, 0x08, 11, 1, 0);
  vmt_flat_seg(&s.ds, 0x10, 3, 0, 1);
  s.es = s.fs = s.gs = s.ss = s.ds;
  vmt_put64(t, GDT_GPA + 8, 0x00af9b000000ffffULL);
  vmt_put64(t, GDT_GPA + 16, 0x00cf93000000ffffULL);
  s.gdt.base = GDT_GPA, s.gdt.limit = 0x17;
  s.idt.base = 0, s.idt.limit = 0; /* no IDT: an exception shuts the VM down */
  if (idt) {
    for (int v = 0; v < 32; v++) {
      uint64_t h = STUB_GPA + v * 16;
      vmt_put64(t, IDT_GPA + v * 16, (h & 0xffff) | 8ULL << 16 | 0x8eULL << 40 | (h >> 16 & 0xffff) << 48);
      vmt_put64(t, IDT_GPA + v * 16 + 8, h >> 32);
      t->mem[h] = 0xb8; /* mov eax, v; hlt */
      vmt_put32(t, h + 1, (uint32_t)v);
      t->mem[h + 5] = 0xf4;
    }
    s.idt.base = IDT_GPA, s.idt.limit = 32 * 16 - 1;
  }
  vmt_put64(t, PML4_GPA, PDPT_GPA | 3);
  vmt_put64(t, PDPT_GPA, PD_GPA | 3);
  vmt_put64(t, PD_GPA, 0x83); /* 2 MiB identity page */
  s.cr0 = CR0_BASE, s.cr4 = cr4, s.efer = 0x500, s.cr3 = PML4_GPA;
  if (out) *out = s;
  return skvm_ioctl(t->vcpu, KVM_SET_SREGS, &s);
}

int hc_vm_init(uint64_t cr4, bool idt)
{
  if (vmt_init(&hc_vm, GUEST_MEM) || vmt_set_cpuid(&hc_vm)) return -1;
  return hc_long_mode(&hc_vm, cr4, idt, &hc_base_sregs) ? -1 : 0;
}

int hc_setup(size_t size, size_t mid, bool idt)
{
  data_size = size, data_mid = mid;
  hc_jit = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  hc_ndata = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  init = calloc(1, size);
  CHECK(hc_jit != MAP_FAILED && hc_ndata != MAP_FAILED && init);
  int rc = hc_vm_init(CR4_BASE, idt);
  CHECK_EQ(rc, 0);
  return rc == 0 && hc_jit != MAP_FAILED && hc_ndata != MAP_FAILED && init ? 0 : -1;
}

void hc_fini(void)
{
  vmt_fini(&hc_vm);
  if (hc_jit != MAP_FAILED) munmap(hc_jit, 4096);
  if (hc_ndata != MAP_FAILED) munmap(hc_ndata, data_size);
  hc_jit = hc_ndata = MAP_FAILED;
  free(init);
  init = NULL;
}

void hc_set_cr(uint64_t cr0, uint64_t cr4)
{
  struct kvm_sregs s = hc_base_sregs;
  s.cr0 = cr0, s.cr4 = cr4;
  CHECK_EQ(skvm_ioctl(hc_vm.vcpu, KVM_SET_SREGS, &s), 0);
}

/* ---- the engine ---- */

int hc_exec(const uint8_t *code, int len, struct kvm_regs *r, struct kvm_fpu *fpu)
{
  memcpy(hc_vm.mem + CODE_GPA, code, len);
  hc_vm.mem[CODE_GPA + len] = 0xf4;
  r->rsp = STACK_TOP, r->rip = CODE_GPA;
  if (skvm_ioctl(hc_vm.vcpu, KVM_SET_REGS, r)) return -1;
  if (fpu && skvm_ioctl(hc_vm.vcpu, KVM_SET_FPU, fpu)) return -1;
  if (vmt_run(&hc_vm)) return -1;
  *r = vmt_regs(&hc_vm);
  if (fpu && skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, fpu)) return -1;
  if (hc_vm.run->exit_reason != KVM_EXIT_HLT) return (int)hc_vm.run->exit_reason;
  if (r->rip == (uint64_t)CODE_GPA + len + 1) return RES_OK;
  if (r->rip >= STUB_GPA && r->rip < STUB_GPA + 32 * 16 && (r->rip & 15) == 6)
    return RES_EXC + (int)((r->rip - STUB_GPA) / 16);
  return RES_BADRIP;
}

static const int kvm_order[16] = {RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, 8, 9, 10, 11, 12, 13, 14, 15};

int hc_engine_exec(const uint8_t *code, int len, struct hc_state *s)
{
  struct kvm_regs r;
  memset(&r, 0, sizeof(r));
  uint64_t *rr = (uint64_t *)&r.rax;
  for (int i = 0; i < 16; i++) rr[i] = s->r[kvm_order[i]];
  r.rflags = s->fl;
  struct kvm_fpu fpu;
  if (skvm_ioctl(hc_vm.vcpu, KVM_GET_FPU, &fpu)) return -1;
  memcpy(fpu.xmm, s->x, sizeof(s->x));
  int rc = hc_exec(code, len, &r, &fpu);
  if (rc == -1) return -1;
  for (int i = 0; i < 16; i++) s->r[kvm_order[i]] = rr[i];
  s->fl = r.rflags;
  memcpy(s->x, fpu.xmm, sizeof(s->x));
  return rc;
}

int hc_mx_wrap(uint8_t *out, const uint8_t *insn, int len)
{
  static const uint8_t ld[] = {0x0f, 0xae, 0x14, 0x25}, stx[] = {0x0f, 0xae, 0x1c, 0x25};
  uint32_t a = MX_GPA, b = MX_GPA + 4;
  memcpy(out, ld, 4), memcpy(out + 4, &a, 4);
  memcpy(out + 8, insn, len);
  memcpy(out + 8 + len, stx, 4), memcpy(out + 12 + len, &b, 4);
  return len + 16;
}

int hc_engine_run(const uint8_t *insn, int len, struct hc_state *s)
{
  uint8_t code[64];
  int n = hc_mx_wrap(code, insn, len);
  hc_put32(MX_GPA, (uint32_t)s->mx);
  hc_put32(MX_GPA + 4, 0xdeadbeef);
  int rc = hc_engine_exec(code, n, s);
  s->mx = hc_get32(MX_GPA + 4);
  return rc;
}

struct hc_state hc_plain_state(void)
{
  struct hc_state s;
  memset(&s, 0, sizeof(s));
  s.fl = 2;
  s.mx = 0x1f80;
  s.r[RSI] = DATA_GPA + data_mid;
  s.r[RDI] = DATA_GPA + data_mid + 64;
  for (int i = 0; i < 16; i++) memset(s.x[i], 0x11 * (i + 1), 16);
  return s;
}

int hc_fault_of(const uint8_t *code, int len, uint64_t cr0, uint64_t cr4)
{
  struct hc_state s = hc_plain_state();
  hc_set_cr(cr0, cr4);
  int rc = hc_engine_exec(code, len, &s);
  hc_set_cr(CR0_BASE, CR4_BASE);
  return rc;
}

void hc_engine_failed(const char *text, int res)
{
  const uint8_t *b = hc_vm.run->emulation_failure.insn_bytes;
  test_fail(__FILE__, __LINE__, "%s: engine result %d (want HLT)%s%02x %02x %02x", text, res,
            res == KVM_EXIT_INTERNAL_ERROR ? ", failing bytes " : "", b[0], b[1], b[2]);
}

/* ---- the host ---- */

_Static_assert(offsetof(struct hc_state, fl) == 128 && offsetof(struct hc_state, mx) == 136 &&
                   offsetof(struct hc_state, x) == 144 && sizeof(struct hc_state) == 400,
               "hc_native_enter's offsets");

/* hc_native_enter(s, code): loads XMM0-15, MXCSR, RFLAGS and every GPR but RSP from *s, calls
 * code, stores them back. */
void hc_native_enter(struct hc_state *s, void *code);
__asm__(".text\n"
        ".type hc_native_enter,@function\n"
        "hc_native_enter:\n"
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
        ".size hc_native_enter,.-hc_native_enter\n");

bool hc_jit_load(const uint8_t *bytes, int len)
{
  if (mprotect(hc_jit, 4096, PROT_READ | PROT_WRITE)) return false;
  memcpy(hc_jit, bytes, len);
  hc_jit[len] = 0xc3;
  return mprotect(hc_jit, 4096, PROT_READ | PROT_EXEC) == 0;
}

bool hc_native_run(const uint8_t *bytes, int len, struct hc_state *s)
{
  if (!hc_jit_load(bytes, len)) return false;
  uint32_t host;
  __asm__ volatile("stmxcsr %0" : "=m"(host));
  hc_native_enter(s, hc_jit);
  __asm__ volatile("ldmxcsr %0" : : "m"(host));
  s->mx &= 0xffffffffu;
  return true;
}

/* ---- one case on both sides ---- */

bool hc_diff_flags(const char *text, uint64_t e, uint64_t n, uint32_t mask, uint64_t in)
{
  if (!((e ^ n) & mask)) return false;
  test_fail(__FILE__, __LINE__, "%s: flags engine 0x%llx native 0x%llx (mask 0x%x, input 0x%llx)", text,
            (unsigned long long)e, (unsigned long long)n, mask, (unsigned long long)in);
  return true;
}

bool hc_diff_mem(const char *text, const uint8_t *e, const uint8_t *n, size_t size, size_t mid)
{
  if (!memcmp(e, n, size)) return false;
  size_t off = 0;
  while (e[off] == n[off]) off++;
  test_fail(__FILE__, __LINE__, "%s: memory differs at MID%+d: engine %02x native %02x", text,
            (int)off - (int)mid, e[off], n[off]);
  return true;
}

static bool diff_state(const struct hc_case *c, const struct hc_state *in, const struct hc_state *e,
                       const struct hc_state *n)
{
  bool bad = false;
  for (int i = 0; i < 16; i++) {
    if (i == RSP || e->r[i] == n->r[i]) continue;
    test_fail(__FILE__, __LINE__, "%s: reg %d engine 0x%llx native 0x%llx (input 0x%llx)", c->text, i,
              (unsigned long long)e->r[i], (unsigned long long)n->r[i], (unsigned long long)in->r[i]);
    bad = true;
  }
  bad |= hc_diff_flags(c->text, e->fl, n->fl, c->fmask, in->fl);
  if (!c->vec) return bad;
  if (e->mx != n->mx) {
    test_fail(__FILE__, __LINE__, "%s: mxcsr engine 0x%llx native 0x%llx (input 0x%llx)", c->text,
              (unsigned long long)e->mx, (unsigned long long)n->mx, (unsigned long long)in->mx);
    bad = true;
  }
  for (int i = 0; i < 16; i++) {
    if (!memcmp(e->x[i], n->x[i], 16)) continue;
    uint64_t a[2], b[2], x[2];
    memcpy(a, e->x[i], 16), memcpy(b, n->x[i], 16), memcpy(x, in->x[i], 16);
    test_fail(__FILE__, __LINE__,
              "%s: xmm%d engine %016llx%016llx native %016llx%016llx (input %016llx%016llx, mxcsr 0x%llx)",
              c->text, i, (unsigned long long)a[1], (unsigned long long)a[0], (unsigned long long)b[1],
              (unsigned long long)b[0], (unsigned long long)x[1], (unsigned long long)x[0],
              (unsigned long long)in->mx);
    bad = true;
  }
  return bad;
}

static void print_input(const struct hc_case *c, const struct hc_state *in)
{
  fprintf(stderr, "  input: rax %llx rbx %llx rcx %llx rdx %llx fl %llx", (unsigned long long)in->r[RAX],
          (unsigned long long)in->r[RBX], (unsigned long long)in->r[RCX], (unsigned long long)in->r[RDX],
          (unsigned long long)in->fl);
  if (c->vec) {
    uint64_t x0[2], x1[2];
    memcpy(x0, in->x[0], 16), memcpy(x1, in->x[1], 16);
    fprintf(stderr, " xmm0 %016llx%016llx xmm1 %016llx%016llx", (unsigned long long)x0[1],
            (unsigned long long)x0[0], (unsigned long long)x1[1], (unsigned long long)x1[0]);
  }
  fputc('\n', stderr);
}

bool hc_case(const struct hc_case *c, const struct hc_state *in, const uint8_t *init)
{
  uint64_t gbase = DATA_GPA + data_mid, hbase = (uint64_t)(uintptr_t)hc_ndata + data_mid;
  struct hc_state e = *in, n = *in;
  for (int i = 0; i < c->nptr; i++) {
    e.r[c->ptr[i].reg] = gbase + c->ptr[i].off;
    n.r[c->ptr[i].reg] = hbase + c->ptr[i].off;
  }
  memcpy(hc_vm.mem + DATA_GPA, init, data_size);
  int ex = c->vec ? hc_engine_run(c->bytes, c->len, &e) : hc_engine_exec(c->bytes, c->len, &e);
  bool native = c->native && native_ok;
  if (ex == KVM_EXIT_INTERNAL_ERROR && !native && c->missing_ok) { hc_n_engine_only++; return true; }
  if (ex != RES_OK) {
    hc_engine_failed(c->text, ex);
    return false;
  }
  test_passed++;
  if (!native) { hc_n_engine_only++; return true; }
  memcpy(hc_ndata, init, data_size);
  if (!hc_native_run(c->bytes, c->len, &n)) {
    native_ok = false;
    hc_n_engine_only++;
    return true;
  }
  hc_n_native++;
  for (int i = 0; i < c->nptr; i++) e.r[c->ptr[i].reg] -= gbase, n.r[c->ptr[i].reg] -= hbase;
  bool bad = diff_state(c, in, &e, &n);
  bad |= hc_diff_mem(c->text, hc_vm.mem + DATA_GPA, hc_ndata, data_size, data_mid);
  if (!bad) {
    test_passed++;
    return true;
  }
  hc_n_mismatch++;
  print_input(c, in);
  return false;
}

void hc_cases(struct hc_case *c, int iters, hc_input_fn *input, void *arg)
{
  int fails = 0;
  for (int it = 0; it < iters && fails < 3; it++) {
    struct hc_state in;
    input(c, &in, init, arg);
    fails += !hc_case(c, &in, init);
  }
}

void hc_print_counts(unsigned nforms)
{
  printf("%u forms: %d cases compared with the host, %d engine-only, %d mismatching\n", nforms, hc_n_native,
         hc_n_engine_only, hc_n_mismatch);
}

/* ---- inputs ---- */

static uint64_t rng_state = HC_SEED;

void hc_seed(uint64_t seed) { rng_state = seed; }

uint64_t hc_rng(void)
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

uint32_t hc_rnd_f32(void)
{
  switch (hc_rng() % 4) {
  case 0: case 1: return f32_special[hc_rng() % (sizeof(f32_special) / 4)];
  case 2:
    return (uint32_t)(hc_rng() & 0x80000000u) | (uint32_t)(100 + hc_rng() % 60) << 23 |
           (uint32_t)(hc_rng() & 0x7fffff);
  default: return (uint32_t)hc_rng();
  }
}

uint64_t hc_rnd_f64(void)
{
  switch (hc_rng() % 4) {
  case 0: case 1: return f64_special[hc_rng() % (sizeof(f64_special) / 8)];
  case 2: return (hc_rng() & 0x8000000000000000ULL) | (900 + hc_rng() % 250) << 52 | (hc_rng() & 0xfffffffffffffULL);
  default: return hc_rng();
  }
}

uint64_t hc_rnd_edge(unsigned k)
{
  switch (k) {
  case 0: return 0;
  case 1: return ~0ULL;
  case 2: return hc_rng() % 80;
  case 3: return 1ULL << (hc_rng() % 64);
  case 4: return (1ULL << (hc_rng() % 64)) - 1;
  default: return -(hc_rng() % 80);
  }
}

uint64_t hc_rnd_int(void)
{
  unsigned k = hc_rng() % 10;
  switch (k) {
  case 6: return 0x80000000ULL | (hc_rng() & 1) << 63;
  case 7: return (1ULL << 24) + 1 + (hc_rng() % 2) * ((1ULL << 53) - (1ULL << 24));
  case 8: return (uint64_t)(int64_t)(int32_t)hc_rng();
  case 9: return hc_rng();
  default: return hc_rnd_edge(k);
  }
}

void hc_fill_vec(uint8_t *v)
{
  switch (hc_rng() % 4) {
  case 0:
    for (int i = 0; i < 4; i++) { uint32_t x = hc_rnd_f32(); memcpy(v + i * 4, &x, 4); }
    break;
  case 1:
    for (int i = 0; i < 2; i++) { uint64_t x = hc_rnd_f64(); memcpy(v + i * 8, &x, 8); }
    break;
  case 2:
    for (int i = 0; i < 2; i++) { uint64_t x = hc_rng(); memcpy(v + i * 8, &x, 8); }
    break;
  default:
    for (int i = 0; i < 2; i++) { uint64_t x = hc_rnd_int(); memcpy(v + i * 8, &x, 8); }
    break;
  }
}

uint32_t hc_rnd_mxcsr(void)
{
  if (hc_rng() % 4 == 0) return 0x1f80;
  return 0x1f80 | (uint32_t)(hc_rng() & 0x3f) | (uint32_t)(hc_rng() % 4) << 13 | (uint32_t)(hc_rng() & 1) << 6 |
         (uint32_t)(hc_rng() & 1) << 15;
}

void hc_vec_input(struct hc_state *s, uint8_t *data)
{
  for (int i = 0; i < 16; i++) s->r[i] = hc_rnd_int();
  s->r[RSP] = 0;
  s->fl = 2 | (hc_rng() & F_ARITH);
  s->mx = hc_rnd_mxcsr();
  for (int i = 0; i < 16; i++) hc_fill_vec(s->x[i]);
  for (size_t i = 0; i < data_size; i += 16) hc_fill_vec(data + i);
  if (hc_rng() % 5 == 0) { /* equal operands (compares, min/max of equal values) */
    memcpy(s->x[1], s->x[0], 16);
    memcpy(s->x[3], s->x[9], 16);
    memcpy(data + data_mid, s->x[2], 16);
    memcpy(data + data_mid + 16, s->x[2], 16);
  }
}
