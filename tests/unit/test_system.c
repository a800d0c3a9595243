/* ABI tests for the system handle (the /dev/kvm equivalent) and handle life cycle.
 *
 * Every expectation is Linux 6.1's: virt/kvm/kvm_main.c (kvm_dev_ioctl, kvm_dev_ioctl_create_vm,
 * kvm_vm_ioctl_check_extension_generic, kvm_vm_ioctl, kvm_vcpu_ioctl), arch/x86/kvm/x86.c
 * (kvm_arch_dev_ioctl, kvm_vm_ioctl_check_extension, kvm_arch_vm_ioctl, kvm_arch_init_vm,
 * kvm_init_msr_list) and arch/x86/kvm/cpuid.c (kvm_dev_ioctl_get_cpuid). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "softkvm.h"
#include "testlib.h"

#define IARG(x) ((void *)(uintptr_t)(x)) /* integer ioctl argument, as ioctl(2) passes it */
#define UNKNOWN_IOCTL _IO(KVMIO, 0xff)   /* no KVM ioctl uses nr 0xff */

static int count_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void test_api_version_and_handles(void) {
  int sys = skvm_open();
  CHECK(sys >= 0);
  CHECK(fcntl(sys, F_GETFD) != -1); /* a real fd */
  CHECK(skvm_is_handle(sys));

  /* kvm_dev_ioctl: KVM_GET_API_VERSION returns KVM_API_VERSION (12); any arg != 0 is -EINVAL. */
  CHECK_EQ(skvm_ioctl(sys, KVM_GET_API_VERSION, NULL), 12);
  CHECK_EQ(skvm_ioctl(sys, KVM_GET_API_VERSION, NULL), KVM_API_VERSION);
  CHECK_ERRNO(skvm_ioctl(sys, KVM_GET_API_VERSION, IARG(1)), EINVAL);

  /* Unknown ioctls on the system fd fall to kvm_arch_dev_ioctl's default: -EINVAL. So do VM-only
   * ioctls such as KVM_SET_USER_MEMORY_REGION and KVM_CREATE_VCPU. */
  CHECK_ERRNO(skvm_ioctl(sys, UNKNOWN_IOCTL, NULL), EINVAL);
  struct kvm_userspace_memory_region mr = {0};
  CHECK_ERRNO(skvm_ioctl(sys, KVM_SET_USER_MEMORY_REGION, &mr), EINVAL);
  CHECK_ERRNO(skvm_ioctl(sys, KVM_CREATE_VCPU, IARG(0)), EINVAL);

  /* Non-softkvm fds are not handles. */
  int p[2];
  CHECK_OK(pipe(p));
  CHECK(!skvm_is_handle(p[0]));
  CHECK(!skvm_is_handle(-1));
  close(p[0]);
  close(p[1]);

  CHECK_EQ(skvm_close(sys), 0);
  CHECK(!skvm_is_handle(sys));
  CHECK_ERRNO(fcntl(sys, F_GETFD), EBADF); /* really closed */
}

