/* The x86-64 engine: architectural state of one vCPU and the entry points libsoftkvm calls. */
#ifndef SKVM_ENGINE_CPU_H
#define SKVM_ENGINE_CPU_H

#include <linux/kvm.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "memmap.h"

enum { R_AX, R_CX, R_DX, R_BX, R_SP, R_BP, R_SI, R_DI };
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_NONE = 7 };

/* RFLAGS bits */
#define F_CF 0x1u
#define F_PF 0x4u
#define F_AF 0x10u
#define F_ZF 0x40u
#define F_SF 0x80u
#define F_TF 0x100u
#define F_IF 0x200u
#define F_DF 0x400u
#define F_OF 0x800u
#define F_IOPL 0x3000u
#define F_NT 0x4000u
#define F_RF 0x10000u
#define F_VM 0x20000u
#define F_AC 0x40000u
#define F_ID 0x200000u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

#define CR0_PE (1u << 0)
#define CR0_MP (1u << 1)
#define CR0_EM (1u << 2)
#define CR0_TS (1u << 3)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_WP (1u << 16)
#define CR0_AM (1u << 18)
#define CR0_NW (1u << 29)
#define CR0_CD (1u << 30)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_PGE (1u << 7)
#define CR4_OSFXSR (1u << 9)
#define CR4_OSXMMEXCPT (1u << 10)
#define CR4_PCIDE (1u << 17)
#define CR4_OSXSAVE (1u << 18)
#define CR4_SMEP (1u << 20)
#define CR4_SMAP (1u << 21)
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)
#define EFER_NXE (1u << 11)

/* exception vectors */
enum { EXC_DE = 0, EXC_DB = 1, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6, EXC_NM = 7, EXC_DF = 8,
       EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17 };

struct x86_seg {
  uint64_t base;
  uint32_t limit;             /* byte granular (already scaled by G) */
  uint16_t sel;
  uint8_t type, s, dpl, present, avl, l, db, g, unusable;
};

struct x86_dtable {
  uint64_t base;
  uint16_t limit;
};

/* Soft TLB entry: a linear page's translation and what it allows without a new walk. */
struct tlb_entry {
  uint64_t tag;               /* linear page number + 1; 0 = invalid */
  uint64_t gpa;               /* guest physical page address */
  uint8_t *host_r;            /* host page for reads (RAM), or NULL */
  uint8_t *host_w;            /* host page for writes (RAM, not read-only, not dirty-logged), or NULL */
  uint8_t user, write, exec, dirty;  /* walk result: U/S, R/W, !NX, and D already set */
};
#define TLB_SIZE 256

enum { PEND_NONE, PEND_IO_IN, PEND_MMIO_READ, PEND_OUT, PEND_MSR };

/* The in-kernel interrupt controller's hooks (libsoftkvm's irqchip), NULL without one. The engine
 * knows nothing of LAPICs: it offers port and MMIO accesses and some MSRs to the hooks before
 * exiting, takes interrupt vectors from ack(), and blocks in halt() instead of exiting on HLT. */
struct x86_irq_ops {
  /* true: the access was handled (data filled in for reads), no exit */
  bool (*mmio)(void *o, uint64_t gpa, void *data, int len, bool write);
  bool (*pio)(void *o, uint16_t port, void *data, int len, bool write);
  /* the deliverable vector, moved from IRR to ISR (or the PIC's INTA), or -1 */
  int (*ack)(void *o);
  /* HLT: blocks until an interrupt is deliverable or a request (X86_EV_REQ) is pending: true;
   * false when userspace wants the vCPU back (run->immediate_exit) */
  bool (*halt)(void *o);
  /* X86_MSR_UNHANDLED (not the irqchip's), 0 done, -1 invalid (#GP for the guest) */
  int (*msr_get)(void *o, uint32_t index, uint64_t *val);
  int (*msr_set)(void *o, uint32_t index, uint64_t val, bool host);
  /* CR8 is the LAPIC's TPR */
  uint64_t (*get_cr8)(void *o);
  void (*set_cr8)(void *o, uint64_t v);
};
#define X86_MSR_UNHANDLED 1
/* x86_msr_get/set failures: a value or access the MSR refuses, an index nobody implements, or
 * (RDMSR/WRMSR only) an index the VM's MSR filter denies. Each is #GP unless userspace asked
 * for that kind of exit (KVM_CAP_X86_USER_SPACE_MSR). */
#define X86_MSR_INVALID (-1)
#define X86_MSR_UNKNOWN (-2)
#define X86_MSR_FILTERED (-3)

