/* SSE plumbing: operand and memory access of any width, MXCSR exception accounting,
 * LDMXCSR/STMXCSR and FXSAVE/FXRSTOR. */
#include <Zydis/Zydis.h>

#include "xstate.h"

bool sse_aligned(const struct x86_insn *in, int i)
{
  if (in->op[i].kind != OP_MEM || in->op[i].size != 16) return false;
  switch (in->mnemonic) {
  case ZYDIS_MNEMONIC_MOVUPS: case ZYDIS_MNEMONIC_MOVUPD: case ZYDIS_MNEMONIC_MOVDQU:
  case ZYDIS_MNEMONIC_LDDQU:
    return false;
  default:
    return true;
  }
}

static uint64_t lin_add(const struct x86_cpu *cpu, uint64_t lin, int n)
{
  lin += n;
  return cpu->code_bits == 64 ? lin : lin & 0xffffffffULL;
}

void sse_mem_read(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t ea, int size, void *buf,
                  bool align)
{
  uint64_t lin = seg_linear(cpu, in->seg, ea, size, ACC_READ);
  if (align && (lin & 15)) RAISE_ERR(cpu, EXC_GP, 0);
  uint8_t *b = buf;
  for (int i = 0; i < size; i += 8) {
    int n = size - i < 8 ? size - i : 8;
    uint64_t v = lin_read(cpu, lin_add(cpu, lin, i), n, ACC_READ);
    memcpy(b + i, &v, n);
  }
}

void sse_mem_write(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t ea, int size,
                   const void *buf, bool align)
{
  uint64_t lin = seg_linear(cpu, in->seg, ea, size, ACC_WRITE);
  if (align && (lin & 15)) RAISE_ERR(cpu, EXC_GP, 0);
  /* both pages the store touches (size <= 512) must be writable before the first byte changes */
  mmu_translate(cpu, lin, ACC_WRITE);
  if (((lin + size - 1) ^ lin) & ~4095ULL) mmu_translate(cpu, lin_add(cpu, lin, size - 1), ACC_WRITE);
  const uint8_t *b = buf;
  for (int i = 0; i < size; i += 8) {
    int n = size - i < 8 ? size - i : 8;
    uint64_t v = 0;
    memcpy(&v, b + i, n);
    lin_write(cpu, lin_add(cpu, lin, i), n, v, ACC_WRITE);
  }
}

void sse_need_xmm(struct x86_cpu *cpu, const struct x86_insn *in, int i)
{
  if (in->op[i].kind != OP_XMM) x86_internal_error(cpu, in->bytes, in->len);   /* MMX form */
}

void sse_read_op(struct x86_cpu *cpu, const struct x86_insn *in, int i, uint8_t buf[16])
{
  const struct x86_operand *o = &in->op[i];
  memset(buf, 0, 16);
  switch (o->kind) {
  case OP_XMM: memcpy(buf, xmm(cpu, o->reg), 16); return;
  case OP_MEM:
    if (o->size == 0 || o->size > 16) x86_internal_error(cpu, in->bytes, in->len);
    sse_mem_read(cpu, in, insn_ea(cpu, in), o->size, buf, sse_aligned(in, i));
    return;
  case OP_REG: {
    uint64_t v = op_read(cpu, in, i);
    memcpy(buf, &v, 8);
    return;
  }
  default: x86_internal_error(cpu, in->bytes, in->len);
  }
}