static void test_create_vm(void) {
  int sys = skvm_open();
  /* kvm_arch_init_vm (x86): any type other than 0 is -EINVAL. */
  CHECK_ERRNO(skvm_ioctl(sys, KVM_CREATE_VM, IARG(1)), EINVAL);
  CHECK_ERRNO(skvm_ioctl(sys, KVM_CREATE_VM, IARG(0x100)), EINVAL);

  int vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK(vm >= 0);
  CHECK(vm != sys);
  CHECK(skvm_is_handle(vm));
  int fdflags = fcntl(vm, F_GETFD);
  CHECK(fdflags != -1);
  /* kvm_dev_ioctl_create_vm: get_unused_fd_flags(O_CLOEXEC). */
  CHECK(fdflags != -1 && (fdflags & FD_CLOEXEC));

  /* kvm_vm_ioctl's default is kvm_arch_vm_ioctl, whose default is -ENOTTY; system-only ioctls
   * are not in kvm_vm_ioctl's switch, so they get -ENOTTY on a VM fd too. */
  CHECK_ERRNO(skvm_ioctl(vm, UNKNOWN_IOCTL, NULL), ENOTTY);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_GET_API_VERSION, NULL), ENOTTY);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_GET_VCPU_MMAP_SIZE, NULL), ENOTTY);

  /* vCPU fd: kvm_vcpu_ioctl returns -EINVAL for a non-KVMIO ioctl, and kvm_arch_vcpu_ioctl's
   * default is -EINVAL. vCPU fds are created O_CLOEXEC too (create_vcpu_fd). */
  int vcpu = skvm_ioctl(vm, KVM_CREATE_VCPU, IARG(0));
  CHECK(vcpu >= 0);
  CHECK(skvm_is_handle(vcpu));
  fdflags = fcntl(vcpu, F_GETFD);
  CHECK(fdflags != -1 && (fdflags & FD_CLOEXEC));
  CHECK_ERRNO(skvm_ioctl(vcpu, UNKNOWN_IOCTL, NULL), EINVAL);
  CHECK_ERRNO(skvm_ioctl(vcpu, KVM_GET_API_VERSION, NULL), EINVAL);
  CHECK_ERRNO(skvm_ioctl(vcpu, _IO('T', 0x01), NULL), EINVAL); /* not KVMIO */
  CHECK_EQ(skvm_close(vcpu), 0);
  CHECK(!skvm_is_handle(vcpu));

  /* The VM does not depend on the system fd staying open (a VM file holds its own reference). */
  CHECK_EQ(skvm_close(sys), 0);
  CHECK_EQ(skvm_ioctl(vm, KVM_CHECK_EXTENSION, IARG(KVM_CAP_USER_MEMORY)), 1);
  CHECK_EQ(skvm_close(vm), 0);
  CHECK(!skvm_is_handle(vm));
  CHECK_ERRNO(fcntl(vm, F_GETFD), EBADF);
}

static void test_vm_no_fd_leak(void) {
  int sys = skvm_open();
  int before = count_open_fds();
  CHECK(before > 0);
  int ok = 1;
  for (int i = 0; i < 100; i++) {
    int vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
    if (vm < 0) { ok = 0; break; }
    int vcpu = skvm_ioctl(vm, KVM_CREATE_VCPU, IARG(0));
    if (vcpu < 0) ok = 0;
    /* Close the VM first: the vCPU must still be closable afterwards. */
    if (skvm_close(vm) != 0) ok = 0;
    if (vcpu >= 0 && skvm_close(vcpu) != 0) ok = 0;
  }
  CHECK(ok);
  CHECK_EQ(count_open_fds(), before);
  skvm_close(sys);
}

static void test_mmap_size(void) {
  int sys = skvm_open();
  /* kvm_dev_ioctl: arg must be 0. Linux x86 returns 3 pages (kvm_run, the PIO data page at
   * KVM_PIO_PAGE_OFFSET, the coalesced MMIO ring); softkvm has no coalesced MMIO ring, so
   * we require kvm_run + the PIO page, page-multiple. */
  CHECK_ERRNO(skvm_ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, IARG(1)), EINVAL);
  long sz = skvm_ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, NULL);
  CHECK(sz >= (long)sizeof(struct kvm_run));
  CHECK(sz >= (KVM_PIO_PAGE_OFFSET + 1) * 4096L);
  CHECK_EQ(sz % 4096, 0);
  skvm_close(sys);
}

/* Capabilities that Linux 6.1 x86 reports as exactly 1 and softkvm supports. */
static const long caps_one[] = {
  KVM_CAP_USER_MEMORY, KVM_CAP_DESTROY_MEMORY_REGION_WORKS, KVM_CAP_JOIN_MEMORY_REGIONS_WORKS,
  KVM_CAP_INTERNAL_ERROR_DATA,                     /* kvm_vm_ioctl_check_extension_generic */
  KVM_CAP_READONLY_MEM, KVM_CAP_IMMEDIATE_EXIT, KVM_CAP_EXT_CPUID, KVM_CAP_MP_STATE,
  KVM_CAP_SYNC_MMU,                                /* kvm_vm_ioctl_check_extension (x86.c) */
};

