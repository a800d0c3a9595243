/* LAR, LSL, VERR and VERW in 32-bit protected mode at CPL 0, over a GDT holding each kind of
 * descriptor they treat differently (SDM Vol. 2A): readable/execute-only/conforming code, writable
 * and read-only data, DPL 3, not present, a TSS, a call gate, RPL above DPL, null, outside the
 * GDT and an LDT selector without an LDT. The guest stores what each instruction returned. */
#include "testlib.h"
#include "vmtest.h"

#define CODE 0x1000
#define GDT 0x500
#define SELS 0x2000
#define RESULTS 0x3000

/* for each selector at [esi]: lar ecx / lsl edx (preset 0xdeadbeef), ZF of each and of verr/verw
 * into [edi] (12 bytes: ecx, edx, zf_lar, zf_lsl, zf_verr, zf_verw); hlt at 0xffff */
static const uint8_t code[] = {
  0x0f, 0xb7, 0x06, 0x66, 0x83, 0xf8, 0xff, 0x74, 0x37, 0xb9, 0xef, 0xbe, 0xad, 0xde, 0x0f, 0x02,
  0xc8, 0x0f, 0x94, 0xc3, 0x89, 0x0f, 0xba, 0xef, 0xbe, 0xad, 0xde, 0x0f, 0x03, 0xd0, 0x0f, 0x94,
  0xc7, 0x89, 0x57, 0x04, 0x0f, 0x00, 0xe0, 0x0f, 0x94, 0xc1, 0x0f, 0x00, 0xe8, 0x0f, 0x94, 0xc5,
  0x66, 0x89, 0x5f, 0x08, 0x66, 0x89, 0x4f, 0x0a, 0x83, 0xc6, 0x02, 0x83, 0xc7, 0x0c, 0xeb, 0xc0,
  0xf4,
};

static const uint64_t gdt[] = {
  0,
  0x00cf9a000000ffffULL,   /* 0x08 code, readable, DPL 0 */
  0x00cf92000000ffffULL,   /* 0x10 data, writable, DPL 0 */
  0x0040f00000000fffULL,   /* 0x18 data, read-only, DPL 3, byte-granular limit 0xfff */
  0x00cf98000000ffffULL,   /* 0x20 code, execute-only, DPL 0 */
  0x00cffe000000ffffULL,   /* 0x28 code, conforming, readable, DPL 3 */
  0x0000890000000067ULL,   /* 0x30 32-bit TSS, available */
  0x00008c0000081000ULL,   /* 0x38 32-bit call gate */
  0,                       /* 0x40 */
  0x00cf12000000ffffULL,   /* 0x48 data, writable, not present */
};

#define BAD 0xdeadbeefu
static const struct {
  uint16_t sel;
  uint32_t lar, lsl;         /* BAD: ZF clear, register unchanged */
  uint8_t verr, verw;
} want[] = {
  { 0x00, BAD, BAD, 0, 0 },                   /* null */
  { 0x08, 0x00c09a00, 0xffffffff, 1, 0 },
  { 0x10, 0x00c09200, 0xffffffff, 1, 1 },
  { 0x13, BAD, BAD, 0, 0 },                   /* RPL 3 > DPL 0 */
  { 0x18, 0x0040f000, 0xfff, 1, 0 },
  { 0x1b, 0x0040f000, 0xfff, 1, 0 },
  { 0x20, 0x00c09800, 0xffffffff, 0, 0 },     /* execute-only: not readable */
  { 0x28, 0x00c0fe00, 0xffffffff, 1, 0 },
  { 0x2b, 0x00c0fe00, 0xffffffff, 1, 0 },     /* conforming: no privilege check */
  { 0x30, 0x00008900, 0x67, 0, 0 },           /* TSS: LAR and LSL, never VERR/VERW */
  { 0x38, 0x00008c00, BAD, 0, 0 },            /* call gate: LAR only */
  { 0x48, 0x00c01200, 0xffffffff, 1, 1 },     /* not present: not checked */
  { 0x50, BAD, BAD, 0, 0 },                   /* beyond the GDT limit */
  { 0x04, BAD, BAD, 0, 0 },                   /* LDT selector, no LDT */
};
#define N (sizeof(want) / sizeof(want[0]))

int main(void)
{
  struct vmt t;
  if (vmt_init(&t, 1 << 20) == 0) {
    memcpy(t.mem + CODE, code, sizeof(code));
    memcpy(t.mem + GDT, gdt, sizeof(gdt));
    for (unsigned i = 0; i < N; i++) memcpy(t.mem + SELS + 2 * i, &want[i].sel, 2);
    memset(t.mem + SELS + 2 * N, 0xff, 2);

    struct kvm_sregs s;
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
    vmt_flat_seg(&s.cs, 0x08, 0xb, 0, 1);
    vmt_flat_seg(&s.ds, 0x10, 0x3, 0, 1);
    s.es = s.ss = s.fs = s.gs = s.ds;
    s.gdt.base = GDT;
    s.gdt.limit = sizeof(gdt) - 1;
    memset(&s.ldt, 0, sizeof(s.ldt));
    s.ldt.unusable = 1;
    s.cr0 |= 1;   /* PE */
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &s), 0);
    struct kvm_regs r;
    memset(&r, 0, sizeof(r));
    r.rip = CODE, r.rsp = 0x8000, r.rflags = 2, r.rsi = SELS, r.rdi = RESULTS;
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_REGS, &r), 0);
    CHECK_EQ(vmt_run(&t), 0);
    CHECK_EQ(t.run->exit_reason, KVM_EXIT_HLT);

    for (unsigned i = 0; i < N; i++) {
      const uint8_t *p = t.mem + RESULTS + 12 * i;
      uint32_t lar, lsl;
      memcpy(&lar, p, 4), memcpy(&lsl, p + 4, 4);
      if (lar != want[i].lar || lsl != want[i].lsl || p[8] != (want[i].lar != BAD) ||
          p[9] != (want[i].lsl != BAD) || p[10] != want[i].verr || p[11] != want[i].verw)
        fprintf(stderr, "selector %#x: lar %#x zf %u, lsl %#x zf %u, verr %u, verw %u\n", want[i].sel,
                lar, p[8], lsl, p[9], p[10], p[11]);
      CHECK_EQ(lar, want[i].lar);   /* bits 19:16 (undefined in the SDM) read 0 here */
      CHECK_EQ(lsl, want[i].lsl);
      CHECK_EQ(p[8], want[i].lar != BAD);
      CHECK_EQ(p[9], want[i].lsl != BAD);
      CHECK_EQ(p[10], want[i].verr);
      CHECK_EQ(p[11], want[i].verw);
    }
  }
  vmt_fini(&t);
  return test_summary();
}
