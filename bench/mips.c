/* bench/mips: guest MIPS of a few loops in softkvm next to the same bytes run natively.
 * The loops use only encodings that mean the same in 32-bit protected mode (the guest: flat,
 * no paging, entered with KVM_SET_SREGS) and in 64-bit mode (the host), with their buffers below
 * 4 GiB on both sides. Prints one line per loop and the softkvm/native time ratio. */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "softkvm.h"

#define GUEST_MEM (64u << 20)
#define CODE_GPA 0x100000u
#define SRC_GPA 0x200000u
#define DST_GPA 0x400000u

struct loop {
  const char *name;
  const uint8_t *body;
  size_t len;
  uint32_t iters;
  unsigned insns_per_iter;   /* architectural instructions (a REP counts once per element) */
};

/* ecx = iteration count, esi = source buffer, edi = destination buffer */
static const uint8_t int_loop[] = {
  0x01, 0xc8,             /* add eax, ecx */
  0x31, 0xc3,             /* xor ebx, eax */
  0x6b, 0xd3, 0x03,       /* imul edx, ebx, 3 */
  0x29, 0xd0,             /* sub eax, edx */
  0xc1, 0xe3, 0x03,       /* shl ebx, 3 */
  0xff, 0xc9,             /* dec ecx */
  0x75, 0xf0,             /* jnz loop */
};
static const uint8_t mem_loop[] = {
  0x89, 0xca,             /* mov edx, ecx */
  0x81, 0xe2, 0xff, 0x03, 0x00, 0x00, /* and edx, 1023 */
  0x8b, 0x04, 0x96,       /* mov eax, [esi+edx*4] */
  0x01, 0x04, 0x97,       /* add [edi+edx*4], eax */
  0xff, 0xc9,             /* dec ecx */
  0x75, 0xee,             /* jnz loop */
};
static const uint8_t str_loop[] = {
  0x89, 0xcd,             /* mov ebp, ecx (outer count) */
  0x89, 0xf3,             /* mov ebx, esi */
  0x89, 0xfa,             /* mov edx, edi */
  0x89, 0xde,             /* l: mov esi, ebx */
  0x89, 0xd7,             /* mov edi, edx */
  0xb9, 0x00, 0x01, 0x00, 0x00, /* mov ecx, 256 */
  0xf3, 0xa5,             /* rep movsd */
  0xff, 0xcd,             /* dec ebp */
  0x75, 0xf1,             /* jnz l */
};

static const uint8_t sse_loop[] = {
  0x0f, 0x28, 0x1e,       /* movaps xmm3, [esi] */
  0x0f, 0x58, 0xc3,       /* addps xmm0, xmm3 */
  0x0f, 0x59, 0xc8,       /* mulps xmm1, xmm0 */
  0x66, 0x0f, 0xef, 0xd1, /* pxor xmm2, xmm1 */
  0xff, 0xc9,             /* dec ecx */
  0x75, 0xef,             /* jnz loop */
};

static const struct loop loops[] = {
  { "integer", int_loop, sizeof(int_loop), 4000000, 7 },
  { "memory", mem_loop, sizeof(mem_loop), 4000000, 6 },
  { "string", str_loop, sizeof(str_loop), 40000, 5 + 256 },
  { "sse", sse_loop, sizeof(sse_loop), 4000000, 6 },
};

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* mov ecx, iters; mov esi, src; mov edi, dst; <loop>; then the tail bytes */
static size_t emit(uint8_t *p, const struct loop *l, uint32_t src, uint32_t dst,
                   const uint8_t *tail, size_t tail_len)
{
  size_t n = 0;
  p[n++] = 0xb9, memcpy(p + n, &l->iters, 4), n += 4;
  p[n++] = 0xbe, memcpy(p + n, &src, 4), n += 4;
  p[n++] = 0xbf, memcpy(p + n, &dst, 4), n += 4;
  memcpy(p + n, l->body, l->len), n += l->len;
  memcpy(p + n, tail, tail_len), n += tail_len;
  return n;
}

