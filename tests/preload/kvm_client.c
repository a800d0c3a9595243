/* A KVM program that knows nothing of softkvm: it uses open("/dev/kvm"), ioctl, mmap and close
 * from libc. Run under LD_PRELOAD=libsoftkvm-preload.so it must find a working KVM; other files
 * must still open, read and close normally. KVM fds are real fds: dups name the same object,
 * which lives until its last fd closes, and poll() sees them ready as KVM's files. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int passed, failed;

#define CHECK(c)                                                   \
  do {                                                             \
    if (c) passed++;                                               \
    else {                                                         \
      failed++;                                                    \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
    }                                                              \
  } while (0)

int main(void)
{
  /* pass-through: an ordinary file */
  char buf[64];
  int other = open("/proc/self/stat", O_RDONLY);
  CHECK(other >= 0 && read(other, buf, sizeof(buf)) > 0);
  CHECK(close(other) == 0);

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  CHECK(kvm >= 0);
  if (kvm < 0) goto out;
  CHECK(ioctl(kvm, KVM_GET_API_VERSION, 0) == KVM_API_VERSION);
  CHECK(ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0);
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  CHECK(vm >= 0);
  size_t mem_size = 0x10000;
  uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static const uint8_t code[] = {
    0xb0, 0x42,   /* mov al, 0x42 */
    0xe6, 0x10,   /* out 0x10, al */
    0xf4,         /* hlt */
  };
  memcpy(mem + 0x1000, code, sizeof(code));
  struct kvm_userspace_memory_region r = { .slot = 0, .guest_phys_addr = 0, .memory_size = mem_size,
                                           .userspace_addr = (uintptr_t)mem };
  CHECK(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r) == 0);
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  CHECK(vcpu >= 0);
  int size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  struct kvm_run *run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  CHECK(run != MAP_FAILED);
  if (vm < 0 || vcpu < 0 || run == MAP_FAILED) goto out;

  /* dups: the VM and vCPU survive closing their original fds */
  int vm2 = dup(vm);
  CHECK(vm2 >= 0 && ioctl(vm2, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0);
  int vcpu2 = fcntl(vcpu, F_DUPFD_CLOEXEC, 100);
  CHECK(vcpu2 >= 100 && (fcntl(vcpu2, F_GETFD) & FD_CLOEXEC));
  CHECK(close(vcpu) == 0);
  vcpu = vcpu2;
  CHECK(close(vm) == 0);
  vm = vm2;
  CHECK(ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0);
  /* dup2 over a system handle's dup: that fd now names the VM, the system handle lives on */
  int kvm2 = dup(kvm);
  CHECK(kvm2 >= 0 && ioctl(kvm2, KVM_GET_VCPU_MMAP_SIZE, 0) == size);
  CHECK(dup2(vm, kvm2) == kvm2);
  CHECK(ioctl(kvm2, KVM_GET_VCPU_MMAP_SIZE, 0) == -1);   /* a VM ioctl now: ENOTTY */
  CHECK(ioctl(kvm2, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0);
  CHECK(ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0) == size);
  int vm3 = dup3(vm, 90, O_CLOEXEC);
  CHECK(vm3 == 90 && ioctl(vm3, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) > 0);
  CHECK(close(vm3) == 0 && close(kvm2) == 0);
  CHECK(ioctl(vm3, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) == -1);   /* closed: EBADF */
  /* poll: KVM's files have no poll method, so they are always readable and writable */
  struct pollfd pf[3] = { { kvm, POLLIN | POLLOUT, 0 }, { vm, POLLIN | POLLOUT, 0 },
                          { vcpu, POLLIN | POLLOUT, 0 } };
  CHECK(poll(pf, 3, 0) == 3);
  for (int i = 0; i < 3; i++) CHECK((pf[i].revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT));

  struct kvm_sregs s;
  CHECK(ioctl(vcpu, KVM_GET_SREGS, &s) == 0);
  s.cs.base = 0, s.cs.selector = 0;
  CHECK(ioctl(vcpu, KVM_SET_SREGS, &s) == 0);
  struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
  CHECK(ioctl(vcpu, KVM_SET_REGS, &regs) == 0);

  CHECK(ioctl(vcpu, KVM_RUN, 0) == 0);
  CHECK(run->exit_reason == KVM_EXIT_IO && run->io.port == 0x10 &&
        run->io.direction == KVM_EXIT_IO_OUT && ((uint8_t *)run)[run->io.data_offset] == 0x42);
  CHECK(ioctl(vcpu, KVM_RUN, 0) == 0);
  CHECK(run->exit_reason == KVM_EXIT_HLT);

  /* the binary stats file: a plain fd, read with pread */
  int sfd = ioctl(vcpu, KVM_GET_STATS_FD, 0);
  struct kvm_stats_header h;
  CHECK(sfd >= 0 && pread(sfd, &h, sizeof(h), 0) == sizeof(h) && h.num_desc > 0);
  uint64_t exits = 0;
  CHECK(pread(sfd, &exits, 8, h.data_offset) == 8 && exits == 2);   /* "exits" is the first */
  CHECK(close(sfd) == 0);

  CHECK(munmap(run, size) == 0);
  CHECK(close(vcpu) == 0);
  CHECK(close(vm) == 0);
  CHECK(close(kvm) == 0);
out:
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
