/* x87 FPU execution. Computational instructions run on the host CPU on the guest's x87 image
 * (see x87.h); the control instructions (FNINIT FNCLEX FLDCW FNSTCW FNSTSW FLDENV FNSTENV FRSTOR
 * FNSAVE FWAIT) and the FPU pointers (FOP, FIP, FDP) are emulated here. */
#include <Zydis/Zydis.h>

#include "x87.h"

/* ---- host execution ---- */

/* The stubs, 8 bytes each: [0, 512) the register forms D8+(i>>6), C0+(i&63); [512, 576) the
 * memory forms D8+((i-512)>>3) /((i-512)&7) on [rcx]; 576: EMMS. Each is "endbr64; insn; ret". */
__asm__(".pushsection .text\n"
        ".balign 16\n"
        ".globl skvm_x87_stubs\n"
        ".hidden skvm_x87_stubs\n"
        "skvm_x87_stubs:\n"
        ".set skvm_x87_i, 0\n"
        ".rept 512\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, 0xd8 + (skvm_x87_i >> 6), 0xc0 + (skvm_x87_i & 63), 0xc3, 0x90\n"
        ".set skvm_x87_i, skvm_x87_i + 1\n"
        ".endr\n"
        ".set skvm_x87_i, 0\n"
        ".rept 64\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, 0xd8 + (skvm_x87_i >> 3), ((skvm_x87_i & 7) << 3) | 1, 0xc3, 0x90\n"
        ".set skvm_x87_i, skvm_x87_i + 1\n"
        ".endr\n"
        ".byte 0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0x77, 0xc3, 0x90\n"
        /* skvm_x87_run(img, host_save, stub, mem, rflags) -> rflags: the host's x87/SSE state is
         * saved, the guest image loaded, the stub run, the result saved back into img, pending
         * exceptions cleared (FXSAVE and FNCLEX do not wait) and the host state restored. */
        ".balign 16\n"
        ".globl skvm_x87_run\n"
        ".hidden skvm_x87_run\n"
        ".type skvm_x87_run, @function\n"
        "skvm_x87_run:\n"
        "endbr64\n"
        "fxsave64 (%rsi)\n"
        "fxrstor64 (%rdi)\n"
        "push %r8\n"
        "popfq\n"
        "call *%rdx\n"
        "pushfq\n"
        "pop %rax\n"
        "fxsave64 (%rdi)\n"
        "fnclex\n"
        "fxrstor64 (%rsi)\n"
        "ret\n"
        ".size skvm_x87_run, . - skvm_x87_run\n"
        ".popsection\n");

extern const uint8_t skvm_x87_stubs[] __attribute__((visibility("hidden")));
uint64_t skvm_x87_run(void *img, void *host, const void *stub, void *mem, uint64_t rflags)
    __attribute__((visibility("hidden")));

uint64_t x87_host_exec(void *img, int stub, void *mem, uint64_t rflags)
{
  _Alignas(16) uint8_t host[512];
  return skvm_x87_run(img, host, skvm_x87_stubs + stub * 8, mem, (rflags & F_ARITH) | 2);
}

void x87_image(const struct x86_cpu *cpu, uint8_t img[512])
{
  const struct kvm_fpu *f = &cpu->fpu;
  uint32_t mx = 0x1f80;
  memset(img, 0, 512);
  memcpy(img + 0, &f->fcw, 2);
  memcpy(img + 2, &f->fsw, 2);
  img[4] = f->ftwx;
  memcpy(img + 24, &mx, 4);
  for (int i = 0; i < 8; i++) memcpy(img + 32 + i * 16, f->fpr[i], 10);
}

void x87_commit(struct x86_cpu *cpu, const uint8_t *img)
{
  struct kvm_fpu *f = &cpu->fpu;
  memcpy(&f->fcw, img + 0, 2);
  memcpy(&f->fsw, img + 2, 2);
  f->ftwx = img[4];
  for (int i = 0; i < 8; i++) {
    memcpy(f->fpr[i], img + 32 + i * 16, 10);
    memset(f->fpr[i] + 10, 0, 6);
  }
}