/* libsoftkvm's per-vCPU hooks beyond the irqchip; NULL: none. */
struct x86_vcpu_ops {
  /* MSRs libsoftkvm serves itself (KVM paravirt, Hyper-V): X86_MSR_UNHANDLED (not theirs), 0,
   * or an X86_MSR_* failure */
  int (*msr_get)(void *o, uint32_t index, uint64_t *val);
  int (*msr_set)(void *o, uint32_t index, uint64_t val, bool host);
  /* true: KVM_X86_SET_MSR_FILTER denies this guest RDMSR (write=false) or WRMSR */
  bool (*msr_denied)(void *o, uint32_t index, bool write);
  /* called every X86_POLL_STEPS instructions: true ends x86_run with KVM_EXIT_INTR and -1
   * (a signal KVM_RUN must return EINTR for, immediate_exit set by another thread) */
  bool (*poll)(void *o);
  /* VMCALL (vmmcall=false) or VMMCALL, any CPL; the hook reads and writes the registers itself.
   * Returns an X86_HC_* action; NULL hook: #UD. */
  int (*hypercall)(void *o, bool vmmcall);
  /* a guest write set a clear dirty bit of a logged page (slot as in memmap.h, page within it);
   * may set cpu->exit_now to end x86_run after this instruction. NULL: nothing to do */
  void (*page_dirtied)(void *o, uint32_t slot, uint64_t page);
};
#define X86_POLL_STEPS 4096
#define X86_HC_DONE 0    /* RIP moves past the instruction */
#define X86_HC_UD 1      /* #UD */
#define X86_HC_PATCH 2   /* write VMCALL over the instruction and run it again (KVM's fix-hypercall quirk) */
#define X86_HC_EXIT 3    /* RIP moves past it and KVM_RUN returns; the hook filled in run->exit_reason */

/* cpu->shadow: which instruction opened the interrupt shadow (KVM_X86_SHADOW_INT_*) */
#define X86_SHADOW_MOV_SS 1
#define X86_SHADOW_STI 2

/* cpu->events bits, set by any thread (atomically); the run loop checks the word once per
 * instruction. */
#define X86_EV_INTR 1u   /* an interrupt may be deliverable: call ack() when IF allows */
#define X86_EV_NMI 2u    /* an NMI is pending */
#define X86_EV_REQ 4u    /* libsoftkvm wants the run loop to return (x86_run returns 1): INIT */

struct x86_insn;
struct x86_cpu;
typedef void (*x86_handler)(struct x86_cpu *cpu, const struct x86_insn *in);

struct x86_cpu {
  uint64_t gpr[16];
  uint64_t rip, rflags;
  uint64_t next_rip;          /* rip after the instruction being executed */
  struct x86_seg seg[6], tr, ldtr;
  struct x86_dtable gdt, idt;
  uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
  uint64_t dr[8];
  uint64_t xcr0;               /* XSETBV / KVM_SET_XCRS (exec_xsave.c) */

  /* MSRs */
  uint64_t star, lstar, cstar, sfmask, kernel_gs_base, tsc_aux;
  uint64_t power_ctl;
  uint64_t sysenter_cs, sysenter_esp, sysenter_eip, pat, misc_enable;
  uint64_t mtrr_def_type, mtrr_fixed[11], mtrr_var[16];   /* MTRRs: storage only, as KVM */
  int64_t tsc_offset;
  uint64_t tsc_adjust;        /* IA32_TSC_ADJUST */

  /* FPU/SSE state in KVM_GET_FPU layout, all of it live: XMM registers and MXCSR (SSE), the x87
   * registers in stack order (fpr[i] = ST(i), as FXSAVE stores them; see x87.h) and MMX */
  struct kvm_fpu fpu;

  /* derived mode: recomputed by cpu_update_mode() after CR0/EFER/CS changes */
  uint8_t cpl, code_bits, stack_bits, paging;

  /* interrupts */
  int pending_irq;            /* from KVM_INTERRUPT, -1 if none */
  uint8_t shadow;             /* interrupt shadow for the next instruction: X86_SHADOW_* or 0 */
  int16_t inject_exc;         /* exception KVM_SET_VCPU_EVENTS queued for the next entry, or -1 */
  bool inject_exc_has_error;
  uint32_t inject_exc_error;
  bool halted;
  bool nmi_blocked;           /* in an NMI handler, until IRET */
  uint32_t events;            /* X86_EV_*, atomic */
  const struct x86_irq_ops *irq_ops;
  void *irq_opaque;
  const struct x86_vcpu_ops *vcpu_ops;
  void *vcpu_opaque;
  uint8_t user_msr_exits;     /* KVM_MSR_EXIT_REASON_* that exit to userspace instead of #GP */
  bool trace;                 /* log exceptions to stderr (SOFTKVM_TRACE, for debugging) */
  const uint64_t *disabled_quirks;  /* the VM's KVM_CAP_DISABLE_QUIRKS2 (KVM_X86_QUIRK_*), NULL: none */

  /* exception being raised (longjmp payload) */
  int exc_vector;
  int delivering;             /* vector whose delivery is in progress, -1 if none */
  uint32_t exc_error;
  bool exc_has_error;

