/* The engine side: one VM and one vCPU in 64-bit mode at CPL 0, set up purely through the KVM ABI
 * (include/softkvm.h), reused for every vector. 32- and 16-bit vectors run in compatibility mode at
 * CPL 3 with the native run's LDT segments (same selectors, bases and limits), loaded straight
 * into the segment registers and also present in an LDT. Guest memory:
 *   slot 0  GPA 0 .. 2 MiB            GDT, TSS, IDT, exception stubs, IST stack, page tables
 *   slot 1  GPA DATA_BASE, DATA_SIZE  the data buffer
 *   slot 2  GPA CODE_BASE, 4 KiB      the instruction, then HLT
 * The first 1 GiB is identity-mapped with 2 MiB user pages, so guest virtual == guest physical == the
 * addresses the native run uses. Exception vector v enters (on IST1) a stub `out 0x40+v, al; hlt`,
 * so a KVM_EXIT_IO on port 0x40+v reports exception v; the interrupted RIP/RSP/RFLAGS (and SS)
 * are read from the exception frame. At CPL 3 the HLT after the instruction raises #GP instead of
 * exiting: that #GP marks the end. */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "diff.h"
#include "softkvm.h"

#define LOW_SIZE 0x200000
#define GDT_GPA 0x1000
#define TSS_GPA 0x1100
#define LDT_GPA 0x1200
#define IDT_GPA 0x2000
#define STUBS_GPA 0x3000
#define PML4_GPA 0x4000
#define PDPT_GPA 0x5000
#define PD_GPA 0x6000
#define IST_TOP 0x10000
#define EXC_PORT 0x40

static int sys = -1, vm = -1, vcpu = -1;
static struct kvm_run *run;
static long run_size;
static uint8_t *low, *edata, *ecode;
static struct kvm_sregs sregs64;
static int cur_mode = MODE64;

static void put64(uint64_t gpa, uint64_t v) { memcpy(low + gpa, &v, 8); }
static uint64_t get64(uint64_t gpa) { uint64_t v; memcpy(&v, low + gpa, 8); return v; }

static int slot(int n, uint64_t gpa, uint64_t size, uint8_t **host)
{
  *host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (*host == MAP_FAILED) return -1;
  struct kvm_userspace_memory_region r = {
      .slot = n, .guest_phys_addr = gpa, .memory_size = size, .userspace_addr = (uintptr_t)*host};
  return skvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int l, int db)
{
  memset(s, 0, sizeof(*s));
  s->selector = sel, s->limit = 0xffffffff, s->type = type, s->present = 1, s->s = 1;
  s->l = l, s->db = db, s->g = 1;
}

/* CS and DS/ES/SS of 32- or 16-bit code, as native.c's LDT has them (DPL 3) */
static void legacy_segs(int mode, struct kvm_segment *cs, struct kvm_segment *ds)
{
  int big = mode == MODE32;
  seg(cs, big ? SEL_CODE32 : SEL_CODE16, 11, 0, big);
  seg(ds, big ? SEL_DATA32 : SEL_DATA16, 3, 0, big);
  cs->base = CODE_BASE, ds->base = DATA_BASE;
  cs->dpl = ds->dpl = 3;
  if (!big) cs->limit = ds->limit = 0xffff, cs->g = ds->g = 0;
}

static int set_mode(int mode)
{
  if (mode == cur_mode && mode == MODE64) return 0;
  struct kvm_sregs s = sregs64;
  if (mode != MODE64) {
    legacy_segs(mode, &s.cs, &s.ds);
    s.es = s.ss = s.ds;
    memset(&s.fs, 0, sizeof(s.fs));   /* the host's FS and GS selectors (null: unusable) */
    s.fs.selector = native_fs_gs(), s.fs.unusable = s.fs.selector == 0;
    s.fs.type = 3, s.fs.s = 1, s.fs.present = 1, s.fs.dpl = 3, s.fs.db = 1, s.fs.g = 1, s.fs.limit = ~0u;
    s.gs = s.fs;
  }
  cur_mode = mode;
  return skvm_ioctl(vcpu, KVM_SET_SREGS, &s);
}

