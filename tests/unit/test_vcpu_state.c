/* vCPU state ioctls: KVM_CREATE_VCPU, the kvm_run mapping, the RESET state, KVM_{GET,SET}_{REGS,SREGS,
 * MSRS,FPU,MP_STATE}, KVM_{SET,GET}_CPUID2, KVM_INTERRUPT and immediate_exit. Every expectation is
 * Linux 6.1's (arch/x86/kvm/x86.c, virt/kvm/kvm_main.c), including its errno values. */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softkvm.h"
#include "testlib.h"
#include "vmtest.h"

#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_TSC 0x10
#define MSR_IA32_CR_PAT 0x277
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_UNKNOWN 0xdeadbeef /* no such MSR: KVM_MSR_RET_INVALID */

struct msrs {
  struct kvm_msrs h;
  struct kvm_msr_entry e[16];
};

static int msr_io(int vcpu, unsigned long req, struct msrs *m, unsigned n) {
  m->h.nmsrs = n;
  return skvm_ioctl(vcpu, req, m);
}

/* ---- KVM_CREATE_VCPU and the kvm_run mapping (kvm_vm_ioctl_create_vcpu, kvm_vcpu_ioctl) ---- */
static void test_create(void) {
  int sys = skvm_open();
  CHECK(sys >= 0);
  int vm = skvm_ioctl(sys, KVM_CREATE_VM, (void *)0);
  CHECK(vm >= 0);
  long sz = skvm_ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, (void *)0);
  CHECK(sz >= (long)sizeof(struct kvm_run));
  CHECK_EQ(sz % 4096, 0);

  int v0 = skvm_ioctl(vm, KVM_CREATE_VCPU, (void *)0);
  CHECK(v0 >= 0);
  CHECK(skvm_is_handle(v0));
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_VCPU, (void *)0), EEXIST);    /* kvm_get_vcpu_by_id */
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_VCPU, (void *)4096), EINVAL); /* id >= KVM_MAX_VCPU_IDS */
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_VCPU, (void *)0xffffffffUL), EINVAL);
  int v4095 = skvm_ioctl(vm, KVM_CREATE_VCPU, (void *)4095); /* ids may be sparse */
  CHECK(v4095 >= 0 && v4095 != v0);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_VCPU, (void *)4095), EEXIST);

  /* Without an in-kernel irqchip every vCPU starts RUNNABLE (kvm_arch_vcpu_create). */
  struct kvm_mp_state mp = {.mp_state = 0xff};
  CHECK_EQ(skvm_ioctl(v4095, KVM_GET_MP_STATE, &mp), 0);
  CHECK_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);
  /* Only vCPU 0 (the reset BSP) gets APIC_BASE.BSP (kvm_lapic_reset runs even with no lapic). */
  struct kvm_sregs s;
  CHECK_EQ(skvm_ioctl(v4095, KVM_GET_SREGS, &s), 0);
  CHECK_EQ(s.apic_base, 0xfee00800);

  struct kvm_run *run = skvm_mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED, v0, 0);
  CHECK(run != MAP_FAILED);
  if (run != MAP_FAILED) munmap(run, (size_t)sz);

  /* x86's kvm_arch_vcpu_ioctl answers an unknown vCPU ioctl with EINVAL (not ENOTTY);
   * KVM_RUN's argument must be 0. */
  CHECK_ERRNO(skvm_ioctl(v0, _IO(KVMIO, 0xfe), (void *)0), EINVAL);
  CHECK_ERRNO(skvm_ioctl(v0, KVM_RUN, (void *)1), EINVAL);

  skvm_close(v4095);
  skvm_close(v0);
  skvm_close(vm);
  skvm_close(sys);
}

