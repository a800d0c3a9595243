/* XSAVE feature set: XGETBV, XSETBV, XSAVE/XSAVEOPT/XRSTOR (and their 64-bit forms) in the
 * standard format, for the state components the engine has: x87 (XCR0 bit 0) and SSE (bit 1).
 * The legacy region is the FXSAVE image (exec_sse_mem.c). XINUSE is reported as all ones (every
 * enabled component "in use", as the SDM allows and QEMU's TCG does), so XSAVEOPT saves like XSAVE
 * and XSAVE sets XSTATE_BV[i] for every i in RFBM. XSAVEC/XSAVES/XRSTORS are not implemented
 * and not offered (CPUID.(EAX=0DH,ECX=1):EAX bits 1 and 3 clear). Also the KVM_GET/SET_XSAVE
 * region and the XCR0 checks KVM_SET_XCRS shares with XSETBV. */
#include <Zydis/Zydis.h>

#include "xstate.h"

static uint64_t lin_add(const struct x86_cpu *cpu, uint64_t lin, int n)
{
  lin += n;
  return cpu->code_bits == 64 ? lin : lin & 0xffffffffULL;
}

static int nxmm(const struct x86_cpu *cpu) { return cpu->code_bits == 64 ? 16 : 8; }

/* The XCR0 bits the guest may enable: CPUID.(EAX=0DH,ECX=0):EDX:EAX within what the engine has;
 * x87 always (KVM's guest_supported_xcr0 | XFEATURE_MASK_FP). */
static uint64_t guest_xcr0_mask(struct x86_cpu *cpu)
{
  uint32_t r[4];
  x86_cpuid(cpu, 0xd, 0, r);
  return (((uint64_t)r[3] << 32 | r[0]) & XCR0_SUPPORTED) | XCR0_X87;
}

/* __kvm_set_xcr: x87 must stay enabled, nothing outside the guest's supported mask */
int x86_set_xcr0(struct x86_cpu *cpu, uint64_t v)
{
  if (!(v & XCR0_X87)) return -1;
  if (v & ~guest_xcr0_mask(cpu)) return -1;
  cpu->xcr0 = v;
  return 0;
}

/* #UD without CR4.OSXSAVE */
static void xsave_enabled(struct x86_cpu *cpu)
{
  if (!(cpu->cr4 & CR4_OSXSAVE)) RAISE(cpu, EXC_UD);
}

HANDLER(xgetbv)
{
  xsave_enabled(cpu);
  uint64_t v;
  switch ((uint32_t)cpu->gpr[R_CX]) {
  case 0: v = cpu->xcr0; break;
  case 1: v = cpu->xcr0; break;   /* XINUSE & XCR0 (XGETBV_ECX1), everything enabled is in use */
  default: RAISE_ERR(cpu, EXC_GP, 0);
  }
  reg_write(cpu, R_AX, 4, v);
  reg_write(cpu, R_DX, 4, v >> 32);
}

HANDLER(xsetbv)
{
  xsave_enabled(cpu);
  require_cpl0(cpu);
  uint64_t v = (uint32_t)cpu->gpr[R_AX] | cpu->gpr[R_DX] << 32;
  if ((uint32_t)cpu->gpr[R_CX] != 0 || x86_set_xcr0(cpu, v)) RAISE_ERR(cpu, EXC_GP, 0);
}

/* The checks XSAVE/XRSTOR start with; returns the linear address of the 64-byte aligned area. */
static uint64_t xsave_area(struct x86_cpu *cpu, const struct x86_insn *in, int acc)
{
  xsave_enabled(cpu);
  if (cpu->cr0 & CR0_TS) RAISE(cpu, EXC_NM);
  if (in->op[0].kind != OP_MEM) RAISE(cpu, EXC_UD);
  uint64_t lin = seg_linear(cpu, in->seg, insn_ea(cpu, in), XSAVE_SIZE, acc);
  if (lin & 63) RAISE_ERR(cpu, EXC_GP, 0);
  return lin;
}

static uint64_t rfbm_of(const struct x86_cpu *cpu)
{
  return cpu->xcr0 & ((uint32_t)cpu->gpr[R_AX] | cpu->gpr[R_DX] << 32);
}

static void put_bytes(struct x86_cpu *cpu, uint64_t lin, int off, const uint8_t *src, int n)
{
  for (int i = 0; i < n; i += 8) {
    int k = n - i < 8 ? n - i : 8;
    uint64_t v = 0;
    memcpy(&v, src + i, k);
    lin_write(cpu, lin_add(cpu, lin, off + i), k, v, ACC_WRITE);
  }
}

static void get_bytes(struct x86_cpu *cpu, uint64_t lin, int off, uint8_t *dst, int n)
{
  for (int i = 0; i < n; i += 8) {
    int k = n - i < 8 ? n - i : 8;
    uint64_t v = lin_read(cpu, lin_add(cpu, lin, off + i), k, ACC_READ);
    memcpy(dst + i, &v, k);
  }
}

