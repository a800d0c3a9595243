/* Hyper-V enlightenments (arch/x86/kvm/hyperv.c): KVM_GET_SUPPORTED_HV_CPUID, the synthetic MSRs
 * (guest OS id, hypercall page, VP index and runtime, time reference counter and reference TSC
 * page, frequency, crash, re-enlightenment, APIC-access and SynDBG MSRs), KVM_CAP_HYPERV_ENFORCE_CPUID
 * and the hypercalls a guest without a SynIC can use.
 *
 * The SynIC and the synthetic timers keep their registers (so KVM_CAP_HYPERV_SYNIC(2) may be
 * enabled, as in KVM) but deliver nothing yet: they are neither advertised in the CPUID below nor
 * reported by KVM_CHECK_EXTENSION. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "irqchip/irqchip.h"

/* CPUID leaves */
#define CPUID_VENDOR 0x40000000
#define CPUID_INTERFACE 0x40000001
#define CPUID_VERSION 0x40000002
#define CPUID_FEATURES 0x40000003
#define CPUID_ENLIGHTMENT 0x40000004
#define CPUID_LIMITS 0x40000005
#define CPUID_NESTED 0x4000000a
#define CPUID_SYNDBG_VENDOR 0x40000080
#define CPUID_SYNDBG_INTERFACE 0x40000081
#define CPUID_SYNDBG_CAPS 0x40000082
#define SIGNATURE_EAX 0x31237648   /* "Hv#1" */
/* 0x40000003 EAX */
#define F_VP_RUNTIME (1u << 0)
#define F_TIME_REF_COUNT (1u << 1)
#define F_SYNIC (1u << 2)
#define F_SYNTIMER (1u << 3)
#define F_APIC_ACCESS (1u << 4)
#define F_HYPERCALL (1u << 5)
#define F_VP_INDEX (1u << 6)
#define F_RESET (1u << 7)
#define F_REFERENCE_TSC (1u << 9)
#define F_FREQUENCY_MSRS (1u << 11)
#define F_REENLIGHTENMENT (1u << 13)
/* 0x40000003 EBX */
#define F_POST_MESSAGES (1u << 4)
#define F_SIGNAL_EVENTS (1u << 5)
#define F_DEBUGGING (1u << 11)
/* 0x40000003 EDX */
#define F_XMM_INPUT (1u << 4)
#define F_FREQUENCY_MSRS_EDX (1u << 8)
#define F_CRASH_MSRS (1u << 10)
#define F_DEBUG_MSRS (1u << 11)
#define F_STIMER_DIRECT (1u << 19)
/* 0x40000004 EAX */
#define R_REMOTE_TLB_FLUSH (1u << 2)
#define R_APIC_ACCESS (1u << 3)
#define R_RELAXED_TIMING (1u << 5)
#define R_CLUSTER_IPI (1u << 10)
#define R_EX_PROCESSOR_MASKS (1u << 11)
#define R_NO_NONARCH_CORESHARING (1u << 18)
#define SYNDBG_ALLOW_KERNEL_DEBUGGING (1u << 1)
#define NESTED_MSR_BITMAP (1u << 19)
#define NESTED_EVMCS1_PERF_GLOBAL_CTRL (1u << 0)

/* MSRs */
#define MSR_GUEST_OS_ID 0x40000000
#define MSR_HYPERCALL 0x40000001
#define MSR_VP_INDEX 0x40000002
#define MSR_RESET 0x40000003
#define MSR_VP_RUNTIME 0x40000010
#define MSR_TIME_REF_COUNT 0x40000020
#define MSR_REFERENCE_TSC 0x40000021
#define MSR_TSC_FREQUENCY 0x40000022
#define MSR_APIC_FREQUENCY 0x40000023
#define MSR_EOI 0x40000070
#define MSR_ICR 0x40000071
#define MSR_TPR 0x40000072
#define MSR_VP_ASSIST_PAGE 0x40000073
#define MSR_SCONTROL 0x40000080
#define MSR_SVERSION 0x40000081
#define MSR_SIEFP 0x40000082
#define MSR_SIMP 0x40000083
#define MSR_EOM 0x40000084
#define MSR_SINT0 0x40000090
#define MSR_SINT15 0x4000009f
#define MSR_STIMER0_CONFIG 0x400000b0
#define MSR_STIMER3_COUNT 0x400000b7
#define MSR_SYNDBG_CONTROL 0x400000f1
#define MSR_SYNDBG_STATUS 0x400000f2
#define MSR_SYNDBG_SEND 0x400000f3
#define MSR_SYNDBG_RECV 0x400000f4
#define MSR_SYNDBG_PENDING 0x400000f5
#define MSR_SYNDBG_OPTIONS 0x400000ff
#define MSR_CRASH_P0 0x40000100
#define MSR_CRASH_P4 0x40000104
#define MSR_CRASH_CTL 0x40000105
#define MSR_REENLIGHTENMENT_CONTROL 0x40000106
#define MSR_TSC_EMULATION_CONTROL 0x40000107
#define MSR_TSC_EMULATION_STATUS 0x40000108
#define CRASH_CTL_NOTIFY (1ULL << 63)
#define SYNDBG_OPTION_USE_HCALLS (1u << 2)
#define SINT_MASKED (1ULL << 16)
#define STIMER_DIRECT_MODE (1ULL << 12)

