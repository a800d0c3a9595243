/* KVM paravirtualization (arch/x86/kvm/x86.c): the KVM CPUID leaves, kvmclock and its wall clock,
 * KVM_GET/SET_CLOCK, steal time, the PV feature MSRs, KVM_CAP_ENFORCE_PV_FEATURE_CPUID and the
 * KVM hypercalls with the fix-hypercall quirk.
 *
 * Time: the guest TSC runs at 1 GHz, host CLOCK_MONOTONIC ns + the vCPU's TSC offset, and
 * kvmclock is CLOCK_MONOTONIC ns + the VM's kvmclock offset. So a pvclock page (mul 2^31,
 * shift 1: 1 ns per tick) written once stays exact until one of the two offsets changes. */
#define _GNU_SOURCE
#include <asm/kvm_para.h>
#include <errno.h>
#include <linux/kvm_para.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* KVM_CPUID_FEATURES.EAX: only what works here. Not offered: async page faults, PV EOI, PV
 * unhalt/kick, PV TLB flush, PV send-IPI (they need hooks in the irqchip and the MMU). */
#define PV_FEATURES ((1u << KVM_FEATURE_CLOCKSOURCE) | (1u << KVM_FEATURE_NOP_IO_DELAY) | \
                     (1u << KVM_FEATURE_CLOCKSOURCE2) | (1u << KVM_FEATURE_STEAL_TIME) | \
                     (1u << KVM_FEATURE_POLL_CONTROL) | (1u << KVM_FEATURE_PV_SCHED_YIELD) | \
                     (1u << KVM_FEATURE_CLOCKSOURCE_STABLE_BIT))
#define KVM_SIGNATURE_EBX 0x4b4d564b   /* "KVMKVMKVM\0\0\0" */
#define KVM_SIGNATURE_ECX 0x564b4d56
#define KVM_SIGNATURE_EDX 0x4d
/* the quirks that can be turned off here (the engine reads vm->pv.disabled_quirks for the MWAIT ones) */
#define VALID_QUIRKS (KVM_X86_QUIRK_FIX_HYPERCALL_INSN | KVM_X86_QUIRK_MWAIT_NEVER_UD_FAULTS | \
                      KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT)
#define CLOCK_FLAGS (KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC)
#define PVCLOCK_TSC_STABLE_BIT 1

/* the guest ABI (arch/x86/include/asm/pvclock-abi.h) */
struct pvclock_vcpu_time_info {
  uint32_t version, pad0;
  uint64_t tsc_timestamp, system_time;
  uint32_t tsc_to_system_mul;
  int8_t tsc_shift;
  uint8_t flags, pad[2];
};

/* The "host TSC" guest TSCs are offsets from (x86_read_tsc). */
uint64_t pv_host_ns(void) { return skvm_clock_ns(CLOCK_MONOTONIC); }

uint64_t pv_kvmclock_ns(struct skvm_vm *vm)
{
  return pv_host_ns() + __atomic_load_n(&vm->pv.kvmclock_offset, __ATOMIC_RELAXED);
}

/* Inside KVM_RUN the vCPU's own map is safe to use (memslot.c's generations); outside it the
 * VM's current map under vm->lock, which memslot changes hold. Lock order: vm->lock, then
 * vm->hv.lock; a running vCPU never waits for vm->lock (memslot changes wait for it). */
void pv_lock_map(struct skvm_vcpu *v)
{
  if (__atomic_load_n(&v->running, __ATOMIC_RELAXED)) return;
  pthread_mutex_lock(&v->vm->lock);
  v->pv.vm_locked = true;
}

void pv_unlock_map(struct skvm_vcpu *v)
{
  if (!v->pv.vm_locked) return;
  v->pv.vm_locked = false;
  pthread_mutex_unlock(&v->vm->lock);
}