void sse_fp_flags(struct x86_cpu *cpu, uint32_t raised)
{
  uint32_t mx = cpu->fpu.mxcsr;
  uint32_t unmasked = raised & ~(mx >> 7) & MXCSR_FLAGS;
  if (unmasked) {
    /* an unmasked invalid/denormal/divide exception stops before the result is computed, so the
     * post-computation flags (overflow, underflow, precision) of other elements stay clear */
    uint32_t pre = raised & 0x7;
    cpu->fpu.mxcsr |= (pre & ~(mx >> 7)) ? pre : raised;
    RAISE(cpu, (cpu->cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD);
  }
  cpu->fpu.mxcsr |= raised;
}

/* ---- MXCSR ---- */

HANDLER(ldmxcsr)
{
  sse_check(cpu);
  uint32_t v = (uint32_t)mem_read(cpu, in->seg, insn_ea(cpu, in), 4);
  if (v & ~MXCSR_VALID) RAISE_ERR(cpu, EXC_GP, 0);
  cpu->fpu.mxcsr = v;
}

HANDLER(stmxcsr)
{
  sse_check(cpu);
  mem_write(cpu, in->seg, insn_ea(cpu, in), 4, cpu->fpu.mxcsr);
}

/* ---- FXSAVE / FXRSTOR: the 512-byte legacy area. Bytes 8-23 hold FPU IP and DP as KVM keeps
 * them (64-bit values; the 32-bit form's FCS/FDS halves are the upper words), so both forms store
 * the same bytes. Outside 64-bit mode only XMM0-7 are saved and restored; bytes 416-511 are left
 * untouched. */

static void fx_check(struct x86_cpu *cpu)
{
  if (cpu->cr0 & (CR0_TS | CR0_EM)) RAISE(cpu, EXC_NM);
}

static int fx_nxmm(const struct x86_cpu *cpu) { return cpu->code_bits == 64 ? 16 : 8; }

/* The first 416 bytes of the image (all 16 XMM registers); XSAVE shares it (exec_xsave.c). */
void fx_image(struct x86_cpu *cpu, uint8_t a[416])
{
  const struct kvm_fpu *f = &cpu->fpu;
  uint32_t mask = MXCSR_VALID;
  memset(a, 0, 416);
  memcpy(a + 0, &f->fcw, 2);
  memcpy(a + 2, &f->fsw, 2);
  a[4] = f->ftwx;
  memcpy(a + 6, &f->last_opcode, 2);
  memcpy(a + 8, &f->last_ip, 8);
  memcpy(a + 16, &f->last_dp, 8);
  memcpy(a + 24, &f->mxcsr, 4);
  memcpy(a + 28, &mask, 4);
  for (int i = 0; i < 8; i++) memcpy(a + 32 + i * 16, f->fpr[i], 10);
  memcpy(a + 160, f->xmm, 256);
}

/* The x87 part of an image (bytes 0-23 and 32-159); XRSTOR and KVM_SET_XSAVE share it. */
void fx_load_x87(struct x86_cpu *cpu, const uint8_t *a)
{
  struct kvm_fpu *f = &cpu->fpu;
  memcpy(&f->fcw, a + 0, 2);
  memcpy(&f->fsw, a + 2, 2);
  f->ftwx = a[4];
  memcpy(&f->last_opcode, a + 6, 2);
  memcpy(&f->last_ip, a + 8, 8);
  memcpy(&f->last_dp, a + 16, 8);
  for (int i = 0; i < 8; i++) {
    memset(f->fpr[i], 0, 16);
    memcpy(f->fpr[i], a + 32 + i * 16, 10);
  }
}

HANDLER(fxsave)
{
  fx_check(cpu);
  uint8_t a[416];
  fx_image(cpu, a);
  sse_mem_write(cpu, in, insn_ea(cpu, in), 160 + fx_nxmm(cpu) * 16, a, true);
}

HANDLER(fxrstor)
{
  fx_check(cpu);
  uint8_t a[416];
  int n = fx_nxmm(cpu);
  sse_mem_read(cpu, in, insn_ea(cpu, in), 160 + n * 16, a, true);
  uint32_t mx;
  memcpy(&mx, a + 24, 4);
  if (mx & ~MXCSR_VALID) RAISE_ERR(cpu, EXC_GP, 0);
  fx_load_x87(cpu, a);
  cpu->fpu.mxcsr = mx;
  memcpy(cpu->fpu.xmm, a + 160, n * 16);
}
