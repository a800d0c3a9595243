/* The engine's per-vCPU hooks (struct x86_vcpu_ops): MSRs served here, the VM's MSR filter, and
 * the poll that lets KVM_RUN return EINTR for a signal, as a real vCPU thread does. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* glibc's thread-cancellation signal (SIGCANCEL = __SIGRTMIN, 32), which pthread_sigmask will not
 * block. An asynchronous pthread_cancel of a thread in KVM_RUN must not unwind it inside the
 * engine (holding the irqchip's lock, marked running): on real KVM the signal makes KVM_RUN
 * return EINTR and the thread is cancelled after the ioctl. So KVM_RUN blocks it with the raw
 * system call, returns EINTR when it is pending, and lets it in once the ioctl is done. */
#define SIGCANCEL_BIT (1ULL << (32 - 1))

static void sigcancel_mask(int how)
{
  uint64_t set = SIGCANCEL_BIT;
  syscall(SYS_rt_sigprocmask, how, &set, NULL, sizeof(set));
}

/* sets the thread's signal mask, keeping SIGCANCEL blocked (pthread_sigmask would unblock it) */
static void set_mask_holding_cancel(const sigset_t *m)
{
  uint64_t set;
  memcpy(&set, m, sizeof(set));   /* the kernel's 64-bit mask is sigset_t's first word */
  set |= SIGCANCEL_BIT;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &set, NULL, sizeof(set));
}

#define MSR_PLATFORM_INFO 0xce
#define PLATFORM_INFO_CPUID_FAULT (1ULL << 31)

/* MSR_PLATFORM_INFO: whatever userspace sets; the guest may read it unless the VM turned that
 * off (KVM_CAP_MSR_PLATFORM_INFO), and never write it. */
static int platform_info_get(struct skvm_vcpu *v, uint64_t *val, bool host)
{
  if (!host && __atomic_load_n(&v->vm->platform_info_hidden, __ATOMIC_RELAXED)) return X86_MSR_INVALID;
  *val = v->platform_info;
  return 0;
}

static int platform_info_set(struct skvm_vcpu *v, uint64_t val, bool host)
{
  if (!host) return X86_MSR_INVALID;
  v->platform_info = val;
  return 0;
}

/* MSR_PLATFORM_INFO, KVM paravirt (kvm_pv.c), then Hyper-V (hyperv.c). A read outside KVM_RUN
 * is KVM_GET_MSRS: host-initiated (the vCPU's ioctls are serialized, so RDMSR only happens
 * while running). */
static int ops_msr_get(void *o, uint32_t index, uint64_t *val)
{
  struct skvm_vcpu *v = o;
  bool host = !__atomic_load_n(&v->running, __ATOMIC_RELAXED);
  if (index == MSR_PLATFORM_INFO) return platform_info_get(v, val, host);
  int r = pv_msr_get(v, index, val);
  if (r != X86_MSR_UNHANDLED) return r;
  return hv_msr_get(v, index, val, host);
}

static int ops_msr_set(void *o, uint32_t index, uint64_t val, bool host)
{
  if (index == MSR_PLATFORM_INFO) return platform_info_set(o, val, host);
  int r = pv_msr_set(o, index, val, host);
  return r != X86_MSR_UNHANDLED ? r : hv_msr_set(o, index, val, host);
}


static int ops_hypercall(void *o, bool vmmcall) { return pv_hypercall(o, vmmcall); }

static bool ops_msr_denied(void *o, uint32_t index, bool write)
{
  struct skvm_vcpu *v = o;
  return msr_filter_denies(v->vm, index, write);
}

/* A signal the KVM_RUN mask lets through, or SIGCANCEL, is pending: KVM_RUN returns EINTR. One
 * raw system call reads the kernel's 64-bit pending set (glibc's sigset_t starts with it). */
static bool signal_pending(struct skvm_vcpu *v)
{
  uint64_t pending = 0, watch;
  if (!v->watching || syscall(SYS_rt_sigpending, &pending, sizeof(pending))) return false;
  memcpy(&watch, &v->sig_watch, sizeof(watch));
  return (pending & (watch | SIGCANCEL_BIT)) != 0;
}

static bool ops_poll(void *o)
{
  struct skvm_vcpu *v = o;
  return __atomic_load_n(&v->run->immediate_exit, __ATOMIC_RELAXED) || signal_pending(v);
}

static void ops_page_dirtied(void *o, uint32_t slot, uint64_t page)
{
  dirty_ring_push(o, slot, page);
}

static const struct x86_vcpu_ops skvm_vcpu_ops = {
  .msr_get = ops_msr_get, .msr_set = ops_msr_set, .msr_denied = ops_msr_denied, .poll = ops_poll,
  .hypercall = ops_hypercall,
  .page_dirtied = ops_page_dirtied,
};

void vcpu_ops_init(struct skvm_vcpu *v)
{
  v->platform_info = PLATFORM_INFO_CPUID_FAULT;   /* kvm_arch_vcpu_create */
  v->cpu.vcpu_ops = &skvm_vcpu_ops;
  v->cpu.vcpu_opaque = v;
}

/* Signals that must never be held back: faults are synchronous, KILL/STOP can't be blocked. */
static bool signal_synchronous(int s)
{
  return s == SIGSEGV || s == SIGBUS || s == SIGILL || s == SIGFPE || s == SIGTRAP || s == SIGKILL ||
         s == SIGSTOP;
}

/* KVM_RUN's signal window. KVM runs the guest with the KVM_SET_SIGNAL_MASK mask (or the thread's)
 * and returns EINTR when a signal arrives. The engine runs on this thread, so the signals that
 * mask lets through are blocked while it runs and polled (sigpending) instead. KVM_RUN returns
 * with the thread's own mask back (kvm_sigset_deactivate): a signal that mask blocks stays
 * pending (the KVM selftests sigwait() for their kick signal); the others reach their handlers. */
void vcpu_signals_enter(struct skvm_vcpu *v)
{
  pthread_sigmask(SIG_BLOCK, NULL, &v->sig_saved);
  const sigset_t *run_mask = v->has_sigmask ? &v->sigmask : &v->sig_saved;
  sigset_t block = v->sig_saved;
  sigemptyset(&v->sig_watch);
  for (int s = 1; s < NSIG; s++) {
    if (sigismember(run_mask, s) || signal_synchronous(s)) continue;
    sigaddset(&v->sig_watch, s);
    sigaddset(&block, s);
  }
  pthread_sigmask(SIG_SETMASK, &block, NULL);
  sigcancel_mask(SIG_BLOCK);
  v->watching = true;
}

void vcpu_signals_leave(struct skvm_vcpu *v)
{
  v->watching = false;
  set_mask_holding_cancel(&v->sig_saved);
}

/* after the vCPU ioctl, its lock released: a held-back cancellation acts now */
void vcpu_signals_release(void)
{
  sigcancel_mask(SIG_UNBLOCK);
}

long vcpu_set_signal_mask(struct skvm_vcpu *v, const struct kvm_signal_mask *m)
{
  if (!m) {
    v->has_sigmask = false;
    return 0;
  }
  if (m->len != 8) return -EINVAL;   /* the kernel's sigset_t: 64 bits */
  sigemptyset(&v->sigmask);
  uint64_t bits;
  memcpy(&bits, m->sigset, 8);
  for (int s = 1; s <= 64 && s < NSIG; s++)
    if (bits & (1ULL << (s - 1))) sigaddset(&v->sigmask, s);
  v->has_sigmask = true;
  return 0;
}