int pv_guest_rw(struct skvm_vcpu *v, uint64_t gpa, void *buf, size_t len, bool write)
{
  bool in_run = __atomic_load_n(&v->running, __ATOMIC_RELAXED);
  bool lock = !in_run && !v->pv.vm_locked;
  if (lock) pthread_mutex_lock(&v->vm->lock);
  const struct guest_memmap *m = in_run ? v->cpu.memmap : v->vm->memmap;
  const struct guest_region *r = memmap_find(m, gpa);
  int ret = -1;
  if (r && gpa + len >= gpa && gpa + len - r->gpa <= r->size && !(write && r->readonly)) {
    uint8_t *p = r->hva + (gpa - r->gpa);
    if (write) {
      memcpy(p, buf, len);
      if (r->dirty)
        for (uint64_t a = gpa & ~4095ULL; a < gpa + len; a += 4096) region_mark_dirty(r, a);
    } else {
      memcpy(buf, p, len);
    }
    ret = 0;
  }
  if (lock) pthread_mutex_unlock(&v->vm->lock);
  return ret;
}

/* kvmclock starts at 0 when the VM is created, as KVM's (kvm_arch_init_vm) */
void pv_vm_init(struct skvm_vm *vm)
{
  vm->pv.kvmclock_offset = -(int64_t)pv_host_ns();
  hv_vm_init(vm);
}

void pv_vm_destroy(struct skvm_vm *vm) { hv_vm_destroy(vm); }

/* ---- CPUID and capabilities ---- */

int pv_supported_cpuid(struct kvm_cpuid_entry2 *out)
{
  if (out) {
    memset(out, 0, 2 * sizeof(*out));
    out[0] = (struct kvm_cpuid_entry2){ .function = KVM_CPUID_SIGNATURE, .eax = KVM_CPUID_FEATURES,
                                        .ebx = KVM_SIGNATURE_EBX, .ecx = KVM_SIGNATURE_ECX,
                                        .edx = KVM_SIGNATURE_EDX };
    out[1] = (struct kvm_cpuid_entry2){ .function = KVM_CPUID_FEATURES, .eax = PV_FEATURES };
  }
  return 2;
}

/* KVM_CPUID_FEATURES.EAX of the guest's table: the first KVM signature in 0x40000000.. (a VMM
 * may put Hyper-V's leaves first), as kvm_find_kvm_cpuid_features. */
static uint32_t guest_pv_features(struct skvm_vcpu *v)
{
  const struct x86_cpu *c = &v->cpu;
  uint32_t base = 0;
  for (int i = 0; i < c->ncpuid; i++) {
    const struct kvm_cpuid_entry2 *e = &c->cpuid[i];
    if (e->function < 0x40000000 || e->function > 0x4fffff00 || (e->function & 0xff)) continue;
    if (e->ebx != KVM_SIGNATURE_EBX || e->ecx != KVM_SIGNATURE_ECX || e->edx != KVM_SIGNATURE_EDX) continue;
    if (e->eax < e->function + 1) continue;
    if (!base || e->function < base) base = e->function;
  }
  if (!base) return 0;
  for (int i = 0; i < c->ncpuid; i++)
    if (c->cpuid[i].function == base + 1) return c->cpuid[i].eax;
  return 0;
}

static bool guest_pv_has(struct skvm_vcpu *v, int feature)
{
  return !v->pv.enforce || (guest_pv_features(v) & (1u << feature));
}

long pv_check_extension(struct skvm_vm *vm, long cap)
{
  switch (cap) {
  case KVM_CAP_ADJUST_CLOCK: return CLOCK_FLAGS;
  case KVM_CAP_ENFORCE_PV_FEATURE_CPUID: return 1;
  case KVM_CAP_DISABLE_QUIRKS2: return VALID_QUIRKS;
  }
  (void)vm;
  return hv_check_extension(cap);
}

long pv_vm_enable_cap(struct skvm_vm *vm, const struct kvm_enable_cap *cap)
{
  if (cap->cap != KVM_CAP_DISABLE_QUIRKS2) return -EINVAL;
  if (cap->args[0] & ~(uint64_t)VALID_QUIRKS) return -EINVAL;
  __atomic_store_n(&vm->pv.disabled_quirks, cap->args[0], __ATOMIC_RELAXED);
  return 0;
}

