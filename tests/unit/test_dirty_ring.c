/* KVM_CAP_DIRTY_LOG_RING (Linux 6.1 virt/kvm/dirty_ring.c, kvm_main.c): enabling, the ring's
 * mapping from the vCPU fd, the flags handshake, KVM_RESET_DIRTY_RINGS, and
 * KVM_EXIT_DIRTY_RING_FULL once the ring is soft-full (size - 64 entries in use). */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "pagewriter.h"

#define IARG(x) ((void *)(uintptr_t)(x))
#define ENTRIES 256                 /* 4 KiB of struct kvm_dirty_gfn */
#define SOFT_LIMIT (ENTRIES - 64)
#define PAGES 200

static int enable(int vm, uint64_t bytes)
{
  struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING, .args = { bytes } };
  return skvm_ioctl(vm, KVM_ENABLE_CAP, &cap);
}

static void test_enable_errors(int sys)
{
  int vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK_ERRNO(enable(vm, 0), EINVAL);
  CHECK_ERRNO(enable(vm, 3 * 4096), EINVAL);            /* not a power of two */
  CHECK_ERRNO(enable(vm, 2048), EINVAL);                /* smaller than a page */
  CHECK_ERRNO(enable(vm, 2 * 65536 * 16), E2BIG);       /* more than 65536 entries */
  int v = skvm_ioctl(vm, KVM_CREATE_VCPU, IARG(0));
  CHECK_ERRNO(enable(vm, 4096), EINVAL);                /* after a vCPU exists */
  skvm_close(v);
  skvm_close(vm);
  vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK_EQ(enable(vm, 4096), 0);
  CHECK_ERRNO(enable(vm, 8192), EINVAL);                /* only once */
  skvm_close(vm);
  vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK_ERRNO(skvm_ioctl(vm, KVM_RESET_DIRTY_RINGS, NULL), EINVAL);   /* no ring */
  skvm_close(vm);
}

int main(void)
{
  int sys = skvm_open();
  CHECK_EQ(skvm_ioctl(sys, KVM_CHECK_EXTENSION, IARG(KVM_CAP_DIRTY_LOG_RING)), 65536 * 16);
  test_enable_errors(sys);

  int vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK_EQ(enable(vm, ENTRIES * sizeof(struct kvm_dirty_gfn)), 0);
  struct pw p;
  if (pw_slots(&p, vm, PAGES) || pw_vcpu(&p, sys)) return test_summary();

  /* the ring: shared and not executable only (kvm_vcpu_mmap) */
  const off_t off = (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * 4096;
  const size_t bytes = ENTRIES * sizeof(struct kvm_dirty_gfn);
  CHECK(skvm_mmap(NULL, bytes, PROT_READ, MAP_PRIVATE, p.vcpu, off) == MAP_FAILED);
  CHECK(skvm_mmap(NULL, bytes, PROT_READ | PROT_EXEC, MAP_SHARED, p.vcpu, off) == MAP_FAILED);
  struct kvm_dirty_gfn *ring = skvm_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, p.vcpu, off);
  CHECK(ring != MAP_FAILED);
  if (ring == MAP_FAILED) return test_summary();

  /* the bitmap interface is off with a ring */
  uint64_t bm[4];
  struct kvm_dirty_log log = { .slot = 1, .dirty_bitmap = bm };
  CHECK_ERRNO(skvm_ioctl(vm, KVM_GET_DIRTY_LOG, &log), ENXIO);

  /* writing all pages stops once SOFT_LIMIT entries are in use, right after that write */
  pw_start(&p, 0, PAGES);
  CHECK_EQ(pw_run(&p), KVM_EXIT_DIRTY_RING_FULL);
  int in_order = 1;
  for (int i = 0; i < SOFT_LIMIT; i++)
    in_order &= ring[i].flags == KVM_DIRTY_GFN_F_DIRTY && ring[i].slot == 1 && ring[i].offset == (uint64_t)i;
  CHECK(in_order);
  CHECK_EQ(ring[SOFT_LIMIT].flags, 0);
  CHECK_EQ(p.data[(SOFT_LIMIT - 1) * 4096], 1);
  CHECK_EQ(p.data[SOFT_LIMIT * 4096], 0);
  /* still full: KVM_RUN exits again without running the guest */
  CHECK_EQ(pw_run(&p), KVM_EXIT_DIRTY_RING_FULL);
  CHECK_EQ(ring[SOFT_LIMIT].flags, 0);

  /* nothing harvested: nothing reset */
  CHECK_EQ(skvm_ioctl(vm, KVM_RESET_DIRTY_RINGS, NULL), 0);
  /* harvest 0..99 and 150: the reset stops at the first entry not harvested (100) */
  for (int i = 0; i < 100; i++) ring[i].flags = KVM_DIRTY_GFN_F_RESET;
  ring[150].flags = KVM_DIRTY_GFN_F_RESET;
  CHECK_EQ(skvm_ioctl(vm, KVM_RESET_DIRTY_RINGS, NULL), 100);
  CHECK_EQ(ring[0].flags, 0);
  CHECK_EQ(ring[99].flags, 0);
  CHECK_EQ(ring[100].flags, KVM_DIRTY_GFN_F_DIRTY);
  CHECK_EQ(ring[150].flags, KVM_DIRTY_GFN_F_RESET);

  /* room again: the guest finishes pages SOFT_LIMIT..PAGES-1 */
  CHECK_EQ(pw_run(&p), KVM_EXIT_HLT);
  int rest = 1;
  for (int i = SOFT_LIMIT; i < PAGES; i++)
    rest &= ring[i].flags == KVM_DIRTY_GFN_F_DIRTY && ring[i].offset == (uint64_t)i;
  CHECK(rest);
  CHECK_EQ(ring[PAGES].flags, 0);

  /* a reset page is reported on its next write; a page whose entry was not reset (150) is not */
  pw_start(&p, 5, 1);
  CHECK_EQ(pw_run(&p), KVM_EXIT_HLT);
  pw_start(&p, 150, 1);
  CHECK_EQ(pw_run(&p), KVM_EXIT_HLT);
  CHECK_EQ(ring[PAGES].flags, KVM_DIRTY_GFN_F_DIRTY);
  CHECK_EQ(ring[PAGES].offset, 5);
  CHECK_EQ(ring[PAGES + 1].flags, 0);

  /* the ring wraps: harvest everything, then entries go on at index PAGES + 1 mod ENTRIES */
  for (int i = 100; i <= PAGES; i++) ring[i].flags = KVM_DIRTY_GFN_F_RESET;
  CHECK_EQ(skvm_ioctl(vm, KVM_RESET_DIRTY_RINGS, NULL), PAGES + 1 - 100);
  pw_start(&p, 0, 100);
  CHECK_EQ(pw_run(&p), KVM_EXIT_HLT);
  CHECK_EQ(ring[(PAGES + 100) % ENTRIES].offset, 99);
  CHECK_EQ(ring[(PAGES + 100) % ENTRIES].flags, KVM_DIRTY_GFN_F_DIRTY);

  munmap(ring, bytes);
  pw_fini(&p);
  skvm_close(vm);
  skvm_close(sys);
  return test_summary();
}