/* ---- RESET state (kvm_vcpu_reset, vmx_vcpu_reset/svm init_vmcb) ---- */
static void test_reset_state(void) {
  struct vmt t;
  if (vmt_init(&t, 0)) { vmt_fini(&t); return; }
  struct kvm_regs r = vmt_regs(&t);
  CHECK_EQ(r.rip, 0xfff0);
  CHECK_EQ(r.rflags, 2);
  CHECK_EQ(r.rdx, 0x600); /* no CPUID yet: KVM's default family/model/stepping */
  CHECK_EQ(r.rax | r.rbx | r.rcx | r.rsi | r.rdi | r.rsp | r.rbp, 0);
  CHECK_EQ(r.r8 | r.r9 | r.r10 | r.r11 | r.r12 | r.r13 | r.r14 | r.r15, 0);

  struct kvm_sregs s;
  memset(&s, 0xa5, sizeof(s));
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
  CHECK_EQ(s.cs.selector, 0xf000);
  CHECK_EQ(s.cs.base, 0xffff0000);
  CHECK_EQ(s.cs.limit, 0xffff);
  CHECK_EQ(s.cs.type & 0xa, 0xa); /* code, readable */
  CHECK_EQ(s.cs.s, 1);
  CHECK_EQ(s.cs.present, 1);
  CHECK_EQ(s.cs.l | s.cs.db | s.cs.g | s.cs.dpl, 0);
  struct kvm_segment *d[] = {&s.ds, &s.es, &s.fs, &s.gs, &s.ss};
  for (unsigned i = 0; i < 5; i++) {
    CHECK_EQ(d[i]->selector, 0);
    CHECK_EQ(d[i]->base, 0);
    CHECK_EQ(d[i]->limit, 0xffff);
    CHECK_EQ(d[i]->type & 0xa, 0x2); /* data, writable */
    CHECK_EQ(d[i]->s, 1);
    CHECK_EQ(d[i]->present, 1);
  }
  CHECK_EQ(s.tr.selector | s.tr.base, 0);
  CHECK_EQ(s.tr.limit, 0xffff);
  CHECK_EQ(s.tr.present, 1);
  CHECK_EQ(s.ldt.limit, 0xffff);
  CHECK_EQ(s.ldt.type, 2);
  CHECK_EQ(s.gdt.base, 0);
  CHECK_EQ(s.gdt.limit, 0xffff);
  CHECK_EQ(s.idt.base, 0);
  CHECK_EQ(s.idt.limit, 0xffff);
  CHECK_EQ(s.cr0, 0x60000010); /* CD | NW | ET */
  CHECK_EQ(s.cr2 | s.cr3 | s.cr4 | s.cr8 | s.efer, 0);
  CHECK_EQ(s.apic_base, 0xfee00900); /* default base | ENABLE | BSP */
  for (unsigned i = 0; i < 4; i++) CHECK_EQ(s.interrupt_bitmap[i], 0);

  struct kvm_mp_state mp = {.mp_state = 0xff};
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_MP_STATE, &mp), 0);
  CHECK_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);

  struct kvm_fpu f;
  memset(&f, 0xa5, sizeof(f));
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_FPU, &f), 0);
  CHECK_EQ(f.fcw, 0x37f);
  CHECK_EQ(f.fsw, 0);
  CHECK_EQ(f.ftwx, 0);
  CHECK_EQ(f.mxcsr, 0); /* KVM_GET_FPU never fills mxcsr: kzalloc'ed struct, see test_fpu */

  struct msrs m;
  memset(&m, 0, sizeof(m));
  m.e[0].index = MSR_IA32_CR_PAT;
  m.e[1].index = MSR_IA32_MISC_ENABLE;
  m.e[2].index = MSR_EFER;
  m.e[3].index = MSR_STAR;
  CHECK_EQ(msr_io(t.vcpu, KVM_GET_MSRS, &m, 4), 4);
  CHECK_EQ(m.e[0].data, 0x0007040600070406ULL);
  CHECK_EQ(m.e[1].data, 0x1800); /* PEBS_UNAVAIL | BTS_UNAVAIL */
  CHECK_EQ(m.e[2].data, 0);
  CHECK_EQ(m.e[3].data, 0);
  vmt_fini(&t);
}