long pv_vcpu_enable_cap(struct skvm_vcpu *v, const struct kvm_enable_cap *cap)
{
  if (cap->flags) return -EINVAL;
  if (cap->cap == KVM_CAP_ENFORCE_PV_FEATURE_CPUID) {
    v->pv.enforce = cap->args[0] != 0;
    return 0;
  }
  return hv_vcpu_enable_cap(v, cap);
}

/* ---- kvmclock ---- */

static void get_clock(struct skvm_vm *vm, struct kvm_clock_data *d)
{
  memset(d, 0, sizeof(*d));
  d->realtime = skvm_clock_ns(CLOCK_REALTIME);
  d->host_tsc = pv_host_ns();
  d->clock = d->host_tsc + __atomic_load_n(&vm->pv.kvmclock_offset, __ATOMIC_RELAXED);
  d->flags = CLOCK_FLAGS;
}

static long set_clock(struct skvm_vm *vm, const struct kvm_clock_data *d)
{
  if (d->flags & ~CLOCK_FLAGS) return -EINVAL;
  uint64_t clock = d->clock;
  if (d->flags & KVM_CLOCK_REALTIME) {   /* the time since userspace sampled realtime */
    uint64_t now_real = skvm_clock_ns(CLOCK_REALTIME);
    if (now_real > d->realtime) clock += now_real - d->realtime;
  }
  __atomic_store_n(&vm->pv.kvmclock_offset, (int64_t)(clock - pv_host_ns()), __ATOMIC_RELAXED);
  hv_request_tsc_page_update(vm);
  return 0;   /* pvclock and TSC pages follow on each vCPU's next KVM_RUN */
}

long pv_vm_ioctl(struct skvm_vm *vm, unsigned long req, void *arg)
{
  switch (req) {
  case KVM_GET_CLOCK: get_clock(vm, arg); return 0;
  case KVM_SET_CLOCK: return set_clock(vm, arg);
  }
  return -ENOTTY;
}

/* Rewrites this vCPU's pvclock page when its inputs changed (kvm_guest_time_update). */
static void pvclock_update(struct skvm_vcpu *v, bool force)
{
  if (!(v->pv.system_time & 1)) return;
  int64_t koff = __atomic_load_n(&v->vm->pv.kvmclock_offset, __ATOMIC_RELAXED);
  int64_t toff = v->cpu.tsc_offset;
  if (!force && v->pv.clock_written && koff == v->pv.clock_kvm_offset && toff == v->pv.clock_tsc_offset)
    return;
  uint64_t gpa = v->pv.system_time & ~1ULL;
  struct pvclock_vcpu_time_info pv;
  if (pv_guest_rw(v, gpa, &pv, sizeof(pv), false)) return;
  if (pv.version & 1) pv.version++;   /* junk from the guest */
  uint32_t version = pv.version + 1;  /* odd while it changes, as the guest checks */
  pv_guest_rw(v, gpa, &version, 4, true);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint64_t tsc = pv_host_ns() + toff;
  pv = (struct pvclock_vcpu_time_info){ .version = version, .tsc_timestamp = tsc,
                                        .system_time = tsc - toff + koff,
                                        .tsc_to_system_mul = 0x80000000u, .tsc_shift = 1,
                                        .flags = PVCLOCK_TSC_STABLE_BIT };
  pv_guest_rw(v, gpa, &pv, sizeof(pv), true);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  version++;
  pv_guest_rw(v, gpa, &version, 4, true);
  v->pv.clock_written = true;
  v->pv.clock_kvm_offset = koff;
  v->pv.clock_tsc_offset = toff;
}