/* hypercalls */
#define HC_FLUSH_SPACE 0x0002
#define HC_FLUSH_LIST 0x0003
#define HC_NOTIFY_LONG_SPIN_WAIT 0x0008
#define HC_SEND_IPI 0x000b
#define HC_FLUSH_SPACE_EX 0x0013
#define HC_FLUSH_LIST_EX 0x0014
#define HC_SEND_IPI_EX 0x0015
#define HC_POST_MESSAGE 0x005c
#define HC_SIGNAL_EVENT 0x005d
#define HC_POST_DEBUG_DATA 0x0069
#define HC_RETRIEVE_DEBUG_DATA 0x006a
#define HC_RESET_DEBUG_SESSION 0x006b
#define HC_FAST (1ULL << 16)
#define HC_RSVD_MASK ((0x1fULL << 27) | (0xfULL << 44) | (0xfULL << 60))
#define ST_SUCCESS 0
#define ST_INVALID_CODE 2
#define ST_INVALID_INPUT 3
#define ST_INVALID_ALIGNMENT 4
#define ST_INVALID_PARAMETER 5
#define ST_ACCESS_DENIED 6
#define ST_OPERATION_DENIED 8
#define ST_INVALID_PORT_ID 17

enum { TSC_PAGE_UNSET, TSC_PAGE_GUEST_CHANGED, TSC_PAGE_HOST_CHANGED, TSC_PAGE_SET, TSC_PAGE_BROKEN };
/* the reference time is 100 ns units; the TSC ticks in ns: scale = 2^64 / 100 */
#define TSC_PAGE_SCALE 0x028f5c28f5c28f5cULL
#define APIC_BUS_HZ 1000000000ULL   /* the LAPIC timer runs at 1 GHz */

void hv_vm_init(struct skvm_vm *vm) { pthread_mutex_init(&vm->hv.lock, NULL); }
void hv_vm_destroy(struct skvm_vm *vm) { pthread_mutex_destroy(&vm->hv.lock); }
void hv_vcpu_init(struct skvm_vcpu *v) { v->hv.vp_index = (uint32_t)v->id; }

long hv_check_extension(long cap)
{
  switch (cap) {
  case KVM_CAP_HYPERV:
  case KVM_CAP_HYPERV_VP_INDEX:
  case KVM_CAP_HYPERV_TIME:
  case KVM_CAP_HYPERV_CPUID:
  case KVM_CAP_SYS_HYPERV_CPUID:
  case KVM_CAP_HYPERV_ENFORCE_CPUID:
    return 1;
  }
  return 0;
}

/* ---- CPUID ---- */

static uint32_t sig(const char *s, int i)
{
  uint32_t w;
  memcpy(&w, s + 4 * i, 4);
  return w;
}

/* cpu_smt_possible(): vCPU threads may share a core with other host threads unless SMT is off */
static bool smt_possible(void)
{
  char buf[16] = "";
  FILE *f = fopen("/sys/devices/system/cpu/smt/control", "r");
  if (!f) return true;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  return strncmp(buf, "forceoff", 8) && strncmp(buf, "notsupported", 12);
}

/* kvm_get_hv_cpuid: the same ten leaves; only features that work here are set. */
long hv_get_supported_cpuid(struct skvm_vcpu *v, struct kvm_cpuid2 *user)
{
  static const uint32_t leaves[] = { CPUID_VENDOR, CPUID_INTERFACE, CPUID_VERSION, CPUID_FEATURES,
                                     CPUID_ENLIGHTMENT, CPUID_LIMITS, CPUID_SYNDBG_VENDOR,
                                     CPUID_SYNDBG_INTERFACE, CPUID_SYNDBG_CAPS, CPUID_NESTED };
  const int n = sizeof(leaves) / sizeof(leaves[0]);
  if (user->nent < (uint32_t)n) return -E2BIG;
  (void)v;
  const char *kvm = "Linux KVM Hv";
  for (int i = 0; i < n; i++) {
    struct kvm_cpuid_entry2 *e = &user->entries[i];
    memset(e, 0, sizeof(*e));
    e->function = leaves[i];
    switch (leaves[i]) {
    case CPUID_VENDOR:
      e->eax = CPUID_SYNDBG_CAPS;
      e->ebx = sig(kvm, 0), e->ecx = sig(kvm, 1), e->edx = sig(kvm, 2);
      break;
    case CPUID_INTERFACE: e->eax = SIGNATURE_EAX; break;
    case CPUID_VERSION: e->eax = 0x00003839, e->ebx = 0x000a0000; break;   /* Hyper-V 2016 */
    case CPUID_FEATURES:
      e->eax = F_VP_RUNTIME | F_TIME_REF_COUNT | F_APIC_ACCESS | F_HYPERCALL | F_VP_INDEX |
               F_REFERENCE_TSC | F_FREQUENCY_MSRS | F_REENLIGHTENMENT;
      e->edx = F_XMM_INPUT | F_FREQUENCY_MSRS_EDX | F_CRASH_MSRS;
      break;
    case CPUID_ENLIGHTMENT:
      e->eax = R_APIC_ACCESS | R_RELAXED_TIMING | (smt_possible() ? 0 : R_NO_NONARCH_CORESHARING);
      e->ebx = 0xfff;   /* spinlock retries, as Hyper-V 2016 */
      break;
    case CPUID_LIMITS: e->eax = SKVM_MAX_VCPUS, e->ebx = 64; break;
    case CPUID_NESTED: e->eax = NESTED_MSR_BITMAP, e->ebx = NESTED_EVMCS1_PERF_GLOBAL_CTRL; break;
    case CPUID_SYNDBG_VENDOR: e->ebx = sig(kvm, 0), e->ecx = sig(kvm, 1), e->edx = sig(kvm, 2); break;
    case CPUID_SYNDBG_INTERFACE: e->eax = sig("VS#1", 0); break;
    }
  }
  user->nent = n;
  return 0;
}

