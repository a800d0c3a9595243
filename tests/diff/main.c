/* diff_integer: runs every generator family natively and in the engine and compares GPRs, RIP,
 * RFLAGS (masked per instruction), the data buffer, and which exception (if any) was raised.
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

static void report(const char *fam, long idx, const struct dvec *v, const struct dresult *n,
                   const struct dresult *e)
{
  ZydisDisassembledInstruction ins;
  const char *text = "(undecodable)";
  if (ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, CODE_BASE, v->code, v->len, &ins)))
    text = ins.text;
  printf("MISMATCH %s #%ld: %s   [", fam, idx, text);
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
    if (n->out.gpr[i] != e->out.gpr[i] && !(v->skip_regs >> i & 1))
      printf("  %s: native %#llx engine %#llx\n", reg_names[i], (unsigned long long)n->out.gpr[i],
             (unsigned long long)e->out.gpr[i]);
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
    if (n->out.gpr[i] != e->out.gpr[i] && !(v->skip_regs >> i & 1)) return 0;
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

int main(int argc, char **argv)
{
  long scale = argc > 1 ? strtol(argv[1], NULL, 0) : 100;
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eedd1ff0000001ULL;
  int show_exc = getenv("DIFF_SHOW_EXC") != NULL;   /* list a few vectors that raised one */
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (native_init()) {   /* no fixed low mappings on this host: nothing to compare against */
    printf("diff_integer: SKIP (cannot run natively at the fixed addresses)\n");
    return 77;
  }
  if (engine_init()) {
    fprintf(stderr, "diff_integer: engine setup failed\n");
    return 2;
  }
  if (!selftest()) return 2;
  struct gen g = {.s = seed};
  static uint8_t pool[POOL_SIZE], init[DATA_SIZE];
  for (int i = 0; i < POOL_SIZE; i += 8) {
    uint64_t x = rnd(&g);
    memcpy(pool + i, &x, 8);
  }
  g.pool = pool, g.pool_size = POOL_SIZE;

  const struct family *const tables[] = {families_alu, families_shift, families_data,
                                         families_stack, families_string, families_bits,
                                         families_fault};
  long passed = 0, failed = 0;
  clock_t t0 = clock();
  for (unsigned t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
    for (const struct family *f = tables[t]; f->name; f++) {
      long count = (long)f->count * scale / 100, bad = 0, faults = 0;
      for (long i = 0; i < count; i++) {
        struct dvec v;
        memset(&v, 0, sizeof(v));
        memcpy(init, pool + rn(&g, POOL_SIZE - DATA_SIZE), DATA_SIZE);
        v.init = init;
        for (int r = 0; r < 16; r++) v.in.gpr[r] = rand_val(&g);
        v.in.rflags = rand_flags(&g);
        v.flags_mask = FL_CMP;
        /* a non-canonical RSP makes the host kernel's IRET fault (interrupt or signal return);
         * asm.c keeps an RSP base register canonical too */
        v.in.gpr[RSP] = (uint64_t)((int64_t)(v.in.gpr[RSP] << 16) >> 16);
        f->gen(&g, &v, f->arg);
        struct dresult n, e;
        native_run(&v, &n);
        engine_run(&v, &e);
        if (n.vector >= 0 && faults++ < 4 && show_exc) {
          ZydisDisassembledInstruction ins;
          int ok = ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, CODE_BASE, v.code, v.len, &ins));
          printf("  (%s: exception %d on %s)\n", f->name, n.vector, ok ? ins.text : "(invalid)");
        }
        if (same(&v, &n, &e)) {
          passed++;
          continue;
        }
        failed++;
        if (bad++ < MAX_REPORTS) report(f->name, i, &v, &n, &e);
      }
      printf("%-22s %6ld vectors, %ld mismatches (%ld raised an exception)\n", f->name, count, bad, faults);
    }
  }
  engine_fini();
  printf("%.1f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
  printf("%ld passed, %ld failed\n", passed, failed);
  return failed ? 1 : 0;
}