static uint64_t desc(const struct kvm_segment *s)
{
  uint64_t d = (s->limit >> (s->g ? 12 : 0)) & 0xffff;
  d |= (uint64_t)((s->limit >> (s->g ? 28 : 16)) & 0xf) << 48;
  d |= (s->base & 0xffffff) << 16 | (s->base >> 24 & 0xff) << 56;
  d |= (uint64_t)(s->type | (s->s << 4) | (s->dpl << 5) | (s->present << 7)) << 40;
  d |= (uint64_t)((s->l << 1) | (s->db << 2) | (s->g << 3)) << 52;
  return d;
}

int engine_init(void)
{
  if ((sys = skvm_open()) < 0) return -1;
  if ((vm = skvm_ioctl(sys, KVM_CREATE_VM, (void *)0)) < 0) return -1;
  if (slot(0, 0, LOW_SIZE, &low) || slot(1, DATA_BASE, DATA_SIZE, &edata) ||
      slot(2, CODE_BASE, 4096, &ecode))
    return -1;
  if ((vcpu = skvm_ioctl(vm, KVM_CREATE_VCPU, (void *)0)) < 0) return -1;
  run_size = skvm_ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, (void *)0);
  run = skvm_mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) return -1;

  struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(struct kvm_cpuid_entry2));
  c->nent = 256;
  if (skvm_ioctl(sys, KVM_GET_SUPPORTED_CPUID, c) || skvm_ioctl(vcpu, KVM_SET_CPUID2, c)) return -1;
  free(c);

  struct kvm_sregs s;
  if (skvm_ioctl(vcpu, KVM_GET_SREGS, &s)) return -1;
  seg(&s.cs, 0x08, 11, 1, 0);
  seg(&s.ds, 0x10, 3, 0, 1);
  s.es = s.fs = s.gs = s.ss = s.ds;
  memset(&s.tr, 0, sizeof(s.tr));
  s.tr.selector = 0x18, s.tr.base = TSS_GPA, s.tr.limit = 0x67, s.tr.type = 11, s.tr.present = 1;
  memset(&s.ldt, 0, sizeof(s.ldt));
  s.ldt.selector = 0x28, s.ldt.base = LDT_GPA, s.ldt.limit = 31, s.ldt.type = 2, s.ldt.present = 1;
  put64(GDT_GPA + 0x08, desc(&s.cs));
  put64(GDT_GPA + 0x10, desc(&s.ds));
  put64(GDT_GPA + 0x18, 0x67 | ((uint64_t)TSS_GPA << 16) | (0x89ULL << 40));
  s.gdt.base = GDT_GPA, s.gdt.limit = 0x37;
  put64(GDT_GPA + 0x28, 31 | ((uint64_t)LDT_GPA << 16) | (0x82ULL << 40));   /* LDT, 4 entries */
  for (int m = MODE32; m <= MODE16; m++) {
    struct kvm_segment cs, ds;
    legacy_segs(m, &cs, &ds);
    put64(LDT_GPA + (cs.selector & ~7), desc(&cs));
    put64(LDT_GPA + (ds.selector & ~7), desc(&ds));
  }
  put64(TSS_GPA + 0x24, IST_TOP);                       /* IST1 */
  for (int v = 0; v < 32; v++) {
    uint64_t off = STUBS_GPA + v * 4;
    put64(IDT_GPA + v * 16, (off & 0xffff) | (0x08ULL << 16) | (1ULL << 32) | (0x8eULL << 40) |
                                ((off >> 16) << 48));
    put64(IDT_GPA + v * 16 + 8, 0);
    low[off] = 0xe6, low[off + 1] = (uint8_t)(EXC_PORT + v), low[off + 2] = 0xf4;   /* out imm8, al; hlt */
  }
  s.idt.base = IDT_GPA, s.idt.limit = 32 * 16 - 1;
  put64(PML4_GPA, PDPT_GPA | 7);
  put64(PDPT_GPA, PD_GPA | 7);
  for (uint64_t i = 0; i < 512; i++) put64(PD_GPA + i * 8, (i << 21) | 0x87);   /* 2 MiB, P RW US PS */
  s.cr0 = 0x80050033, s.cr4 = 0x620, s.efer = 0x500, s.cr3 = PML4_GPA;
  sregs64 = s;
  return skvm_ioctl(vcpu, KVM_SET_SREGS, &s);
}

