/* Shared helpers for the vCPU ABI tests: create a system handle, a VM with one anonymous memslot at
 * guest-physical 0, one vCPU and its mmap'ed struct kvm_run -- using only the public softkvm API and
 * the structs/constants of the system's <linux/kvm.h>. Header-only (static inline): every unit test
 * includes it; hostcmp.h builds the host-comparing tests' long-mode VM on it. */
#ifndef SKVM_VMTEST_H
#define SKVM_VMTEST_H

#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softkvm.h"
#include "testlib.h"

struct vmt {
  int sys, vm, vcpu;
  struct kvm_run *run;
  long run_size;
  uint8_t *mem;      /* host view of slot 0 (guest-physical 0 .. mem_size) */
  size_t mem_size;
};

/* Set up sys/vm/(slot 0 of mem_size bytes, if nonzero)/vcpu 0/kvm_run. Returns 0 when everything
 * needed to run a guest exists; failures are also counted as failed checks. */
static inline int vmt_init(struct vmt *t, size_t mem_size) {
  memset(t, 0, sizeof(*t));
  t->sys = t->vm = t->vcpu = -1;
  t->sys = skvm_open();
  CHECK(t->sys >= 0);
  if (t->sys < 0) return -1;
  t->vm = skvm_ioctl(t->sys, KVM_CREATE_VM, (void *)0);
  CHECK(t->vm >= 0);
  if (t->vm < 0) return -1;
  if (mem_size) {
    void *m = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    CHECK(m != MAP_FAILED);
    if (m == MAP_FAILED) return -1;
    t->mem = m;
    t->mem_size = mem_size;
    struct kvm_userspace_memory_region r = {
        .slot = 0, .flags = 0, .guest_phys_addr = 0, .memory_size = mem_size,
        .userspace_addr = (uintptr_t)m};
    int rc = skvm_ioctl(t->vm, KVM_SET_USER_MEMORY_REGION, &r);
    CHECK_EQ(rc, 0);
    if (rc != 0) return -1;
  }
  t->vcpu = skvm_ioctl(t->vm, KVM_CREATE_VCPU, (void *)0);
  CHECK(t->vcpu >= 0);
  if (t->vcpu < 0) return -1;
  t->run_size = skvm_ioctl(t->sys, KVM_GET_VCPU_MMAP_SIZE, (void *)0);
  CHECK(t->run_size >= (long)sizeof(struct kvm_run));
  if (t->run_size < (long)sizeof(struct kvm_run)) return -1;
  void *r = skvm_mmap(NULL, (size_t)t->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, t->vcpu, 0);
  CHECK(r != MAP_FAILED);
  if (r == MAP_FAILED) return -1;
  t->run = r;
  return 0;
}

static inline void vmt_fini(struct vmt *t) {
  if (t->run) munmap(t->run, (size_t)t->run_size);
  if (t->vcpu >= 0) skvm_close(t->vcpu);
  if (t->vm >= 0) skvm_close(t->vm);
  if (t->sys >= 0) skvm_close(t->sys);
  if (t->mem) munmap(t->mem, t->mem_size);
  memset(t, 0, sizeof(*t));
  t->sys = t->vm = t->vcpu = -1;
}

/* KVM_GET_SUPPORTED_CPUID on the system fd into a malloc'ed kvm_cpuid2 with room for 256 entries
 * (KVM_MAX_CPUID_ENTRIES in Linux 6.1). NULL on failure. */
static inline struct kvm_cpuid2 *vmt_supported_cpuid(int sys) {
  struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(struct kvm_cpuid_entry2));
  if (!c) return NULL;
  c->nent = 256;
  if (skvm_ioctl(sys, KVM_GET_SUPPORTED_CPUID, c) != 0 || c->nent == 0) {
    free(c);
    return NULL;
  }
  return c;
}

/* Give the vCPU the supported CPUID, as QEMU and the KVM selftests do before running. */
static inline int vmt_set_cpuid(struct vmt *t) {
  struct kvm_cpuid2 *c = vmt_supported_cpuid(t->sys);
  CHECK(c != NULL);
  if (!c) return -1;
  int rc = skvm_ioctl(t->vcpu, KVM_SET_CPUID2, c);
  CHECK_EQ(rc, 0);
  free(c);
  return rc;
}

/* Flat real mode: every segment selector 0 / base 0 / limit 0xffff, rip/rsp as given, rflags 2. */
static inline int vmt_real_mode(struct vmt *t, uint64_t rip, uint64_t rsp) {
  struct kvm_sregs s;
  if (skvm_ioctl(t->vcpu, KVM_GET_SREGS, &s) != 0) { CHECK(0); return -1; }
  struct kvm_segment *segs[] = {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss};
  for (unsigned i = 0; i < 6; i++) {
    segs[i]->selector = 0;
    segs[i]->base = 0;
    segs[i]->limit = 0xffff;
  }
  if (skvm_ioctl(t->vcpu, KVM_SET_SREGS, &s) != 0) { CHECK(0); return -1; }
  struct kvm_regs r;
  memset(&r, 0, sizeof(r));
  r.rip = rip;
  r.rsp = rsp;
  r.rflags = 2;
  if (skvm_ioctl(t->vcpu, KVM_SET_REGS, &r) != 0) { CHECK(0); return -1; }
  return 0;
}

