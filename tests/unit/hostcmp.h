/* Shared pieces of the unit tests that compare the engine with the host CPU (test_isa_bits,
 * test_sse, test_sse4, test_x87) and of test_xsave: one long-mode VM (flat 64-bit segments, a
 * 2 MiB identity page, optionally an IDT whose stubs report the vector in EAX and HLT), the runner
 * that executes code + HLT in it through KVM_RUN, the JIT page and the native trampoline that runs
 * the same bytes on the host with all GPRs, RFLAGS, XMM0-15 and MXCSR loaded and saved, the
 * comparison of the two results, and the xorshift RNG with the value generators. Every test keeps
 * its own forms, inputs and checks; this is only what they had in common. */
#ifndef SKVM_HOSTCMP_H
#define SKVM_HOSTCMP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmtest.h"

/* ---- the guest-physical layout of the VM ---- */
#define GUEST_MEM 0x200000
#define GDT_GPA 0x500
#define IDT_GPA 0x1000
#define PML4_GPA 0x2000
#define PDPT_GPA 0x3000
#define PD_GPA 0x4000
#define MX_GPA 0x6000   /* MXCSR in (+0), out (+4) for hc_engine_run */
#define CODE_GPA 0x8000
#define STUB_GPA 0x9000 /* exception stubs: mov eax, vector; hlt (16 bytes apart) */
#define DATA_GPA 0x10000
#define STACK_TOP 0x20000
#define CR0_BASE 0x80050033ULL /* PE MP ET NE WP AM PG */
#define CR4_BASE 0x620ULL      /* PAE OSFXSR OSXMMEXCPT */

#define F_CF 0x1u
#define F_PF 0x4u
#define F_AF 0x10u
#define F_ZF 0x40u
#define F_SF 0x80u
#define F_OF 0x800u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

/* What the runners return: RES_OK (reached the HLT after the code), RES_EXC + vector (an exception
 * reached its stub), another KVM exit reason, RES_BADRIP (a HLT elsewhere) or -1 (an ioctl failed). */
enum { RES_OK = 0, RES_BADRIP = -2, RES_EXC = 100 };

/* The state both sides run on; hc_native_enter knows these offsets. */
struct hc_state {
  uint64_t r[16]; /* RAX..R15 in encoding order (the enum above) */
  uint64_t fl;
  uint64_t mx;
  uint8_t x[16][16];
};

extern struct vmt hc_vm;                /* the VM */
extern struct kvm_sregs hc_base_sregs; /* its long-mode sregs (CR0_BASE, the cr4 it was set up with) */
extern uint8_t *hc_jit;                 /* one executable page: the instruction + RET */
extern uint8_t *hc_ndata;               /* the native data buffer (hc_setup's data_size bytes) */
extern int hc_n_native, hc_n_engine_only, hc_n_mismatch; /* what hc_case has done */

/* Long mode on t's vCPU: GDT (null, code 0x08, data 0x10), page tables and, with idt, the IDT and
 * its 32 stubs in t's memory; KVM_SET_SREGS with CR0_BASE, cr4, EFER LME|LMA. *out (if not NULL)
 * gets the sregs. Returns KVM_SET_SREGS's result (errno as it left it). */
int hc_long_mode(struct vmt *t, uint64_t cr4, bool idt, struct kvm_sregs *out);
/* vmt_init + vmt_set_cpuid + hc_long_mode of hc_vm; 0 or -1. */
int hc_vm_init(uint64_t cr4, bool idt);
/* hc_vm_init(CR4_BASE, idt) and the JIT page and the native data buffer (DATA_GPA + mid in the
 * engine, hc_ndata + mid natively is where the data pointers go); checked (two checks); 0 or -1. */
int hc_setup(size_t data_size, size_t mid, bool idt);
void hc_fini(void);
/* KVM_SET_SREGS of hc_base_sregs with these CR0 and CR4 (one check). */
void hc_set_cr(uint64_t cr0, uint64_t cr4);

static inline void hc_put64(uint64_t gpa, uint64_t v) { vmt_put64(&hc_vm, gpa, v); }
static inline void hc_put32(uint64_t gpa, uint32_t v) { vmt_put32(&hc_vm, gpa, v); }
static inline uint64_t hc_get64(uint64_t gpa) { return vmt_get64(&hc_vm, gpa); }
static inline uint32_t hc_get32(uint64_t gpa) { return vmt_get32(&hc_vm, gpa); }

/* ---- the engine ---- */
/* code + HLT at CODE_GPA with *r (RIP and RSP set here) and, if fpu is not NULL, *fpu; both get the
 * state after it. */