/* ---- KVM_GET/SET_REGS ---- */
static void test_regs(void) {
  struct vmt t;
  if (vmt_init(&t, 0)) { vmt_fini(&t); return; }
  struct kvm_regs w, r;
  uint64_t *p = (uint64_t *)&w;
  for (unsigned i = 0; i < sizeof(w) / 8; i++) p[i] = 0x0101010101010101ULL * (i + 1) + i;
  w.rflags = 0x246;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_REGS, &w), 0);
  r = vmt_regs(&t);
  CHECK(memcmp(&r, &w, sizeof(r)) == 0);
  CHECK_EQ(r.r15, w.r15);
  CHECK_EQ(r.rip, w.rip);
  w.rflags = 0x200; /* bit 1 is forced on (X86_EFLAGS_FIXED) */
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_REGS, &w), 0);
  r = vmt_regs(&t);
  CHECK_EQ(r.rflags, 0x202);
  vmt_fini(&t);
}

/* ---- KVM_GET/SET_SREGS (__set_sregs_common, kvm_is_valid_sregs) ---- */
static void seg(struct kvm_segment *s, uint16_t sel, uint64_t base, uint32_t limit, uint8_t type,
                uint8_t db, uint8_t l, uint8_t g) {
  memset(s, 0, sizeof(*s));
  s->selector = sel; s->base = base; s->limit = limit; s->type = type;
  s->present = 1; s->s = 1; s->db = db; s->l = l; s->g = g;
}

static void check_seg(const struct kvm_segment *a, const struct kvm_segment *b) {
  CHECK_EQ(a->selector, b->selector);
  CHECK_EQ(a->base, b->base);
  CHECK_EQ(a->limit, b->limit);
  CHECK_EQ(a->type, b->type);
  CHECK_EQ(a->present, b->present);
  CHECK_EQ(a->dpl, b->dpl);
  CHECK_EQ(a->db, b->db);
  CHECK_EQ(a->s, b->s);
  CHECK_EQ(a->l, b->l);
  CHECK_EQ(a->g, b->g);
}

