/* x87 FPU and MMX execution (exec_x87.c, exec_mmx.c): shared state helpers.
 *
 * Representation (the same as FXSAVE and KVM_GET_FPU): cpu->fpu.fpr[i] holds ST(i), in stack
 * order, 80 bits in bytes 0-9 (bytes 10-15 zero); FSW carries TOP in bits 13:11; ftwx is the
 * abridged tag word indexed by PHYSICAL register (bit p = R(p) not empty, ST(i) = R((TOP+i)&7)).
 * A push or pop therefore rotates fpr[]. MMi aliases the low 64 bits of R(i): every MMX
 * instruction (except EMMS) sets TOP to 0 -- after which fpr[i] is R(i) = MMi -- and tags all
 * registers valid; an MMX write sets the register's exponent bits (79:64) to all ones.
 *
 * Computation runs on the host: the guest's x87 image (FCW with the guest's masks, FSW, tags,
 * registers) is loaded into the host FPU with FXRSTOR, the same x87 instruction runs on it (from
 * a table of fixed stubs, memory operands redirected to a host buffer), and FXSAVE reads the new
 * state back before the host state is restored: results, precision and rounding control, C0-C3,
 * stack faults, tags and unmasked-exception behaviour are the host CPU's, bit for bit.
 *
 * FPU pointers kept in cpu->fpu: last_opcode = FOP (11 bits), last_ip / last_dp = the offset of
 * the last non-control instruction and of its memory operand; outside 64-bit mode the selector
 * (CS, operand segment) is in bits 47:32, matching the 32-bit FXSAVE image bytes 8-23.
 *
 * Unmasked exceptions set FSW.ES and B; #MF is raised at the next waiting x87 (or MMX)
 * instruction when CR0.NE=1. With CR0.NE=0 (the external FERR#/IRQ13 path) the pending exception
 * is ignored, as if IGNNE# were asserted: the instruction runs and the flags stay set. */
#ifndef SKVM_X87_H
#define SKVM_X87_H

#include "sse.h"

#define FSW_IE 0x0001u
#define FSW_SF 0x0040u
#define FSW_ES 0x0080u
#define FSW_C0 0x0100u
#define FSW_C1 0x0200u
#define FSW_C2 0x0400u
#define FSW_TOP 0x3800u
#define FSW_C3 0x4000u
#define FSW_B 0x8000u
#define FSW_EXC 0x003fu

static inline int x87_top(const struct x86_cpu *cpu) { return (cpu->fpu.fsw >> 11) & 7; }

/* An unmasked exception is pending (ES set, or an inconsistent image with an unmasked flag). */
static inline bool x87_pending(const struct x86_cpu *cpu)
{
  return (cpu->fpu.fsw & FSW_ES) || (cpu->fpu.fsw & ~cpu->fpu.fcw & FSW_EXC);
}

/* #MF for a pending exception at a waiting instruction (CR0.NE=1 only, see above). */
static inline void x87_check_mf(struct x86_cpu *cpu)
{
  if ((cpu->cr0 & CR0_NE) && x87_pending(cpu)) RAISE(cpu, EXC_MF);
}

/* Runs the host stub (index into the stub table) on the 512-byte FXSAVE image img, with the
 * memory operand at mem and RFLAGS in (arithmetic bits only); returns the RFLAGS after it. */
enum { X87_STUB_MEM = 512, X87_STUB_EMMS = 576 };
uint64_t x87_host_exec(void *img, int stub, void *mem, uint64_t rflags);

/* Image of the guest x87 state for x87_host_exec (XMM area zero, MXCSR default). */
void x87_image(const struct x86_cpu *cpu, uint8_t img[512]);
/* Takes FCW, FSW, the tags and the registers from an image x87_host_exec returned. */
void x87_commit(struct x86_cpu *cpu, const uint8_t *img);

/* The MMX state transition (TOP=0, all tags valid); call after the last fault. */
void mmx_enter(struct x86_cpu *cpu);
static inline uint64_t mmx_get(const struct x86_cpu *cpu, int i)
{
  uint64_t v;
  memcpy(&v, cpu->fpu.fpr[(i - x87_top(cpu)) & 7], 8);
  return v;
}
/* after mmx_enter only */
static inline void mmx_set(struct x86_cpu *cpu, int i, uint64_t v)
{
  memcpy(cpu->fpu.fpr[i], &v, 8);
  memset(cpu->fpu.fpr[i] + 8, 0, 8);
  cpu->fpu.fpr[i][8] = cpu->fpu.fpr[i][9] = 0xff;
}

#endif