/* The boot time (realtime - kvmclock) at gpa (kvm_write_wall_clock). */
static void write_wall_clock(struct skvm_vcpu *v, uint64_t gpa)
{
  uint32_t version;
  if (pv_guest_rw(v, gpa, &version, 4, false)) return;
  if (version & 1) version++;
  version++;   /* odd while it changes */
  pv_guest_rw(v, gpa, &version, 4, true);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint64_t boot = skvm_clock_ns(CLOCK_REALTIME) - pv_kvmclock_ns(v->vm);
  uint32_t sec_nsec[2] = { (uint32_t)(boot / 1000000000), (uint32_t)(boot % 1000000000) };
  pv_guest_rw(v, gpa + 4, sec_nsec, 8, true);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  version++;
  pv_guest_rw(v, gpa, &version, 4, true);
}

/* ---- steal time ---- */

/* This thread's time waiting for a CPU (the kernel's sched_info.run_delay), in ns. */
static uint64_t run_delay(void)
{
  unsigned long long run = 0, wait = 0;
  FILE *f = fopen("/proc/thread-self/schedstat", "r");
  if (!f) return 0;
  if (fscanf(f, "%llu %llu", &run, &wait) != 2) wait = 0;
  fclose(f);
  return wait;
}

/* record_steal_time: on each entry, the run delay since the last one. */
static void steal_time_update(struct skvm_vcpu *v)
{
  if (!(v->pv.steal_time & KVM_MSR_ENABLED)) return;
  uint64_t gpa = v->pv.steal_time & KVM_STEAL_VALID_BITS;
  struct kvm_steal_time st;
  if (pv_guest_rw(v, gpa, &st, sizeof(st), false)) return;
  if (st.version & 1) st.version++;   /* junk from the guest */
  st.version++;                       /* odd while it changes */
  pv_guest_rw(v, gpa + offsetof(struct kvm_steal_time, version), &st.version, 4, true);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  uint64_t delay = run_delay();
  st.steal += delay - v->pv.last_steal;
  v->pv.last_steal = delay;
  st.preempted = 0;
  pv_guest_rw(v, gpa + offsetof(struct kvm_steal_time, steal), &st.steal, 8, true);
  pv_guest_rw(v, gpa + offsetof(struct kvm_steal_time, preempted), &st.preempted, 1, true);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  st.version += 1;
  pv_guest_rw(v, gpa + offsetof(struct kvm_steal_time, version), &st.version, 4, true);
}

void pv_vcpu_run_enter(struct skvm_vcpu *v)
{
  pv_lock_map(v);
  pvclock_update(v, false);
  steal_time_update(v);
  hv_vcpu_run_enter(v);
  pv_unlock_map(v);
}

/* ---- MSRs ---- */

/* the feature an MSR needs, or -1 */
static int msr_feature(uint32_t index)
{
  switch (index) {
  case MSR_KVM_WALL_CLOCK: case MSR_KVM_SYSTEM_TIME: return KVM_FEATURE_CLOCKSOURCE;
  case MSR_KVM_WALL_CLOCK_NEW: case MSR_KVM_SYSTEM_TIME_NEW: return KVM_FEATURE_CLOCKSOURCE2;
  case MSR_KVM_ASYNC_PF_EN: return KVM_FEATURE_ASYNC_PF;
  case MSR_KVM_ASYNC_PF_INT: case MSR_KVM_ASYNC_PF_ACK: return KVM_FEATURE_ASYNC_PF_INT;
  case MSR_KVM_STEAL_TIME: return KVM_FEATURE_STEAL_TIME;
  case MSR_KVM_PV_EOI_EN: return KVM_FEATURE_PV_EOI;
  case MSR_KVM_POLL_CONTROL: return KVM_FEATURE_POLL_CONTROL;
  }
  return -1;
}