static double run_native(const struct loop *l)
{
  uint8_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  uint8_t *buf = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (code == MAP_FAILED || buf == MAP_FAILED) return -1;
  static const uint8_t pro[] = { 0x53, 0x55 };          /* push rbx; push rbp */
  static const uint8_t epi[] = { 0x5d, 0x5b, 0xc3 };    /* pop rbp; pop rbx; ret */
  memcpy(code, pro, sizeof(pro));
  emit(code + sizeof(pro), l, (uint32_t)(uintptr_t)buf, (uint32_t)(uintptr_t)buf + (1 << 19), epi, sizeof(epi));
  void (*fn)(void) = (void (*)(void))code;
  double best = 1e9;
  for (int i = 0; i < 5; i++) {
    double t = now();
    fn();
    t = now() - t;
    if (t < best) best = t;
  }
  munmap(code, 4096);
  munmap(buf, 1 << 20);
  return best;
}

static double run_softkvm(const struct loop *l, uint8_t *mem, int vcpu, struct kvm_run *run)
{
  static const uint8_t hlt[] = { 0xf4 };
  emit(mem + CODE_GPA, l, SRC_GPA, DST_GPA, hlt, 1);
  struct kvm_sregs s;
  skvm_ioctl(vcpu, KVM_GET_SREGS, &s);
  struct kvm_segment flat = { .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 3,
                              .present = 1, .dpl = 0, .db = 1, .s = 1, .g = 1 };
  s.ds = s.es = s.fs = s.gs = s.ss = flat;
  s.cs = flat, s.cs.type = 11, s.cs.selector = 0x8;
  s.cr0 |= 1;        /* protected mode, no paging */
  s.cr4 |= 1 << 9;   /* CR4.OSFXSR: SSE enabled */
  skvm_ioctl(vcpu, KVM_SET_SREGS, &s);
  struct kvm_regs r = { .rip = CODE_GPA, .rflags = 2, .rsp = 0x80000 };
  skvm_ioctl(vcpu, KVM_SET_REGS, &r);
  double t = now();
  int rc = skvm_ioctl(vcpu, KVM_RUN, 0);
  t = now() - t;
  if (rc || run->exit_reason != KVM_EXIT_HLT) {
    fprintf(stderr, "mips: %s: unexpected exit %u\n", l->name, run->exit_reason);
    return -1;
  }
  return t;
}

int main(void)
{
  int sys = skvm_open();
  int vm = skvm_ioctl(sys, KVM_CREATE_VM, 0);
  uint8_t *mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0,
                                                .memory_size = GUEST_MEM, .userspace_addr = (uintptr_t)mem };
  if (sys < 0 || vm < 0 || mem == MAP_FAILED || skvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region)) {
    perror("mips: setup");
    return 1;
  }
  int vcpu = skvm_ioctl(vm, KVM_CREATE_VCPU, 0);
  struct kvm_run *run = skvm_mmap(NULL, skvm_ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, 0),
                                  PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (vcpu < 0 || run == MAP_FAILED) {
    perror("mips: vcpu");
    return 1;
  }
  printf("%-8s %14s %12s %12s %10s\n", "loop", "instructions", "softkvm MIPS", "native MIPS", "ratio");
  for (size_t i = 0; i < sizeof(loops) / sizeof(loops[0]); i++) {
    const struct loop *l = &loops[i];
    double insns = (double)l->iters * l->insns_per_iter;
    double ts = run_softkvm(l, mem, vcpu, run), tn = run_native(l);
    if (ts < 0 || tn < 0) return 1;
    printf("%-8s %14.0f %12.1f %12.1f %9.1fx\n", l->name, insns, insns / ts / 1e6, insns / tn / 1e6, ts / tn);
  }
  return 0;
}
