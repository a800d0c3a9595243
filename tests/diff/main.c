/* diff_integer: runs every generator family natively and in the engine and compares GPRs, RIP,
 * RFLAGS (masked per instruction), the data buffer, and which exception (if any) was raised; in
 * 64-bit code, then (the families that have a legacy_count) in 32-bit and 16-bit code, where the
 * upper halves of RAX..RDI are undefined (only their low 32 bits are compared) and ES/SS/DS are
 * compared too.
 *
 * usage: diff_integer [scale-percent] [seed]   (defaults 100 and a fixed seed) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <Zydis/Zydis.h>

#include "diff.h"

#define MAX_REPORTS 3   /* mismatches printed per family */
#define POOL_SIZE 0x10000

static const char *const reg_names[16] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                          "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};

static void print_flags(const char *what, uint64_t f)
{
  printf("%s=%#llx[%s%s%s%s%s%s%s]", what, (unsigned long long)f, f & FL_OF ? "O" : "-",
         f & FL_DF ? "D" : "-", f & FL_SF ? "S" : "-", f & FL_ZF ? "Z" : "-", f & FL_AF ? "A" : "-",
         f & FL_PF ? "P" : "-", f & FL_CF ? "C" : "-");
}

static const char *const mode_names[NMODES] = {"64-bit", "32-bit", "16-bit"};

static const char *disasm(const struct dvec *v, ZydisDisassembledInstruction *ins)
{
  static const ZydisMachineMode zm[NMODES] = {ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_MACHINE_MODE_LONG_COMPAT_32,
                                              ZYDIS_MACHINE_MODE_LONG_COMPAT_16};
  uint64_t ip = v->mode == MODE64 ? CODE_BASE : 0;
  if (ZYAN_SUCCESS(ZydisDisassembleIntel(zm[v->mode], ip, v->code, v->len, ins))) return ins->text;
  return "(undecodable)";
}

/* the GPR bits compared: the low 32 bits of RAX..RDI outside 64-bit code */
static uint64_t reg_cmp_mask(const struct dvec *v, int i)
{
  return v->mode != MODE64 && i < 8 ? 0xffffffffULL : ~0ULL;
}

static int reg_differs(const struct dvec *v, const struct dresult *n, const struct dresult *e, int i)
{
  return ((n->out.gpr[i] ^ e->out.gpr[i]) & reg_cmp_mask(v, i)) && !(v->skip_regs >> i & 1);
}

static int sel_differs(const struct dvec *v, const struct dresult *n, const struct dresult *e)
{
  return v->mode != MODE64 && n->vector < 0 && memcmp(n->out.sel, e->out.sel, sizeof(n->out.sel));
}

static void report(const char *fam, long idx, const struct dvec *v, const struct dresult *n,
                   const struct dresult *e)
{
  ZydisDisassembledInstruction ins;
  printf("MISMATCH %s %s #%ld: %s   [", mode_names[v->mode], fam, idx, disasm(v, &ins));
  for (int i = 0; i < v->len; i++) printf("%s%02x", i ? " " : "", v->code[i]);
  printf("]\n  in:");
  for (int i = 0; i < 16; i++) printf("%s %s=%#llx", i == 8 ? "\n     " : "", reg_names[i], (unsigned long long)v->in.gpr[i]);
  printf("\n     ");
  print_flags("rflags", v->in.rflags);
  printf(" compared-flags=%#x\n", v->flags_mask);
  if (n->vector != e->vector) printf("  exception: native %d, engine %d (-1 none, >=100 other exit)\n", n->vector, e->vector);
  else if (n->vector >= 0) printf("  exception %d on both sides\n", n->vector);
  if (n->rip != e->rip) printf("  rip: native %#llx engine %#llx\n", (unsigned long long)n->rip, (unsigned long long)e->rip);
  for (int i = 0; i < 16; i++)
    if (reg_differs(v, n, e, i))
      printf("  %s: native %#llx engine %#llx\n", reg_names[i], (unsigned long long)n->out.gpr[i],
             (unsigned long long)e->out.gpr[i]);
  if (sel_differs(v, n, e))
    printf("  es/ss/ds: native %#x/%#x/%#x engine %#x/%#x/%#x\n", n->out.sel[0], n->out.sel[1],
           n->out.sel[2], e->out.sel[0], e->out.sel[1], e->out.sel[2]);
  if ((n->out.rflags ^ e->out.rflags) & v->flags_mask) {
    printf("  ");
    print_flags("native", n->out.rflags);
    printf(" ");
    print_flags("engine", e->out.rflags);
    printf("\n");
  }
  int shown = 0;
  for (int i = 0; i < DATA_SIZE && shown < 8; i++)
    if (n->data[i] != e->data[i]) {
      printf("  mem %#llx: native %02x engine %02x (was %02x)\n", (unsigned long long)(DATA_BASE + i),
             n->data[i], e->data[i], v->init[i]);
      shown++;
    }
}

