/* XSAVE feature set: XGETBV, XSETBV, XSAVE/XSAVEOPT/XSAVEC/XSAVES, XRSTOR/XRSTORS (and their
 * 64-bit forms) in the standard and the compacted format, for the state components the engine
 * has: x87 (XCR0 bit 0) and SSE (bit 1). Both live in the legacy region (the FXSAVE image,
 * exec_sse_mem.c), so the compacted format differs from the standard one only in its header
 * (XCOMP_BV). There is no supervisor state: IA32_XSS stays 0 (msr.c). XINUSE is reported as all
 * ones (every enabled component "in use", as the SDM allows and QEMU's TCG does), so XSAVEOPT
 * saves like XSAVE and XSTATE_BV[i] is set for every i in RFBM. Also the KVM_GET/SET_XSAVE region
 * and the XCR0 checks KVM_SET_XCRS shares with XSETBV. */
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

/* CPUID.(EAX=0DH,ECX=1):EAX bit: XSAVEOPT 0, XSAVEC 1, XGETBV with ECX=1 2, XSAVES/XRSTORS 3 */
enum { D1_XSAVEOPT, D1_XSAVEC, D1_XGETBV1, D1_XSAVES };
static bool guest_d1(struct x86_cpu *cpu, int bit)
{
  uint32_t r[4];
  x86_cpuid(cpu, 0xd, 1, r);
  return r[0] >> bit & 1;
}