void engine_fini(void)
{
  if (run) munmap(run, (size_t)run_size);
  if (vcpu >= 0) skvm_close(vcpu);
  if (vm >= 0) skvm_close(vm);
  if (sys >= 0) skvm_close(sys);
}

static void from_kvm(struct dstate *s, const struct kvm_regs *k)
{
  const uint64_t g[16] = {k->rax, k->rcx, k->rdx, k->rbx, k->rsp, k->rbp, k->rsi, k->rdi,
                          k->r8,  k->r9,  k->r10, k->r11, k->r12, k->r13, k->r14, k->r15};
  memcpy(s->gpr, g, sizeof(g));
  s->rflags = k->rflags;
}

void engine_run(const struct dvec *v, struct dresult *r)
{
  memcpy(ecode, v->code, v->len);
  ecode[v->len] = ecode[v->len + TAKEN_OFF] = 0xf4;   /* HLT after it, and where a branch lands */
  memcpy(edata, v->init, DATA_SIZE);
  const uint64_t *g = v->in.gpr;
  uint64_t cs_base = v->mode == MODE64 ? 0 : CODE_BASE;
  struct kvm_regs k = {
      .rax = g[0], .rcx = g[1], .rdx = g[2], .rbx = g[3], .rsp = g[4], .rbp = g[5], .rsi = g[6],
      .rdi = g[7], .r8 = g[8], .r9 = g[9], .r10 = g[10], .r11 = g[11], .r12 = g[12], .r13 = g[13],
      .r14 = g[14], .r15 = g[15], .rip = CODE_BASE - cs_base,
      .rflags = v->in.rflags | FL_IF};   /* as natively at CPL 3 (no interrupts can arrive here) */
  r->data = edata;
  r->vector = 100;
  if (set_mode(v->mode) || skvm_ioctl(vcpu, KVM_SET_REGS, &k)) return;
  int rc = skvm_ioctl(vcpu, KVM_RUN, (void *)0);
  if (skvm_ioctl(vcpu, KVM_GET_REGS, &k)) return;
  from_kvm(&r->out, &k);
  r->rip = cs_base + k.rip;
  if (rc) return;
  uint64_t end = CODE_BASE + v->len;
  if (run->exit_reason == KVM_EXIT_HLT && (cs_base + k.rip - 1 == end || cs_base + k.rip - 1 == end + TAKEN_OFF)) {
    r->vector = -1;
    r->rip = cs_base + k.rip - 1;
  } else if (run->exit_reason == KVM_EXIT_IO && run->io.port >= EXC_PORT && run->io.port < EXC_PORT + 32) {
    int vec = run->io.port - EXC_PORT;
    int err = vec == 8 || (vec >= 10 && vec <= 14) || vec == 17;
    uint64_t f = IST_TOP - (err ? 48 : 40);   /* [error] rip cs rflags rsp ss */
    if (err) f += 8;
    r->vector = vec;
    r->rip = cs_base + get64(f);
    r->out.rflags = get64(f + 16);
    r->out.gpr[RSP] = get64(f + 24);
    /* at CPL 3 (32/16-bit code) the HLT that ends the vector raises #GP(0) */
    if (vec == 13 && v->mode != MODE64 && (r->rip == end || r->rip == end + TAKEN_OFF)) r->vector = -1;
    r->out.sel[1] = (uint16_t)get64(f + 32);
  } else {
    r->vector = 100 + (int)run->exit_reason;
  }
  struct kvm_sregs s;
  if (r->vector == -1 && v->mode != MODE64 && !skvm_ioctl(vcpu, KVM_GET_SREGS, &s))
    r->out.sel[0] = s.es.selector, r->out.sel[2] = s.ds.selector;
  if (v->mode != MODE64) cur_mode = -1;   /* it may have loaded segment registers: set them again */
}
