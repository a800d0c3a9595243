/* KVM_CHECK_EXTENSION: a capability is reported only once it really works. */
#include <unistd.h>

#include "internal.h"

long check_extension(struct skvm_vm *vm, long cap)
{
  switch (cap) {
  case KVM_CAP_USER_MEMORY:
  case KVM_CAP_DESTROY_MEMORY_REGION_WORKS:
  case KVM_CAP_JOIN_MEMORY_REGIONS_WORKS:
  case KVM_CAP_READONLY_MEM:
  case KVM_CAP_IMMEDIATE_EXIT:
  case KVM_CAP_EXT_CPUID:
  case KVM_CAP_MP_STATE:
  case KVM_CAP_INTERNAL_ERROR_DATA:
  case KVM_CAP_SYNC_MMU:
  case KVM_CAP_SET_TSS_ADDR:
  case KVM_CAP_SET_IDENTITY_MAP_ADDR:
  case KVM_CAP_XSAVE:
  case KVM_CAP_XCRS:
  case KVM_CAP_IRQCHIP:
  case KVM_CAP_IRQ_INJECT_STATUS:
  case KVM_CAP_PIT:
  case KVM_CAP_PIT2:
  case KVM_CAP_PIT_STATE2:
  case KVM_CAP_TSC_DEADLINE_TIMER:
  case KVM_CAP_X86_MSR_FILTER:
  case KVM_CAP_BINARY_STATS_FD:
  case KVM_CAP_SET_BOOT_CPU_ID:
    return 1;
  case KVM_CAP_X2APIC_API:
    return KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK;
  case KVM_CAP_MSR_PLATFORM_INFO:
  case KVM_CAP_GET_MSR_FEATURES:
  case KVM_CAP_VCPU_EVENTS:
  case KVM_CAP_DEBUGREGS:
  case KVM_CAP_INTR_SHADOW:
  case KVM_CAP_USER_NMI:
    return 1;
  case KVM_CAP_SYNC_REGS:
    return KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS;
  case KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2:
    return KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET;
  case KVM_CAP_DIRTY_LOG_RING:
  case KVM_CAP_DIRTY_LOG_RING_ACQ_REL:
    return 65536 * sizeof(struct kvm_dirty_gfn);   /* KVM_DIRTY_RING_MAX_ENTRIES */
  case KVM_CAP_X86_USER_SPACE_MSR:
    return KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_UNKNOWN | KVM_MSR_EXIT_REASON_FILTER;
  case KVM_CAP_NR_VCPUS: {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > SKVM_MAX_VCPUS ? SKVM_MAX_VCPUS : n;
  }
  case KVM_CAP_MAX_VCPUS:
    return SKVM_MAX_VCPUS;
  case KVM_CAP_MAX_VCPU_ID:
    return vm && vm->max_vcpu_ids ? vm->max_vcpu_ids : SKVM_MAX_VCPU_ID;
  case KVM_CAP_NR_MEMSLOTS:
    return SKVM_USER_MEM_SLOTS;
  }
  return pv_check_extension(vm, cap);   /* KVM paravirt and Hyper-V (kvm_pv.c, hyperv.c), else 0 */
}
