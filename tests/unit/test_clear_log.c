/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 and KVM_CLEAR_DIRTY_LOG (Linux 6.1 kvm_main.c:
 * kvm_vm_ioctl_enable_cap_generic, kvm_get_dirty_log_protect, kvm_clear_dirty_log_protect). */
#define _GNU_SOURCE
#include "pagewriter.h"

#define IARG(x) ((void *)(uintptr_t)(x))
#define PAGES 16

static int vm;

static int enable(uint64_t flags)
{
  struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, .args = { flags } };
  return skvm_ioctl(vm, KVM_ENABLE_CAP, &cap);
}

static uint64_t get_log(void)
{
  uint64_t bm = 0x5a5a;
  struct kvm_dirty_log log = { .slot = 1, .dirty_bitmap = &bm };
  CHECK_EQ(skvm_ioctl(vm, KVM_GET_DIRTY_LOG, &log), 0);
  return bm;
}

static int clear_log(uint32_t slot, uint64_t first, uint32_t n, uint64_t mask)
{
  struct kvm_clear_dirty_log c = { .slot = slot, .num_pages = n, .first_page = first,
                                   .dirty_bitmap = &mask };
  return skvm_ioctl(vm, KVM_CLEAR_DIRTY_LOG, &c);
}

int main(void)
{
  int sys = skvm_open();
  vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK(vm >= 0);
  CHECK_EQ(skvm_ioctl(sys, KVM_CHECK_EXTENSION, IARG(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)),
           KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET);
  /* INITIALLY_SET only with PROTECT_ENABLE; unknown bits never */
  CHECK_ERRNO(enable(KVM_DIRTY_LOG_INITIALLY_SET), EINVAL);
  CHECK_ERRNO(enable(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | 4), EINVAL);
  CHECK_EQ(enable(KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET), 0);

  struct pw p;
  if (pw_slots(&p, vm, PAGES) || pw_vcpu(&p, sys)) return test_summary();

  /* INITIALLY_SET: a newly logged slot reads all dirty, and GET does not clear it */
  CHECK_EQ(get_log(), 0xffff);
  CHECK_EQ(get_log(), 0xffff);

  /* the range checks: 64-page aligned start, inside the slot, whole words but the last */
  CHECK_ERRNO(clear_log(1, 1, 15, 1), EINVAL);
  CHECK_ERRNO(clear_log(1, 0, 17, 1), EINVAL);
  CHECK_ERRNO(clear_log(1, 64, 0, 1), EINVAL);
  CHECK_ERRNO(clear_log(1, 0, 8, 1), EINVAL);   /* a partial word that is not the slot's end */
  CHECK_ERRNO(clear_log(0, 0, 16, 1), ENOENT);  /* not logged */
  CHECK_ERRNO(clear_log(9, 0, 16, 1), ENOENT);
  CHECK_ERRNO(clear_log(2u << 16 | 1, 0, 16, 1), EINVAL);

  /* clearing is exactly the mask */
  CHECK_EQ(clear_log(1, 0, PAGES, 0xff0f), 0);
  CHECK_EQ(get_log(), 0x00f0);
  CHECK_EQ(clear_log(1, 0, PAGES, 0xffff), 0);
  CHECK_EQ(get_log(), 0);

  /* guest writes to pages 2..4 show up and stay until cleared */
  pw_start(&p, 2, 3);
  CHECK_EQ(pw_run(&p), KVM_EXIT_HLT);
  CHECK_EQ(get_log(), 0x1c);
  CHECK_EQ(get_log(), 0x1c);
  CHECK_EQ(clear_log(1, 0, PAGES, 1u << 3), 0);
  CHECK_EQ(get_log(), 0x14);
  /* a cleared page is logged again on its next write; uncleared ones simply stay set */
  pw_start(&p, 2, 2);
  CHECK_EQ(pw_run(&p), KVM_EXIT_HLT);
  CHECK_EQ(get_log(), 0x1c);

  pw_fini(&p);
  skvm_close(vm);
  skvm_close(sys);
  return test_summary();
}
