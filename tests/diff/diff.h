/* Host-differential testing (DESIGN.md section 4): each test vector is one instruction's bytes plus
 * an initial state (16 GPRs, RFLAGS, an 8 KiB data buffer). It runs natively on the host CPU (the
 * oracle) and in the softkvm engine, at the same virtual addresses, and the results are compared. */
#ifndef SKVM_DIFF_H
#define SKVM_DIFF_H

#include <stdint.h>

/* Fixed addresses, identical natively and in the guest (guest virtual == guest physical). */
#define DATA_BASE 0x10000000ULL   /* data buffer: memory operands, string buffers, the stack */
#define DATA_SIZE 0x2000
#define CODE_BASE 0x20000000ULL   /* the instruction (then HLT in the guest, a jump back natively) */
#define STACK_LO (DATA_BASE + 0x1a00) /* push/pop vectors start with RSP in [STACK_LO, +0x200) */
#define TAKEN_OFF 16              /* a branch under test targets CODE_BASE + len + TAKEN_OFF */

/* Code modes. In 32- and 16-bit code (compatibility mode) CS has base CODE_BASE and DS/ES/SS base
 * DATA_BASE, so offsets (EIP, effective addresses, ESP) are small; they are LDT segments natively
 * (modify_ldt) and the same descriptors in the engine, with the same selectors (RPL 3). */
enum { MODE64, MODE32, MODE16, NMODES };
#define SEL_CODE16 0x07   /* LDT entry 0: 16-bit code, limit 0xffff */
#define SEL_CODE32 0x0f   /* LDT entry 1: 32-bit code, limit 4 GiB */
#define SEL_DATA16 0x17   /* LDT entry 2: data, B=0, limit 0xffff */
#define SEL_DATA32 0x1f   /* LDT entry 3: data, B=1, limit 4 GiB */

/* RFLAGS bits */
#define FL_CF 0x1u
#define FL_PF 0x4u
#define FL_AF 0x10u
#define FL_ZF 0x40u
#define FL_SF 0x80u
#define FL_IF 0x200u
#define FL_DF 0x400u
#define FL_OF 0x800u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
#define FL_CMP (FL_ARITH | FL_DF)  /* the bits ever compared */

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };

struct dstate {
  uint64_t gpr[16];
  uint64_t rflags;
  uint16_t sel[3];       /* ES, SS, DS selectors (32/16-bit code, no exception: compared) */
};

struct dvec {
  int mode;              /* MODE64/32/16 */
  uint8_t code[15];
  uint8_t len;
  struct dstate in;
  uint8_t *init;         /* DATA_SIZE bytes: the data buffer's initial contents (generators may edit) */
  uint32_t flags_mask;   /* RFLAGS bits compared (FL_CMP minus what the SDM leaves undefined) */
  uint16_t skip_regs;    /* GPRs whose result the SDM leaves undefined for these inputs */
};

/* Outcome of one run. vector: -1 = reached the end of the instruction; 0..31 = exception;
 * 100+ = something else (engine: unexpected exit reason; native: unexpected signal). */
struct dresult {
  struct dstate out;     /* final state, or the state at the fault (RSP/RIP as pushed/reported) */
  uint64_t rip;          /* CS base + EIP after the instruction, or at the fault */
  int vector;
  uint8_t *data;         /* the data buffer afterwards (points into the runner's memory) */
};

/* ---- random numbers and values (gen_common.c) ---- */
struct gen {
  uint64_t s;
  int mode;              /* the vector's code mode: generators draw registers and sizes for it */
  const uint8_t *pool;   /* random bytes the data buffers are cut from */
  uint32_t pool_size;
};
uint64_t rnd(struct gen *g);
static inline uint32_t rn(struct gen *g, uint32_t n) { return (uint32_t)(rnd(g) % n); }
static inline int chance(struct gen *g, uint32_t pct) { return rn(g, 100) < pct; }
uint64_t rand_val(struct gen *g);              /* random with interesting values and sizes */
int rand_size(struct gen *g, int allow8);      /* 2/4/8, or 1/2/4/8 (no 8 in 32/16-bit code) */
int rreg(struct gen *g);                       /* a random GPR: 0..15, or 0..7 in 32/16-bit code */
uint64_t data_off(const struct gen *g, uint64_t lin);   /* offset in DS/ES/SS of a linear address */
uint64_t garbage_above(struct gen *g, uint64_t val, int size);  /* random bits above size bytes */
int addr_size(int mode, int pfx67);            /* 8/4/2: the effective address size */
uint32_t rand_flags(struct gen *g);            /* random arithmetic bits and DF, plus bit 1 */
uint64_t data_target(struct gen *g, int size); /* an address inside the data buffer */
void poke(struct dvec *v, uint64_t addr, uint64_t val, int size);
uint64_t peek(const struct dvec *v, uint64_t addr, int size);

