/* Engine-internal interfaces: decoded instructions, operand access, memory, exceptions. */
#ifndef SKVM_ENGINE_H
#define SKVM_ENGINE_H

#include <string.h>

#include "cpu.h"

/* ---- decoded instruction ---- */
enum { OP_NONE, OP_REG, OP_MEM, OP_IMM, OP_SEG, OP_CR, OP_DR, OP_FAR, OP_XMM, OP_MMX };

struct x86_operand {
  uint8_t kind;
  uint8_t size;               /* bytes */
  uint8_t reg;                /* OP_REG: gpr index; OP_SEG/CR/DR/XMM/MMX: number */
  uint8_t high8;              /* OP_REG: AH/CH/DH/BH */
};

#define PFX_LOCK 1
#define PFX_REP 2             /* F3: REP / REPE */
#define PFX_REPNE 4           /* F2 */

struct x86_insn {
  x86_handler fn;
  uint16_t mnemonic;          /* ZydisMnemonic, for diagnostics and shared handlers */
  uint8_t len, nops;
  uint8_t opsize;             /* effective operand size, bytes */
  uint8_t addrsize;           /* effective address size, bytes */
  uint8_t prefixes;
  uint8_t opcode;             /* last opcode byte */
  struct x86_operand op[4];
  /* the memory operand (at most one per instruction, string ops use implicit addressing) */
  uint8_t seg, base, index, scale;  /* base/index: gpr index, 0xff none; 0xfe = rip-relative base */
  int64_t disp;
  uint64_t imm, imm2;         /* immediates (imm2: ENTER level, far pointer selector) */
  uint8_t bytes[16];          /* 15 at most; one spare keeps compares 8-byte wide */
};

void decoder_init(struct x86_cpu *cpu);
void decoder_fini(struct x86_cpu *cpu);
/* Handler table lookup by Zydis mnemonic; NULL = not implemented. */
x86_handler handler_for(int mnemonic);
/* exec_mmx for an instruction with an MMX register operand that exec_mmx implements, else NULL */
x86_handler mmx_route(int mnemonic);

/* ---- exceptions and exits (these do not return) ---- */
_Noreturn void x86_raise(struct x86_cpu *cpu, int vector, uint32_t error, bool has_error);
#define RAISE(cpu, v) x86_raise(cpu, v, 0, false)
#define RAISE_ERR(cpu, v, e) x86_raise(cpu, v, e, true)
/* Leave the instruction uncommitted and return to userspace with cpu->run filled in. */
_Noreturn void x86_exit_restart(struct x86_cpu *cpu);
/* KVM_EXIT_INTERNAL_ERROR (emulation failure) for the instruction at rip. */
_Noreturn void x86_internal_error(struct x86_cpu *cpu, const uint8_t *bytes, int len);
enum { JMP_EXCEPTION = 1, JMP_EXIT = 2 };

/* Delivers an interrupt/exception through the IDT/IVT. soft: INT n (privilege-checked). */
void deliver_event(struct x86_cpu *cpu, int vector, uint32_t error, bool has_error, bool soft,
                   uint64_t return_rip);

/* ---- memory ---- */
enum { ACC_READ = 0, ACC_WRITE = 1, ACC_FETCH = 2, ACC_SYS = 4 /* implicit supervisor access */ };
uint64_t lin_read(struct x86_cpu *cpu, uint64_t lin, int size, int acc);
void lin_write(struct x86_cpu *cpu, uint64_t lin, int size, uint64_t val, int acc);
/* Host pointer for a naturally usable RAM access (for atomics), or NULL. */
uint8_t *lin_host_ptr(struct x86_cpu *cpu, uint64_t lin, int size, int acc);
uint64_t mmu_translate(struct x86_cpu *cpu, uint64_t lin, int acc);
void tlb_invlpg(struct x86_cpu *cpu, uint64_t lin);

/* Segmented access: seg:off with address-size wrap, base, limit and canonical checks. */
uint64_t seg_linear(struct x86_cpu *cpu, int seg, uint64_t off, int size, int acc);
uint64_t mem_read(struct x86_cpu *cpu, int seg, uint64_t off, int size);
void mem_write(struct x86_cpu *cpu, int seg, uint64_t off, int size, uint64_t val);

/* ---- operands ---- */
uint64_t insn_ea(struct x86_cpu *cpu, const struct x86_insn *in);
/* op_read/op_write (below) inline the register case; these handle every operand kind */
uint64_t op_read_any(struct x86_cpu *cpu, const struct x86_insn *in, int i);
void op_write_any(struct x86_cpu *cpu, const struct x86_insn *in, int i, uint64_t v);
uint64_t reg_read(struct x86_cpu *cpu, int reg, int size);
void reg_write(struct x86_cpu *cpu, int reg, int size, uint64_t v);