static void test_sregs(void) {
  struct vmt t;
  if (vmt_init(&t, 0)) { vmt_fini(&t); return; }
  vmt_set_cpuid(&t); /* CR4 reserved bits follow guest CPUID */
  struct kvm_sregs base, s, g;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &base), 0);
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &base), 0); /* RESET state is itself valid */

  /* 32-bit protected mode, paging off: everything set must come back. */
  s = base;
  seg(&s.cs, 0x08, 0, 0xffffffff, 11, 1, 0, 1);
  seg(&s.ds, 0x10, 0x100000, 0xfffff, 3, 1, 0, 0);
  seg(&s.es, 0x18, 0x2000, 0xffff, 3, 0, 0, 0);
  seg(&s.ss, 0x20, 0, 0xffffffff, 3, 1, 0, 1);
  seg(&s.fs, 0x28, 0x12345000, 0xfff, 1, 1, 0, 0);
  seg(&s.gs, 0x30, 0xabc000, 0xffffffff, 3, 1, 0, 1);
  seg(&s.tr, 0x38, 0x3000, 0x67, 11, 0, 0, 0);
  s.tr.s = 0;
  s.gdt.base = 0x1000; s.gdt.limit = 0x3f;
  s.idt.base = 0x2000; s.idt.limit = 0x7ff;
  s.cr0 = 0x00050033; /* PE MP ET NE WP AM */
  s.cr2 = 0x12345678;
  s.cr3 = 0x5000;
  s.cr4 = 0x230;      /* PSE PAE OSFXSR */
  s.cr8 = 5;
  s.efer = 1;         /* SCE */
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &s), 0);
  memset(&g, 0, sizeof(g));
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &g), 0);
  check_seg(&g.cs, &s.cs);
  check_seg(&g.ds, &s.ds);
  check_seg(&g.es, &s.es);
  check_seg(&g.ss, &s.ss);
  check_seg(&g.fs, &s.fs);
  check_seg(&g.gs, &s.gs);
  check_seg(&g.tr, &s.tr);
  CHECK_EQ(g.gdt.base, 0x1000); CHECK_EQ(g.gdt.limit, 0x3f);
  CHECK_EQ(g.idt.base, 0x2000); CHECK_EQ(g.idt.limit, 0x7ff);
  CHECK_EQ(g.cr0, s.cr0); CHECK_EQ(g.cr2, s.cr2); CHECK_EQ(g.cr3, s.cr3);
  CHECK_EQ(g.cr4, s.cr4); CHECK_EQ(g.cr8, 5); CHECK_EQ(g.efer, 1);
  CHECK_EQ(g.apic_base, base.apic_base);

  /* 64-bit mode: LME+LMA, PG+PE, PAE, cs.l. */
  struct kvm_sregs lm = s;
  lm.cr0 = 0x80050033; lm.cr4 = 0x220; lm.efer = 0x501; lm.cr3 = 0x1000;
  lm.cs.l = 1; lm.cs.db = 0;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &lm), 0);
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &g), 0);
  CHECK_EQ(g.efer, 0x501); CHECK_EQ(g.cr0, 0x80050033); CHECK_EQ(g.cr4, 0x220);
  CHECK_EQ(g.cs.l, 1); CHECK_EQ(g.cs.db, 0);

  /* Invalid combinations, each rejected with EINVAL and nothing changed. */
  struct kvm_sregs bad;
  bad = lm; bad.cr4 &= ~0x20ULL;           /* LME && PG without CR4.PAE */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = lm; bad.efer &= ~0x400ULL;         /* LME && PG without EFER.LMA */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.efer |= 0x400;              /* LMA without LME && PG */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.efer |= 0x500;              /* LME+LMA but CR0.PG clear */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.cs.l = 1;                   /* 64-bit CS outside long mode */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.cr4 |= 1ULL << 15;          /* reserved CR4 bit */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.cr4 |= 1ULL << 31;
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.cr4 |= 1ULL << 40;
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  /* kvm_is_valid_cr0 (6.1.y stable): PG without PE, NW without CD, bits 63:32. */
  bad = s; bad.cr0 = 0x80000010;
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.cr0 = 0x20000011;
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.cr0 |= 1ULL << 32;
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  bad = s; bad.apic_base |= 1;             /* APIC_BASE reserved bit (kvm_set_apic_base) */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &bad), EINVAL);
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &g), 0);
  CHECK_EQ(g.efer, 0x501); CHECK_EQ(g.cr4, 0x220); CHECK_EQ(g.cr0, 0x80050033);

  /* interrupt_bitmap in KVM_SET_SREGS queues that vector as an injected interrupt. */
  s.interrupt_bitmap[1] = 1ULL << 3; /* vector 67 */
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &s), 0);
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &g), 0);
  CHECK_EQ(g.interrupt_bitmap[0], 0);
  CHECK_EQ(g.interrupt_bitmap[1], 1ULL << 3);
  vmt_fini(&t);
}