static const struct kvm_cpuid_entry2 *guest_leaf(struct skvm_vcpu *v, uint32_t function)
{
  for (int i = 0; i < v->cpu.ncpuid; i++)
    if (v->cpu.cpuid[i].function == function) return &v->cpu.cpuid[i];
  return NULL;
}

static uint32_t guest_reg(struct skvm_vcpu *v, uint32_t function, int reg)
{
  const struct kvm_cpuid_entry2 *e = guest_leaf(v, function);
  if (!e) return 0;
  return reg == 0 ? e->eax : reg == 1 ? e->ebx : reg == 2 ? e->ecx : e->edx;
}

bool hv_enabled(struct skvm_vcpu *v)
{
  const struct kvm_cpuid_entry2 *e = guest_leaf(v, CPUID_INTERFACE);
  return e && e->eax == SIGNATURE_EAX;
}

bool hv_hypercall_enabled(struct skvm_vcpu *v)
{
  return hv_enabled(v) && __atomic_load_n(&v->vm->hv.guest_os_id, __ATOMIC_RELAXED);
}

static bool syndbg_enabled(struct skvm_vcpu *v)
{
  return guest_reg(v, CPUID_SYNDBG_CAPS, 0) & SYNDBG_ALLOW_KERNEL_DEBUGGING;
}

long hv_vcpu_enable_cap(struct skvm_vcpu *v, const struct kvm_enable_cap *cap)
{
  switch (cap->cap) {
  case KVM_CAP_HYPERV_ENFORCE_CPUID:
    v->hv.enforce = cap->args[0] != 0;
    return 0;
  case KVM_CAP_HYPERV_SYNIC2:
    if (cap->args[0]) return -EINVAL;
    /* fall through */
  case KVM_CAP_HYPERV_SYNIC:
    if (!v->vm->irqchip) return -EINVAL;
    v->hv.synic_active = true;
    return 0;
  }
  return -EINVAL;
}

/* hv_check_msr_access: with KVM_CAP_HYPERV_ENFORCE_CPUID, the guest CPUID bit each MSR needs. */
static bool msr_allowed(struct skvm_vcpu *v, uint32_t msr)
{
  if (!v->hv.enforce) return true;
  uint32_t eax = guest_reg(v, CPUID_FEATURES, 0), edx = guest_reg(v, CPUID_FEATURES, 3);
  switch (msr) {
  case MSR_GUEST_OS_ID: case MSR_HYPERCALL: return eax & F_HYPERCALL;
  case MSR_VP_RUNTIME: return eax & F_VP_RUNTIME;
  case MSR_TIME_REF_COUNT: return eax & F_TIME_REF_COUNT;
  case MSR_VP_INDEX: return eax & F_VP_INDEX;
  case MSR_RESET: return eax & F_RESET;
  case MSR_REFERENCE_TSC: return eax & F_REFERENCE_TSC;
  case MSR_SCONTROL: case MSR_SVERSION: case MSR_SIEFP: case MSR_SIMP: case MSR_EOM: return eax & F_SYNIC;
  case MSR_EOI: case MSR_ICR: case MSR_TPR: case MSR_VP_ASSIST_PAGE: return eax & F_APIC_ACCESS;
  case MSR_TSC_FREQUENCY: case MSR_APIC_FREQUENCY: return eax & F_FREQUENCY_MSRS;
  case MSR_REENLIGHTENMENT_CONTROL: case MSR_TSC_EMULATION_CONTROL: case MSR_TSC_EMULATION_STATUS:
    return eax & F_REENLIGHTENMENT;
  case MSR_CRASH_CTL: return edx & F_CRASH_MSRS;
  case MSR_SYNDBG_OPTIONS: return edx & F_DEBUG_MSRS;
  }
  if (msr >= MSR_SINT0 && msr <= MSR_SINT15) return eax & F_SYNIC;
  if (msr >= MSR_STIMER0_CONFIG && msr <= MSR_STIMER3_COUNT) return eax & F_SYNTIMER;
  if (msr >= MSR_CRASH_P0 && msr <= MSR_CRASH_P4) return edx & F_CRASH_MSRS;
  if (msr >= MSR_SYNDBG_CONTROL && msr <= MSR_SYNDBG_PENDING) return edx & F_DEBUG_MSRS;
  return false;
}