/* XSAVE, XSAVE64, XSAVEOPT, XSAVEOPT64 */
HANDLER(xsave)
{
  uint64_t lin = xsave_area(cpu, in, ACC_WRITE);
  uint64_t rfbm = rfbm_of(cpu);
  /* every page of the area is writable before anything is stored */
  mmu_translate(cpu, lin, ACC_WRITE);
  mmu_translate(cpu, lin_add(cpu, lin, XSAVE_SIZE - 1), ACC_WRITE);
  uint8_t a[416], h[8];
  fx_image(cpu, a);
  get_bytes(cpu, lin, 512, h, 8);
  uint64_t bv;
  memcpy(&bv, h, 8);
  bv = (bv & ~rfbm) | rfbm;   /* XSTATE_BV[i] = XINUSE[i] = 1 for i in RFBM */
  memcpy(h, &bv, 8);
  if (rfbm & XCR0_X87) {
    put_bytes(cpu, lin, 0, a, 24);
    put_bytes(cpu, lin, 32, a + 32, 128);
  }
  if (rfbm & XCR0_SSE) {
    put_bytes(cpu, lin, 24, a + 24, 8);   /* MXCSR, MXCSR_MASK */
    put_bytes(cpu, lin, 160, a + 160, nxmm(cpu) * 16);
  }
  put_bytes(cpu, lin, 512, h, 8);
}

/* x87 in its initial configuration: FCW 037FH, everything else zero (all registers empty) */
static void x87_init(struct x86_cpu *cpu)
{
  uint8_t a[160];
  memset(a, 0, sizeof(a));
  a[0] = 0x7f, a[1] = 0x03;
  fx_load_x87(cpu, a);
}

/* XRSTOR, XRSTOR64: the standard format only (a compacted image has XCOMP_BV[63] set: #GP) */
HANDLER(xrstor)
{
  uint64_t lin = xsave_area(cpu, in, ACC_READ);
  uint64_t rfbm = rfbm_of(cpu);
  uint8_t hdr[24], a[416];
  get_bytes(cpu, lin, 512, hdr, 24);
  uint64_t bv, w1, w2;
  memcpy(&bv, hdr, 8), memcpy(&w1, hdr + 8, 8), memcpy(&w2, hdr + 16, 8);
  if ((bv & ~cpu->xcr0) || w1 || w2) RAISE_ERR(cpu, EXC_GP, 0);
  int n = nxmm(cpu);
  get_bytes(cpu, lin, 0, a, 160 + n * 16);
  uint32_t mx;
  memcpy(&mx, a + 24, 4);
  if ((rfbm & XCR0_SSE) && (mx & ~MXCSR_VALID)) RAISE_ERR(cpu, EXC_GP, 0);
  /* nothing faults from here on */
  if (rfbm & XCR0_X87) {
    if (bv & XCR0_X87) fx_load_x87(cpu, a);
    else x87_init(cpu);
  }
  if (rfbm & XCR0_SSE) {
    cpu->fpu.mxcsr = mx;   /* MXCSR comes from memory whatever XSTATE_BV[1] says */
    if (bv & XCR0_SSE) memcpy(cpu->fpu.xmm, a + 160, n * 16);
    else memset(cpu->fpu.xmm, 0, n * 16);
  }
}

/* ---- KVM_GET_XSAVE / KVM_SET_XSAVE (Linux 6.1: __copy_xstate_to_uabi_buf with XSTATE_COPY_XSAVE,
 * copy_uabi_to_xstate) ---- */

void x86_get_xsave(struct x86_cpu *cpu, void *region)
{
  uint8_t *r = region;
  memset(r, 0, 4096);
  fx_image(cpu, r);
  uint64_t w = XCR0_SUPPORTED;   /* sw_reserved: xstate_fx_sw_bytes[USER_XSTATE_XCR0_WORD] */
  memcpy(r + 464, &w, 8);
  w = XCR0_X87 | XCR0_SSE;       /* header.xfeatures: both components held as they are */
  memcpy(r + 512, &w, 8);
}

int x86_set_xsave(struct x86_cpu *cpu, const void *region)
{
  const uint8_t *r = region;
  uint64_t xfeatures, xcomp;
  memcpy(&xfeatures, r + 512, 8);
  memcpy(&xcomp, r + 520, 8);
  if (xfeatures & ~XCR0_SUPPORTED) return -1;   /* supported_xcr0, and user_xfeatures */
  if (xcomp) return -1;
  for (int i = 528; i < XSAVE_SIZE; i++)
    if (r[i]) return -1;
  uint32_t mx;
  memcpy(&mx, r + 24, 4);
  if ((xfeatures & XCR0_SUPPORTED) && (mx & ~MXCSR_VALID)) return -1;
  /* a component whose bit is clear is in its initial configuration when the guest runs again */
  if (xfeatures & XCR0_X87) fx_load_x87(cpu, r);
  else x87_init(cpu);
  if (xfeatures & XCR0_SSE) memcpy(cpu->fpu.xmm, r + 160, 256);
  else memset(cpu->fpu.xmm, 0, 256);
  cpu->fpu.mxcsr = (xfeatures & XCR0_SUPPORTED) ? mx : 0x1f80;
  return 0;
}
