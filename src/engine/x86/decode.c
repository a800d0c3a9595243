/* Decoding: Zydis turns guest bytes into ZydisDecodedInstruction; we keep only what the
 * handlers need in the engine's own compact struct x86_insn. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <Zydis/Zydis.h>

#include "engine.h"

enum { DEC_REAL16, DEC_PROT16, DEC_PROT32, DEC_COMPAT16, DEC_COMPAT32, DEC_LONG64, DEC_COUNT };


struct decoder_state {
  ZydisDecoder dec[DEC_COUNT];
  struct dcache_entry cache[DCACHE_SIZE];
};

void decoder_init(struct x86_cpu *cpu)
{
  /* page aligned (so each 128-byte entry spans two cache lines, not three) and zero pages
   * the kernel fills in on first touch: a vCPU that runs little costs little (a VM may have
   * a thousand vCPUs) */
  struct decoder_state *d = mmap(NULL, sizeof(*d), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (d == MAP_FAILED) abort();
  ZydisDecoderInit(&d->dec[DEC_REAL16], ZYDIS_MACHINE_MODE_REAL_16, ZYDIS_STACK_WIDTH_16);
  ZydisDecoderInit(&d->dec[DEC_PROT16], ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
  ZydisDecoderInit(&d->dec[DEC_PROT32], ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
  ZydisDecoderInit(&d->dec[DEC_COMPAT16], ZYDIS_MACHINE_MODE_LONG_COMPAT_16, ZYDIS_STACK_WIDTH_16);
  ZydisDecoderInit(&d->dec[DEC_COMPAT32], ZYDIS_MACHINE_MODE_LONG_COMPAT_32, ZYDIS_STACK_WIDTH_32);
  ZydisDecoderInit(&d->dec[DEC_LONG64], ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  cpu->decoder = d;
  cpu->dcache = d->cache;
}

void decoder_fini(struct x86_cpu *cpu)
{
  if (cpu->decoder) munmap(cpu->decoder, sizeof(struct decoder_state));
  cpu->decoder = NULL;
}

int decoder_mode(struct x86_cpu *cpu)
{
  bool lma = cpu->efer & EFER_LMA;
  switch (cpu->code_bits) {
  case 64: return DEC_LONG64;
  case 32: return lma ? DEC_COMPAT32 : DEC_PROT32;
  default:
    if (!prot_mode(cpu)) return DEC_REAL16;
    return lma ? DEC_COMPAT16 : DEC_PROT16;
  }
}

/* Our register numbering: 0-15 GPRs (high8 marks AH..BH); segments 0-5; CRn/DRn/XMMn/MMn by number. */
static bool map_reg(ZydisRegister r, struct x86_operand *o)
{
  if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) { o->kind = OP_REG; o->reg = r - ZYDIS_REGISTER_AL; return true; }
  if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) { o->kind = OP_REG; o->reg = r - ZYDIS_REGISTER_AH; o->high8 = 1; return true; }
  if (r >= ZYDIS_REGISTER_SPL && r <= ZYDIS_REGISTER_DIL) { o->kind = OP_REG; o->reg = 4 + r - ZYDIS_REGISTER_SPL; return true; }
  if (r >= ZYDIS_REGISTER_R8B && r <= ZYDIS_REGISTER_R15B) { o->kind = OP_REG; o->reg = 8 + r - ZYDIS_REGISTER_R8B; return true; }
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) { o->kind = OP_REG; o->reg = r - ZYDIS_REGISTER_AX; return true; }
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) { o->kind = OP_REG; o->reg = r - ZYDIS_REGISTER_EAX; return true; }
  if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) { o->kind = OP_REG; o->reg = r - ZYDIS_REGISTER_RAX; return true; }
  if (r >= ZYDIS_REGISTER_ES && r <= ZYDIS_REGISTER_GS) { o->kind = OP_SEG; o->reg = r - ZYDIS_REGISTER_ES; return true; }
  if (r >= ZYDIS_REGISTER_CR0 && r <= ZYDIS_REGISTER_CR15) { o->kind = OP_CR; o->reg = r - ZYDIS_REGISTER_CR0; return true; }
  if (r >= ZYDIS_REGISTER_DR0 && r <= ZYDIS_REGISTER_DR15) { o->kind = OP_DR; o->reg = r - ZYDIS_REGISTER_DR0; return true; }
  if (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM15) { o->kind = OP_XMM; o->reg = r - ZYDIS_REGISTER_XMM0; return true; }
  if (r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7) { o->kind = OP_MMX; o->reg = r - ZYDIS_REGISTER_MM0; return true; }
  return false;
}