/* ---- checks and pointers ---- */

static void x87_check_nm(struct x86_cpu *cpu)
{
  if (cpu->cr0 & (CR0_EM | CR0_TS)) RAISE(cpu, EXC_NM);
}

/* ES and B follow the unmasked exception flags (FLDCW, FLDENV, FRSTOR). */
static void fsw_update_es(struct kvm_fpu *f)
{
  if (f->fsw & ~f->fcw & FSW_EXC) f->fsw |= FSW_ES | FSW_B;
  else f->fsw &= ~(FSW_ES | FSW_B);
}

/* FCW bits 15:13 and 7 are reserved (read as 0), bit 6 reads as 1 */
static uint16_t fcw_norm(uint16_t v) { return (v & 0x1f3f) | 0x40; }

static uint64_t sel_hi(const struct x86_cpu *cpu, int seg)
{
  return cpu->code_bits == 64 ? 0 : (uint64_t)cpu->seg[seg].sel << 32;
}

static void set_pointers(struct x86_cpu *cpu, const struct x86_insn *in, uint8_t op, uint8_t modrm,
                         bool mem, uint64_t ea)
{
  cpu->fpu.last_opcode = (uint16_t)((op & 7) << 8 | modrm);
  cpu->fpu.last_ip = (cpu->code_bits == 64 ? cpu->rip : cpu->rip & 0xffffffff) | sel_hi(cpu, S_CS);
  if (mem) cpu->fpu.last_dp = ea | sel_hi(cpu, in->seg);
}

/* A new FSW; the physical registers stay where they are when TOP changes (fpr[] is ST order) */
static void set_fsw(struct kvm_fpu *f, uint16_t fsw)
{
  int d = ((fsw >> 11) - (f->fsw >> 11)) & 7;
  if (d) {
    uint8_t r[8][16];
    for (int i = 0; i < 8; i++) memcpy(r[i], f->fpr[(i + d) & 7], 16);
    memcpy(f->fpr, r, sizeof(r));
  }
  f->fsw = fsw;
}

static void fninit(struct kvm_fpu *f)
{
  f->fcw = 0x37f;
  set_fsw(f, 0);
  f->ftwx = 0;
  f->last_opcode = 0;
  f->last_ip = f->last_dp = 0;
}

/* ---- FSTENV / FLDENV / FSAVE / FRSTOR ---- */

static unsigned tag_of(const struct kvm_fpu *f, int p, int top)
{
  if (!(f->ftwx >> p & 1)) return 3;
  const uint8_t *r = f->fpr[(p - top) & 7];
  uint64_t m;
  memcpy(&m, r, 8);
  unsigned e = (r[8] | r[9] << 8) & 0x7fff;
  if (e == 0x7fff) return 2;
  if (e == 0) return m ? 2 : 1;
  return m >> 63 ? 0 : 2;
}

static void put16(uint8_t *b, uint16_t v) { memcpy(b, &v, 2); }
static void put32(uint8_t *b, uint32_t v) { memcpy(b, &v, 4); }
static uint16_t get16(const uint8_t *b) { uint16_t v; memcpy(&v, b, 2); return v; }
static uint32_t get32(const uint8_t *b) { uint32_t v; memcpy(&v, b, 4); return v; }

static bool real_format(const struct x86_cpu *cpu) { return !prot_mode(cpu) || (cpu->rflags & F_VM); }

