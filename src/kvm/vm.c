/* The VM object: memslots, vCPUs, and the VM handle's ioctls. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

int vm_create(void)
{
  struct skvm_vm *vm = calloc(1, sizeof(*vm));
  if (!vm) return -ENOMEM;
  vm->slots = calloc(SKVM_USER_MEM_SLOTS, sizeof(*vm->slots));
  if (!vm->slots) goto err_vm;
  pthread_mutex_init(&vm->lock, NULL);
  pthread_rwlock_init(&vm->msr_filter_lock, NULL);
  vm->tsc_offset = -(int64_t)skvm_clock_ns(CLOCK_MONOTONIC);   /* the TSC starts at 0 */
  pv_vm_init(vm);
  vm->refs = 1;
  int fd = handle_eventfd();
  if (fd < 0) goto err_slots;
  if (handle_register(fd, SKVM_VM, vm)) goto err_fd;
  return fd;

err_fd:
  close(fd);
err_slots:
  free(vm->slots);
err_vm:
  free(vm);
  return -ENOMEM;
}

void vm_put(struct skvm_vm *vm)
{
  pthread_mutex_lock(&vm->lock);
  int refs = --vm->refs;
  pthread_mutex_unlock(&vm->lock);
  if (refs) return;
  irqchip_destroy(vm);
  msr_filter_destroy(vm);
  pv_vm_destroy(vm);
  stats_fini(&vm->stats);
  pthread_rwlock_destroy(&vm->msr_filter_lock);
  memslot_free_all(vm);
  free(vm->slots);
  pthread_mutex_destroy(&vm->lock);
  free(vm);
}

/* KVM_ENABLE_CAP on the VM (kvm_vm_ioctl_enable_cap and its generic part) */
static long enable_cap(struct skvm_vm *vm, const struct kvm_enable_cap *cap)
{
  long r = -EINVAL;
  if (cap->flags) return -EINVAL;
  switch (cap->cap) {
  case KVM_CAP_X86_USER_SPACE_MSR:
    if (cap->args[0] & ~(uint64_t)(KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN |
                                   KVM_MSR_EXIT_REASON_FILTER))
      return -EINVAL;
    __atomic_store_n(&vm->user_msr_exits, (uint8_t)cap->args[0], __ATOMIC_RELAXED);
    return 0;
  case KVM_CAP_MSR_PLATFORM_INFO:
    __atomic_store_n(&vm->platform_info_hidden, !cap->args[0], __ATOMIC_RELAXED);
    return 0;
  case KVM_CAP_X2APIC_API:
    if (cap->args[0] & ~(uint64_t)(KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK))
      return -EINVAL;
    __atomic_or_fetch(&vm->x2apic_api, (uint32_t)cap->args[0], __ATOMIC_RELAXED);
    return 0;
  case KVM_CAP_MAX_VCPU_ID:
    if (cap->args[0] > SKVM_MAX_VCPU_ID) return -EINVAL;
    pthread_mutex_lock(&vm->lock);
    if (vm->max_vcpu_ids == cap->args[0]) r = 0;
    else if (!vm->max_vcpu_ids) vm->max_vcpu_ids = (uint32_t)cap->args[0], r = 0;
    pthread_mutex_unlock(&vm->lock);
    return r;
  case KVM_CAP_DISABLE_QUIRKS2:
    return pv_vm_enable_cap(vm, cap);
  case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
    return dirty_log_enable_manual(vm, cap->args[0]);
  case KVM_CAP_DIRTY_LOG_RING:
  case KVM_CAP_DIRTY_LOG_RING_ACQ_REL:
    return dirty_ring_enable(vm, cap->args[0]);
  }
  return r;
}

long vm_ioctl(struct skvm_vm *vm, unsigned long req, void *arg)
{
  switch (req) {
  case KVM_SET_USER_MEMORY_REGION:
    return memslot_set(vm, arg);
  case KVM_CREATE_VCPU:
    return vcpu_create(vm, (unsigned long)arg);
  case KVM_GET_DIRTY_LOG:
    return dirty_log_get(vm, arg);
  case KVM_CLEAR_DIRTY_LOG:
    return dirty_log_clear(vm, arg);
  case KVM_RESET_DIRTY_RINGS:
    return dirty_ring_reset(vm);
  case KVM_GET_STATS_FD:
    return stats_vm_fd(vm);
  case KVM_CHECK_EXTENSION:
    return check_extension(vm, (long)arg);
  case KVM_ENABLE_CAP:
    return enable_cap(vm, arg);
  case KVM_X86_SET_MSR_FILTER:
    return msr_filter_set(vm, arg);
  case KVM_GET_CLOCK:
  case KVM_SET_CLOCK:
    return pv_vm_ioctl(vm, req, arg);
  case KVM_SET_NR_MMU_PAGES:
    if ((unsigned long)arg < 64) return -EINVAL;   /* KVM_MIN_ALLOC_MMU_PAGES */
    vm->nr_mmu_pages = (unsigned long)arg;
    return 0;
  case KVM_GET_NR_MMU_PAGES:
    return (long)vm->nr_mmu_pages;
  case KVM_SET_TSS_ADDR:   /* VMX real-mode helpers: nothing to do for a software CPU */
    vm->tss_addr = (unsigned long)arg;
    return 0;
  case KVM_SET_BOOT_CPU_ID: {
    long r = 0;
    pthread_mutex_lock(&vm->lock);
    if (vm->created_vcpus) r = -EBUSY;
    else vm->bsp_vcpu_id = (uint32_t)(unsigned long)arg;
    pthread_mutex_unlock(&vm->lock);
    return r;
  }
  case KVM_SET_IDENTITY_MAP_ADDR: {
    long r = 0;
    pthread_mutex_lock(&vm->lock);
    if (vm->nvcpus) r = -EEXIST;
    else vm->identity_map_addr = *(uint64_t *)arg;
    pthread_mutex_unlock(&vm->lock);
    return r;
  }
  }
  return irqchip_vm_ioctl(vm, req, arg);   /* -ENOTTY, kvm_arch_vm_ioctl's default, if not its */
}
