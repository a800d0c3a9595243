/* The public API (include/softkvm.h) and the system handle's ioctls, as /dev/kvm serves them. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softkvm.h"
#include "internal.h"

/* the system handle carries no state; any non-NULL marker will do */
static char system_object;

int skvm_open(void)
{
  int fd = handle_eventfd();
  if (fd < 0) return -1;
  if (handle_register(fd, SKVM_SYSTEM, &system_object)) {
    close(fd);
    return -1;
  }
  return fd;
}

static long get_supported_cpuid(struct kvm_cpuid2 *user)
{
  struct kvm_cpuid2 hdr;
  memcpy(&hdr, user, sizeof(hdr));
  int n = x86_supported_cpuid(NULL, 0) + pv_supported_cpuid(NULL);
  if (hdr.nent < 1) return -E2BIG;
  if (hdr.nent > SKVM_MAX_CPUID_ENTRIES) hdr.nent = SKVM_MAX_CPUID_ENTRIES;
  if ((int)hdr.nent < n) return -E2BIG;
  int engine = x86_supported_cpuid(user->entries, hdr.nent);
  pv_supported_cpuid(user->entries + engine);   /* the KVM leaves 0x40000000/1 (kvm_pv.c) */
  user->nent = n;
  return 0;
}

/* KVM_GET_MSR_INDEX_LIST / KVM_GET_MSR_FEATURE_INDEX_LIST: the count always, the indices if they fit */
static long copy_msr_list(struct kvm_msr_list *user, const uint32_t *list, int len)
{
  uint32_t n = user->nmsrs;
  user->nmsrs = len;
  if (n < (uint32_t)len) return -E2BIG;
  memcpy(user->indices, list, len * sizeof(uint32_t));
  return 0;
}

/* KVM_GET_MSRS on the system fd: feature MSRs; the count read up to the first unknown one */
static long get_feature_msrs(struct kvm_msrs *user)
{
  if (user->nmsrs >= SKVM_MAX_IO_MSRS) return -E2BIG;
  uint32_t i;
  for (i = 0; i < user->nmsrs; i++) {
    uint64_t v;
    int r = x86_msr_feature_get(user->entries[i].index, &v);
    user->entries[i].data = v;
    if (r) break;
  }
  return i;
}

long system_ioctl(unsigned long req, void *arg)
{
  switch (req) {
  case KVM_GET_API_VERSION:
    return arg ? -EINVAL : SKVM_API_VERSION;
  case KVM_CREATE_VM:
    if ((unsigned long)arg != 0) return -EINVAL;   /* only the default x86 VM type */
    return vm_create();
  case KVM_CHECK_EXTENSION:
    return check_extension(NULL, (long)arg);
  case KVM_GET_VCPU_MMAP_SIZE:
    return arg ? -EINVAL : SKVM_VCPU_MMAP_SIZE;
  case KVM_GET_SUPPORTED_CPUID:
    return get_supported_cpuid(arg);
  case KVM_GET_MSR_INDEX_LIST:
    return copy_msr_list(arg, x86_msr_list, x86_msr_list_len);
  case KVM_GET_MSR_FEATURE_INDEX_LIST:
    return copy_msr_list(arg, x86_msr_feature_list, x86_msr_feature_list_len);
  case KVM_GET_MSRS:
    return get_feature_msrs(arg);
  case KVM_GET_SUPPORTED_HV_CPUID:
    return hv_get_supported_cpuid(NULL, arg);
  }
  return -EINVAL;   /* kvm_arch_dev_ioctl's default */
}

int skvm_ioctl(int fd, unsigned long req, void *arg)
{
  enum skvm_kind kind;
  void *obj = handle_get(fd, &kind);
  long r;
  if (!obj) return -1;
  switch (kind) {
  case SKVM_SYSTEM: r = system_ioctl(req, arg); break;
  case SKVM_VM: r = vm_ioctl(obj, req, arg); break;
  case SKVM_VCPU: r = vcpu_ioctl(obj, req, arg); break;
  default: r = -EBADF; break;
  }
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return (int)r;
}

void *skvm_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
  enum skvm_kind kind;
  void *obj = handle_get(fd, &kind);
  if (!obj) return MAP_FAILED;
  if (kind != SKVM_VCPU) {
    errno = ENODEV;
    return MAP_FAILED;
  }
  int r = dirty_ring_mmap_check(obj, len, prot, flags, off);
  if (r) {
    errno = -r;
    return MAP_FAILED;
  }
  return mmap(addr, len, prot, flags, fd, off);   /* the vCPU fd is the memfd holding kvm_run */
}

/* An object whose last fd is gone. */
static void release(enum skvm_kind kind, void *obj)
{
  if (kind == SKVM_VM) vm_put(obj);
  else if (kind == SKVM_VCPU) vcpu_destroy(obj);
}

int skvm_close(int fd)
{
  enum skvm_kind kind;
  void *obj = handle_remove(fd, &kind);
  if (obj) release(kind, obj);
  return close(fd);
}

int skvm_dup(int oldfd, int newfd)
{
  enum skvm_kind kind;
  int saved = errno;
  void *obj = handle_dup(oldfd, newfd, &kind);
  if (obj) release(kind, obj);
  errno = saved;
  return newfd;
}

int skvm_is_handle(int fd)
{
  enum skvm_kind kind;
  int saved = errno;
  int r = handle_get(fd, &kind) != NULL;
  errno = saved;
  return r;
}