static void check_caps(int fd) {
  for (size_t i = 0; i < sizeof caps_one / sizeof caps_one[0]; i++) {
    long r = skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(caps_one[i]));
    if (r != 1) test_fail(__FILE__, __LINE__, "cap %ld on fd %d: got %ld, want 1", caps_one[i], fd, r);
    else test_passed++;
  }
  /* KVM_USER_MEM_SLOTS = KVM_MEM_SLOTS_NUM (SHRT_MAX) - KVM_INTERNAL_MEM_SLOTS (3 on x86). */
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_NR_MEMSLOTS)), 32764);
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_MAX_VCPUS)), 1024);
  /* KVM_MAX_VCPU_IDS = KVM_MAX_VCPUS * KVM_VCPU_ID_RATIO (4). */
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_MAX_VCPU_ID)), 4096);
  /* min(num_online_cpus(), KVM_MAX_VCPUS). */
  long nr = skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_NR_VCPUS));
  CHECK(nr >= 1 && nr <= 1024);
  /* Unknown caps fall through every switch: 0, never an error. KVM_CAP_PV_MMU is obsolete: 0. */
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(99999)), 0);
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_PV_MMU)), 0);
  /* dirty_ring.c: KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn) */
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_DIRTY_LOG_RING)), 65536 * 16);
  /* the in-kernel irqchip (src/kvm/irqchip) */
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_IRQCHIP)), 1);
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_PIT2)), 1);
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_PIT_STATE2)), 1);
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_TSC_DEADLINE_TIMER)), 1);
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_IRQ_INJECT_STATUS)), 1);
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_SET_BOOT_CPU_ID)), 1);
  CHECK_EQ(skvm_ioctl(fd, KVM_CHECK_EXTENSION, IARG(KVM_CAP_X2APIC_API)), 3);   /* both flags */
}

static void test_check_extension(void) {
  int sys = skvm_open();
  check_caps(sys); /* kvm_dev_ioctl → kvm_vm_ioctl_check_extension_generic(NULL, arg) */
  int vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK(vm >= 0);
  check_caps(vm);  /* kvm_vm_ioctl → kvm_vm_ioctl_check_extension_generic(kvm, arg) */
  skvm_close(vm);
  skvm_close(sys);
}

static void test_supported_cpuid(void) {
  int sys = skvm_open();
  size_t sz = sizeof(struct kvm_cpuid2) + 256 * sizeof(struct kvm_cpuid_entry2);
  struct kvm_cpuid2 *c = calloc(1, sz);

  /* kvm_dev_ioctl_get_cpuid: nent < 1 → -E2BIG; too few entries → -E2BIG from get_cpuid_func.
   * The struct is copied back only on success, so nent is left as the caller set it. */
  c->nent = 0;
  CHECK_ERRNO(skvm_ioctl(sys, KVM_GET_SUPPORTED_CPUID, c), E2BIG);
  CHECK_EQ(c->nent, 0);
  c->nent = 1;
  CHECK_ERRNO(skvm_ioctl(sys, KVM_GET_SUPPORTED_CPUID, c), E2BIG);
  CHECK_EQ(c->nent, 1);

  c->nent = 256; /* KVM_MAX_CPUID_ENTRIES */
  CHECK_EQ(skvm_ioctl(sys, KVM_GET_SUPPORTED_CPUID, c), 0);
  uint32_t n = c->nent;
  CHECK(n >= 4 && n <= 256);
  if (n > 256) n = 0;

  struct kvm_cpuid_entry2 *leaf0 = NULL, *leaf1 = NULL, *ext0 = NULL, *ext1 = NULL;
  int dup = 0, bad_flags = 0, bad_pad = 0, beyond_max = 0;
  for (uint32_t i = 0; i < n; i++) {
    struct kvm_cpuid_entry2 *e = &c->entries[i];
    if (e->function == 0 && e->index == 0) leaf0 = e;
    if (e->function == 1 && e->index == 0) leaf1 = e;
    if (e->function == 0x80000000u) ext0 = e;
    if (e->function == 0x80000001u) ext1 = e;
    if (e->flags & ~(uint32_t)KVM_CPUID_FLAG_SIGNIFCANT_INDEX) bad_flags++;
    if (e->padding[0] || e->padding[1] || e->padding[2]) bad_pad++;
    for (uint32_t j = 0; j < i; j++)
      if (c->entries[j].function == e->function && c->entries[j].index == e->index) dup++;
  }
  CHECK(leaf0 != NULL);
  CHECK(leaf1 != NULL);
  CHECK(ext0 != NULL); /* funcs[] in kvm_dev_ioctl_get_cpuid always includes 0x80000000 */
  CHECK(ext1 != NULL);
  CHECK_EQ(dup, 0);
  CHECK_EQ(bad_flags, 0);
  CHECK_EQ(bad_pad, 0);
  if (leaf0) {
    CHECK(leaf0->eax >= 1); /* max basic leaf */
    for (uint32_t i = 0; i < n; i++)
      if (c->entries[i].function < 0x40000000u && c->entries[i].function > leaf0->eax) beyond_max++;
    CHECK_EQ(beyond_max, 0);
    char vendor[13];
    memcpy(vendor, &leaf0->ebx, 4);
    memcpy(vendor + 4, &leaf0->edx, 4);
    memcpy(vendor + 8, &leaf0->ecx, 4);
    vendor[12] = 0;
    int printable = 1;
    for (int i = 0; i < 12; i++)
      if (vendor[i] < 0x20 || vendor[i] > 0x7e) printable = 0;
    CHECK(printable);
  }
  if (ext0) CHECK(ext0->eax >= 0x80000001u);
  if (ext1) CHECK(ext1->edx & (1u << 29)); /* long mode: the engine is x86-64 */
  /* softkvm advertises exactly what the engine implements: PAE and TSC are there; the FPU bit
   * (which Linux always reports) joins when x87 execution lands. */
  if (leaf1) CHECK((leaf1->edx & ((1u << 6) | (1u << 4))) == ((1u << 6) | (1u << 4)));

  /* nent above KVM_MAX_CPUID_ENTRIES is clamped, not an error. */
  struct kvm_cpuid2 *big = calloc(1, sizeof(struct kvm_cpuid2) + 1000 * sizeof(struct kvm_cpuid_entry2));
  big->nent = 1000;
  CHECK_EQ(skvm_ioctl(sys, KVM_GET_SUPPORTED_CPUID, big), 0);
  CHECK_EQ(big->nent, c->nent);
  free(big);
  free(c);
  skvm_close(sys);
}