static int same(const struct dvec *v, const struct dresult *n, const struct dresult *e)
{
  if (n->vector != e->vector || n->rip != e->rip) return 0;
  for (int i = 0; i < 16; i++)
    if (reg_differs(v, n, e, i)) return 0;
  if (sel_differs(v, n, e)) return 0;
  if ((n->out.rflags ^ e->out.rflags) & v->flags_mask) return 0;
  return memcmp(n->data, e->data, DATA_SIZE) == 0;
}

/* The harness itself: a known vector must give the known answer on both sides (so a runner that
 * silently does nothing cannot pass), and a division by zero must fault on both. */
static int selftest(void)
{
  static uint8_t init[DATA_SIZE];
  struct dvec v = {.code = {0x48, 0x01, 0xd8}, .len = 3, .init = init};   /* add rax, rbx */
  struct dresult n, e;
  v.in.gpr[RAX] = 1, v.in.gpr[RBX] = 2, v.in.rflags = 2;
  native_run(&v, &n);
  engine_run(&v, &e);
  int ok = n.vector == -1 && e.vector == -1 && n.out.gpr[RAX] == 3 && e.out.gpr[RAX] == 3 &&
           n.rip == CODE_BASE + 3 && e.rip == CODE_BASE + 3;
  static const uint8_t div[] = {0x48, 0xf7, 0xf1};   /* div rcx, rcx = 0 */
  memcpy(v.code, div, 3);
  native_run(&v, &n);
  engine_run(&v, &e);
  ok = ok && n.vector == 0 && e.vector == 0 && n.rip == CODE_BASE && e.rip == CODE_BASE;
  if (!ok) fprintf(stderr, "diff_integer: harness self-test failed\n");
  return ok;
}

/* The same for 32- and 16-bit code: INC eAX (40) wraps at the mode's operand size, JMP rel8 (EB)
 * lands on the taken point, and AAM 0 (D4 00) raises #DE on both sides. */
static int selftest_legacy(int mode)
{
  static uint8_t init[DATA_SIZE];
  struct dvec v = {.mode = mode, .code = {0x40}, .len = 1, .init = init};
  struct dresult n, e;
  v.in.gpr[RAX] = 0xffff, v.in.rflags = 2;
  uint64_t want = mode == MODE32 ? 0x10000 : 0;
  native_run(&v, &n);
  engine_run(&v, &e);
  int ok = n.vector == -1 && e.vector == -1 && (uint32_t)n.out.gpr[RAX] == want &&
           (uint32_t)e.out.gpr[RAX] == want && n.rip == CODE_BASE + 1 && e.rip == CODE_BASE + 1;
  static const uint8_t jmp[] = {0xeb, TAKEN_OFF};
  memcpy(v.code, jmp, 2), v.len = 2;
  native_run(&v, &n);
  engine_run(&v, &e);
  ok = ok && n.vector == -1 && e.vector == -1 && n.rip == CODE_BASE + 2 + TAKEN_OFF && e.rip == n.rip;
  static const uint8_t aam0[] = {0xd4, 0x00};
  memcpy(v.code, aam0, 2);
  native_run(&v, &n);
  engine_run(&v, &e);
  ok = ok && n.vector == 0 && e.vector == 0 && n.rip == CODE_BASE && e.rip == CODE_BASE;
  if (!ok) fprintf(stderr, "diff_integer: harness self-test in %s code failed (native: vector %d rip %#llx)\n",
                   mode_names[mode], n.vector, (unsigned long long)n.rip);
  return ok;
}

/* Runs `count` vectors of family f in one mode; returns the mismatches. Without a native oracle
 * (`native` 0: this host runs no 32/16-bit code) it runs them in the engine only and counts those
 * that end in an unexpected exit (an unimplemented instruction, an internal error). */