/* Little-endian loads and stores in guest memory (guest-physical gpa of slot 0). */
static inline void vmt_put64(struct vmt *t, uint64_t gpa, uint64_t v) { memcpy(t->mem + gpa, &v, 8); }
static inline void vmt_put32(struct vmt *t, uint64_t gpa, uint32_t v) { memcpy(t->mem + gpa, &v, 4); }
static inline uint64_t vmt_get64(const struct vmt *t, uint64_t gpa) {
  uint64_t v;
  memcpy(&v, t->mem + gpa, 8);
  return v;
}
static inline uint32_t vmt_get32(const struct vmt *t, uint64_t gpa) {
  uint32_t v;
  memcpy(&v, t->mem + gpa, 4);
  return v;
}

/* A flat present DPL-0 code/data segment (base 0, limit 4 GiB, G=1) for KVM_SET_SREGS. */
static inline void vmt_flat_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int l, int db) {
  memset(s, 0, sizeof(*s));
  s->selector = sel;
  s->base = 0;
  s->limit = 0xffffffff;
  s->type = type;
  s->present = 1;
  s->s = 1;
  s->dpl = 0;
  s->l = (uint8_t)l;
  s->db = (uint8_t)db;
  s->g = 1;
}

/* KVM_SET_REGS on a vCPU fd: every register zero but RIP, RSP and RFLAGS 2 (one check); 0 or -1. */
static inline int vmt_set_entry(int vcpu, uint64_t rip, uint64_t rsp) {
  struct kvm_regs r;
  memset(&r, 0, sizeof(r));
  r.rip = rip;
  r.rsp = rsp;
  r.rflags = 2;
  int rc = skvm_ioctl(vcpu, KVM_SET_REGS, &r);
  CHECK_EQ(rc, 0);
  return rc ? -1 : 0;
}

static inline int vmt_run(struct vmt *t) { return skvm_ioctl(t->vcpu, KVM_RUN, (void *)0); }

static inline struct kvm_regs vmt_regs(struct vmt *t) {
  struct kvm_regs r;
  memset(&r, 0xa5, sizeof(r));
  CHECK_EQ(skvm_ioctl(t->vcpu, KVM_GET_REGS, &r), 0);
  return r;
}

/* The bytes of the current KVM_EXIT_IO (size * count of them). */
static inline uint8_t *vmt_io_data(struct vmt *t) { return (uint8_t *)t->run + t->run->io.data_offset; }

/* First element of the current KVM_EXIT_IO's data, as an integer of io.size bytes. */
static inline uint32_t vmt_io_val(struct vmt *t) {
  uint32_t v = 0;
  if (t->run->io.size <= 4) memcpy(&v, vmt_io_data(t), t->run->io.size);
  return v;
}

/* Run until the next exit and check that it is a single-element KVM_EXIT_IO with these fields
 * (and, for OUT, this value). A macro so a failure names the caller's line. */
#define EXPECT_IO(t, dir, port_, size_, val_)                                  \
  do {                                                                         \
    int _rc = vmt_run(t);                                                      \
    CHECK_EQ(_rc, 0);                                                          \
    CHECK_EQ((t)->run->exit_reason, KVM_EXIT_IO);                              \
    CHECK_EQ((t)->run->io.direction, (dir));                                   \
    CHECK_EQ((t)->run->io.port, (port_));                                      \
    CHECK_EQ((t)->run->io.size, (size_));                                      \
    CHECK_EQ((t)->run->io.count, 1);                                           \
    CHECK((uint64_t)(t)->run->io.data_offset + (size_) <= (uint64_t)(t)->run_size); \
    if ((dir) == KVM_EXIT_IO_OUT && (t)->run->exit_reason == KVM_EXIT_IO)      \
      CHECK_EQ(vmt_io_val(t), (uint32_t)(val_));                               \
  } while (0)

/* Complete a pending KVM_EXIT_IO IN: store val (io.size bytes) where KVM_RUN will read it. */
static inline void vmt_io_fill(struct vmt *t, uint32_t val) {
  if (t->run->exit_reason == KVM_EXIT_IO && t->run->io.size <= 4)
    memcpy(vmt_io_data(t), &val, t->run->io.size);
}

#define EXPECT_HLT(t)                                                          \
  do {                                                                         \
    int _rc = vmt_run(t);                                                      \
    CHECK_EQ(_rc, 0);                                                          \
    CHECK_EQ((t)->run->exit_reason, KVM_EXIT_HLT);                             \
  } while (0)

#endif