/* The environment (14 or 28 bytes) in the format of the mode and operand size; returns its size */
static int env_store(struct x86_cpu *cpu, const struct x86_insn *in, uint8_t *b)
{
  const struct kvm_fpu *f = &cpu->fpu;
  int top = x87_top(cpu);
  uint16_t ftw = 0;
  for (int p = 0; p < 8; p++) ftw |= (uint16_t)(tag_of(f, p, top) << (p * 2));
  uint32_t fip = (uint32_t)f->last_ip, fdp = (uint32_t)f->last_dp;
  uint16_t fcs = (uint16_t)(f->last_ip >> 32), fds = (uint16_t)(f->last_dp >> 32);
  if (cpu->code_bits == 64) fcs = fds = 0;
  uint16_t fop = f->last_opcode & 0x7ff;
  bool real = real_format(cpu);
  uint32_t lip = ((uint32_t)fcs << 4) + (fip & 0xffff), ldp = ((uint32_t)fds << 4) + (fdp & 0xffff);
  if (in->opsize == 2) {
    put16(b + 0, f->fcw), put16(b + 2, f->fsw), put16(b + 4, ftw);
    if (real) {
      put16(b + 6, (uint16_t)lip), put16(b + 8, (uint16_t)((lip >> 16 & 0xf) << 12 | fop));
      put16(b + 10, (uint16_t)ldp), put16(b + 12, (uint16_t)((ldp >> 16 & 0xf) << 12));
    } else {
      put16(b + 6, (uint16_t)fip), put16(b + 8, fcs), put16(b + 10, (uint16_t)fdp), put16(b + 12, fds);
    }
    return 14;
  }
  put32(b + 0, 0xffff0000u | f->fcw), put32(b + 4, 0xffff0000u | f->fsw), put32(b + 8, 0xffff0000u | ftw);
  if (real) {
    put32(b + 12, 0xffff0000u | (lip & 0xffff)), put32(b + 16, (lip >> 16) << 12 | fop);
    put32(b + 20, 0xffff0000u | (ldp & 0xffff)), put32(b + 24, (ldp >> 16) << 12);
  } else {
    put32(b + 12, fip), put32(b + 16, fcs | (uint32_t)fop << 16);
    put32(b + 20, fdp), put32(b + 24, 0xffff0000u | fds);
  }
  return 28;
}

static int env_size(const struct x86_insn *in) { return in->opsize == 2 ? 14 : 28; }

static void env_load(struct x86_cpu *cpu, const struct x86_insn *in, const uint8_t *b)
{
  struct kvm_fpu *f = &cpu->fpu;
  bool o16 = in->opsize == 2, real = real_format(cpu);
  int w = o16 ? 2 : 4;
  f->fcw = fcw_norm(get16(b));
  set_fsw(f, get16(b + w));
  uint16_t ftw = get16(b + 2 * w);
  f->ftwx = 0;
  for (int p = 0; p < 8; p++)
    if ((ftw >> (p * 2) & 3) != 3) f->ftwx |= (uint8_t)(1 << p);
  uint32_t fip, fdp, fcs = 0, fds = 0, fop;
  if (o16) {
    uint16_t w3 = get16(b + 6), w4 = get16(b + 8), w5 = get16(b + 10), w6 = get16(b + 12);
    if (real) fip = w3 | (uint32_t)(w4 >> 12) << 16, fop = w4 & 0x7ff, fdp = w5 | (uint32_t)(w6 >> 12) << 16;
    else fip = w3, fcs = w4, fdp = w5, fds = w6, fop = f->last_opcode;
  } else {
    uint32_t d3 = get32(b + 12), d4 = get32(b + 16), d5 = get32(b + 20), d6 = get32(b + 24);
    if (real) fip = (d3 & 0xffff) | (d4 >> 12 & 0xffff) << 16, fop = d4 & 0x7ff,
              fdp = (d5 & 0xffff) | (d6 >> 12 & 0xffff) << 16;
    else fip = d3, fcs = d4 & 0xffff, fop = d4 >> 16 & 0x7ff, fdp = d5, fds = d6 & 0xffff;
  }
  f->last_opcode = (uint16_t)fop;
  f->last_ip = fip | (uint64_t)fcs << 32;
  f->last_dp = fdp | (uint64_t)fds << 32;
  fsw_update_es(f);
}

