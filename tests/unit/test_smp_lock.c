/* SMP atomicity: two vCPUs of one VM, each on its own host thread (the thread that calls KVM_RUN),
 * run the same 32-bit flat protected-mode code (KVM_SET_SREGS: CR0.PE, flat 4 GiB segments, no
 * paging) over shared guest memory:
 *   N x  lock add dword [C1], 1
 *   N x  lock xadd [C2], eax (eax = 1)
 *   N x  xchg-based spinlock around a non-atomic  mov eax, [C3]; inc eax; mov [C3], eax
 *   N x  lock cmpxchg retry loop incrementing [C4]
 * then HLT. Every counter must be exactly 2 * N: a LOCK-prefixed or XCHG instruction that is not a
 * real host atomic on guest RAM loses increments. The code was assembled with nasm (BITS 32,
 * ORG 0x1000); the listing is next to the bytes. */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softkvm.h"
#include "testlib.h"
#include "vmtest.h"

#define GUEST_MEM 0x10000
#define CODE_GPA 0x1000
#define C1_GPA 0x2000 /* lock add */
#define C2_GPA 0x2040 /* lock xadd */
#define C3_GPA 0x2080 /* spinlock-protected plain increment */
#define LK_GPA 0x20c0 /* the spinlock */
#define C4_GPA 0x2100 /* lock cmpxchg */
#define N 200000u

static const uint8_t code[] = {
    0xb9, 0x40, 0x0d, 0x03, 0x00,                   /* 1000     mov ecx, N (200000) */
    0xf0, 0x83, 0x05, 0x00, 0x20, 0x00, 0x00, 0x01, /* 1005 l1: lock add dword [0x2000], 1 */
    0x49,                                           /* 100d     dec ecx */
    0x75, 0xf5,                                     /* 100e     jnz l1 */
    0xb9, 0x40, 0x0d, 0x03, 0x00,                   /* 1010     mov ecx, N */
    0xb8, 0x01, 0x00, 0x00, 0x00,                   /* 1015 l2: mov eax, 1 */
    0xf0, 0x0f, 0xc1, 0x05, 0x40, 0x20, 0x00, 0x00, /* 101a     lock xadd [0x2040], eax */
    0x49,                                           /* 1022     dec ecx */
    0x75, 0xf0,                                     /* 1023     jnz l2 */
    0xb9, 0x40, 0x0d, 0x03, 0x00,                   /* 1025     mov ecx, N */
    0xb8, 0x01, 0x00, 0x00, 0x00,                   /* 102a l3: mov eax, 1 */
    0x87, 0x05, 0xc0, 0x20, 0x00, 0x00,             /* 102f     xchg [0x20c0], eax */
    0x85, 0xc0,                                     /* 1035     test eax, eax */
    0x74, 0x04,                                     /* 1037     jz got */
    0xf3, 0x90,                                     /* 1039     pause */
    0xeb, 0xed,                                     /* 103b     jmp l3 */
    0xa1, 0x80, 0x20, 0x00, 0x00,                   /* 103d got: mov eax, [0x2080] */
    0x40,                                           /* 1042     inc eax */
    0xa3, 0x80, 0x20, 0x00, 0x00,                   /* 1043     mov [0x2080], eax */
    0xc7, 0x05, 0xc0, 0x20, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,                         /* 1048     mov dword [0x20c0], 0 */
    0x49,                                           /* 1052     dec ecx */
    0x75, 0xd5,                                     /* 1053     jnz l3 */
    0xb9, 0x40, 0x0d, 0x03, 0x00,                   /* 1055     mov ecx, N */
    0xa1, 0x00, 0x21, 0x00, 0x00,                   /* 105a l4: mov eax, [0x2100] */
    0x8d, 0x50, 0x01,                               /* 105f r:  lea edx, [eax + 1] */
    0xf0, 0x0f, 0xb1, 0x15, 0x00, 0x21, 0x00, 0x00, /* 1062     lock cmpxchg [0x2100], edx */
    0x75, 0xf3,                                     /* 106a     jnz r */
    0x49,                                           /* 106c     dec ecx */
    0x75, 0xeb,                                     /* 106d     jnz l4 */
    0xf4,                                           /* 106f     hlt */
};

struct vcpu {
  int fd;
  struct kvm_run *run;
  long run_size;
  int rc, exit_reason, runs;
};