static inline uint64_t size_mask(int size)
{
  static const uint64_t masks[9] = { 0, 0xff, 0xffff, 0xffffff, 0xffffffff, 0xffffffffffULL,
                                     0xffffffffffffULL, 0xffffffffffffffULL, ~0ULL };
  return masks[size > 8 ? 8 : size];
}
static inline uint64_t op_read(struct x86_cpu *cpu, const struct x86_insn *in, int i)
{
  const struct x86_operand *o = &in->op[i];
  if (__builtin_expect(o->kind == OP_REG && !o->high8, 1)) return cpu->gpr[o->reg] & size_mask(o->size);
  return op_read_any(cpu, in, i);
}

static inline void op_write(struct x86_cpu *cpu, const struct x86_insn *in, int i, uint64_t v)
{
  const struct x86_operand *o = &in->op[i];
  if (__builtin_expect(o->kind == OP_REG && !o->high8 && o->size >= 4, 1)) {   /* zero-extends */
    cpu->gpr[o->reg] = o->size == 4 ? (uint32_t)v : v;
    return;
  }
  op_write_any(cpu, in, i, v);
}

static inline int64_t sign_extend(uint64_t v, int size)
{
  int sh = 64 - size * 8;
  return sh ? (int64_t)(v << sh) >> sh : (int64_t)v;
}
static inline uint64_t addr_mask(int addrsize) { return size_mask(addrsize); }
/* 48-bit canonical: bits 63:47 all equal */
static inline bool is_canonical(uint64_t a)
{
  return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

/* Decoded-instruction cache, keyed by the host address of the instruction's first byte (so by
 * guest physical address) and the decoding mode. A hit is validated by comparing the cached
 * bytes with memory, which makes self- and cross-modifying code correct without write hooks. */
#define DCACHE_SIZE 65536   /* entries, a power of two (a Linux boot's hot code needs ~30k) */

/* Cache slot of the instruction at host address p: page offset bits plus page-number bits, so
 * code at the same offset in many pages does not collide. */
static inline unsigned dcache_index(const uint8_t *p)
{
  uintptr_t a = (uintptr_t)p;
  return (unsigned)((a ^ (a >> 12) * 0x9e5) & (DCACHE_SIZE - 1));
}

struct __attribute__((aligned(64))) dcache_entry {
  const uint8_t *host;
  uint8_t mode;
  uint64_t b0, b1, k0, k1;    /* the instruction's bytes and masks, for a two-word compare */
  struct x86_insn in;
};

/* The cached instruction's bytes still match memory (p has 16 readable bytes). */
static inline bool same_bytes(const struct dcache_entry *e, const uint8_t *p)
{
  uint64_t m0, m1;
  memcpy(&m0, p, 8), memcpy(&m1, p + 8, 8);
  return !(((m0 ^ e->b0) & e->k0) | ((m1 ^ e->b1) & e->k1));
}

/* Decodes the instruction at cpu->rip (raising #PF/#GP/#UD as hardware would); the result is
 * the cached copy or scratch, valid until the next decode. */
const struct x86_insn *decode_insn_slow(struct x86_cpu *cpu, struct x86_insn *scratch);
int decoder_mode(struct x86_cpu *cpu);

/* The cache-hit path, inlined into the run loop: RIP on the current fetch page, inside the CS
 * limit with a 16-byte window, and the cached bytes unchanged. Everything else goes slow. */
static inline const struct x86_insn *decode_insn(struct x86_cpu *cpu, struct x86_insn *scratch)
{
  uint64_t lin;
  if (cpu->code_bits == 64) {
    lin = cpu->rip;
    if (!is_canonical(lin)) return decode_insn_slow(cpu, scratch);
  } else {
    if (cpu->rip + 15 > cpu->seg[S_CS].limit) return decode_insn_slow(cpu, scratch);
    lin = (cpu->seg[S_CS].base + cpu->rip) & 0xffffffff;
  }
  if ((lin >> 12) + 1 != cpu->fetch_tag || (lin & 0xfff) > 4096 - 16) return decode_insn_slow(cpu, scratch);
  const uint8_t *p = cpu->fetch_host + (lin & 0xfff);
  const struct dcache_entry *e = &((const struct dcache_entry *)cpu->dcache)[dcache_index(p)];
  if (e->host != p || e->mode != cpu->dec_mode || !same_bytes(e, p)) return decode_insn_slow(cpu, scratch);
  return &e->in;
}

/* ---- stack ---- */
void push(struct x86_cpu *cpu, int size, uint64_t v);
uint64_t pop(struct x86_cpu *cpu, int size);

/* ---- flags ---- */
/* computed eagerly from operands and result; inline, they are on every ALU instruction's path */
extern const uint8_t x86_parity_pf[256];   /* PF for each low byte (flags.c) */

/* ZF, SF and PF of res (masked to size); returns them, the caller merges */
static inline uint64_t szp(uint64_t res, int size)
{
  res &= size_mask(size);
  return ((uint64_t)(res == 0) << 6) | (((res >> (size * 8 - 1)) & 1) << 7) | x86_parity_pf[res & 0xff];
}

static inline void flags_szp(struct x86_cpu *cpu, uint64_t res, int size)
{
  cpu->rflags = (cpu->rflags & ~(uint64_t)(F_ZF | F_SF | F_PF)) | szp(res, size);
}

static inline void flags_logic(struct x86_cpu *cpu, uint64_t res, int size)
{
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ARITH) | szp(res, size);
}