static void do_fnstenv(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t ea)
{
  uint8_t b[28];
  int n = env_store(cpu, in, b);
  sse_mem_write(cpu, in, ea, n, b, false);
  cpu->fpu.fcw |= 0x3f;   /* FNSTENV masks all exceptions */
}

static void do_fnsave(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t ea)
{
  uint8_t b[108];
  int n = env_store(cpu, in, b);
  for (int i = 0; i < 8; i++) memcpy(b + n + i * 10, cpu->fpu.fpr[i], 10);
  sse_mem_write(cpu, in, ea, n + 80, b, false);
  fninit(&cpu->fpu);
}

static void do_fldenv(struct x86_cpu *cpu, const struct x86_insn *in, uint64_t ea, bool regs)
{
  uint8_t b[108];
  int n = env_size(in);
  sse_mem_read(cpu, in, ea, n + (regs ? 80 : 0), b, false);
  env_load(cpu, in, b);
  if (regs)
    for (int i = 0; i < 8; i++) {
      memset(cpu->fpu.fpr[i], 0, 16);
      memcpy(cpu->fpu.fpr[i], b + n + i * 10, 10);
    }
}

/* ---- the handler ---- */

/* memory operand size by opcode (D8..DF) and ModRM.reg; 0 = emulated or invalid */
static const uint8_t mem_size[8][8] = {
  { 4, 4, 4, 4, 4, 4, 4, 4 },    { 4, 0, 4, 4, 0, 0, 0, 0 },   { 4, 4, 4, 4, 4, 4, 4, 4 },
  { 4, 4, 4, 4, 0, 10, 0, 10 },  { 8, 8, 8, 8, 8, 8, 8, 8 },   { 8, 8, 8, 8, 0, 0, 0, 0 },
  { 2, 2, 2, 2, 2, 2, 2, 2 },    { 2, 2, 2, 2, 10, 8, 10, 8 },
};
/* stores: bit reg of mem_store[op] */
static const uint8_t mem_store[8] = { 0, 0x0c, 0, 0x8e, 0, 0x0e, 0, 0xce };

static void opcode_modrm(const struct x86_insn *in, uint8_t *op, uint8_t *modrm)
{
  int i = 0;
  while (i < in->len - 1 && (in->bytes[i] < 0xd8 || in->bytes[i] > 0xdf)) i++;
  *op = in->bytes[i] - 0xd8;
  *modrm = in->bytes[i + 1];
}

/* NE=0 and an exception pending: run as if IGNNE# were asserted (x87.h) */
static uint16_t ignne_strip(struct x86_cpu *cpu, uint8_t *img)
{
  uint16_t fsw = cpu->fpu.fsw, keep = fsw & ~cpu->fpu.fcw & FSW_EXC;
  if (!(cpu->cr0 & CR0_NE) && x87_pending(cpu)) {
    fsw &= (uint16_t)~(keep | FSW_ES | FSW_B);
    memcpy(img + 2, &fsw, 2);
    return keep | FSW_ES | FSW_B;
  }
  return 0;
}

static void ignne_restore(uint8_t *img, uint16_t kept)
{
  uint16_t fsw;
  memcpy(&fsw, img + 2, 2);
  fsw |= kept;
  memcpy(img + 2, &fsw, 2);
}

