/* The oracle: runs a vector's instruction on the host CPU at CODE_BASE with its data buffer at
 * DATA_BASE (both mapped at those fixed addresses), through native_tramp.S. A fault in the
 * instruction (#DE -> SIGFPE, #UD -> SIGILL, #GP/#PF/#BR -> SIGSEGV, #AC/#SS -> SIGBUS) is caught
 * by a handler on an alternate stack, which records the trap number and the registers at the
 * fault and resumes at diff_native_fault.
 * 32- and 16-bit code runs in compatibility mode from LDT code segments (modify_ldt) based at
 * CODE_BASE, with DS/ES/SS an LDT data segment based at DATA_BASE (16-bit addressing reaches the
 * buffer). It is entered with a far jump from the trampoline and leaves with a far jump to a
 * 64-bit landing stub in the code page (below 4 GiB), which jumps on to the trampoline. */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "diff.h"

extern struct dstate diff_in, diff_out;
extern uint64_t diff_host_rsp, diff_entry;
extern uint8_t diff_far_target[8], diff_taken;
extern uint16_t diff_data_sel;
int diff_native_enter(void);
void diff_far_entry(void);
void diff_native_return(void);
void diff_native_return_taken(void);
void diff_native_fault(void);

#define LAND_OFF 0x800   /* 64-bit landing stubs in the code page: +0 return, +0x40 taken */

static uint8_t *code, *data;
static uint16_t host_cs, host_ss, host_fs;
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
  uint16_t cs = (uint16_t)gr[REG_CSGSFS];   /* cs, gs, fs, ss: 16 bits each */
  if (cs == SEL_CODE32 || cs == SEL_CODE16) rip += CODE_BASE;   /* EIP is an offset in CS */
  else if (cs != host_cs) rip = 0;
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
  /* back in 64-bit code with the host's stack segment */
  gr[REG_CSGSFS] = (greg_t)(((uint64_t)gr[REG_CSGSFS] & 0x0000ffffffff0000ULL) | host_cs |
                            (uint64_t)host_ss << 48);
  (void)si;
}

/* LDT entries 0..3: the code and data segments of SEL_CODE16 .. SEL_DATA32 */
static int setup_ldt(void)
{
  for (unsigned i = 0; i < 4; i++) {
    int is_code = i < 2, big = i & 1;
    struct user_desc d = {
        .entry_number = i, .base_addr = (unsigned)(is_code ? CODE_BASE : DATA_BASE),
        .limit = big ? 0xfffff : 0xffff, .seg_32bit = (unsigned)big,
        .contents = is_code ? MODIFY_LDT_CONTENTS_CODE : MODIFY_LDT_CONTENTS_DATA,
        .read_exec_only = 0, .limit_in_pages = (unsigned)big, .seg_not_present = 0, .useable = 1};
    if (syscall(SYS_modify_ldt, 1, &d, sizeof(d))) return -1;
  }
  return 0;
}

/* jmp [rip+0]; .quad target (14 bytes) */
static void put_jmp64(uint8_t *p, void (*target)(void))
{
  static const uint8_t jmp[] = {0xff, 0x25, 0, 0, 0, 0};
  uint64_t t = (uint64_t)(uintptr_t)target;
  memcpy(p, jmp, sizeof(jmp));
  memcpy(p + sizeof(jmp), &t, 8);
}

/* [66] EA ptr16:32: far jump from 32/16-bit code to 64-bit code at host_cs:target */
static void put_jmp_far(uint8_t *p, int mode, uint32_t target)
{
  if (mode == MODE16) *p++ = 0x66;
  *p++ = 0xea;
  memcpy(p, &target, 4);
  memcpy(p + 4, &host_cs, 2);
}

uint16_t native_fs_gs(void) { return host_fs; }

/* Some hosts accept modify_ldt but never load the LDT, or run no compatibility-mode code at all
 * (paravirtualized guests such as PVM): LAR tells whether the CPU sees the LDT's code segment. */
static int ldt_usable(void)
{
  uint32_t ar = 0;
  uint8_t ok = 0;
  __asm__ volatile("lar %2, %0; setz %1" : "=r"(ar), "=q"(ok) : "r"((uint32_t)SEL_CODE32) : "cc");
  return ok;
}

int native_init(void)
{
  __asm__ volatile("movw %%cs, %0; movw %%ss, %1; movw %%fs, %2" : "=r"(host_cs), "=r"(host_ss), "=r"(host_fs));
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
  put_jmp64(code + LAND_OFF, diff_native_return);
  put_jmp64(code + LAND_OFF + 0x40, diff_native_return_taken);
  return setup_ldt() || !ldt_usable() ? 1 : 0;   /* 1: no 32/16-bit code */
}

void native_run(const struct dvec *v, struct dresult *r)
{
  memcpy(code, v->code, v->len);
  if (v->mode == MODE64) {
    put_jmp64(code + v->len, diff_native_return);
    put_jmp64(code + v->len + TAKEN_OFF, diff_native_return_taken);
    diff_entry = CODE_BASE;
    diff_data_sel = 0;
  } else {
    put_jmp_far(code + v->len, v->mode, (uint32_t)CODE_BASE + LAND_OFF);
    put_jmp_far(code + v->len + TAKEN_OFF, v->mode, (uint32_t)CODE_BASE + LAND_OFF + 0x40);
    uint32_t off = 0;
    uint16_t sel = v->mode == MODE32 ? SEL_CODE32 : SEL_CODE16;
    memcpy(diff_far_target, &off, 4);
    memcpy(diff_far_target + 4, &sel, 2);
    diff_entry = (uint64_t)(uintptr_t)diff_far_entry;
    diff_data_sel = v->mode == MODE32 ? SEL_DATA32 : SEL_DATA16;
  }
  memcpy(data, v->init, DATA_SIZE);
  diff_in = v->in;
  diff_taken = 0;
  fault_vector = -1;
  if (diff_native_enter()) {
    r->vector = fault_vector;
    r->out = fault_state;
    r->rip = fault_rip;
  } else {
    r->vector = -1;
    r->out = diff_out;
    r->rip = CODE_BASE + v->len + (diff_taken ? TAKEN_OFF : 0);
  }
  r->data = data;
}