int hc_exec(const uint8_t *code, int len, struct kvm_regs *r, struct kvm_fpu *fpu);
/* code + HLT on the GPRs, RFLAGS and XMM registers of *s (the rest of the FPU as it was). */
int hc_engine_exec(const uint8_t *code, int len, struct hc_state *s);
/* Writes LDMXCSR [MX_GPA]; insn; STMXCSR [MX_GPA+4] to out (len + 16 bytes); returns its length. */
int hc_mx_wrap(uint8_t *out, const uint8_t *insn, int len);
/* insn between LDMXCSR and STMXCSR: hc_engine_exec with MXCSR from and to s->mx. */
int hc_engine_run(const uint8_t *insn, int len, struct hc_state *s);
/* hc_engine_exec of code under cr0/cr4 (then back to CR0_BASE/CR4_BASE) on hc_plain_state(). */
int hc_fault_of(const uint8_t *code, int len, uint64_t cr0, uint64_t cr4);
/* Zero GPRs, RFLAGS 2, MXCSR 0x1f80, RSI/RDI at DATA_GPA + mid (+64), XMMi filled with 0x11*(i+1). */
struct hc_state hc_plain_state(void);
/* A failed check for an engine result other than RES_OK (with the failing bytes of an internal error). */
void hc_engine_failed(const char *text, int res);

/* ---- the host ---- */
/* Copies bytes + RET to the JIT page; false where the host refuses executable memory. */
bool hc_jit_load(const uint8_t *bytes, int len);
/* Runs the bytes natively on *s (the host's MXCSR kept); false (nothing run) as hc_jit_load. */
bool hc_native_run(const uint8_t *bytes, int len, struct hc_state *s);

/* ---- one case on both sides ---- */
struct hc_case {
  const char *text;    /* names the case in messages */
  const uint8_t *bytes;
  int len;
  bool native;         /* the host has it: compare (else the engine only) */
  bool missing_ok;     /* where !native, an engine KVM_EXIT_INTERNAL_ERROR counts as engine-only */
  bool vec;            /* LDMXCSR/STMXCSR around it in the engine; MXCSR and XMM0-15 compared */
  uint32_t fmask;      /* the RFLAGS bits compared */
  int nptr;            /* GPRs that point into the data: r[ptr[i].reg] = buffer + mid + ptr[i].off */
  struct { int reg, off; } ptr[2];
};
/* Runs c on *in and data init (hc_setup's data_size bytes) in the engine and natively, and compares
 * GPRs (not RSP; the data pointers relative to the buffer), the flags in fmask, MXCSR and XMM
 * (vec) and the data. Counts a passed check for the engine run and one for the agreement (the
 * engine-only: the first); returns false where a check failed. */
bool hc_case(const struct hc_case *c, const struct hc_state *in, const uint8_t *init);
/* A form of the SSE tests' tables: the instruction's bytes, what the test's inputs do for it
 * (kind, arg) and the host CPU feature it needs (feat: an index into the test's host_has). */
struct hc_form {
  const char *text;
  uint8_t bytes[24];
  int len;
  int kind, arg, feat;
};

/* hc_case up to iters times, each on new inputs from input(c, in, data, arg) -- which may also
 * change c: an immediate, the text, the flags compared -- until 3 of them have failed. */
typedef void hc_input_fn(struct hc_case *c, struct hc_state *in, uint8_t *data, void *arg);
void hc_cases(struct hc_case *c, int iters, hc_input_fn *input, void *arg);
/* "N forms: N cases compared with the host, N engine-only, N mismatching" */
void hc_print_counts(unsigned nforms);
/* The differences in flags and memory, each a failed check; true where there is one. */
bool hc_diff_flags(const char *text, uint64_t e, uint64_t n, uint32_t mask, uint64_t in);
bool hc_diff_mem(const char *text, const uint8_t *e, const uint8_t *n, size_t size, size_t mid);

/* ---- inputs: xorshift64 ---- */
#define HC_SEED 0x9e3779b97f4a7c15ULL
void hc_seed(uint64_t seed); /* HC_SEED until then */
uint64_t hc_rng(void);
uint32_t hc_rnd_f32(void);   /* special, normal-range or random binary32 */
uint64_t hc_rnd_f64(void);
uint64_t hc_rnd_edge(unsigned k); /* k < 6: 0, ~0, small, a power of 2, a mask, small negative */
uint64_t hc_rnd_int(void);   /* edge-case integers */
void hc_fill_vec(uint8_t *v); /* 16 bytes of floats, doubles or integers */
uint32_t hc_rnd_mxcsr(void); /* any rounding mode, DAZ, FTZ, flags; exceptions masked */
/* The SSE inputs: GPRs, flags, MXCSR, XMM0-15 and the data buffer at random, sometimes with equal
 * operands (xmm0 = xmm1, xmm3 = xmm9, [mid] = [mid+16] = xmm2). */
void hc_vec_input(struct hc_state *s, uint8_t *data);

#endif