static bool is_hv_msr(uint32_t msr)
{
  switch (msr) {
  case MSR_GUEST_OS_ID: case MSR_HYPERCALL: case MSR_VP_INDEX: case MSR_RESET: case MSR_VP_RUNTIME:
  case MSR_TIME_REF_COUNT: case MSR_REFERENCE_TSC: case MSR_TSC_FREQUENCY: case MSR_APIC_FREQUENCY:
  case MSR_EOI: case MSR_ICR: case MSR_TPR: case MSR_VP_ASSIST_PAGE: case MSR_SCONTROL: case MSR_SVERSION:
  case MSR_SIEFP: case MSR_SIMP: case MSR_EOM: case MSR_SYNDBG_OPTIONS: case MSR_CRASH_CTL:
  case MSR_REENLIGHTENMENT_CONTROL: case MSR_TSC_EMULATION_CONTROL: case MSR_TSC_EMULATION_STATUS:
    return true;
  }
  return (msr >= MSR_SINT0 && msr <= MSR_SINT15) || (msr >= MSR_STIMER0_CONFIG && msr <= MSR_STIMER3_COUNT) ||
         (msr >= MSR_CRASH_P0 && msr <= MSR_CRASH_P4) || (msr >= MSR_SYNDBG_CONTROL && msr <= MSR_SYNDBG_PENDING);
}

/* ---- time ---- */

/* this thread's CPU time in 100 ns units (current_task_runtime_100ns) */
static uint64_t runtime_100ns(void)
{
  return skvm_clock_ns(CLOCK_THREAD_CPUTIME_ID) / 100;
}

static int64_t floor_div100(int64_t x) { return x >= 0 ? x / 100 : -((-x + 99) / 100); }

static uint64_t tsc_page_time(uint64_t tsc, uint64_t scale, int64_t offset)
{
  return (uint64_t)(((unsigned __int128)tsc * scale) >> 64) + offset;
}

/* get_time_ref_counter: kvmclock in 100 ns, or what the TSC page says once the guest uses it */
static uint64_t time_ref_count(struct skvm_vcpu *v)
{
  struct skvm_hv_vm *hv = &v->vm->hv;
  if (hv->tsc_page_status != TSC_PAGE_SET) return pv_kvmclock_ns(v->vm) / 100;
  return tsc_page_time(pv_host_ns() + v->cpu.tsc_offset, hv->tsc_scale, hv->tsc_offset);
}

static bool tsc_page_update_unsafe(struct skvm_hv_vm *hv)
{
  return hv->tsc_page_status != TSC_PAGE_GUEST_CHANGED && hv->tsc_emulation_control;
}

/* kvm_hv_setup_tsc_page: writes the page after the guest or the host changed it. Holds hv->lock. */
static void tsc_page_setup_locked(struct skvm_vcpu *v)
{
  struct skvm_hv_vm *hv = &v->vm->hv;
  if (hv->tsc_page_status != TSC_PAGE_GUEST_CHANGED && hv->tsc_page_status != TSC_PAGE_HOST_CHANGED) return;
  if (!(hv->tsc_page & 1)) return;
  uint64_t gpa = hv->tsc_page & ~0xfffULL;
  uint32_t seq;
  if (pv_guest_rw(v, gpa, &seq, 4, false)) goto broken;
  if (seq && tsc_page_update_unsafe(hv)) {   /* the guest is migrating: keep what it has */
    if (pv_guest_rw(v, gpa + 8, &hv->tsc_scale, 8, false) || pv_guest_rw(v, gpa + 16, &hv->tsc_offset, 8, false))
      goto broken;
    hv->tsc_page_status = TSC_PAGE_SET;
    return;
  }
  uint32_t zero = 0;   /* the guest uses the MSR while the page changes */
  if (pv_guest_rw(v, gpa, &zero, 4, true)) goto broken;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  int64_t kvm_off = __atomic_load_n(&v->vm->pv.kvmclock_offset, __ATOMIC_RELAXED);
  hv->tsc_scale = TSC_PAGE_SCALE;
  hv->tsc_offset = floor_div100(kvm_off - v->cpu.tsc_offset);
  uint64_t body[2] = { hv->tsc_scale, (uint64_t)hv->tsc_offset };
  if (pv_guest_rw(v, gpa + 8, body, 16, true)) goto broken;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (++seq == 0xffffffff || seq == 0) seq = 1;
  if (pv_guest_rw(v, gpa, &seq, 4, true)) goto broken;
  hv->tsc_page_status = TSC_PAGE_SET;
  return;
broken:
  hv->tsc_page_status = TSC_PAGE_BROKEN;
}