static uint8_t map_addr_reg(ZydisRegister r)
{
  if (r == ZYDIS_REGISTER_NONE) return 0xff;
  if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP) return 0xfe;
  struct x86_operand o = { 0 };
  return map_reg(r, &o) ? o.reg : 0xff;
}

/* Copies up to n instruction bytes at lin into buf; returns how many are on the first page. */
static int fetch(struct x86_cpu *cpu, uint64_t lin, uint8_t *buf, int n)
{
  int avail = 4096 - (int)(lin & 0xfff);
  if (avail > n) avail = n;
  uint8_t *p = lin_host_ptr(cpu, lin, avail, ACC_FETCH);
  if (!p) x86_internal_error(cpu, NULL, 0);   /* executing from MMIO */
  memcpy(buf, p, avail);
  return avail;
}

static void decode_bytes(struct x86_cpu *cpu, uint64_t lin, int mode, struct x86_insn *in);


const struct x86_insn *decode_insn_slow(struct x86_cpu *cpu, struct x86_insn *scratch)
{
  struct decoder_state *d = cpu->decoder;
  int mode = decoder_mode(cpu);
  /* fast paths: canonical RIP in 64-bit mode; otherwise a 15-byte window inside the CS limit */
  uint64_t lin;
  bool limit_ok = true;
  if (cpu->code_bits == 64 && is_canonical(cpu->rip)) {
    lin = cpu->rip;
  } else if (cpu->code_bits != 64 && cpu->rip + 15 <= cpu->seg[S_CS].limit) {
    lin = (cpu->seg[S_CS].base + cpu->rip) & 0xffffffff;
  } else {
    lin = seg_linear(cpu, S_CS, cpu->rip, 1, ACC_FETCH);
    limit_ok = cpu->code_bits == 64;
  }
  if ((lin & 0xfff) > 4096 - 16) {   /* may cross a page: decode without caching */
    decode_bytes(cpu, lin, mode, scratch);
    return scratch;
  }
  const uint8_t *p;
  if ((lin >> 12) + 1 == cpu->fetch_tag) {
    p = cpu->fetch_host + (lin & 0xfff);
  } else {
    p = lin_host_ptr(cpu, lin, 16, ACC_FETCH);
    if (!p) x86_internal_error(cpu, NULL, 0);   /* executing from MMIO */
    cpu->fetch_tag = (lin >> 12) + 1;
    cpu->fetch_host = p - (lin & 0xfff);
  }
  struct dcache_entry *e = &d->cache[dcache_index(p)];
  if (e->host != p || e->mode != mode || !same_bytes(e, p)) {
    e->host = NULL;
    decode_bytes(cpu, lin, mode, &e->in);
    int len = e->in.len;
    e->k0 = len >= 8 ? ~0ULL : (1ULL << (len * 8)) - 1;
    e->k1 = len <= 8 ? 0 : len >= 16 ? ~0ULL : (1ULL << ((len - 8) * 8)) - 1;
    memcpy(&e->b0, e->in.bytes, 8), memcpy(&e->b1, e->in.bytes + 8, 8);
    e->host = p;
    e->mode = mode;
  } else if (!limit_ok) {
    seg_linear(cpu, S_CS, cpu->rip, e->in.len, ACC_FETCH);   /* instruction past the CS limit */
  }
  return &e->in;
}