HANDLER(xgetbv)
{
  xsave_enabled(cpu);
  uint64_t v;
  uint32_t n = (uint32_t)cpu->gpr[R_CX];
  if (n == 0) v = cpu->xcr0;
  else if (n == 1 && guest_d1(cpu, D1_XGETBV1)) v = cpu->xcr0;   /* XINUSE & XCR0: all in use */
  else RAISE_ERR(cpu, EXC_GP, 0);
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

/* The checks XSAVE and XRSTOR (all forms) start with (feature: the D1_* bit the instruction needs, or -1;
 * super: XSAVES/XRSTORS, CPL 0 only); returns the linear address of the 64-byte aligned area. */
static uint64_t xsave_area(struct x86_cpu *cpu, const struct x86_insn *in, int acc, int feature, bool super)
{
  if (feature >= 0 && !guest_d1(cpu, feature)) RAISE(cpu, EXC_UD);
  xsave_enabled(cpu);
  if (in->op[0].kind != OP_MEM || (in->prefixes & PFX_LOCK)) RAISE(cpu, EXC_UD);
  if (cpu->cr0 & CR0_TS) RAISE(cpu, EXC_NM);
  if (super && cpu->cpl) RAISE_ERR(cpu, EXC_GP, 0);
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

/* XSAVE, XSAVEOPT, XSAVEC, XSAVES and their 64-bit forms. RFBM of XSAVES is (XCR0 | XSS) &
 * EDX:EAX, with XSS = 0. The compacted forms write XSTATE_BV = XINUSE & RFBM and XCOMP_BV =
 * RFBM | bit 63 (and no other header bytes); XSAVE and XSAVEOPT only XSTATE_BV's RFBM bits. */
HANDLER(xsave)
{
  int m = in->mnemonic;
  bool super = m == ZYDIS_MNEMONIC_XSAVES || m == ZYDIS_MNEMONIC_XSAVES64;
  bool compact = super || m == ZYDIS_MNEMONIC_XSAVEC || m == ZYDIS_MNEMONIC_XSAVEC64;
  bool opt = m == ZYDIS_MNEMONIC_XSAVEOPT || m == ZYDIS_MNEMONIC_XSAVEOPT64;
  int feature = super ? D1_XSAVES : compact ? D1_XSAVEC : opt ? D1_XSAVEOPT : -1;
  uint64_t lin = xsave_area(cpu, in, ACC_WRITE, feature, super);
  uint64_t rfbm = rfbm_of(cpu);
  /* every page of the area is writable before anything is stored */
  mmu_translate(cpu, lin, ACC_WRITE);
  mmu_translate(cpu, lin_add(cpu, lin, XSAVE_SIZE - 1), ACC_WRITE);
  uint8_t a[416], h[16];
  fx_image(cpu, a);
  uint64_t bv, xcomp = rfbm | 1ULL << 63;
  get_bytes(cpu, lin, 512, h, 8);
  memcpy(&bv, h, 8);
  bv = compact ? rfbm : (bv & ~rfbm) | rfbm;   /* XSTATE_BV[i] = XINUSE[i] = 1 for i in RFBM */
  memcpy(h, &bv, 8);
  memcpy(h + 8, &xcomp, 8);
  if (rfbm & XCR0_X87) {
    put_bytes(cpu, lin, 0, a, 24);
    put_bytes(cpu, lin, 32, a + 32, 128);
  }
  if (rfbm & XCR0_SSE) {
    put_bytes(cpu, lin, 24, a + 24, 8);   /* MXCSR, MXCSR_MASK */
    put_bytes(cpu, lin, 160, a + 160, nxmm(cpu) * 16);
  }
  put_bytes(cpu, lin, 512, h, compact ? 16 : 8);
}

/* x87 in its initial configuration: FCW 037FH, everything else zero (all registers empty) */
static void x87_init(struct x86_cpu *cpu)
{
  uint8_t a[160];
  memset(a, 0, sizeof(a));
  a[0] = 0x7f, a[1] = 0x03;
  fx_load_x87(cpu, a);
}

/* XRSTOR, XRSTORS and their 64-bit forms. XCOMP_BV[63] picks the compacted form (XRSTORS has
 * no other); its checks: XCOMP_BV within XCR0 | XSS, XSTATE_BV within XCOMP_BV, header bytes
 * 63:16 zero. The standard form: XSTATE_BV within XCR0, header bytes 23:8 zero. */
HANDLER(xrstor)
{
  int m = in->mnemonic;
  bool super = m == ZYDIS_MNEMONIC_XRSTORS || m == ZYDIS_MNEMONIC_XRSTORS64;
  uint64_t lin = xsave_area(cpu, in, ACC_READ, super ? D1_XSAVES : -1, super);
  uint64_t rfbm = rfbm_of(cpu);
  uint8_t hdr[64], a[416];
  get_bytes(cpu, lin, 512, hdr, 64);
  uint64_t bv, xcomp, w2;
  memcpy(&bv, hdr, 8), memcpy(&xcomp, hdr + 8, 8), memcpy(&w2, hdr + 16, 8);
  bool compact = xcomp >> 63;
  if (compact) {
    if (!super && !guest_d1(cpu, D1_XSAVEC)) RAISE_ERR(cpu, EXC_GP, 0);
    if ((xcomp & ~(1ULL << 63) & ~cpu->xcr0) || (bv & ~(xcomp & ~(1ULL << 63)))) RAISE_ERR(cpu, EXC_GP, 0);
    for (int i = 16; i < 64; i++)
      if (hdr[i]) RAISE_ERR(cpu, EXC_GP, 0);
  } else if (super || (bv & ~cpu->xcr0) || xcomp || w2) {
    RAISE_ERR(cpu, EXC_GP, 0);
  }
  int n = nxmm(cpu);
  get_bytes(cpu, lin, 0, a, 160 + n * 16);
  uint32_t mx;
  memcpy(&mx, a + 24, 4);
  /* the standard form loads MXCSR whatever XSTATE_BV[1] says; the compacted one only with it,
   * else MXCSR is initialized (SDM Vol. 1, 13.8) */
  bool load_mx = (rfbm & XCR0_SSE) && (!compact || (bv & XCR0_SSE));
  if (load_mx && (mx & ~MXCSR_VALID)) RAISE_ERR(cpu, EXC_GP, 0);
  /* nothing faults from here on */
  if (rfbm & XCR0_X87) {
    if (bv & XCR0_X87) fx_load_x87(cpu, a);
    else x87_init(cpu);
  }
  if (rfbm & XCR0_SSE) {
    cpu->fpu.mxcsr = load_mx ? mx : 0x1f80;
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
