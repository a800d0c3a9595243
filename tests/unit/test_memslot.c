/* ABI tests for KVM_SET_USER_MEMORY_REGION.
 *
 * Expectations follow Linux 6.1 virt/kvm/kvm_main.c: kvm_vm_ioctl_set_memory_region (slot id
 * check), check_memory_region_flags, __kvm_set_memory_region (sanity checks, create / delete /
 * move / flags-only, overlap), kvm_check_memslot_overlap; x86 constants from
 * arch/x86/include/asm/kvm_host.h (KVM_ADDRESS_SPACE_NUM 2, KVM_INTERNAL_MEM_SLOTS 3). */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softkvm.h"
#include "testlib.h"

#define IARG(x) ((void *)(uintptr_t)(x))
#define PG 4096ULL
#define USER_MEM_SLOTS 32764 /* KVM_USER_MEM_SLOTS = SHRT_MAX - 3 on x86 */

static int vm_fd;

static int set_region(uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *host) {
  struct kvm_userspace_memory_region r = {
    .slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
    .userspace_addr = (uint64_t)(uintptr_t)host,
  };
  return skvm_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

static int set_region_ua(uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, uint64_t ua) {
  struct kvm_userspace_memory_region r = {
    .slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size, .userspace_addr = ua,
  };
  return skvm_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
}

static int new_vm(int sys) {
  vm_fd = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK(vm_fd >= 0);
  return vm_fd;
}

/* Expect -EINVAL; if the call wrongly created slot 0, delete it again (result ignored). */
#define CHECK_EINVAL_CLEAN(call)         \
  do {                                   \
    CHECK_ERRNO(call, EINVAL);           \
    set_region(0, 0, 0, 0, NULL);        \
  } while (0)

/* Argument checks that come before any slot lookup (own VM, so that a check the library wrongly
 * accepts cannot leave a slot behind that breaks later tests). */
static void test_sanity_checks(uint8_t *mem) {
  /* check_memory_region_flags: only KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY (x86 defines
   * __KVM_HAVE_READONLY_MEM). */
  CHECK_EINVAL_CLEAN(set_region(0, 1u << 2, 0, 16 * PG, mem));
  CHECK_EINVAL_CLEAN(set_region(0, 1u << 31, 0, 16 * PG, mem));
  CHECK_EINVAL_CLEAN(set_region(0, KVM_MEM_LOG_DIRTY_PAGES | 0x100, 0, 16 * PG, mem));

  /* memory_size, guest_phys_addr and userspace_addr must be page aligned. */
  CHECK_EINVAL_CLEAN(set_region(0, 0, 0, 16 * PG + 1, mem));
  CHECK_EINVAL_CLEAN(set_region(0, 0, 0, 0x800, mem));
  CHECK_EINVAL_CLEAN(set_region(0, 0, 0x1800, 16 * PG, mem));
  CHECK_EINVAL_CLEAN(set_region(0, 0, 0, 16 * PG, mem + 8));
  /* ... and the range must be user memory (access_ok): a kernel-half address is -EINVAL. */
  CHECK_EINVAL_CLEAN(set_region_ua(0, 0, 0, PG, 0xffff800000000000ULL));

  /* kvm_vm_ioctl_set_memory_region: (u16)slot >= KVM_USER_MEM_SLOTS is -EINVAL. */
  CHECK_EINVAL_CLEAN(set_region(USER_MEM_SLOTS, 0, 0, 16 * PG, mem));
  CHECK_EINVAL_CLEAN(set_region(0xffff, 0, 0, 16 * PG, mem));
  /* __kvm_set_memory_region: as_id = slot >> 16 must be < KVM_ADDRESS_SPACE_NUM (2 on x86). */
  CHECK_EINVAL_CLEAN(set_region(2u << 16, 0, 0, 16 * PG, mem));
  CHECK_EINVAL_CLEAN(set_region(0xffffu << 16, 0, 0, 16 * PG, mem));

  /* gpa + size wrapping around 2^64. */
  CHECK_EINVAL_CLEAN(set_region(0, 0, 0xfffffffffffff000ULL, 2 * PG, mem));
  /* x86 kvm_arch_prepare_memory_region: the last gfn must not exceed kvm_mmu_max_gfn(), which
   * is below 2^40 on every host (MAXPHYADDR <= 52). */
  CHECK_EINVAL_CLEAN(set_region(0, 0, 1ULL << 52, PG, mem));
  /* More than KVM_MEM_MAX_NR_PAGES ((1 << 31) - 1) pages: 8 TiB (user range, never touched). */
  CHECK_EINVAL_CLEAN(set_region_ua(0, 0, 1ULL << 44, 1ULL << 43, 1ULL << 32));

  /* The same slot with valid arguments is accepted. */
  CHECK_EQ(set_region(0, 0, 0, 16 * PG, mem), 0);
}

static void test_create_overlap_modify(uint8_t *mem) {
  /* Slot 0: gpa [0, 64K). Slot 1: gpa [1M, 1M+64K). Both backed by `mem` ranges. */
  CHECK_EQ(set_region(0, 0, 0, 16 * PG, mem), 0);
  CHECK_EQ(set_region(1, 0, 0x100000, 16 * PG, mem + 16 * PG), 0);

  /* Re-issuing a slot unchanged is a no-op success ("Nothing to change"). */
  CHECK_EQ(set_region(0, 0, 0, 16 * PG, mem), 0);

  /* kvm_check_memslot_overlap on CREATE: any other slot in [base, base+npages) → -EEXIST. */
  CHECK_ERRNO(set_region(2, 0, 0xf000, 2 * PG, mem + 32 * PG), EEXIST);       /* tail of slot 0 */
  CHECK_ERRNO(set_region(2, 0, 0x0, PG, mem + 32 * PG), EEXIST);              /* head of slot 0 */
  CHECK_ERRNO(set_region(2, 0, 0x0fe000, 64 * PG, mem + 32 * PG), EEXIST);    /* covers slot 1 */
  CHECK_ERRNO(set_region(2, 0, 0x104000, PG, mem + 32 * PG), EEXIST);         /* inside slot 1 */
  /* Adjacent is fine; two slots may share host memory (only gpa ranges must not overlap). */
  CHECK_EQ(set_region(2, 0, 0x10000, PG, mem + 32 * PG), 0);
  CHECK_EQ(set_region(3, 0, 0x0ff000, PG, mem), 0);

  /* Modifying an existing slot: userspace_addr, size and READONLY may not change → -EINVAL. */
  CHECK_ERRNO(set_region(0, 0, 0, 8 * PG, mem), EINVAL);
  CHECK_ERRNO(set_region(0, 0, 0, 32 * PG, mem), EINVAL);
  CHECK_ERRNO(set_region(0, 0, 0, 16 * PG, mem + PG), EINVAL);
  CHECK_ERRNO(set_region(0, KVM_MEM_READONLY, 0, 16 * PG, mem), EINVAL);
  /* ... those checks come before the overlap check (same gpa, different size into slot 2). */
  CHECK_ERRNO(set_region(0, 0, 0, 17 * PG, mem), EINVAL);

  /* KVM_MR_FLAGS_ONLY: toggling KVM_MEM_LOG_DIRTY_PAGES is allowed, both ways. */
  CHECK_EQ(set_region(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 16 * PG, mem), 0);
  CHECK_EQ(set_region(0, KVM_MEM_LOG_DIRTY_PAGES, 0, 16 * PG, mem), 0);
  CHECK_EQ(set_region(0, 0, 0, 16 * PG, mem), 0);

  /* A READONLY slot (KVM_CAP_READONLY_MEM); it may drop/gain LOG_DIRTY but not READONLY. */
  CHECK_EQ(set_region(4, KVM_MEM_READONLY, 0x200000, 4 * PG, mem + 64 * PG), 0);
  CHECK_EQ(set_region(4, KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES, 0x200000, 4 * PG, mem + 64 * PG), 0);
  CHECK_ERRNO(set_region(4, KVM_MEM_LOG_DIRTY_PAGES, 0x200000, 4 * PG, mem + 64 * PG), EINVAL);

  /* KVM_MR_MOVE: same slot, same size/uaddr, new gpa. */
  CHECK_EQ(set_region(1, 0, 0x300000, 16 * PG, mem + 16 * PG), 0);
  /* The old range is free now... */
  CHECK_EQ(set_region(5, 0, 0x100000, PG, mem + 80 * PG), 0);
  /* ...a move onto another slot is -EEXIST... */
  CHECK_ERRNO(set_region(1, 0, 0x0, 16 * PG, mem + 16 * PG), EEXIST);
  CHECK_ERRNO(set_region(1, 0, 0x1fe000, 16 * PG, mem + 16 * PG), EEXIST); /* hits slot 4 */
  /* ...but overlapping its own current range is fine (iter.slot->id == id is skipped). */
  CHECK_EQ(set_region(1, 0, 0x304000, 16 * PG, mem + 16 * PG), 0);
  /* A move together with a flags change is allowed too. */
  CHECK_EQ(set_region(1, KVM_MEM_LOG_DIRTY_PAGES, 0x400000, 16 * PG, mem + 16 * PG), 0);
  /* A move still may not change size or userspace_addr. */
  CHECK_ERRNO(set_region(1, 0, 0x500000, 15 * PG, mem + 16 * PG), EINVAL);

  /* The highest user slot id is valid. */
  CHECK_EQ(set_region(USER_MEM_SLOTS - 1, 0, 0x40000000, PG, mem), 0);

  /* Address space 1 (SMM) exists on Linux x86, where KVM_CAP_MULTI_ADDRESS_SPACE reads 2:
   * as_id must be below that cap's value (treated as 1 when the cap reads 0). */
  long nas = skvm_ioctl(vm_fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_MULTI_ADDRESS_SPACE));
  CHECK(nas >= 0 && nas <= 2);
  if (nas >= 2) {
    /* a separate space: same gpa as slot 0 in address space 0 is no overlap */
    CHECK_EQ(set_region((1u << 16) | 0, 0, 0, 16 * PG, mem), 0);
    CHECK_EQ(set_region((1u << 16) | 0, 0, 0, 0, NULL), 0);
  } else {
    CHECK_ERRNO(set_region((1u << 16) | 0, 0, 0, 16 * PG, mem), EINVAL);
  }
}