  /* exits */
  struct kvm_run *run;
  bool exit_now;              /* exit to userspace after the current instruction */
  int8_t exit_ret;            /* x86_run's return value for this exit (HLT interrupted: -1) */
  uint8_t pending_completion; /* PEND_*: the last exit completes on the next KVM_RUN */
  uint64_t out_skip_rip, out_next_rip;  /* OUT: RIP moves past it on re-entry */
  bool io_in_done;            /* KVM_EXIT_IO IN data is in the run page, re-executing */
  bool msr_done;              /* KVM_EXIT_X86_RDMSR/WRMSR answered in run->msr, re-executing */
  struct { uint64_t gpa; uint32_t len; uint8_t data[8]; } mmio_done[4];
  int n_mmio_done;            /* completed MMIO reads the re-executed instruction consumes */
  jmp_buf jb;

  /* memory */
  struct guest_memmap *const *memmap_slot;  /* VM's current map (published by libsoftkvm) */
  const struct guest_memmap *memmap;
  const unsigned *memmap_gen_slot;
  unsigned memmap_gen;
  struct tlb_entry tlb[TLB_SIZE];
  uint64_t fetch_tag;         /* linear page + 1 of fetch_host, 0 = none (cleared with the TLB) */
  const uint8_t *fetch_host;

  /* CPUID table set by KVM_SET_CPUID2 */
  struct kvm_cpuid_entry2 *cpuid;
  int ncpuid;

  void *decoder;              /* engine-private decoder state */
  void *dcache;               /* its decoded-instruction cache (struct dcache_entry[]) */
  uint8_t dec_mode;           /* decoder mode for the current CPU mode (decoder_mode()) */
};

/* Entry points for libsoftkvm. */
void x86_cpu_init(struct x86_cpu *cpu);
void x86_cpu_reset(struct x86_cpu *cpu);
void x86_cpu_fini(struct x86_cpu *cpu);
void x86_cpu_update_mode(struct x86_cpu *cpu);
void x86_tlb_flush(struct x86_cpu *cpu);
/* Runs until an exit; cpu->run describes it. Returns 0, or -1 when immediate_exit stopped it
 * (after completing a pending I/O or MMIO read, as KVM does; also a halt() that returned false),
 * or 1 when X86_EV_REQ was set (no exit for userspace: libsoftkvm handles the request). */
int x86_run(struct x86_cpu *cpu, bool immediate_exit);
/* Called by KVM_RUN before x86_run: completes the exit userspace just handled. */
void x86_complete_exit(struct x86_cpu *cpu);

static inline bool x86_quirk_disabled(const struct x86_cpu *cpu, uint64_t quirk)
{
  return cpu->disabled_quirks && (__atomic_load_n(cpu->disabled_quirks, __ATOMIC_RELAXED) & quirk);
}

/* CR4 bits a guest may set: implemented and in its CPUID (MOV CR4 and KVM_SET_SREGS check this) */
uint64_t x86_cr4_allowed(struct x86_cpu *cpu);

/* MSR access for KVM_GET/SET_MSRS and RDMSR/WRMSR. Return 0, X86_MSR_INVALID or X86_MSR_UNKNOWN. */
int x86_msr_get(struct x86_cpu *cpu, uint32_t index, uint64_t *val);
int x86_msr_set(struct x86_cpu *cpu, uint32_t index, uint64_t val, bool host);
extern const uint32_t x86_msr_list[];
/* the feature MSRs (KVM_GET_MSR_FEATURE_INDEX_LIST) and their values (0 or X86_MSR_UNKNOWN) */
extern const uint32_t x86_msr_feature_list[];
extern const int x86_msr_feature_list_len;
int x86_msr_feature_get(uint32_t index, uint64_t *val);
extern const int x86_msr_list_len;

/* The CPUID leaves the engine implements (KVM_GET_SUPPORTED_CPUID). */
int x86_supported_cpuid(struct kvm_cpuid_entry2 *out, int max);
void x86_cpuid(struct x86_cpu *cpu, uint32_t leaf, uint32_t sub, uint32_t r[4]);

/* XSAVE state (exec_xsave.c): XCR0 as XSETBV/KVM_SET_XCRS check it (0, or -1 where XSETBV
 * raises #GP); the 4096-byte KVM_GET/SET_XSAVE region (set: 0, or -1 for EINVAL). */
int x86_set_xcr0(struct x86_cpu *cpu, uint64_t v);
void x86_get_xsave(struct x86_cpu *cpu, void *region);
int x86_set_xsave(struct x86_cpu *cpu, const void *region);

/* Segment descriptor cache <-> KVM's struct kvm_segment */
void x86_seg_to_kvm(const struct x86_seg *s, struct kvm_segment *k);
void x86_seg_from_kvm(struct x86_seg *s, const struct kvm_segment *k);

#endif