/* KVM_SET_CLOCK: the page follows on the next entry (kvm_hv_request_tsc_page_update) */
void hv_request_tsc_page_update(struct skvm_vm *vm)
{
  pthread_mutex_lock(&vm->hv.lock);
  if (vm->hv.tsc_page_status == TSC_PAGE_SET && !tsc_page_update_unsafe(&vm->hv))
    vm->hv.tsc_page_status = TSC_PAGE_HOST_CHANGED;
  pthread_mutex_unlock(&vm->hv.lock);
}

void hv_vcpu_run_enter(struct skvm_vcpu *v)
{
  struct skvm_hv_vm *hv = &v->vm->hv;
  if (!__atomic_load_n(&hv->tsc_page, __ATOMIC_RELAXED)) return;
  pthread_mutex_lock(&hv->lock);
  tsc_page_setup_locked(v);
  pthread_mutex_unlock(&hv->lock);
}

/* ---- MSRs ---- */

/* HV_X64_MSR_EOI/ICR/TPR: the in-kernel LAPIC's registers (kvm_hv_vapic_msr_*) */
static int vapic_access(struct skvm_vcpu *v, uint32_t reg, uint64_t *val, bool write)
{
  struct skvm_irqchip *chip = v->vm->irqchip;
  if (!chip || !v->lapic) return -1;
  pthread_mutex_lock(&chip->lock);
  uint32_t lo = (uint32_t)*val, hi = (uint32_t)(*val >> 32);
  if (write && reg == 0x300) lapic_mmio_locked(v->lapic, 0x310, &hi, 4, true);   /* ICR: high half first */
  if (write) {
    lapic_mmio_locked(v->lapic, reg, &lo, 4, true);
  } else {
    lapic_mmio_locked(v->lapic, reg, &lo, 4, false);
    hi = 0;
    if (reg == 0x300) lapic_mmio_locked(v->lapic, 0x310, &hi, 4, false);
    *val = lo | (uint64_t)hi << 32;
  }
  pthread_mutex_unlock(&chip->lock);
  return 0;
}

/* partition-wide MSRs, hv->lock held (kvm_hv_get_msr_pw / kvm_hv_set_msr_pw) */
static int msr_pw(struct skvm_vcpu *v, uint32_t msr, uint64_t *val, bool write, bool host)
{
  struct skvm_hv_vm *hv = &v->vm->hv;
  uint64_t d = *val;
  if (msr >= MSR_CRASH_P0 && msr <= MSR_CRASH_P4) {
    if (write) hv->crash_param[msr - MSR_CRASH_P0] = d;
    else *val = hv->crash_param[msr - MSR_CRASH_P0];
    return 0;
  }
  if ((msr >= MSR_SYNDBG_CONTROL && msr <= MSR_SYNDBG_PENDING) || msr == MSR_SYNDBG_OPTIONS) {
    if (!syndbg_enabled(v) && !host) return -1;
    uint64_t *r = msr == MSR_SYNDBG_CONTROL ? &hv->syndbg_control : msr == MSR_SYNDBG_STATUS ? &hv->syndbg_status
                  : msr == MSR_SYNDBG_SEND  ? &hv->syndbg_send    : msr == MSR_SYNDBG_RECV   ? &hv->syndbg_recv
                  : msr == MSR_SYNDBG_PENDING ? &hv->syndbg_pending : &hv->syndbg_options;
    if (write) *r = d;   /* no debugger behind it: control/pending writes need no exit */
    else *val = *r;
    return 0;
  }
  switch (msr) {
  case MSR_GUEST_OS_ID:
    if (!write) { *val = hv->guest_os_id; return 0; }
    __atomic_store_n(&hv->guest_os_id, d, __ATOMIC_RELAXED);
    if (!d) hv->hypercall &= ~1ULL;   /* no OS id, no hypercall page */
    return 0;
  case MSR_HYPERCALL:
    if (!write) { *val = hv->hypercall; return 0; }
    if (!hv->guest_os_id) return 0;   /* stays disabled until the OS id is set */
    if (d & 1) {   /* the page: VMCALL; RET */
      static const uint8_t code[4] = { 0x0f, 0x01, 0xc1, 0xc3 };
      if (pv_guest_rw(v, d & ~0xfffULL, (void *)code, sizeof(code), true)) return -1;
    }
    hv->hypercall = d;
    return 0;
  case MSR_REFERENCE_TSC:
    if (!write) { *val = hv->tsc_page; return 0; }
    __atomic_store_n(&hv->tsc_page, d, __ATOMIC_RELAXED);
    hv->tsc_page_status = !(d & 1) ? TSC_PAGE_UNSET : host ? TSC_PAGE_HOST_CHANGED : TSC_PAGE_GUEST_CHANGED;
    if (!host) tsc_page_setup_locked(v);   /* before the guest's next instruction */
    return 0;
  case MSR_TIME_REF_COUNT:
    if (!write) { *val = time_ref_count(v); return 0; }
    return host ? 0 : -1;   /* read-only; the host's write is ignored */
  case MSR_CRASH_CTL:
    if (!write) { *val = hv->crash_ctl; return 0; }
    if (host) hv->crash_ctl = d & CRASH_CTL_NOTIFY;
    return 0;   /* a guest's crash notification: logged by KVM only */
  case MSR_RESET:
    if (!write) *val = 0;
    return 0;   /* a reset request: KVM exits with KVM_EXIT_SYSTEM_EVENT; not done here yet */
  case MSR_REENLIGHTENMENT_CONTROL:
    if (write) hv->reenlightenment_control = d;
    else *val = hv->reenlightenment_control;
    return 0;
  case MSR_TSC_EMULATION_CONTROL:
    if (write) hv->tsc_emulation_control = d;
    else *val = hv->tsc_emulation_control;
    return 0;
  case MSR_TSC_EMULATION_STATUS:
    if (!write) { *val = hv->tsc_emulation_status; return 0; }
    if (d && !host) return -1;
    hv->tsc_emulation_status = d;
    return 0;
  }
  return -1;
}