static void test_delete(uint8_t *mem) {
  /* Deleting (memory_size 0) an existing slot. gpa/uaddr/flags of a delete are ignored, but the
   * general sanity checks still apply to them. */
  CHECK_EQ(set_region(5, 0, 0, 0, NULL), 0);
  /* Linux 6.1: deleting a slot that does not exist is -EINVAL ("if (!old || !old->npages)"). */
  CHECK_ERRNO(set_region(5, 0, 0, 0, NULL), EINVAL);
  CHECK_ERRNO(set_region(100, 0, 0, 0, NULL), EINVAL);
  CHECK_ERRNO(set_region(USER_MEM_SLOTS, 0, 0, 0, NULL), EINVAL);
  CHECK_ERRNO(set_region(2, 0, 0x800, 0, NULL), EINVAL);  /* unaligned gpa, even for delete */
  CHECK_ERRNO(set_region(2, 1u << 5, 0, 0, NULL), EINVAL); /* bad flags, even for delete */

  /* Delete slot 0, then its range can be reused by another slot id and by slot 0 itself with
   * a different size/uaddr (it is a fresh CREATE). */
  CHECK_EQ(set_region(0, 0, 0x12345000, 0, mem), 0);
  CHECK_EQ(set_region(6, 0, 0x4000, 4 * PG, mem + 90 * PG), 0);
  CHECK_EQ(set_region(0, KVM_MEM_READONLY, 0x8000, 2 * PG, mem + 100 * PG), 0);
  CHECK_EQ(set_region(0, 0, 0, 0, NULL), 0);
  CHECK_EQ(set_region(6, 0, 0, 0, NULL), 0);
}

