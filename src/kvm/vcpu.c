/* The vCPU object and its ioctls (arch/x86/kvm/x86.c: kvm_arch_vcpu_ioctl and friends). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int vcpu_create(struct skvm_vm *vm, unsigned long id)
{
  uint32_t max_id = __atomic_load_n(&vm->max_vcpu_ids, __ATOMIC_RELAXED);
  if (id >= (max_id ? max_id : SKVM_MAX_VCPU_ID)) return -EINVAL;
  struct skvm_vcpu *v = calloc(1, sizeof(*v));
  if (!v) return -ENOMEM;
  int ret = -ENOMEM;
  int fd = memfd_create("softkvm-vcpu", MFD_CLOEXEC);
  if (fd < 0) goto err_free;
  if (ftruncate(fd, SKVM_VCPU_MMAP_SIZE)) goto err_fd;
  v->run = mmap(NULL, SKVM_VCPU_MMAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (v->run == MAP_FAILED) goto err_fd;
  v->vm = vm;
  v->id = (int)id;
  v->fd = fd;
  pthread_mutex_init(&v->lock, NULL);
  x86_cpu_init(&v->cpu);
  if (id != vm->bsp_vcpu_id) v->cpu.apic_base &= ~(uint64_t)(1u << 8);   /* KVM_SET_BOOT_CPU_ID's */
  v->cpu.run = v->run;
  v->cpu.memmap_slot = &vm->memmap;
  v->cpu.memmap_gen_slot = &vm->memmap_gen;
  v->cpu.memmap_gen = (unsigned)-1;   /* forces a map load on the first KVM_RUN */
  v->cpu.tsc_offset = vm->tsc_offset;
  vcpu_ops_init(v);
  v->cpu.disabled_quirks = &vm->pv.disabled_quirks;
  v->cpu.trace = getenv("SOFTKVM_TRACE") != NULL;
  hv_vcpu_init(v);
  if ((ret = dirty_ring_vcpu_init(v, fd))) goto err_cpu;

  pthread_mutex_lock(&vm->lock);
  ret = 0;
  if (vm->nvcpus >= SKVM_MAX_VCPUS) ret = -EINVAL;
  for (int i = 0; i < vm->nvcpus && !ret; i++)
    if (vm->vcpus[i]->id == (int)id) ret = -EEXIST;
  if (!ret && vm->irqchip) ret = irqchip_vcpu_attach(v);   /* its LAPIC */
  if (!ret) {
    vm->vcpus[vm->nvcpus++] = v;
    vm->created_vcpus++;
    vm->refs++;
  }
  pthread_mutex_unlock(&vm->lock);
  if (ret) goto err_cpu;
  if (handle_register(fd, SKVM_VCPU, v)) {
    vcpu_destroy(v);
    close(fd);
    return -ENOMEM;
  }
  v->profile = profile_start(v);
  return fd;

err_cpu:
  dirty_ring_vcpu_fini(v);
  x86_cpu_fini(&v->cpu);
  munmap(v->run, SKVM_VCPU_MMAP_SIZE);
err_fd:
  close(fd);
err_free:
  free(v);
  return ret;
}

void vcpu_destroy(struct skvm_vcpu *v)
{
  struct skvm_vm *vm = v->vm;
  pthread_mutex_lock(&vm->lock);
  for (int i = 0; i < vm->nvcpus; i++) {
    if (vm->vcpus[i] == v) {
      vm->vcpus[i] = vm->vcpus[--vm->nvcpus];
      break;
    }
  }
  pthread_mutex_unlock(&vm->lock);
  profile_stop(v->profile);
  irqchip_vcpu_detach(v);
  dirty_ring_vcpu_fini(v);
  stats_fini(&v->stats);
  x86_cpu_fini(&v->cpu);
  munmap(v->run, SKVM_VCPU_MMAP_SIZE);
  pthread_mutex_destroy(&v->lock);
  free(v);
  vm_put(vm);
}