static inline void flags_add(struct x86_cpu *cpu, uint64_t a, uint64_t b, uint64_t carry, int size)
{
  uint64_t m = size_mask(size);
  a &= m, b &= m;
  uint64_t res = (a + b + carry) & m;
  int top = size * 8 - 1;
  uint64_t f = szp(res, size);
  f |= (uint64_t)(res < a || (carry && res == a));             /* CF */
  f |= ((((a ^ res) & (b ^ res)) >> top) & 1) << 11;            /* OF */
  f |= (a ^ b ^ res) & F_AF;
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ARITH) | f;
}

static inline void flags_sub(struct x86_cpu *cpu, uint64_t a, uint64_t b, uint64_t borrow, int size)
{
  uint64_t m = size_mask(size);
  a &= m, b &= m;
  uint64_t res = (a - b - borrow) & m;
  int top = size * 8 - 1;
  uint64_t f = szp(res, size);
  f |= (uint64_t)(a < b || (borrow && a == b));                /* CF */
  f |= ((((a ^ b) & (a ^ res)) >> top) & 1) << 11;              /* OF */
  f |= (a ^ b ^ res) & F_AF;
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ARITH) | f;
}

static inline bool cond_true(struct x86_cpu *cpu, int cc)
{
  uint64_t f = cpu->rflags;
  bool r;
  switch (cc >> 1) {
  case 0: r = f & F_OF; break;
  case 1: r = f & F_CF; break;
  case 2: r = f & F_ZF; break;
  case 3: r = (f & F_CF) || (f & F_ZF); break;
  case 4: r = f & F_SF; break;
  case 5: r = f & F_PF; break;
  case 6: r = !!(f & F_SF) != !!(f & F_OF); break;
  default: r = (f & F_ZF) || (!!(f & F_SF) != !!(f & F_OF)); break;
  }
  return (cc & 1) ? !r : r;
}

void set_rflags(struct x86_cpu *cpu, uint64_t v, uint64_t mask);

/* ---- segments, control registers ---- */
void load_seg(struct x86_cpu *cpu, int seg, uint16_t sel);          /* mov sreg / pop sreg */
void load_cs_far(struct x86_cpu *cpu, uint16_t sel, uint64_t rip);  /* far jmp/call/ret target */
/* the linear address of sel's descriptor (bytes long) in the GDT or, with TI, the LDT; false
 * when that table does not hold it (or the LDT is unusable) */
bool desc_addr(struct x86_cpu *cpu, uint16_t sel, unsigned bytes, uint64_t *lin);
void read_descriptor(struct x86_cpu *cpu, uint16_t sel, struct x86_seg *s, int fault_vec);
/* a field of the current TSS (excp.c): #TS(TR) past its limit */
uint64_t tss_read(struct x86_cpu *cpu, uint32_t off, int size);
/* sets or clears the busy bit of the TSS descriptor sel names in the GDT (task.c) */
void tss_set_busy(struct x86_cpu *cpu, uint16_t sel, bool busy);
/* LDTR from a GDT selector (null: unusable); a bad one raises fault_vec, a not-present one np_vec */
void load_ldtr(struct x86_cpu *cpu, uint16_t sel, int fault_vec, int np_vec);
bool peek_descriptor(struct x86_cpu *cpu, uint16_t sel, struct x86_seg *s, uint32_t *hi);
void set_cr(struct x86_cpu *cpu, int n, uint64_t v);
uint64_t get_cr(struct x86_cpu *cpu, int n);

uint64_t x86_read_tsc(struct x86_cpu *cpu);

/* ---- I/O ---- */
uint64_t io_in(struct x86_cpu *cpu, uint16_t port, int size);
/* The pieces of io_in for REP INS batches: the permission check and the in-kernel devices (true:
 * handled, *v read), the exit to userspace for count elements, and where its data comes back. */
bool io_in_kernel(struct x86_cpu *cpu, uint16_t port, int size, uint64_t *v);
_Noreturn void io_in_exit(struct x86_cpu *cpu, uint16_t port, int size, uint32_t count);
const uint8_t *io_in_data(struct x86_cpu *cpu);
/* true when the OUT exits to userspace (false: the in-kernel irqchip took it) */
bool io_out(struct x86_cpu *cpu, uint16_t port, int size, uint64_t v);

static inline bool long_mode64(const struct x86_cpu *cpu) { return cpu->code_bits == 64; }
static inline bool prot_mode(const struct x86_cpu *cpu) { return cpu->cr0 & CR0_PE; }

#endif