int pv_msr_get(struct skvm_vcpu *v, uint32_t index, uint64_t *val)
{
  int f = msr_feature(index);
  if (f < 0) return X86_MSR_UNHANDLED;
  bool host = !__atomic_load_n(&v->running, __ATOMIC_RELAXED);   /* KVM_GET_MSRS (vcpu_ops.c) */
  if (!host && !guest_pv_has(v, f)) return X86_MSR_INVALID;
  switch (index) {
  case MSR_KVM_WALL_CLOCK: case MSR_KVM_WALL_CLOCK_NEW: *val = v->vm->pv.wall_clock; return 0;
  case MSR_KVM_SYSTEM_TIME: case MSR_KVM_SYSTEM_TIME_NEW: *val = v->pv.system_time; return 0;
  case MSR_KVM_STEAL_TIME: *val = v->pv.steal_time; return 0;
  case MSR_KVM_POLL_CONTROL: *val = v->pv.poll_control; return 0;
  }
  return X86_MSR_UNKNOWN;   /* async PF, PV EOI: not implemented (not offered) */
}

int pv_msr_set(struct skvm_vcpu *v, uint32_t index, uint64_t val, bool host)
{
  int f = msr_feature(index);
  if (f < 0) return X86_MSR_UNHANDLED;
  if (!host && !guest_pv_has(v, f)) return X86_MSR_INVALID;
  switch (index) {
  case MSR_KVM_WALL_CLOCK: case MSR_KVM_WALL_CLOCK_NEW:
    v->vm->pv.wall_clock = val;
    write_wall_clock(v, val);
    return 0;
  case MSR_KVM_SYSTEM_TIME: case MSR_KVM_SYSTEM_TIME_NEW:
    v->pv.system_time = val;
    v->pv.system_time_new = index == MSR_KVM_SYSTEM_TIME_NEW;
    pvclock_update(v, true);
    return 0;
  case MSR_KVM_STEAL_TIME:
    if (val & KVM_STEAL_RESERVED_MASK) return X86_MSR_INVALID;
    v->pv.steal_time = val;
    return 0;   /* written on the next entry */
  case MSR_KVM_POLL_CONTROL:
    if (val & ~1ULL) return X86_MSR_INVALID;   /* only the enable bit */
    v->pv.poll_control = val;
    return 0;
  }
  return X86_MSR_UNKNOWN;
}

/* ---- hypercalls ---- */

int pv_hypercall(struct skvm_vcpu *v, bool vmmcall)
{
  struct x86_cpu *c = &v->cpu;
  /* VMMCALL is not this (Intel) CPU's instruction: KVM rewrites it to VMCALL unless the quirk
   * is off, then the guest sees the #UD */
  if (vmmcall)
    return __atomic_load_n(&v->vm->pv.disabled_quirks, __ATOMIC_RELAXED) & KVM_X86_QUIRK_FIX_HYPERCALL_INSN
               ? X86_HC_UD : X86_HC_PATCH;
  if (hv_hypercall_enabled(v)) return hv_hypercall(v);

  bool op64 = c->code_bits == 64;
  uint64_t mask = op64 ? ~0ULL : 0xffffffffULL;
  uint64_t nr = c->gpr[R_AX] & mask;
  int64_t ret = -KVM_ENOSYS;
  if (c->cpl != 0) {
    ret = -KVM_EPERM;
  } else {
    switch (nr) {
    case KVM_HC_VAPIC_POLL_IRQ: ret = 0; break;
    case KVM_HC_SCHED_YIELD:
      if (!guest_pv_has(v, KVM_FEATURE_PV_SCHED_YIELD)) break;
      sched_yield();
      ret = 0;
      break;
    case KVM_HC_CLOCK_PAIRING: ret = -KVM_EOPNOTSUPP; break;   /* as KVM on a host without a TSC clocksource */
    case KVM_HC_KICK_CPU:   /* PV unhalt and PV IPIs are not offered */
      if (!guest_pv_has(v, KVM_FEATURE_PV_UNHALT)) break;
      ret = -KVM_ENOSYS;
      break;
    }
  }
  c->gpr[R_AX] = (uint64_t)ret & mask;
  return X86_HC_DONE;
}