static long vcpu_run(struct skvm_vcpu *v, void *arg)
{
  if (arg) return -EINVAL;
  struct x86_cpu *cpu = &v->cpu;
  pv_vcpu_run_enter(v);   /* kvmclock, steal time, Hyper-V TSC page (kvm_pv.c) */
  __atomic_store_n(&v->running, true, __ATOMIC_SEQ_CST);
  v->has_run = true;
  v->run->flags = 0;
  long sr = vcpu_sync_regs_in(v);
  if (sr) {
    vcpu_sync_regs_out(v);
    __atomic_store_n(&v->running, false, __ATOMIC_SEQ_CST);
    return sr;
  }
  x86_complete_exit(cpu);
  cpu->user_msr_exits = __atomic_load_n(&v->vm->user_msr_exits, __ATOMIC_RELAXED);
  vcpu_signals_enter(v);
  int r;
  for (;;) {
    /* in-kernel LAPIC: INIT/SIPI first; an AP waits here for its SIPI */
    if (v->lapic && irqchip_vcpu_accept_events(v)) {
      v->run->exit_reason = KVM_EXIT_INTR;
      r = -1;
      break;
    }
    if (dirty_ring_exit(v)) {   /* KVM_EXIT_DIRTY_RING_FULL */
      r = 0;
      break;
    }
    r = x86_run(cpu, v->run->immediate_exit);
    if (r != 1) break;   /* 1: an INIT arrived while running */
  }
  __atomic_store_n(&v->running, false, __ATOMIC_SEQ_CST);
  vcpu_signals_leave(v);
  vcpu_sync_regs_out(v);
  if (cpu->trace)
    fprintf(stderr, "softkvm: vcpu %d exit %u rip %#llx%s\n", v->id, v->run->exit_reason,
            (unsigned long long)cpu->rip, r < 0 ? " (EINTR)" : "");
  memslot_reclaim(v->vm);
  stats_vcpu_exit(v, r);
  return r < 0 ? -EINTR : 0;
}

void vcpu_get_regs(struct x86_cpu *c, struct kvm_regs *r)
{
  r->rax = c->gpr[0], r->rcx = c->gpr[1], r->rdx = c->gpr[2], r->rbx = c->gpr[3];
  r->rsp = c->gpr[4], r->rbp = c->gpr[5], r->rsi = c->gpr[6], r->rdi = c->gpr[7];
  r->r8 = c->gpr[8], r->r9 = c->gpr[9], r->r10 = c->gpr[10], r->r11 = c->gpr[11];
  r->r12 = c->gpr[12], r->r13 = c->gpr[13], r->r14 = c->gpr[14], r->r15 = c->gpr[15];
  r->rip = c->rip;
  r->rflags = c->rflags;
}

void vcpu_set_regs(struct x86_cpu *c, const struct kvm_regs *r)
{
  c->gpr[0] = r->rax, c->gpr[1] = r->rcx, c->gpr[2] = r->rdx, c->gpr[3] = r->rbx;
  c->gpr[4] = r->rsp, c->gpr[5] = r->rbp, c->gpr[6] = r->rsi, c->gpr[7] = r->rdi;
  c->gpr[8] = r->r8, c->gpr[9] = r->r9, c->gpr[10] = r->r10, c->gpr[11] = r->r11;
  c->gpr[12] = r->r12, c->gpr[13] = r->r13, c->gpr[14] = r->r14, c->gpr[15] = r->r15;
  c->rip = r->rip;
  c->rflags = r->rflags | 2;
  c->halted = false;
  x86_cpu_update_mode(c);   /* RFLAGS.VM affects the mode */
}

void vcpu_get_sregs(struct x86_cpu *c, struct kvm_sregs *s)
{
  struct kvm_segment *segs[6] = { &s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs };
  memset(s, 0, sizeof(*s));
  for (int i = 0; i < 6; i++) x86_seg_to_kvm(&c->seg[i], segs[i]);
  x86_seg_to_kvm(&c->tr, &s->tr);
  x86_seg_to_kvm(&c->ldtr, &s->ldt);
  s->gdt.base = c->gdt.base, s->gdt.limit = c->gdt.limit;
  s->idt.base = c->idt.base, s->idt.limit = c->idt.limit;
  s->cr0 = c->cr0, s->cr2 = c->cr2, s->cr3 = c->cr3, s->cr4 = c->cr4;
  s->cr8 = c->irq_ops ? c->irq_ops->get_cr8(c->irq_opaque) : c->cr8;   /* the LAPIC's TPR */
  s->efer = c->efer;
  s->apic_base = c->apic_base;
  if (c->pending_irq >= 0)
    s->interrupt_bitmap[c->pending_irq / 64] |= 1ULL << (c->pending_irq % 64);
}

/* kvm_is_valid_sregs + kvm_is_valid_cr0/cr4 */
static bool valid_sregs(struct x86_cpu *c, const struct kvm_sregs *s)
{
  if ((s->efer & EFER_LME) && (s->cr0 & CR0_PG)) {
    if (!(s->cr4 & CR4_PAE) || !(s->efer & EFER_LMA)) return false;
    if (s->cr3 >> 46) return false;
  } else if ((s->efer & EFER_LMA) || s->cs.l) {
    return false;
  }
  if (s->cr4 & ~x86_cr4_allowed(c)) return false;
  if (s->cr0 >> 32) return false;
  if ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE)) return false;
  if ((s->cr0 & CR0_NW) && !(s->cr0 & CR0_CD)) return false;
  if (s->apic_base & 0x2ff) return false;   /* kvm_set_apic_base: reserved bits */
  return true;
}

