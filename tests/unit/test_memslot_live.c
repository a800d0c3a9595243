/* A memslot deleted while a vCPU runs: the ioctl returns only once the vCPU has stopped using
 * it, so userspace may munmap the memory at once (a stale host access would crash this test),
 * and the guest's next access to that range exits as MMIO. */
#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "softkvm.h"
#include "testlib.h"

#define SLOT1_GPA 0x200000u
#define SLOT1_SIZE 0x10000u

static int vcpu;
static struct kvm_run *run;
static int run_rc;

static void *vcpu_thread(void *arg)
{
  (void)arg;
  run_rc = skvm_ioctl(vcpu, KVM_RUN, 0);
  return NULL;
}

static void enter_flat32(int fd, uint64_t rip)
{
  struct kvm_sregs s;
  skvm_ioctl(fd, KVM_GET_SREGS, &s);
  struct kvm_segment flat = { .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 3,
                              .present = 1, .db = 1, .s = 1, .g = 1 };
  s.ds = s.es = s.fs = s.gs = s.ss = flat;
  s.cs = flat, s.cs.type = 11, s.cs.selector = 8;
  s.cr0 |= 1;
  skvm_ioctl(fd, KVM_SET_SREGS, &s);
  struct kvm_regs r = { .rip = rip, .rflags = 2, .rsp = 0x8000 };
  skvm_ioctl(fd, KVM_SET_REGS, &r);
}

int main(void)
{
  int sys = skvm_open(), vm = skvm_ioctl(sys, KVM_CREATE_VM, 0);
  uint8_t *low = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static const uint8_t loop[] = {
    0xa1, 0x00, 0x00, 0x20, 0x00,   /* l: mov eax, [0x200000] */
    0x01, 0xc3,                     /* add ebx, eax */
    0xeb, 0xf7,                     /* jmp l */
  };
  memcpy(low + 0x1000, loop, sizeof(loop));
  struct kvm_userspace_memory_region r0 = { 0, 0, 0, 0x10000, (uintptr_t)low };
  CHECK_OK(skvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r0));
  vcpu = skvm_ioctl(vm, KVM_CREATE_VCPU, 0);
  run = skvm_mmap(NULL, skvm_ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, 0), PROT_READ | PROT_WRITE,
                  MAP_SHARED, vcpu, 0);
  CHECK(vcpu >= 0 && run != MAP_FAILED);

  for (int round = 0; round < 20; round++) {
    uint8_t *high = mmap(NULL, SLOT1_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    high[0] = 1;
    struct kvm_userspace_memory_region r1 = { 1, 0, SLOT1_GPA, SLOT1_SIZE, (uintptr_t)high };
    CHECK_OK(skvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1));
    enter_flat32(vcpu, 0x1000);
    pthread_t t;
    pthread_create(&t, NULL, vcpu_thread, NULL);
    struct timespec ts = { 0, 5 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    r1.memory_size = 0;
    CHECK_OK(skvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1));
    munmap(high, SLOT1_SIZE);          /* the vCPU must not touch it any more */
    pthread_join(t, NULL);
    CHECK_EQ(run_rc, 0);
    CHECK_EQ(run->exit_reason, KVM_EXIT_MMIO);
    CHECK_EQ(run->mmio.phys_addr, SLOT1_GPA);
    CHECK_EQ(run->mmio.is_write, 0);
  }
  skvm_close(vcpu);
  skvm_close(vm);
  skvm_close(sys);
  return test_summary();
}
