/* The oracle: runs a vector's instruction on the host CPU at CODE_BASE with its data buffer at
 * DATA_BASE (both mapped at those fixed addresses), through native_tramp.S. A fault in the
 * instruction (#DE -> SIGFPE, #UD -> SIGILL, #GP/#PF -> SIGSEGV, #AC -> SIGBUS) is caught by a
 * handler on an alternate stack, which records the trap number and the registers at the fault and
 * resumes at diff_native_fault. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "diff.h"

extern struct dstate diff_in, diff_out;
extern uint64_t diff_code_entry, diff_host_rsp;
int diff_native_enter(void);
void diff_native_return(void);
void diff_native_fault(void);

static uint8_t *code, *data;
static volatile int fault_vector;
static struct dstate fault_state;
static uint64_t fault_rip;

static const int greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
  ucontext_t *uc = ctx;
  greg_t *gr = uc->uc_mcontext.gregs;
  uint64_t rip = (uint64_t)gr[REG_RIP];
  if (rip < CODE_BASE || rip >= CODE_BASE + 4096) {   /* not ours: die the normal way */
    signal(sig, SIG_DFL);
    return;
  }
  for (int i = 0; i < 16; i++) fault_state.gpr[i] = (uint64_t)gr[greg_of[i]];
  fault_state.rflags = (uint64_t)gr[REG_EFL];
  fault_rip = rip;
  fault_vector = sig == SIGTRAP ? 1 : (int)gr[REG_TRAPNO];
  gr[REG_RIP] = (greg_t)(uintptr_t)diff_native_fault;
  gr[REG_RSP] = (greg_t)diff_host_rsp;   /* sigreturn's IRET needs a canonical RSP */
  (void)si;
}

int native_init(void)
{
  code = mmap((void *)CODE_BASE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  data = mmap((void *)DATA_BASE, DATA_SIZE, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (code != (void *)CODE_BASE || data != (void *)DATA_BASE) {
    fprintf(stderr, "native: cannot map code/data at 0x%llx/0x%llx\n", CODE_BASE, DATA_BASE);
    return -1;
  }
  static uint8_t altstack[1 << 16];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0};
  if (sigaltstack(&ss, NULL)) return -1;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  int sigs[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGTRAP};
  for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    if (sigaction(sigs[i], &sa, NULL)) return -1;
  diff_code_entry = CODE_BASE;
  return 0;
}

void native_run(const struct dvec *v, struct dresult *r)
{
  memcpy(code, v->code, v->len);
  static const uint8_t jmp_back[] = {0xff, 0x25, 0, 0, 0, 0};   /* jmp [rip+0] */
  memcpy(code + v->len, jmp_back, sizeof(jmp_back));
  uint64_t ret = (uint64_t)(uintptr_t)diff_native_return;
  memcpy(code + v->len + sizeof(jmp_back), &ret, 8);
  memcpy(data, v->init, DATA_SIZE);
  diff_in = v->in;
  fault_vector = -1;
  if (diff_native_enter()) {
    r->vector = fault_vector;
    r->out = fault_state;
    r->rip = fault_rip;
  } else {
    r->vector = -1;
    r->out = diff_out;
    r->rip = CODE_BASE + v->len;
  }
  r->data = data;
}