long vcpu_set_sregs(struct x86_cpu *c, const struct kvm_sregs *s)
{
  const struct kvm_segment *segs[6] = { &s->es, &s->cs, &s->ss, &s->ds, &s->fs, &s->gs };
  if (!valid_sregs(c, s)) return -EINVAL;
  if (x86_msr_set(c, 0x1b, s->apic_base, true)) return -EINVAL;   /* kvm_set_apic_base */
  for (int i = 0; i < 6; i++) x86_seg_from_kvm(&c->seg[i], segs[i]);
  x86_seg_from_kvm(&c->tr, &s->tr);
  x86_seg_from_kvm(&c->ldtr, &s->ldt);
  c->gdt.base = s->gdt.base, c->gdt.limit = s->gdt.limit;
  c->idt.base = s->idt.base, c->idt.limit = s->idt.limit;
  c->cr0 = s->cr0 | CR0_ET;
  c->cr2 = s->cr2, c->cr3 = s->cr3, c->cr4 = s->cr4, c->cr8 = s->cr8;
  if (c->irq_ops) c->irq_ops->set_cr8(c->irq_opaque, s->cr8);
  c->efer = s->efer;
  for (int i = 0; i < 256; i++) {   /* a set bit queues that interrupt, as KVM does */
    if (s->interrupt_bitmap[i / 64] & (1ULL << (i % 64))) {
      c->pending_irq = i;
      break;
    }
  }
  x86_tlb_flush(c);
  x86_cpu_update_mode(c);
  return 0;
}

static long msrs_io(struct x86_cpu *c, struct kvm_msrs *user, bool set)
{
  uint32_t n = user->nmsrs;
  if (n >= SKVM_MAX_IO_MSRS) return -E2BIG;
  uint32_t i;
  for (i = 0; i < n; i++) {
    struct kvm_msr_entry *e = &user->entries[i];
    uint64_t val;
    if (set ? x86_msr_set(c, e->index, e->data, true) : x86_msr_get(c, e->index, &val)) {
      if (!set) e->data = 0;   /* the failing entry comes back zeroed, as msr_io does */
      break;
    }
    if (!set) e->data = val;
  }
  return i;
}

static long set_cpuid2(struct skvm_vcpu *v, struct kvm_cpuid2 *user)
{
  uint32_t n = user->nent;
  if (n > SKVM_MAX_CPUID_ENTRIES) return -E2BIG;
  size_t bytes = n * sizeof(struct kvm_cpuid_entry2);
  struct x86_cpu *c = &v->cpu;
  /* after KVM_RUN, only an identical table is accepted (kvm_cpuid_check_equal) */
  if (v->has_run) {
    if ((int)n != c->ncpuid || (n && memcmp(c->cpuid, user->entries, bytes))) return -EINVAL;
    return 0;
  }
  struct kvm_cpuid_entry2 *t = malloc(bytes ? bytes : 1);
  if (!t) return -ENOMEM;
  memcpy(t, user->entries, bytes);
  free(c->cpuid);
  c->cpuid = t;
  c->ncpuid = n;
  return 0;
}

static long get_cpuid2(struct x86_cpu *c, struct kvm_cpuid2 *user)
{
  if (user->nent < (uint32_t)c->ncpuid) return -E2BIG;
  if (c->ncpuid) memcpy(user->entries, c->cpuid, c->ncpuid * sizeof(struct kvm_cpuid_entry2));
  user->nent = c->ncpuid;
  return 0;
}

/* Linux 6.1 moves neither MXCSR nor the pad fields through KVM_GET/SET_FPU (MXCSR travels in
 * KVM_GET/SET_XSAVE): the reply has them zeroed. */
static void get_fpu(struct x86_cpu *c, struct kvm_fpu *f)
{
  *f = c->fpu;
  f->mxcsr = 0;
  f->pad1 = f->pad2 = 0;
}

static void set_fpu(struct x86_cpu *c, const struct kvm_fpu *f)
{
  uint32_t mxcsr = c->fpu.mxcsr;
  c->fpu = *f;
  c->fpu.mxcsr = mxcsr;
}