/* ---- KVM_GET/SET_MSRS (msr_io: returns the count processed, stops at the first failure) ---- */
static void test_msrs(void) {
  struct vmt t;
  if (vmt_init(&t, 0)) { vmt_fini(&t); return; }
  vmt_set_cpuid(&t);
  static const struct { uint32_t idx; uint64_t val; } rt[] = {
      {MSR_EFER, 0x101},               /* SCE | LME (host writes keep LMA from the vCPU) */
      {MSR_STAR, 0x0023001000000000ULL},
      {MSR_LSTAR, 0xffffffff81000000ULL},
      {MSR_CSTAR, 0xffffffff81000040ULL},
      {MSR_SYSCALL_MASK, 0x47700},
      {MSR_IA32_SYSENTER_CS, 0x10},
      {MSR_IA32_SYSENTER_ESP, 0xffff880000001000ULL},
      {MSR_IA32_SYSENTER_EIP, 0xffffffff81001000ULL},
      {MSR_FS_BASE, 0x7f0012345000ULL},
      {MSR_GS_BASE, 0xffff888012340000ULL},
      {MSR_KERNEL_GS_BASE, 0x7ffe00001000ULL},
      {MSR_IA32_CR_PAT, 0x0007010600070106ULL},
  };
  const unsigned n = sizeof(rt) / sizeof(rt[0]);
  struct msrs m;
  memset(&m, 0, sizeof(m));
  for (unsigned i = 0; i < n; i++) { m.e[i].index = rt[i].idx; m.e[i].data = rt[i].val; }
  CHECK_EQ(msr_io(t.vcpu, KVM_SET_MSRS, &m, n), n);
  for (unsigned i = 0; i < n; i++) m.e[i].data = 0x5555;
  CHECK_EQ(msr_io(t.vcpu, KVM_GET_MSRS, &m, n), n);
  for (unsigned i = 0; i < n; i++) CHECK_EQ(m.e[i].data, rt[i].val);
  CHECK_EQ(msr_io(t.vcpu, KVM_GET_MSRS, &m, 0), 0);

  /* EFER.LMA is not writable from the host: it keeps the vCPU's value (set_efer). */
  m.e[0].index = MSR_EFER; m.e[0].data = 0x501;
  CHECK_EQ(msr_io(t.vcpu, KVM_SET_MSRS, &m, 1), 1);
  CHECK_EQ(msr_io(t.vcpu, KVM_GET_MSRS, &m, 1), 1);
  CHECK_EQ(m.e[0].data, 0x101);
  struct kvm_sregs s;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
  CHECK_EQ(s.efer, 0x101);

  /* TSC: a host write sets it; it keeps counting from there. */
  const uint64_t tsc0 = 1ULL << 40;
  m.e[0].index = MSR_IA32_TSC; m.e[0].data = tsc0;
  CHECK_EQ(msr_io(t.vcpu, KVM_SET_MSRS, &m, 1), 1);
  CHECK_EQ(msr_io(t.vcpu, KVM_GET_MSRS, &m, 1), 1);
  CHECK(m.e[0].data >= tsc0 && m.e[0].data - tsc0 < (1ULL << 38));

  /* Stop at the first MSR that fails: unknown index, reserved EFER bit, non-canonical LSTAR. */
  m.e[0].index = MSR_STAR; m.e[0].data = 0x1111;
  m.e[1].index = MSR_UNKNOWN; m.e[1].data = 0;
  m.e[2].index = MSR_LSTAR; m.e[2].data = 0x2222;
  CHECK_EQ(msr_io(t.vcpu, KVM_SET_MSRS, &m, 3), 1);
  m.e[0].data = m.e[1].data = m.e[2].data = 0xdead;
  CHECK_EQ(msr_io(t.vcpu, KVM_GET_MSRS, &m, 3), 1);
  CHECK_EQ(m.e[0].data, 0x1111);
  CHECK_EQ(m.e[1].data, 0);      /* the failing read's data is cleared and copied back */
  CHECK_EQ(m.e[2].data, 0xdead); /* never reached */
  m.e[0].index = MSR_LSTAR;
  CHECK_EQ(msr_io(t.vcpu, KVM_GET_MSRS, &m, 1), 1);
  CHECK_EQ(m.e[0].data, rt[2].val); /* the LSTAR write above was not reached */
  m.e[0].index = MSR_EFER; m.e[0].data = 1ULL << 5; /* reserved EFER bit */
  CHECK_EQ(msr_io(t.vcpu, KVM_SET_MSRS, &m, 1), 0);
  m.e[0].index = MSR_LSTAR; m.e[0].data = 0x0000800000000000ULL; /* non-canonical */
  m.e[1].index = MSR_STAR; m.e[1].data = 0x3333;
  CHECK_EQ(msr_io(t.vcpu, KVM_SET_MSRS, &m, 2), 0);
  m.e[0].index = MSR_FS_BASE; m.e[0].data = 0xffff000000000000ULL; /* non-canonical */
  CHECK_EQ(msr_io(t.vcpu, KVM_SET_MSRS, &m, 1), 0);
  m.e[0].index = MSR_UNKNOWN;
  CHECK_EQ(msr_io(t.vcpu, KVM_GET_MSRS, &m, 1), 0);

  /* nmsrs >= MAX_IO_MSRS (256) is E2BIG before any entry is read. */
  struct kvm_msrs big = {.nmsrs = 256};
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_GET_MSRS, &big), E2BIG);
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_MSRS, &big), E2BIG);
  big.nmsrs = 0xffffffff;
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_MSRS, &big), E2BIG);
  vmt_fini(&t);
}