static void test_many_slots(int sys) {
  /* 500 one-page slots at distinct gpas, backed by one mapping; then delete them all. */
  enum { N = 500 };
  uint8_t *big = mmap(NULL, N * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(big != MAP_FAILED);
  if (big == MAP_FAILED) return;
  new_vm(sys);
  int fails = 0;
  for (uint32_t i = 0; i < N; i++)
    if (set_region(i, i % 3 == 0 ? KVM_MEM_LOG_DIRTY_PAGES : 0, 0x100000ULL + 2 * i * PG, PG,
                   big + i * PG) != 0)
      fails++;
  CHECK_EQ(fails, 0);
  /* Slot ids need not be dense. */
  CHECK_EQ(set_region(30000, 0, 0x80000000ULL, PG, big), 0);
  /* Every one of them still detects overlap. */
  CHECK_ERRNO(set_region(N, 0, 0x100000ULL + 2 * 250 * PG, PG, big), EEXIST);
  CHECK_EQ(set_region(N, 0, 0x100000ULL + (2 * 250 + 1) * PG, PG, big), 0); /* in a gap */
  fails = 0;
  for (uint32_t i = 0; i <= N; i++)
    if (set_region(i, 0, 0, 0, NULL) != 0) fails++;
  CHECK_EQ(fails, 0);
  CHECK_EQ(set_region(30000, 0, 0, 0, NULL), 0);
  /* All gone: a slot covering the whole range is accepted. */
  CHECK_EQ(set_region(7, 0, 0x100000, N * PG, big), 0);
  skvm_close(vm_fd);
  munmap(big, N * PG);
}

int main(void) {
  int sys = skvm_open();
  CHECK(sys >= 0);
  uint8_t *mem = mmap(NULL, 128 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(mem != MAP_FAILED);
  if (sys < 0 || mem == MAP_FAILED) return test_summary();

  new_vm(sys);
  test_sanity_checks(mem);
  skvm_close(vm_fd);

  new_vm(sys);
  test_create_overlap_modify(mem);
  test_delete(mem);
  skvm_close(vm_fd);

  test_many_slots(sys);

  /* Memslots are per VM: the same slot/gpa is free in a second VM. */
  int a = new_vm(sys);
  CHECK_EQ(set_region(0, 0, 0, 16 * PG, mem), 0);
  int b = new_vm(sys);
  CHECK_EQ(set_region(0, 0, 0, 16 * PG, mem), 0);
  skvm_close(a);
  skvm_close(b);

  munmap(mem, 128 * PG);
  skvm_close(sys);
  return test_summary();
}