/* per-vCPU MSRs (kvm_hv_get_msr / kvm_hv_set_msr) */
static int msr_vcpu(struct skvm_vcpu *v, uint32_t msr, uint64_t *val, bool write, bool host)
{
  struct skvm_hv_vcpu *hv = &v->hv;
  uint64_t d = *val;
  bool synic = msr == MSR_SCONTROL || msr == MSR_SVERSION || msr == MSR_SIEFP || msr == MSR_SIMP ||
               msr == MSR_EOM || (msr >= MSR_SINT0 && msr <= MSR_SINT15) ||
               (msr >= MSR_STIMER0_CONFIG && msr <= MSR_STIMER3_COUNT);
  if (synic) {
    if (!hv->synic_active && (!host || (write && d))) return -1;
    if (!write) {
      *val = msr == MSR_SCONTROL ? hv->scontrol : msr == MSR_SVERSION ? hv->sversion
             : msr == MSR_SIEFP  ? hv->siefp    : msr == MSR_SIMP     ? hv->simp
             : msr == MSR_EOM    ? 0
             : msr <= MSR_SINT15 ? hv->sint[msr - MSR_SINT0]
             : (msr & 1)         ? hv->stimer_count[(msr - MSR_STIMER0_CONFIG) / 2]
                                 : hv->stimer_config[(msr - MSR_STIMER0_CONFIG) / 2];
      return 0;
    }
    switch (msr) {
    case MSR_SCONTROL: hv->scontrol = d; return 0;
    case MSR_SVERSION: if (!host) return -1; hv->sversion = d; return 0;
    case MSR_SIEFP: hv->siefp = d; return 0;
    case MSR_SIMP: hv->simp = d; return 0;
    case MSR_EOM: return 0;
    }
    if (msr <= MSR_SINT15) {
      if ((d & 0xff) < 16 && !host && !(d & SINT_MASKED)) return -1;   /* vectors 16..255 */
      hv->sint[msr - MSR_SINT0] = d;
      return 0;
    }
    int t = (msr - MSR_STIMER0_CONFIG) / 2;
    if (msr & 1) {
      hv->stimer_count[t] = d;
    } else {
      if (!host && hv->enforce && (d & STIMER_DIRECT_MODE) &&
          !(guest_reg(v, CPUID_FEATURES, 3) & F_STIMER_DIRECT))
        return -1;
      hv->stimer_config[t] = d;
    }
    return 0;
  }
  switch (msr) {
  case MSR_VP_INDEX:
    if (!write) { *val = hv->vp_index; return 0; }
    if (!host || (uint32_t)d >= SKVM_MAX_VCPUS) return -1;
    hv->vp_index = (uint32_t)d;
    return 0;
  case MSR_VP_RUNTIME:
    if (!write) { *val = runtime_100ns() + hv->runtime_offset; return 0; }
    if (!host) return -1;
    hv->runtime_offset = (int64_t)(d - runtime_100ns());
    return 0;
  case MSR_VP_ASSIST_PAGE:
    if (!write) { *val = hv->vp_assist; return 0; }
    if (d & 1) {   /* only the APIC-assist word is cleared */
      uint32_t zero = 0;
      if (pv_guest_rw(v, d & ~0xfffULL, &zero, 4, true)) return -1;
    }
    hv->vp_assist = d;
    return 0;
  case MSR_EOI: return write ? vapic_access(v, 0xb0, val, true) : -1;   /* EOI is write-only */
  case MSR_ICR: return vapic_access(v, 0x300, val, write);
  case MSR_TPR: return vapic_access(v, 0x80, val, write);
  case MSR_TSC_FREQUENCY: case MSR_APIC_FREQUENCY:
    if (write) return host ? 0 : -1;   /* read-only; the host's write is ignored */
    *val = msr == MSR_TSC_FREQUENCY ? 1000000000ULL : APIC_BUS_HZ;
    return 0;
  }
  return -1;
}

static bool partition_wide(uint32_t msr)
{
  switch (msr) {
  case MSR_GUEST_OS_ID: case MSR_HYPERCALL: case MSR_REFERENCE_TSC: case MSR_TIME_REF_COUNT:
  case MSR_CRASH_CTL: case MSR_RESET: case MSR_REENLIGHTENMENT_CONTROL: case MSR_TSC_EMULATION_CONTROL:
  case MSR_TSC_EMULATION_STATUS: case MSR_SYNDBG_OPTIONS:
    return true;
  }
  return (msr >= MSR_CRASH_P0 && msr <= MSR_CRASH_P4) || (msr >= MSR_SYNDBG_CONTROL && msr <= MSR_SYNDBG_PENDING);
}