static long run_family(struct gen *g, const struct family *f, int mode, long count, int native, int show_exc)
{
  static uint8_t init[DATA_SIZE];
  long bad = 0, faults = 0;
  g->mode = mode;
  for (long i = 0; i < count; i++) {
    struct dvec v;
    memset(&v, 0, sizeof(v));
    memcpy(init, g->pool + rn(g, POOL_SIZE - DATA_SIZE), DATA_SIZE);
    v.init = init;
    v.mode = mode;
    for (int r = 0; r < 16; r++) v.in.gpr[r] = rand_val(g);
    v.in.rflags = rand_flags(g);
    v.flags_mask = FL_CMP;
    /* a non-canonical RSP makes the host kernel's IRET fault (interrupt or signal return);
     * asm.c keeps an RSP base register canonical too. Outside 64-bit code: ESP, zero-extended. */
    v.in.gpr[RSP] = (uint64_t)((int64_t)(v.in.gpr[RSP] << 16) >> 16);
    if (mode != MODE64) v.in.gpr[RSP] &= 0xffffffff;
    f->gen(g, &v, f->arg);
    struct dresult n, e;
    engine_run(&v, &e);
    if (!native) {
      if (e.vector >= 0 && e.vector < 100 && faults++ < 4 && show_exc) {
        ZydisDisassembledInstruction ins;
        printf("  (%s %s: engine exception %d on %s)\n", mode_names[mode], f->name, e.vector, disasm(&v, &ins));
      }
      if (e.vector < 100) continue;
      if (bad++ < MAX_REPORTS) {
        ZydisDisassembledInstruction ins;
        printf("ENGINE-ONLY %s %s #%ld: %s: exit %d\n  [", mode_names[mode], f->name, i, disasm(&v, &ins), e.vector);
        for (int b = 0; b < v.len; b++) printf("%s%02x", b ? " " : "", v.code[b]);
        printf("]\n  in:");
        for (int r = 0; r < 8; r++) printf(" %s=%#llx", reg_names[r], (unsigned long long)v.in.gpr[r]);
        printf("\n");
      }
      continue;
    }
    native_run(&v, &n);
    if (n.vector >= 0 && faults++ < 4 && show_exc) {
      ZydisDisassembledInstruction ins;
      printf("  (%s %s: exception %d on %s)\n", mode_names[mode], f->name, n.vector, disasm(&v, &ins));
    }
    if (same(&v, &n, &e)) continue;
    if (bad++ < MAX_REPORTS) report(f->name, i, &v, &n, &e);
  }
  if (native)
    printf("%s %-22s %6ld vectors, %ld mismatches (%ld raised an exception)\n", mode_names[mode], f->name,
           count, bad, faults);
  else
    printf("%s %-22s %6ld vectors in the engine only, %ld unexpected exits (%ld raised an exception)\n",
           mode_names[mode], f->name, count, bad, faults);
  return bad;
}

int main(int argc, char **argv)
{
  long scale = argc > 1 ? strtol(argv[1], NULL, 0) : 100;
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eedd1ff0000001ULL;
  int show_exc = getenv("DIFF_SHOW_EXC") != NULL;   /* list a few vectors that raised one */
  setvbuf(stdout, NULL, _IOLBF, 0);
  int nat = native_init();
  if (nat == 0 && getenv("DIFF_LEGACY_ENGINE_ONLY")) nat = 2;   /* to tell harness from host trouble */
  if (nat < 0) {   /* no fixed low mappings on this host: nothing to compare against */
    printf("diff_integer: SKIP (cannot run natively at the fixed addresses)\n");
    return 77;
  }
  if (nat == 1)
    printf("diff_integer: this host runs no 32/16-bit code in user space (no usable LDT): those vectors "
           "run in the engine only, not compared\n");
  if (engine_init()) {
    fprintf(stderr, "diff_integer: engine setup failed\n");
    return 2;
  }
  if (!selftest()) return 2;
  if (!nat && (!selftest_legacy(MODE32) || !selftest_legacy(MODE16))) return 2;
  struct gen g = {.s = seed};
  static uint8_t pool[POOL_SIZE];
  for (int i = 0; i < POOL_SIZE; i += 8) {
    uint64_t x = rnd(&g);
    memcpy(pool + i, &x, 8);
  }
  g.pool = pool, g.pool_size = POOL_SIZE;

  const struct family *const tables[] = {families_alu, families_shift, families_data,
                                         families_stack, families_string, families_bits,
                                         families_fault, families_legacy};
  long total[NMODES] = {0}, failed[NMODES] = {0};
  clock_t t0 = clock();
  for (int mode = 0; mode < NMODES; mode++) {
    for (unsigned t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
      for (const struct family *f = tables[t]; f->name; f++) {
        long count = (long)(mode == MODE64 ? f->count : f->legacy_count) * scale / 100;
        if (!count) continue;
        failed[mode] += run_family(&g, f, mode, count, mode == MODE64 || !nat, show_exc);
        total[mode] += count;
      }
    }
  }
  engine_fini();
  printf("%.1f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
  long all = 0, bad = 0;
  for (int mode = 0; mode < NMODES; mode++) {
    printf("%s code: %ld vectors%s, %ld failed\n", mode_names[mode], total[mode],
           mode != MODE64 && nat ? " (engine only)" : "", failed[mode]);
    all += total[mode], bad += failed[mode];
  }
  printf("%ld passed, %ld failed\n", all - bad, bad);
  return bad ? 1 : 0;
}
