/* libsoftkvm internals: the system, VM and vCPU objects behind the fds. */
#ifndef SKVM_KVM_INTERNAL_H
#define SKVM_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <sys/types.h>

#include "engine/x86/cpu.h"

#define SKVM_PAGE_SIZE 4096
#define SKVM_API_VERSION 12
#define SKVM_MAX_VCPUS 1024
#define SKVM_MAX_VCPU_ID 4096
#define SKVM_USER_MEM_SLOTS 32764
#define SKVM_MAX_CPUID_ENTRIES 256
#define SKVM_MAX_IO_MSRS 256
#define SKVM_VCPU_MMAP_SIZE (2 * SKVM_PAGE_SIZE)   /* kvm_run + the PIO data page */

enum skvm_kind { SKVM_SYSTEM = 1, SKVM_VM, SKVM_VCPU };

/* a clock in ns (CLOCK_MONOTONIC is also the engine's 1 GHz TSC before its offset) */
static inline uint64_t skvm_clock_ns(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- handles: fd -> object ---- */
int handle_register(int fd, enum skvm_kind kind, void *obj);
/* Looks fd up; returns the object and its kind, or NULL (errno EBADF). */
void *handle_get(int fd, enum skvm_kind *kind);
/* Drops fd; returns the object (and its kind) when that was its last fd, else NULL. */
void *handle_remove(int fd, enum skvm_kind *kind);
void *handle_dup(int oldfd, int newfd, enum skvm_kind *kind);
int handle_eventfd(void);

/* ---- memslots ---- */
struct memslot {
  uint32_t id;
  uint64_t gpa, size, hva;
  uint32_t flags;
  unsigned long *dirty;       /* when KVM_MEM_LOG_DIRTY_PAGES */
};

/* A map (and dirty bitmaps) that vCPUs may still read, freed once none can. */
struct retired {
  struct retired *next;
  unsigned gen;               /* vCPUs that have seen a generation > gen no longer use it */
  struct guest_memmap *map;
  unsigned long *bitmap;
};

/* stats.c: an object's counters, which live in its KVM_GET_STATS_FD file once one exists */
#define SKVM_MAX_STATS 8
struct skvm_stats {
  uint64_t own[SKVM_MAX_STATS];  /* the counters until a stats file exists */
  uint64_t *file_data;        /* then the file's data block (own[] copied there), else NULL */
  void *map;                  /* the file, mapped; NULL before the first KVM_GET_STATS_FD */
  size_t map_size;
  int fd;                     /* the file's memfd, kept open to give out more fds on it */
};
enum { VCPU_STAT_EXITS, VCPU_STAT_IO_EXITS, VCPU_STAT_MMIO_EXITS, VCPU_STAT_HALT_EXITS,
       VCPU_STAT_SIGNAL_EXITS, VCPU_STAT_IRQ_WINDOW_EXITS, VCPU_STAT_DIRTY_RING_FULL_EXITS,
       VCPU_NSTATS };
enum { VM_STAT_REMOTE_TLB_FLUSH, VM_STAT_PAGES_4K, VM_STAT_PAGES_REPROTECTED, VM_NSTATS };

static inline uint64_t *stats_val(struct skvm_stats *s, int i)
{
  return s->file_data ? &s->file_data[i] : &s->own[i];
}

struct skvm_vcpu;
struct skvm_irqchip;

/* KVM paravirt state (kvm_pv.c) */
struct skvm_pv_vm {
  int64_t kvmclock_offset;    /* kvmclock = host CLOCK_MONOTONIC ns + this */
  uint64_t disabled_quirks;   /* KVM_CAP_DISABLE_QUIRKS2 */
  uint64_t wall_clock;        /* MSR_KVM_WALL_CLOCK(_NEW) last written */
};
struct skvm_pv_vcpu {
  bool enforce;               /* KVM_CAP_ENFORCE_PV_FEATURE_CPUID */
  uint64_t system_time;       /* MSR_KVM_SYSTEM_TIME(_NEW): the pvclock page GPA | enable */
  bool system_time_new;
  int64_t clock_tsc_offset, clock_kvm_offset;   /* what the pvclock page was last written for */
  bool clock_written;
  uint64_t steal_time;        /* MSR_KVM_STEAL_TIME */
  uint64_t last_steal;        /* the thread's run_delay at the last steal-time update */
  uint64_t poll_control;      /* MSR_KVM_POLL_CONTROL */
  bool vm_locked;             /* this thread holds vm->lock (pv_guest_rw outside KVM_RUN) */
};

/* Hyper-V state (hyperv.c); partition-wide MSRs under lock */
struct skvm_hv_vm {
  pthread_mutex_t lock;
  uint64_t guest_os_id, hypercall, tsc_page;
  int tsc_page_status;        /* HV_TSC_PAGE_* (hyperv.c) */
  uint64_t tsc_scale;         /* the reference TSC page last written */
  int64_t tsc_offset;
  uint64_t crash_param[5], crash_ctl;
  uint64_t reenlightenment_control, tsc_emulation_control, tsc_emulation_status;
  uint64_t syndbg_control, syndbg_status, syndbg_send, syndbg_recv, syndbg_pending, syndbg_options;
};
struct skvm_hv_vcpu {
  bool enforce;               /* KVM_CAP_HYPERV_ENFORCE_CPUID */
  uint32_t vp_index;
  int64_t runtime_offset;     /* HV_X64_MSR_VP_RUNTIME, 100 ns */
  uint64_t vp_assist;
  /* SynIC and synthetic timers: registers only (nothing is delivered yet) */
  bool synic_active;          /* KVM_CAP_HYPERV_SYNIC(2) */
  uint64_t scontrol, sversion, siefp, simp, sint[16];
  uint64_t stimer_config[4], stimer_count[4];
};
struct skvm_lapic;

struct skvm_vm {
  pthread_mutex_t lock;
  int refs;                   /* the VM fd and each vCPU */
  struct memslot **slots;     /* by slot id, SKVM_USER_MEM_SLOTS entries, NULL = empty */
  struct guest_memmap *memmap;
  unsigned memmap_gen;
  struct retired *retired;
  struct skvm_vcpu *vcpus[SKVM_MAX_VCPUS];
  int nvcpus;
  int created_vcpus;          /* ever created (KVM's created_vcpus): KVM_CREATE_IRQCHIP is too late */
  uint64_t tss_addr, identity_map_addr;
  struct skvm_irqchip *irqchip;  /* KVM_CREATE_IRQCHIP (irqchip/), NULL = userspace irqchip */
  uint32_t max_vcpu_ids;      /* KVM_CAP_MAX_VCPU_ID, 0 = the default (SKVM_MAX_VCPU_ID) */
  int64_t tsc_offset;         /* every vCPU's TSC starts at 0 when the VM is created, as KVM syncs them */
  uint64_t nr_mmu_pages;      /* KVM_SET_NR_MMU_PAGES: recorded only, there is no shadow MMU */
  uint8_t user_msr_exits;     /* KVM_CAP_X86_USER_SPACE_MSR: KVM_MSR_EXIT_REASON_* */
  bool platform_info_hidden;  /* KVM_CAP_MSR_PLATFORM_INFO turned off: RDMSR #GPs */
  uint32_t bsp_vcpu_id;       /* KVM_SET_BOOT_CPU_ID: the vCPU that resets as the BSP */
  uint32_t x2apic_api;        /* KVM_CAP_X2APIC_API: KVM_X2APIC_API_* flags */
  pthread_rwlock_t msr_filter_lock;
  struct skvm_msr_filter *msr_filter;   /* KVM_X86_SET_MSR_FILTER, NULL = allow all */
  struct skvm_pv_vm pv;
  struct skvm_hv_vm hv;
  uint64_t manual_dirty_log;  /* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: KVM_DIRTY_LOG_* (dirty_log.c) */
  uint32_t dirty_ring_size;   /* KVM_CAP_DIRTY_LOG_RING: entries per vCPU ring, 0 = off */
  struct skvm_stats stats;    /* VM_STAT_*, under lock */
};

struct skvm_vcpu {
  struct skvm_vm *vm;
  int id, fd;
  pthread_mutex_t lock;       /* serializes this vCPU's ioctls, as vcpu->mutex does */
  struct kvm_run *run;
  bool running, has_run;
  struct skvm_lapic *lapic;   /* with the VM's in-kernel irqchip */
  void *profile;              /* profile.c, when SOFTKVM_PROFILE is set */
  /* KVM_SET_SIGNAL_MASK and KVM_RUN's signal window (vcpu_ops.c) */
  uint64_t platform_info;     /* MSR_PLATFORM_INFO (vcpu_ops.c) */
  bool has_sigmask, watching;
  sigset_t sigmask, sig_saved, sig_watch;
  struct skvm_pv_vcpu pv;
  struct skvm_hv_vcpu hv;
  struct skvm_dirty_ring *ring;   /* dirty_ring.c, with KVM_CAP_DIRTY_LOG_RING */
  struct skvm_stats stats;    /* VCPU_STAT_*, under lock */
  struct x86_cpu cpu;
};

/* profile.c: guest-RIP sampling for engine work (SOFTKVM_PROFILE=FILE) */
void *profile_start(struct skvm_vcpu *v);
void profile_stop(void *profile);

long system_ioctl(unsigned long req, void *arg);
long vm_ioctl(struct skvm_vm *vm, unsigned long req, void *arg);
long vcpu_ioctl(struct skvm_vcpu *vcpu, unsigned long req, void *arg);
long check_extension(struct skvm_vm *vm, long cap);
/* irqchip/ (irqchip.h has the rest) */
long irqchip_vm_ioctl(struct skvm_vm *vm, unsigned long req, void *arg);
void irqchip_destroy(struct skvm_vm *vm);
int irqchip_vcpu_attach(struct skvm_vcpu *v);
void irqchip_vcpu_detach(struct skvm_vcpu *v);
int irqchip_vcpu_accept_events(struct skvm_vcpu *v);
long irqchip_vcpu_ioctl(struct skvm_vcpu *v, unsigned long req, void *arg);

/* msr_filter.c */
long msr_filter_set(struct skvm_vm *vm, const struct kvm_msr_filter *user);
bool msr_filter_denies(struct skvm_vm *vm, uint32_t index, bool write);
void msr_filter_destroy(struct skvm_vm *vm);
/* vcpu_ops.c */
void vcpu_ops_init(struct skvm_vcpu *v);   /* the engine hooks and the MSRs kept here */
void vcpu_signals_enter(struct skvm_vcpu *v);
void vcpu_signals_leave(struct skvm_vcpu *v);
void vcpu_signals_release(void);
long vcpu_set_signal_mask(struct skvm_vcpu *v, const struct kvm_signal_mask *m);

/* vcpu.c: register state (also for the sync-regs area) */
void vcpu_get_regs(struct x86_cpu *c, struct kvm_regs *r);
void vcpu_set_regs(struct x86_cpu *c, const struct kvm_regs *r);
void vcpu_get_sregs(struct x86_cpu *c, struct kvm_sregs *s);
long vcpu_set_sregs(struct x86_cpu *c, const struct kvm_sregs *s);
/* vcpu_state.c */
void vcpu_get_events(struct skvm_vcpu *v, struct kvm_vcpu_events *e);
long vcpu_set_events(struct skvm_vcpu *v, const struct kvm_vcpu_events *e);
void vcpu_nmi(struct skvm_vcpu *v);
void vcpu_get_debugregs(struct skvm_vcpu *v, struct kvm_debugregs *d);
long vcpu_set_debugregs(struct skvm_vcpu *v, const struct kvm_debugregs *d);
long vcpu_sync_regs_in(struct skvm_vcpu *v);
void vcpu_sync_regs_out(struct skvm_vcpu *v);
/* kvm_pv.c: KVM paravirt (kvmclock, steal time, PV features, hypercalls) */
void pv_vm_init(struct skvm_vm *vm);
void pv_vm_destroy(struct skvm_vm *vm);
long pv_check_extension(struct skvm_vm *vm, long cap);
long pv_vm_enable_cap(struct skvm_vm *vm, const struct kvm_enable_cap *cap);
long pv_vm_ioctl(struct skvm_vm *vm, unsigned long req, void *arg);
long pv_vcpu_enable_cap(struct skvm_vcpu *v, const struct kvm_enable_cap *cap);
int pv_supported_cpuid(struct kvm_cpuid_entry2 *out);
void pv_vcpu_run_enter(struct skvm_vcpu *v);   /* KVM_RUN, before the vCPU counts as running */
int pv_msr_get(struct skvm_vcpu *v, uint32_t index, uint64_t *val);
int pv_msr_set(struct skvm_vcpu *v, uint32_t index, uint64_t val, bool host);
int pv_hypercall(struct skvm_vcpu *v, bool vmmcall);
uint64_t pv_kvmclock_ns(struct skvm_vm *vm);
uint64_t pv_host_ns(void);
/* guest physical memory: 0, or -1 when [gpa, gpa+len) is not (writable) RAM in one slot */
int pv_guest_rw(struct skvm_vcpu *v, uint64_t gpa, void *buf, size_t len, bool write);
void pv_lock_map(struct skvm_vcpu *v);   /* outside KVM_RUN: hold vm->lock around several */
void pv_unlock_map(struct skvm_vcpu *v);
/* hyperv.c */
void hv_vm_init(struct skvm_vm *vm);
void hv_vm_destroy(struct skvm_vm *vm);
void hv_vcpu_init(struct skvm_vcpu *v);
long hv_check_extension(long cap);
long hv_get_supported_cpuid(struct skvm_vcpu *v, struct kvm_cpuid2 *user);
long hv_vcpu_enable_cap(struct skvm_vcpu *v, const struct kvm_enable_cap *cap);
bool hv_enabled(struct skvm_vcpu *v);            /* the guest CPUID has Hyper-V's interface leaf */
bool hv_hypercall_enabled(struct skvm_vcpu *v);
int hv_msr_get(struct skvm_vcpu *v, uint32_t index, uint64_t *val, bool host);
int hv_msr_set(struct skvm_vcpu *v, uint32_t index, uint64_t val, bool host);
int hv_hypercall(struct skvm_vcpu *v);
void hv_vcpu_run_enter(struct skvm_vcpu *v);
void hv_request_tsc_page_update(struct skvm_vm *vm);
/* dirty_log.c: KVM_GET_DIRTY_LOG, KVM_CLEAR_DIRTY_LOG, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 */
long dirty_log_enable_manual(struct skvm_vm *vm, uint64_t flags);
int dirty_log_clear(struct skvm_vm *vm, struct kvm_clear_dirty_log *log);
/* dirty_ring.c: KVM_CAP_DIRTY_LOG_RING */
long dirty_ring_enable(struct skvm_vm *vm, uint64_t bytes);
int dirty_ring_vcpu_init(struct skvm_vcpu *v, int fd);
void dirty_ring_vcpu_fini(struct skvm_vcpu *v);
void dirty_ring_push(struct skvm_vcpu *v, uint32_t slot, uint64_t page);
bool dirty_ring_exit(struct skvm_vcpu *v);
long dirty_ring_reset(struct skvm_vm *vm);
int dirty_ring_mmap_check(struct skvm_vcpu *v, size_t len, int prot, int flags, off_t off);
/* stats.c: KVM_GET_STATS_FD */
long stats_vm_fd(struct skvm_vm *vm);
long stats_vcpu_fd(struct skvm_vcpu *v);
void stats_vcpu_exit(struct skvm_vcpu *v, int r);
void stats_fini(struct skvm_stats *s);

int vm_create(void);
void vm_put(struct skvm_vm *vm);
int memslot_set(struct skvm_vm *vm, const struct kvm_userspace_memory_region *r);
int dirty_log_get(struct skvm_vm *vm, struct kvm_dirty_log *log);
void memslot_free_all(struct skvm_vm *vm);
void memslot_reclaim(struct skvm_vm *vm);
int vcpu_create(struct skvm_vm *vm, unsigned long id);
void vcpu_destroy(struct skvm_vcpu *vcpu);

#endif