static void decode_bytes(struct x86_cpu *cpu, uint64_t lin, int mode, struct x86_insn *in)
{
  struct decoder_state *d = cpu->decoder;
  ZydisDecodedInstruction zi;
  ZydisDecodedOperand zo[ZYDIS_MAX_OPERAND_COUNT];
  const ZydisDecoder *dec = &d->dec[mode];
  uint8_t buf[15];
  int have = fetch(cpu, lin, buf, 15);
  ZyanStatus st = ZydisDecoderDecodeFull(dec, buf, have, &zi, zo);
  if (st == ZYDIS_STATUS_NO_MORE_DATA && have < 15) {
    uint64_t lin2 = seg_linear(cpu, S_CS, cpu->rip + have, 1, ACC_FETCH);
    have += fetch(cpu, lin2, buf + have, 15 - have);
    st = ZydisDecoderDecodeFull(dec, buf, have, &zi, zo);
  }
  if (st == ZYDIS_STATUS_INSTRUCTION_TOO_LONG) RAISE_ERR(cpu, EXC_GP, 0);
  if (!ZYAN_SUCCESS(st)) RAISE(cpu, EXC_UD);
  if (cpu->code_bits != 64)   /* instruction past the CS limit */
    seg_linear(cpu, S_CS, cpu->rip, zi.length, ACC_FETCH);

  memset(in, 0, sizeof(*in));
  in->mnemonic = zi.mnemonic;
  in->len = zi.length;
  memcpy(in->bytes, buf, zi.length);
  in->opsize = zi.operand_width / 8;
  in->addrsize = zi.address_width / 8;
  in->opcode = zi.opcode;
  in->seg = S_NONE;
  in->base = in->index = 0xff;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_LOCK) in->prefixes |= PFX_LOCK;
  if (zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE)) in->prefixes |= PFX_REP;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_REPNE) in->prefixes |= PFX_REPNE;
  /* string instructions keep their segment override here (operands are hidden) */
  in->seg = S_DS;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_CS) in->seg = S_CS;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_SS) in->seg = S_SS;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_ES) in->seg = S_ES;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_FS) in->seg = S_FS;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_SEGMENT_GS) in->seg = S_GS;

  int nimm = 0;
  in->nops = zi.operand_count_visible < 4 ? zi.operand_count_visible : 4;
  for (int i = 0; i < in->nops; i++) {
    struct x86_operand *o = &in->op[i];
    o->size = zo[i].size / 8;
    switch (zo[i].type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
      map_reg(zo[i].reg.value, o);
      break;
    case ZYDIS_OPERAND_TYPE_MEMORY:
      o->kind = OP_MEM;
      in->seg = zo[i].mem.segment == ZYDIS_REGISTER_NONE ? S_DS : zo[i].mem.segment - ZYDIS_REGISTER_ES;
      in->base = map_addr_reg(zo[i].mem.base);
      in->index = map_addr_reg(zo[i].mem.index);
      in->scale = zo[i].mem.scale;
      in->disp = zo[i].mem.disp.has_displacement ? zo[i].mem.disp.value : 0;
      break;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
      o->kind = OP_IMM;
      if (zo[i].imm.is_signed) o->size = 8;   /* value is sign-extended to 64 bits already */
      if (nimm++ == 0) in->imm = zo[i].imm.value.u;
      else in->imm2 = zo[i].imm.value.u;
      break;
    case ZYDIS_OPERAND_TYPE_POINTER:
      o->kind = OP_FAR;
      in->imm = zo[i].ptr.offset;
      in->imm2 = zo[i].ptr.segment;
      break;
    default:
      break;
    }
  }
  in->fn = handler_for(zi.mnemonic);
  for (int i = 0; i < in->nops; i++)   /* MMX register forms of SSE-table mnemonics */
    if (in->op[i].kind == OP_MMX && mmx_route(zi.mnemonic)) in->fn = mmx_route(zi.mnemonic);
  if (!in->fn) {
    in->len = 0;   /* keep a failed decode out of the cache */
    x86_internal_error(cpu, buf, zi.length);
  }
}