/* ---- KVM_SET_CPUID2 / KVM_GET_CPUID2 (cpuid.c) ---- */
static void test_cpuid(void) {
  struct vmt t;
  if (vmt_init(&t, 0)) { vmt_fini(&t); return; }
  struct kvm_cpuid2 *sup = vmt_supported_cpuid(t.sys);
  CHECK(sup != NULL);
  if (!sup) { vmt_fini(&t); return; }
  CHECK(sup->nent >= 2 && sup->nent <= 256);
  struct kvm_cpuid2 one = {.nent = 1};
  CHECK_ERRNO(skvm_ioctl(t.sys, KVM_GET_SUPPORTED_CPUID, &one), E2BIG);

  size_t bytes = sizeof(struct kvm_cpuid2) + 257 * sizeof(struct kvm_cpuid_entry2);
  struct kvm_cpuid2 *c = calloc(1, bytes);
  /* Before KVM_SET_CPUID2 the vCPU has no entries. */
  c->nent = 257;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_CPUID2, c), 0);
  CHECK_EQ(c->nent, 0);

  memcpy(c, sup, sizeof(*sup) + sup->nent * sizeof(struct kvm_cpuid_entry2));
  c->nent = 257; /* > KVM_MAX_CPUID_ENTRIES */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, c), E2BIG);
  c->nent = sup->nent;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, c), 0);

  memset(c, 0, bytes);
  c->nent = sup->nent - 1; /* too small: E2BIG, and nent is not written back */
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_GET_CPUID2, c), E2BIG);
  CHECK_EQ(c->nent, sup->nent - 1);
  c->nent = 256;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_CPUID2, c), 0);
  CHECK_EQ(c->nent, sup->nent);
  /* The vCPU keeps the entries it was given (compare function/index; leaf 1 and 0xd carry
   * runtime-updated bits such as OSXSAVE/APIC, so only their identity is compared). */
  unsigned same = 0;
  for (unsigned i = 0; i < sup->nent && i < c->nent; i++)
    same += c->entries[i].function == sup->entries[i].function &&
            c->entries[i].index == sup->entries[i].index;
  CHECK_EQ(same, sup->nent);
  CHECK_EQ(c->entries[0].function, 0);
  CHECK_EQ(c->entries[0].ebx, sup->entries[0].ebx); /* vendor string */

  /* RESET's RDX comes from leaf 1 only at RESET; KVM_SET_CPUID2 does not change RDX. */
  struct kvm_regs r = vmt_regs(&t);
  CHECK_EQ(r.rdx, 0x600);

  c->nent = 0; /* an empty table is allowed */
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, c), 0);
  c->nent = 256;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_CPUID2, c), 0);
  CHECK_EQ(c->nent, 0);
  free(c);
  free(sup);
  vmt_fini(&t);
}

/* ---- KVM_GET/SET_FPU (kvm_arch_vcpu_ioctl_{get,set}_fpu) ---- */
static void test_fpu(void) {
  struct vmt t;
  if (vmt_init(&t, 0)) { vmt_fini(&t); return; }
  struct kvm_fpu w, r;
  memset(&w, 0, sizeof(w));
  for (unsigned i = 0; i < 8; i++)
    for (unsigned j = 0; j < 10; j++) w.fpr[i][j] = (uint8_t)(i * 16 + j + 1);
  for (unsigned i = 0; i < 16; i++)
    for (unsigned j = 0; j < 16; j++) w.xmm[i][j] = (uint8_t)(0x80 + i * 7 + j);
  w.fcw = 0x27f;
  w.fsw = 0x3800;
  w.ftwx = 0x81;
  w.last_opcode = 0x1d9;
  w.last_ip = 0x401000;
  w.last_dp = 0x602000;
  w.mxcsr = 0x1f00;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_FPU, &w), 0);
  memset(&r, 0x5a, sizeof(r));
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_FPU, &r), 0);
  CHECK(memcmp(r.fpr, w.fpr, sizeof(w.fpr)) == 0);
  CHECK(memcmp(r.xmm, w.xmm, sizeof(w.xmm)) == 0);
  CHECK_EQ(r.fcw, 0x27f);
  CHECK_EQ(r.fsw, 0x3800);
  CHECK_EQ(r.ftwx, 0x81);
  CHECK_EQ(r.last_opcode, 0x1d9);
  CHECK_EQ(r.last_ip, 0x401000);
  CHECK_EQ(r.last_dp, 0x602000);
  /* Linux 6.1 neither reads nor writes MXCSR through KVM_{GET,SET}_FPU: the reply is a kzalloc'ed
   * struct with mxcsr and the pads left 0 (MXCSR travels in KVM_{GET,SET}_XSAVE). */
  CHECK_EQ(r.mxcsr, 0);
  CHECK_EQ(r.pad1, 0);
  CHECK_EQ(r.pad2, 0);
  vmt_fini(&t);
}