static int msr_access(struct skvm_vcpu *v, uint32_t msr, uint64_t *val, bool write, bool host)
{
  if (!is_hv_msr(msr)) return X86_MSR_UNHANDLED;
  if (!host && !hv_enabled(v)) return X86_MSR_INVALID;   /* no Hyper-V in the guest's CPUID */
  if (!host && !msr_allowed(v, msr)) return X86_MSR_INVALID;
  int r;
  pv_lock_map(v);
  if (partition_wide(msr)) {
    pthread_mutex_lock(&v->vm->hv.lock);
    r = msr_pw(v, msr, val, write, host);
    pthread_mutex_unlock(&v->vm->hv.lock);
  } else {
    r = msr_vcpu(v, msr, val, write, host);
  }
  pv_unlock_map(v);
  return r ? X86_MSR_INVALID : 0;
}

int hv_msr_get(struct skvm_vcpu *v, uint32_t index, uint64_t *val, bool host)
{
  return msr_access(v, index, val, false, host);
}

int hv_msr_set(struct skvm_vcpu *v, uint32_t index, uint64_t val, bool host)
{
  return msr_access(v, index, &val, true, host);
}

/* ---- hypercalls ---- */

struct hcall {
  uint64_t param, ingpa, outgpa;
  uint16_t code;
  bool fast, rep;
  uint16_t var_cnt, rep_cnt, rep_idx;
};

/* hv_check_hypercall_access */
static bool hcall_allowed(struct skvm_vcpu *v, uint16_t code)
{
  if (!v->hv.enforce) return true;
  uint32_t feat_ebx = guest_reg(v, CPUID_FEATURES, 1), rec_eax = guest_reg(v, CPUID_ENLIGHTMENT, 0);
  uint32_t rec_ebx = guest_reg(v, CPUID_ENLIGHTMENT, 1);
  switch (code) {
  case HC_NOTIFY_LONG_SPIN_WAIT: return rec_ebx && rec_ebx != 0xffffffff;
  case HC_POST_MESSAGE: return feat_ebx & F_POST_MESSAGES;
  case HC_SIGNAL_EVENT: return feat_ebx & F_SIGNAL_EVENTS;
  case HC_POST_DEBUG_DATA: case HC_RETRIEVE_DEBUG_DATA: case HC_RESET_DEBUG_SESSION:
    return !syndbg_enabled(v) || (feat_ebx & F_DEBUGGING);   /* disabled: "invalid code" below */
  case HC_FLUSH_LIST_EX: case HC_FLUSH_SPACE_EX:
    if (!(rec_eax & R_EX_PROCESSOR_MASKS)) return false;
    /* fall through */
  case HC_FLUSH_LIST: case HC_FLUSH_SPACE: return rec_eax & R_REMOTE_TLB_FLUSH;
  case HC_SEND_IPI_EX:
    if (!(rec_eax & R_EX_PROCESSOR_MASKS)) return false;
    /* fall through */
  case HC_SEND_IPI: return rec_eax & R_CLUSTER_IPI;
  }
  return true;
}

/* Reads 8-byte words of the input: from RDX/R8 and XMM0-5 for fast calls, else from ingpa. */
static int hcall_input(struct skvm_vcpu *v, const struct hcall *hc, uint64_t *w, int n)
{
  if (!hc->fast) return pv_guest_rw(v, hc->ingpa, w, 8 * n, false);
  for (int i = 0; i < n; i++) {
    if (i == 0) w[i] = hc->ingpa;
    else if (i == 1) w[i] = hc->outgpa;
    else if (i < 14) memcpy(&w[i], (const uint8_t *)v->cpu.fpu.xmm[(i - 2) / 2] + 8 * ((i - 2) % 2), 8);
    else return -1;
  }
  return 0;
}

/* Flushes: every vCPU's soft TLB would need a cross-thread request; this vCPU's is flushed and
 * remote flushes are not offered in CPUID (R_REMOTE_TLB_FLUSH) until they are. */
static uint64_t hcall_flush(struct skvm_vcpu *v, const struct hcall *hc)
{
  x86_tlb_flush(&v->cpu);
  return ST_SUCCESS | ((uint64_t)hc->rep_cnt << 32);
}

/* kvm_hv_send_ipi up to delivery: IPIs are not offered (R_CLUSTER_IPI) until the irqchip takes
 * them from here, so only calls that send nothing succeed. */