static void run_host(struct x86_cpu *cpu, const struct x86_insn *in, uint8_t op, uint8_t modrm)
{
  _Alignas(16) uint8_t img[512];
  uint8_t buf[16];
  bool mem = modrm < 0xc0;
  int reg = modrm >> 3 & 7, size = 0, stub;
  uint64_t ea = 0;
  bool store = false;
  memset(buf, 0, sizeof(buf));
  if (mem) {
    size = mem_size[op][reg];
    if (!size) x86_internal_error(cpu, in->bytes, in->len);
    store = mem_store[op] >> reg & 1;
    ea = insn_ea(cpu, in);
    if (!store) sse_mem_read(cpu, in, ea, size, buf, false);
    stub = X87_STUB_MEM + op * 8 + reg;
  } else {
    stub = op * 64 + (modrm - 0xc0);
  }
  x87_image(cpu, img);
  uint16_t kept = ignne_strip(cpu, img);
  _Alignas(16) uint8_t img2[512];
  if (store) memcpy(img2, img, sizeof(img2));
  uint64_t fl = x87_host_exec(img, stub, buf, cpu->rflags);
  if (store) {
    /* with an unmasked exception the store may not happen: run again on another background */
    bool write = true;
    if (get16(img + 2) & FSW_ES) {
      uint8_t buf2[16];
      memset(buf2, 0xff, sizeof(buf2));
      x87_host_exec(img2, stub, buf2, cpu->rflags);
      write = !memcmp(buf, buf2, size);
    }
    if (write) sse_mem_write(cpu, in, ea, size, buf, false);
  }
  ignne_restore(img, kept);
  x87_commit(cpu, img);
  cpu->rflags = (cpu->rflags & ~(uint64_t)F_ARITH) | (fl & F_ARITH);   /* FCOMI & co. */
  set_pointers(cpu, in, op, modrm, mem, ea);
}

HANDLER(x87)
{
  if (in->mnemonic == ZYDIS_MNEMONIC_FWAIT) {
    if ((cpu->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) RAISE(cpu, EXC_NM);
    x87_check_mf(cpu);
    return;
  }
  uint8_t op, modrm;
  opcode_modrm(in, &op, &modrm);
  x87_check_nm(cpu);
  struct kvm_fpu *f = &cpu->fpu;
  if (modrm >= 0xc0) {
    if (op == 3 && modrm >= 0xe0 && modrm <= 0xe4) {   /* non-waiting control */
      if (modrm == 0xe2) f->fsw &= (uint16_t)~(FSW_EXC | FSW_SF | FSW_ES | FSW_B);   /* FNCLEX */
      else if (modrm == 0xe3) fninit(f);                                             /* FNINIT */
      return;                                          /* FENI/FDISI/FSETPM: no-ops */
    }
    if (op == 7 && modrm == 0xe0) {   /* FNSTSW AX */
      reg_write(cpu, R_AX, 2, f->fsw);
      return;
    }
    x87_check_mf(cpu);
    run_host(cpu, in, op, modrm);
    return;
  }
  int reg = modrm >> 3 & 7;
  if (op == 1 && reg >= 4) {
    uint64_t ea = insn_ea(cpu, in);
    switch (reg) {
    case 4: x87_check_mf(cpu); do_fldenv(cpu, in, ea, false); return;          /* FLDENV */
    case 5:                                                                      /* FLDCW */
      x87_check_mf(cpu);
      f->fcw = fcw_norm((uint16_t)mem_read(cpu, in->seg, ea, 2));
      fsw_update_es(f);
      return;
    case 6: do_fnstenv(cpu, in, ea); return;                                     /* FNSTENV */
    default: mem_write(cpu, in->seg, ea, 2, f->fcw); return;                     /* FNSTCW */
    }
  }
  if (op == 5 && reg >= 4) {
    uint64_t ea = insn_ea(cpu, in);
    switch (reg) {
    case 4: x87_check_mf(cpu); do_fldenv(cpu, in, ea, true); return;           /* FRSTOR */
    case 6: do_fnsave(cpu, in, ea); return;                                      /* FNSAVE */
    case 7: mem_write(cpu, in->seg, ea, 2, f->fsw); return;                      /* FNSTSW m16 */
    default: RAISE(cpu, EXC_UD);
    }
  }
  x87_check_mf(cpu);
  run_host(cpu, in, op, modrm);
}

/* MMX state transition: R(i) = ST((i - TOP) & 7) moves to fpr[i]; TOP = 0, all tags valid */
void mmx_enter(struct x86_cpu *cpu)
{
  set_fsw(&cpu->fpu, cpu->fpu.fsw & (uint16_t)~FSW_TOP);
  cpu->fpu.ftwx = 0xff;
}
