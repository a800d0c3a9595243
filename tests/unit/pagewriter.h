/* A real-mode guest for the dirty-tracking tests: it writes one byte to each of CX consecutive
 * pages of a logged slot, starting at segment BX, then halts. Code runs from an unlogged slot 0;
 * the logged slot 1 starts at PW_DATA_GPA. Header-only. */
#ifndef SKVM_PAGEWRITER_H
#define SKVM_PAGEWRITER_H

#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "softkvm.h"
#include "testlib.h"

#define PW_CODE_GPA 0x0
#define PW_CODE_SIZE 0x10000
#define PW_DATA_GPA 0x10000
#define PW_LOOP 0x1000   /* entry: BX = segment of the first page, CX = pages */

static const uint8_t pw_code[] = {
  0x8E, 0xC3,                         /* L: mov es, bx */
  0x26, 0xC6, 0x06, 0x00, 0x00, 0x01, /*    mov byte [es:0], 1 */
  0x81, 0xC3, 0x00, 0x01,             /*    add bx, 0x100      ; next page */
  0xE2, 0xF2,                         /*    loop L */
  0xF4,                               /*    hlt */
};

struct pw {
  int vm, vcpu;
  struct kvm_run *run;
  size_t run_size;
  uint8_t *code, *data;
  size_t data_size;
};

/* Slots 0 (code) and 1 (data_pages, logged) in vm; the vCPU is created by pw_vcpu. */
static inline int pw_slots(struct pw *p, int vm, unsigned data_pages)
{
  memset(p, 0, sizeof(*p));
  p->vm = vm;
  p->vcpu = -1;
  p->data_size = (size_t)data_pages * 4096;
  p->code = mmap(NULL, PW_CODE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p->data = mmap(NULL, p->data_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p->code == MAP_FAILED || p->data == MAP_FAILED) return -1;
  memcpy(p->code + PW_LOOP, pw_code, sizeof(pw_code));
  struct kvm_userspace_memory_region c = { .slot = 0, .guest_phys_addr = PW_CODE_GPA,
                                           .memory_size = PW_CODE_SIZE,
                                           .userspace_addr = (uintptr_t)p->code };
  struct kvm_userspace_memory_region d = { .slot = 1, .flags = KVM_MEM_LOG_DIRTY_PAGES,
                                           .guest_phys_addr = PW_DATA_GPA,
                                           .memory_size = p->data_size,
                                           .userspace_addr = (uintptr_t)p->data };
  int ok = skvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &c) == 0 &&
           skvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &d) == 0;
  CHECK(ok);
  return ok ? 0 : -1;
}

/* vCPU 0 in real mode, its kvm_run mapped. */
static inline int pw_vcpu(struct pw *p, int sys)
{
  p->vcpu = skvm_ioctl(p->vm, KVM_CREATE_VCPU, (void *)0);
  CHECK(p->vcpu >= 0);
  if (p->vcpu < 0) return -1;
  p->run_size = (size_t)skvm_ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, NULL);
  p->run = skvm_mmap(NULL, p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
  CHECK(p->run != MAP_FAILED);
  if (p->run == MAP_FAILED) return -1;
  struct kvm_sregs s;
  CHECK_EQ(skvm_ioctl(p->vcpu, KVM_GET_SREGS, &s), 0);
  s.cs.base = 0, s.cs.selector = 0;
  CHECK_EQ(skvm_ioctl(p->vcpu, KVM_SET_SREGS, &s), 0);
  return 0;
}

/* Starts the loop: write pages [first, first + n) of the data slot. */
static inline void pw_start(struct pw *p, unsigned first, unsigned n)
{
  struct kvm_regs r = { .rip = PW_LOOP, .rflags = 2, .rcx = n,
                        .rbx = (PW_DATA_GPA >> 4) + first * 0x100 };
  CHECK_EQ(skvm_ioctl(p->vcpu, KVM_SET_REGS, &r), 0);
}

/* KVM_RUN; the exit reason, or -1. */
static inline int pw_run(struct pw *p)
{
  return skvm_ioctl(p->vcpu, KVM_RUN, NULL) ? -1 : (int)p->run->exit_reason;
}

static inline void pw_fini(struct pw *p)
{
  if (p->run && p->run != MAP_FAILED) munmap(p->run, p->run_size);
  if (p->vcpu >= 0) skvm_close(p->vcpu);
  if (p->code != MAP_FAILED) munmap(p->code, PW_CODE_SIZE);
  if (p->data != MAP_FAILED) munmap(p->data, p->data_size);
}

#endif