/* ---- KVM_INTERRUPT and KVM_GET/SET_MP_STATE without an in-kernel irqchip ---- */
static void test_irq_mpstate(void) {
  struct vmt t;
  if (vmt_init(&t, 0)) { vmt_fini(&t); return; }
  struct kvm_interrupt irq = {.irq = 256};
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_INTERRUPT, &irq), EINVAL); /* >= KVM_NR_INTERRUPTS */
  irq.irq = 0xffffffff;
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_INTERRUPT, &irq), EINVAL);
  irq.irq = 0x20;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_INTERRUPT, &irq), 0);
  struct kvm_sregs s;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
  CHECK_EQ(s.interrupt_bitmap[0], 1ULL << 0x20); /* queued as injected: shown in the bitmap */
  CHECK_EQ(s.interrupt_bitmap[1] | s.interrupt_bitmap[2] | s.interrupt_bitmap[3], 0);

  struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_MP_STATE, &mp), 0);
  static const uint32_t bad[] = {KVM_MP_STATE_UNINITIALIZED, KVM_MP_STATE_INIT_RECEIVED,
                                 KVM_MP_STATE_HALTED, KVM_MP_STATE_SIPI_RECEIVED,
                                 KVM_MP_STATE_STOPPED, KVM_MP_STATE_AP_RESET_HOLD, 99, 0xffffffff};
  for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    mp.mp_state = bad[i];
    CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_MP_STATE, &mp), EINVAL);
  }
  mp.mp_state = 0xff;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_MP_STATE, &mp), 0);
  CHECK_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);
  vmt_fini(&t);
}

/* ---- immediate_exit: KVM_RUN returns -1/EINTR before entering the guest ---- */
static void test_immediate_exit(void) {
  struct vmt t;
  if (vmt_init(&t, 0x10000)) { vmt_fini(&t); return; }
  t.mem[0x1000] = 0xf4; /* hlt */
  vmt_real_mode(&t, 0x1000, 0x8000);
  CHECK_EQ(t.run->exit_reason, KVM_EXIT_UNKNOWN);
  t.run->immediate_exit = 1;
  CHECK_ERRNO(vmt_run(&t), EINTR);
  /* Linux 6.1 does not write exit_reason on this path (only the UNINITIALIZED-vCPU path with a
   * pending signal sets KVM_EXIT_INTR), so it keeps its previous value. */
  CHECK_EQ(t.run->exit_reason, KVM_EXIT_UNKNOWN);
  struct kvm_regs r = vmt_regs(&t);
  CHECK_EQ(r.rip, 0x1000); /* nothing executed */
  t.run->immediate_exit = 0;
  EXPECT_HLT(&t);
  CHECK_EQ(vmt_regs(&t).rip, 0x1001);
  t.run->immediate_exit = 1;
  CHECK_ERRNO(vmt_run(&t), EINTR);
  CHECK_EQ(t.run->exit_reason, KVM_EXIT_HLT); /* left as it was */
  CHECK_EQ(vmt_regs(&t).rip, 0x1001);
  vmt_fini(&t);
}

int main(void) {
  alarm(100);
  test_create();
  test_reset_state();
  test_regs();
  test_sregs();
  test_msrs();
  test_cpuid();
  test_fpu();
  test_irq_mpstate();
  test_immediate_exit();
  return test_summary();
}