static uint64_t hcall_send_ipi(struct skvm_vcpu *v, const struct hcall *hc)
{
  uint64_t w[3] = { 0 };
  if (hc->code == HC_SEND_IPI) {   /* { u32 vector, reserved; u64 cpu_mask } */
    if (hcall_input(v, hc, w, 2)) return ST_INVALID_INPUT;
    if (hc->fast && (w[0] >> 32)) return ST_INVALID_INPUT;
    uint32_t vector = (uint32_t)w[0];
    if (vector < 0x10 || vector > 0xff) return ST_INVALID_INPUT;
    return w[1] ? ST_INVALID_INPUT : ST_SUCCESS;
  }
  /* { u32 vector, reserved; u64 format, valid_bank_mask; u64 banks[var_cnt] } */
  if (hcall_input(v, hc, w, 3)) return ST_INVALID_INPUT;
  if (hc->var_cnt != __builtin_popcountll(w[2])) return ST_INVALID_INPUT;
  if (w[1] != 1 && !hc->var_cnt) return ST_SUCCESS;   /* an empty sparse set */
  return ST_INVALID_INPUT;
}

int hv_hypercall(struct skvm_vcpu *v)
{
  struct x86_cpu *c = &v->cpu;
  if (c->cpl != 0 || !(c->cr0 & CR0_PE)) return X86_HC_UD;   /* per the Hyper-V spec */
  struct hcall hc = { 0 };
  bool op64 = c->code_bits == 64;
  if (op64) {
    hc.param = c->gpr[R_CX], hc.ingpa = c->gpr[R_DX], hc.outgpa = c->gpr[8];
  } else {
    hc.param = (c->gpr[R_DX] << 32) | (uint32_t)c->gpr[R_AX];
    hc.ingpa = (c->gpr[R_BX] << 32) | (uint32_t)c->gpr[R_CX];
    hc.outgpa = (c->gpr[R_DI] << 32) | (uint32_t)c->gpr[R_SI];
  }
  hc.code = hc.param & 0xffff;
  hc.var_cnt = (hc.param >> 17) & 0x3ff;
  hc.fast = hc.param & HC_FAST;
  hc.rep_cnt = (hc.param >> 32) & 0xfff;
  hc.rep_idx = (hc.param >> 48) & 0xfff;
  hc.rep = hc.rep_cnt || hc.rep_idx;

  uint64_t ret = ST_SUCCESS;
  bool xmm_fast = hc.code == HC_FLUSH_LIST || hc.code == HC_FLUSH_SPACE || hc.code == HC_FLUSH_LIST_EX ||
                  hc.code == HC_FLUSH_SPACE_EX || hc.code == HC_SEND_IPI_EX;
  if (!hcall_allowed(v, hc.code)) {
    ret = ST_ACCESS_DENIED;
  } else if (hc.param & HC_RSVD_MASK) {
    ret = ST_INVALID_INPUT;
  } else if (hc.fast && xmm_fast && v->hv.enforce && !(guest_reg(v, CPUID_FEATURES, 3) & F_XMM_INPUT)) {
    return X86_HC_UD;
  } else {
    switch (hc.code) {
    case HC_NOTIFY_LONG_SPIN_WAIT:
      if (hc.rep || hc.var_cnt) ret = ST_INVALID_INPUT;
      else sched_yield();
      break;
    case HC_SIGNAL_EVENT:
    case HC_POST_MESSAGE:
      /* no KVM_HYPERV_EVENTFD connections (every port is unknown) and no userspace SynIC:
       * KVM answers both this way when the SynIC is inactive */
      if (hc.code == HC_SIGNAL_EVENT && !hc.fast && (hc.ingpa & 7)) ret = ST_INVALID_ALIGNMENT;
      else ret = ST_INVALID_INPUT;
      break;
    case HC_FLUSH_LIST:
      if (hc.var_cnt) { ret = ST_INVALID_INPUT; break; }
      /* fall through */
    case HC_FLUSH_LIST_EX:
      ret = !hc.rep_cnt || hc.rep_idx ? ST_INVALID_INPUT : hcall_flush(v, &hc);
      break;
    case HC_FLUSH_SPACE:
      if (hc.var_cnt) { ret = ST_INVALID_INPUT; break; }
      /* fall through */
    case HC_FLUSH_SPACE_EX:
      ret = hc.rep ? ST_INVALID_INPUT : hcall_flush(v, &hc);
      break;
    case HC_SEND_IPI:
      if (hc.var_cnt) { ret = ST_INVALID_INPUT; break; }
      /* fall through */
    case HC_SEND_IPI_EX:
      ret = hc.rep ? ST_INVALID_INPUT : hcall_send_ipi(v, &hc);
      break;
    case HC_POST_DEBUG_DATA:
    case HC_RETRIEVE_DEBUG_DATA:
      if (hc.fast) { ret = ST_INVALID_PARAMETER; break; }
      /* fall through */
    case HC_RESET_DEBUG_SESSION:
      if (!syndbg_enabled(v)) ret = ST_INVALID_CODE;
      else ret = ST_OPERATION_DENIED;   /* no debugger: as KVM without SYNDBG_OPTION_USE_HCALLS */
      break;
    default: ret = ST_INVALID_CODE; break;
    }
  }
  if (op64) {
    c->gpr[R_AX] = ret;
  } else {
    c->gpr[R_DX] = ret >> 32;
    c->gpr[R_AX] = (uint32_t)ret;
  }
  return X86_HC_DONE;
}