static int setup_vcpu(struct vcpu *v, uint64_t rsp) {
  struct kvm_sregs s;
  if (skvm_ioctl(v->fd, KVM_GET_SREGS, &s)) { CHECK(0); return -1; }
  vmt_flat_seg(&s.cs, 0x08, 11, 0, 1);
  vmt_flat_seg(&s.ds, 0x10, 3, 0, 1);
  s.es = s.fs = s.gs = s.ss = s.ds;
  memset(&s.tr, 0, sizeof(s.tr));
  s.tr.type = 11;
  s.tr.present = 1;
  s.tr.limit = 0x67;
  memset(&s.ldt, 0, sizeof(s.ldt));
  s.ldt.unusable = 1;
  s.cr0 = 0x11; /* PE ET */
  s.cr4 = 0;
  s.efer = 0;
  s.cr3 = 0;
  int rc = skvm_ioctl(v->fd, KVM_SET_SREGS, &s);
  CHECK_EQ(rc, 0);
  if (rc) return -1;
  return vmt_set_entry(v->fd, CODE_GPA, rsp);
}

/* The vCPU thread: KVM_RUN until HLT (or an error / unexpected exit). No CHECKs here: the
 * counters of testlib are not atomic; the main thread checks what this records. */
static void *vcpu_thread(void *arg) {
  struct vcpu *v = arg;
  for (v->runs = 0; v->runs < 1000; v->runs++) {
    v->rc = skvm_ioctl(v->fd, KVM_RUN, (void *)0);
    v->exit_reason = v->run->exit_reason;
    if (v->rc != 0 || v->exit_reason != KVM_EXIT_INTR) break;
  }
  return NULL;
}

static void test_two_vcpus(void) {
  struct vmt t;
  if (vmt_init(&t, GUEST_MEM)) { vmt_fini(&t); return; }
  memcpy(t.mem + CODE_GPA, code, sizeof(code));
  memset(t.mem + C1_GPA, 0, 0x200);

  struct vcpu v[2];
  memset(v, 0, sizeof(v));
  v[0].fd = t.vcpu;
  v[0].run = t.run;
  v[1].fd = skvm_ioctl(t.vm, KVM_CREATE_VCPU, (void *)1);
  CHECK(v[1].fd >= 0);
  if (v[1].fd < 0) { vmt_fini(&t); return; }
  v[1].run_size = t.run_size;
  v[1].run = skvm_mmap(NULL, (size_t)t.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v[1].fd, 0);
  CHECK(v[1].run != MAP_FAILED);
  if (v[1].run == MAP_FAILED) { skvm_close(v[1].fd); vmt_fini(&t); return; }

  struct kvm_cpuid2 *c = vmt_supported_cpuid(t.sys);
  CHECK(c != NULL);
  for (int i = 0; i < 2 && c; i++) CHECK_EQ(skvm_ioctl(v[i].fd, KVM_SET_CPUID2, c), 0);
  free(c);

  if (setup_vcpu(&v[0], 0x8000) == 0 && setup_vcpu(&v[1], 0x9000) == 0) {
    pthread_t th[2];
    int started[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
      started[i] = pthread_create(&th[i], NULL, vcpu_thread, &v[i]) == 0;
      CHECK(started[i]);
    }
    for (int i = 0; i < 2; i++)
      if (started[i]) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
      CHECK_EQ(v[i].rc, 0);
      CHECK_EQ(v[i].exit_reason, KVM_EXIT_HLT);
      struct kvm_regs r;
      memset(&r, 0, sizeof(r));
      CHECK_EQ(skvm_ioctl(v[i].fd, KVM_GET_REGS, &r), 0);
      CHECK_EQ(r.rip, CODE_GPA + sizeof(code)); /* after the HLT */
      CHECK_EQ(r.rcx, 0);
    }
    CHECK_EQ(vmt_get32(&t, C1_GPA), 2 * N); /* lock add */
    CHECK_EQ(vmt_get32(&t, C2_GPA), 2 * N); /* lock xadd */
    CHECK_EQ(vmt_get32(&t, C3_GPA), 2 * N); /* xchg spinlock + plain increment */
    CHECK_EQ(vmt_get32(&t, LK_GPA), 0);     /* lock released */
    CHECK_EQ(vmt_get32(&t, C4_GPA), 2 * N); /* lock cmpxchg loop */
  }
  munmap(v[1].run, (size_t)v[1].run_size);
  skvm_close(v[1].fd);
  vmt_fini(&t);
}

int main(void) {
  alarm(100);
  test_two_vcpus();
  return test_summary();
}
