/* KVM_X86_SET_MSR_FILTER and KVM_CAP_X86_USER_SPACE_MSR (arch/x86/kvm/x86.c: kvm_msr_allowed,
 * kvm_vm_ioctl_set_msr_filter). The filter is replaced whole; vCPUs read it under a rwlock. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct msr_filter_range {
  uint32_t flags, base, nmsrs;
  unsigned long *bitmap;
};

struct skvm_msr_filter {
  bool default_allow;
  int count;
  struct msr_filter_range ranges[KVM_MSR_FILTER_MAX_RANGES];
};

static void filter_free(struct skvm_msr_filter *f)
{
  if (!f) return;
  for (int i = 0; i < f->count; i++) free(f->ranges[i].bitmap);
  free(f);
}

static long filter_add(struct skvm_msr_filter *f, const struct kvm_msr_filter_range *r)
{
  if (!r->nmsrs) return 0;
  if (!r->flags || (r->flags & ~(KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE))) return -EINVAL;
  size_t bytes = (r->nmsrs + 63) / 64 * 8;
  if (bytes > KVM_MSR_FILTER_MAX_BITMAP_SIZE) return -EINVAL;
  unsigned long *bitmap = malloc(bytes);
  if (!bitmap) return -ENOMEM;
  memcpy(bitmap, r->bitmap, bytes);   /* a bad pointer faults here, where KVM says EFAULT */
  f->ranges[f->count++] = (struct msr_filter_range){ r->flags, r->base, r->nmsrs, bitmap };
  return 0;
}

long msr_filter_set(struct skvm_vm *vm, const struct kvm_msr_filter *user)
{
  if (user->flags & ~KVM_MSR_FILTER_DEFAULT_DENY) return -EINVAL;
  bool empty = true;
  for (int i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) empty &= !user->ranges[i].nmsrs;
  bool default_allow = !(user->flags & KVM_MSR_FILTER_DEFAULT_DENY);
  if (empty && !default_allow) return -EINVAL;
  struct skvm_msr_filter *f = calloc(1, sizeof(*f));
  if (!f) return -ENOMEM;
  f->default_allow = default_allow;
  for (int i = 0; i < KVM_MSR_FILTER_MAX_RANGES; i++) {
    long r = filter_add(f, &user->ranges[i]);
    if (r) {
      filter_free(f);
      return r;
    }
  }
  pthread_rwlock_wrlock(&vm->msr_filter_lock);
  struct skvm_msr_filter *old = vm->msr_filter;
  vm->msr_filter = f;
  pthread_rwlock_unlock(&vm->msr_filter_lock);
  filter_free(old);
  return 0;
}

void msr_filter_destroy(struct skvm_vm *vm)
{
  filter_free(vm->msr_filter);
  vm->msr_filter = NULL;
}

bool msr_filter_denies(struct skvm_vm *vm, uint32_t index, bool write)
{
  if (index >= 0x800 && index <= 0x8ff) return false;   /* x2APIC MSRs are never filtered */
  uint32_t type = write ? KVM_MSR_FILTER_WRITE : KVM_MSR_FILTER_READ;
  bool allowed = true;
  pthread_rwlock_rdlock(&vm->msr_filter_lock);
  const struct skvm_msr_filter *f = vm->msr_filter;
  if (f) {
    allowed = f->default_allow;
    for (int i = 0; i < f->count; i++) {
      const struct msr_filter_range *r = &f->ranges[i];
      if (index >= r->base && index - r->base < r->nmsrs && (r->flags & type)) {
        uint32_t bit = index - r->base;
        allowed = (r->bitmap[bit / 64] >> (bit % 64)) & 1;
        break;
      }
    }
  }
  pthread_rwlock_unlock(&vm->msr_filter_lock);
  return !allowed;
}