static void test_msr_index_list(void) {
  int sys = skvm_open();
  /* kvm_arch_dev_ioctl(KVM_GET_MSR_INDEX_LIST): nmsrs is always written back with the count;
   * -E2BIG if the caller's nmsrs was smaller. */
  struct kvm_msr_list probe = {.nmsrs = 0};
  CHECK_ERRNO(skvm_ioctl(sys, KVM_GET_MSR_INDEX_LIST, &probe), E2BIG);
  uint32_t need = probe.nmsrs;
  CHECK(need >= 10 && need < 4096);
  if (need == 0 || need >= 4096) { skvm_close(sys); return; }

  struct kvm_msr_list *l = calloc(1, sizeof(*l) + (need + 8) * sizeof(uint32_t));
  l->nmsrs = need - 1;
  CHECK_ERRNO(skvm_ioctl(sys, KVM_GET_MSR_INDEX_LIST, l), E2BIG);
  CHECK_EQ(l->nmsrs, need);

  l->nmsrs = need + 8; /* larger is fine; nmsrs becomes the exact count */
  CHECK_EQ(skvm_ioctl(sys, KVM_GET_MSR_INDEX_LIST, l), 0);
  CHECK_EQ(l->nmsrs, need);

  /* msrs_to_save_all entries every x86-64 host keeps (EFER is NOT in Linux's list: it is
   * state reached through KVM_GET/SET_SREGS). */
  static const uint32_t want[] = {
    0x174, 0x175, 0x176,                 /* SYSENTER_CS/ESP/EIP */
    0xC0000081, 0xC0000082, 0xC0000083,  /* STAR, LSTAR, CSTAR */
    0xC0000084, 0xC0000102,              /* SYSCALL_MASK, KERNEL_GS_BASE */
    0x10, 0x277,                         /* TSC, CR_PAT */
  };
  for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
    int found = 0;
    for (uint32_t i = 0; i < l->nmsrs && i < need; i++)
      if (l->indices[i] == want[w]) found = 1;
    if (found) test_passed++;
    else test_fail(__FILE__, __LINE__, "MSR 0x%x missing from KVM_GET_MSR_INDEX_LIST", want[w]);
  }
  int dup = 0;
  for (uint32_t i = 0; i < need; i++)
    for (uint32_t j = 0; j < i; j++)
      if (l->indices[i] == l->indices[j]) dup++;
  CHECK_EQ(dup, 0);
  free(l);
  skvm_close(sys);
}

int main(void) {
  test_api_version_and_handles();
  test_create_vm();
  test_vm_no_fd_leak();
  test_mmap_size();
  test_check_extension();
  test_supported_cpuid();
  test_msr_index_list();
  return test_summary();
}