/* ---- the mini-assembler (asm.c) ---- */
struct mem {
  int base, index;       /* 0..15, or -1 none */
  int scale;             /* 1/2/4/8 */
  int dispsize;          /* 0, 1, 4 (2: 16-bit addressing) */
  int rm16;              /* 16-bit addressing: ModRM.rm 0..7, 8 = [disp16]; -1 otherwise */
  int64_t disp;
  int riprel;
  int pfx67;             /* address-size prefix: 32-bit addressing in 64-bit code, 16-bit in 32-bit
                          * code, 32-bit in 16-bit code */
  uint64_t target;       /* the address the operand must resolve to (fixup); unused for LEA */
};

struct asmb {
  struct gen *g;
  struct dvec *v;
  uint8_t pfx[6];        /* legacy prefixes other than 66/67 (F0, F2, F3) */
  int npfx;
  int mode;              /* from g->mode: no REX outside 64-bit code, 16-bit ModRM forms */
  int opsize;            /* 1/2/4/8: adds 66 (for 2, or 4 in 16-bit code) and REX.W for 8 */
  int rex_w;             /* force REX.W (instructions whose size isn't opsize) */
  int force_rex, no_rex; /* byte registers 4-7: SPL..DIL (REX) or AH..BH (no REX); else random */
  uint8_t op[3];
  int nop;
  int opreg;             /* register folded into the last opcode byte (B8+r, 50+r...), or -1 */
  int has_modrm;
  int reg;               /* ModRM.reg: a register 0..15 or a /digit */
  int rm_mem;            /* 1: mem, 0: register rm */
  int rm;                /* register rm 0..15 */
  struct mem m;
  int immsize;           /* 0, 1, 2, 4, 8 */
  uint64_t imm;
  int vex, vex_map, vex_pp, vex_vvvv;   /* VEX (C4) encoding: map 2 = 0F38, 3 = 0F3A */
  int moffs;             /* A0-A3: the address is an immediate of addr size (uses m.target) */
  int no_fix;            /* LEA: keep the random registers (the address need not be valid) */
};

/* Starts an instruction. opsize picks the 66/REX.W prefix. */
void asm_init(struct asmb *a, struct gen *g, struct dvec *v, int opsize);
void asm_op(struct asmb *a, int n, ...);        /* opcode bytes */
void asm_rm_reg(struct asmb *a, int reg, int rm);
/* Memory operand at a random address form resolving to target (avoid: registers that must keep
 * their value, as a bit mask); flags MEM_* */
#define MEM_NO_RIP 1
#define MEM_NO_ADDR32 2  /* no 67h prefix */
#define MEM_NEED_REG 4   /* a base or index register (no absolute/RIP-relative forms) */
void asm_rm_mem(struct asmb *a, int reg, uint64_t target, uint32_t avoid, int flags);
/* Register or memory operand (the usual r/m choice); returns 1 if memory. */
int asm_rm_any(struct asmb *a, int reg, int mem_pct, int access_size, uint32_t avoid);
void asm_rm_locked(struct asmb *a, int reg, int access_size, uint32_t avoid);  /* adds F0 */
void asm_imm(struct asmb *a, int size, uint64_t imm);
void asm_prefix(struct asmb *a, uint8_t p);
/* Emits the bytes into v->code / v->len and sets the address registers. */
void asm_finish(struct asmb *a);

/* ---- runners ---- */
int native_init(void);
uint16_t native_fs_gs(void);   /* the host's FS (== GS) selector, for the engine's PUSH FS/GS */
void native_run(const struct dvec *v, struct dresult *r);
int engine_init(void);
void engine_run(const struct dvec *v, struct dresult *r);
void engine_fini(void);

/* ---- families ---- */
struct family {
  const char *name;
  void (*gen)(struct gen *g, struct dvec *v, int arg);
  int arg;
  int count;             /* vectors in 64-bit code */
  int legacy_count;      /* vectors in 32-bit and again in 16-bit code (0: 64-bit only) */
};
extern const struct family families_fault[];
extern const struct family families_alu[], families_shift[], families_data[], families_stack[],
    families_string[], families_bits[], families_legacy[];

/* mnemonic argument encodings for the shift family: the ModRM /digit */
enum { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR };

#endif