/* KVM_GET_XCRS / KVM_SET_XCRS (kvm_vcpu_ioctl_x86_get_xcrs / _set_xcrs): XCR0 only */
static void get_xcrs(struct x86_cpu *c, struct kvm_xcrs *x)
{
  memset(x, 0, sizeof(*x));
  x->nr_xcrs = 1;
  x->xcrs[0].xcr = 0;
  x->xcrs[0].value = c->xcr0;
}

static long set_xcrs(struct x86_cpu *c, const struct kvm_xcrs *x)
{
  if (x->nr_xcrs > KVM_MAX_XCRS || x->flags) return -EINVAL;
  for (uint32_t i = 0; i < x->nr_xcrs; i++)
    if (x->xcrs[i].xcr == 0) return x86_set_xcr0(c, x->xcrs[i].value) ? -EINVAL : 0;
  return 0;
}

static long set_mp_state(struct x86_cpu *c, const struct kvm_mp_state *mp)
{
  /* without an in-kernel local APIC only RUNNABLE is accepted */
  if (mp->mp_state != KVM_MP_STATE_RUNNABLE) return -EINVAL;
  c->halted = false;
  return 0;
}

long vcpu_ioctl(struct skvm_vcpu *v, unsigned long req, void *arg)
{
  struct x86_cpu *c = &v->cpu;
  long r = 0;
  pthread_mutex_lock(&v->lock);
  switch (req) {
  case KVM_RUN: r = vcpu_run(v, arg); break;
  case KVM_GET_REGS: vcpu_get_regs(c, arg); break;
  case KVM_SET_REGS: vcpu_set_regs(c, arg); break;
  case KVM_GET_SREGS: vcpu_get_sregs(c, arg); break;
  case KVM_SET_SREGS: r = vcpu_set_sregs(c, arg); break;
  case KVM_GET_MSRS: r = msrs_io(c, arg, false); break;
  case KVM_SET_MSRS: r = msrs_io(c, arg, true); break;
  case KVM_SET_CPUID2: r = set_cpuid2(v, arg); break;
  case KVM_GET_CPUID2: r = get_cpuid2(c, arg); break;
  case KVM_GET_FPU: get_fpu(c, arg); break;
  case KVM_SET_FPU: set_fpu(c, arg); break;
  case KVM_GET_XCRS: get_xcrs(c, arg); break;
  case KVM_SET_XCRS: r = set_xcrs(c, arg); break;
  case KVM_GET_XSAVE: x86_get_xsave(c, ((struct kvm_xsave *)arg)->region); break;
  case KVM_SET_XSAVE: r = x86_set_xsave(c, ((const struct kvm_xsave *)arg)->region) ? -EINVAL : 0; break;
  case KVM_INTERRUPT: {
    const struct kvm_interrupt *irq = arg;
    if (irq->irq >= 256) r = -EINVAL;
    else if (v->vm->irqchip) r = -ENXIO;   /* the in-kernel PIC takes external interrupts */
    else c->pending_irq = irq->irq;
    break;
  }
  case KVM_GET_MP_STATE:
    if (v->lapic) r = irqchip_vcpu_ioctl(v, req, arg);
    else ((struct kvm_mp_state *)arg)->mp_state = KVM_MP_STATE_RUNNABLE;
    break;
  case KVM_SET_MP_STATE: r = v->lapic ? irqchip_vcpu_ioctl(v, req, arg) : set_mp_state(c, arg); break;
  case KVM_SET_SIGNAL_MASK: r = vcpu_set_signal_mask(v, arg); break;
  case KVM_GET_VCPU_EVENTS: vcpu_get_events(v, arg); break;
  case KVM_SET_VCPU_EVENTS: r = vcpu_set_events(v, arg); break;
  case KVM_GET_DEBUGREGS: vcpu_get_debugregs(v, arg); break;
  case KVM_SET_DEBUGREGS: r = vcpu_set_debugregs(v, arg); break;
  case KVM_NMI: vcpu_nmi(v); break;
  case KVM_GET_STATS_FD: r = stats_vcpu_fd(v); break;
  case KVM_GET_LAPIC:
  case KVM_SET_LAPIC:
    r = v->lapic ? irqchip_vcpu_ioctl(v, req, arg) : -EINVAL;   /* no in-kernel LAPIC: EINVAL */
    break;
  case KVM_ENABLE_CAP: r = pv_vcpu_enable_cap(v, arg); break;
  case KVM_GET_SUPPORTED_HV_CPUID: r = hv_get_supported_cpuid(v, arg); break;
  default: r = -EINVAL; break;   /* kvm_arch_vcpu_ioctl's default */
  }
  pthread_mutex_unlock(&v->lock);
  if (req == KVM_RUN) vcpu_signals_release();   /* a pthread_cancel held back by KVM_RUN */
  return r;
}
