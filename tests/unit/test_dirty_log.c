/* ABI tests for KVM_GET_DIRTY_LOG.
 *
 * Expectations follow Linux 6.1 virt/kvm/kvm_main.c kvm_get_dirty_log_protect (slot checks,
 * -ENOENT without a dirty bitmap, copy of kvm_dirty_bitmap_bytes() = ALIGN(npages, 64) / 8
 * bytes, get-and-clear) and kvm_prepare_memory_region (a bitmap exists exactly while the slot
 * has KVM_MEM_LOG_DIRTY_PAGES; it starts all clear).
 *
 * Pages are dirtied by real-mode guest code. The guest only WRITES to the logged slot and runs
 * from an unlogged one: on Linux x86 even a read fault that maps a host-writable page writable
 * marks it dirty (arch/x86/kvm/mmu/spte.c make_spte), so guest reads of a logged slot would
 * make the expected bitmap host-dependent. Host writes (memset from userspace) are never logged. */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softkvm.h"
#include "testlib.h"

#define IARG(x) ((void *)(uintptr_t)(x))
#define PG 4096ULL

enum {
  CODE_SLOT = 0, CODE_GPA = 0x0, CODE_PAGES = 16,          /* not logged; code at 0x1000 */
  DATA_SLOT = 1, DATA_GPA = 0x10000, DATA_PAGES = 16,      /* logged; guest DS = 0x1000 */
  BIG_SLOT = 2, BIG_GPA = 0x100000, BIG_PAGES = 100,       /* logged, never written */
};

/* Real-mode guest. Each part ends with HLT; KVM_RUN after a KVM_EXIT_HLT resumes after it
 * (x86.c __kvm_emulate_halt without an in-kernel LAPIC exits with RIP already advanced). */
static const uint8_t guest_code[] = {
  /* part 1 @0x1000 */
  0xB8, 0x00, 0x10,                   /* mov ax, 0x1000 */
  0x8E, 0xD8,                         /* mov ds, ax        ; DS base = DATA_GPA */
  0xC6, 0x06, 0x00, 0x00, 0x11,       /* mov byte [0x0000], 0x11   ; page 0 */
  0xC6, 0x06, 0x34, 0x22, 0x22,       /* mov byte [0x2234], 0x22   ; page 2 */
  0xC7, 0x06, 0xFF, 0x6F, 0xCD, 0xAB, /* mov word [0x6fff], 0xabcd ; pages 6 and 7 (straddles) */
  0xC6, 0x06, 0xFF, 0xFF, 0x44,       /* mov byte [0xffff], 0x44   ; page 15 (last byte) */
  0xF4,                               /* hlt */
  /* part 2 */
  0xC6, 0x06, 0x00, 0x10, 0x55,       /* mov byte [0x1000], 0x55   ; page 1 */
  0xC6, 0x06, 0x00, 0x00, 0x66,       /* mov byte [0x0000], 0x66   ; page 0 again */
  0xF4,                               /* hlt */
  /* part 3 (runs while logging is off) */
  0xC6, 0x06, 0x00, 0x40, 0x77,       /* mov byte [0x4000], 0x77   ; page 4 */
  0xF4,                               /* hlt */
  /* part 4 (logging re-enabled) */
  0xC6, 0x06, 0x10, 0x30, 0x88,       /* mov byte [0x3010], 0x88   ; page 3 */
  0xF4,                               /* hlt */
};
#define PART1_END (0x1000 + 27)
#define PART2_END (PART1_END + 11)
#define PART3_END (PART2_END + 6)
#define PART4_END (PART3_END + 6)

static int vm, vcpu;
static struct kvm_run *run;
static size_t run_size;

static int set_region(uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size, void *host) {
  struct kvm_userspace_memory_region r = {
    .slot = slot, .flags = flags, .guest_phys_addr = gpa, .memory_size = size,
    .userspace_addr = (uint64_t)(uintptr_t)host,
  };
  return skvm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r);
}

static int get_log(uint32_t slot, void *bitmap) {
  struct kvm_dirty_log log = {.slot = slot, .dirty_bitmap = bitmap};
  return skvm_ioctl(vm, KVM_GET_DIRTY_LOG, &log);
}

/* Fetch slot DATA_SLOT's log into a buffer pre-filled with a pattern; Linux writes exactly one
 * u64 for 16 pages (all bits above npages zero) and nothing past it. */
static uint64_t data_log(int *ok) {
  uint64_t bm[2] = {~0ULL, 0x5a5a5a5a5a5a5a5aULL};
  *ok = get_log(DATA_SLOT, bm) == 0 && bm[1] == 0x5a5a5a5a5a5a5a5aULL;
  return bm[0];
}

/* KVM_RUN until the next exit; returns the exit reason (or -1). */
static int run_vcpu(void) {
  if (skvm_ioctl(vcpu, KVM_RUN, NULL) != 0) return -1;
  return (int)run->exit_reason;
}

static uint64_t get_rip(void) {
  struct kvm_regs regs;
  if (skvm_ioctl(vcpu, KVM_GET_REGS, &regs) != 0) return ~0ULL;
  return regs.rip;
}

static void test_bad_slots(void) {
  uint64_t bm[2] = {0};
  /* as_id >= KVM_ADDRESS_SPACE_NUM (2) or id >= KVM_USER_MEM_SLOTS (32764) → -EINVAL. */
  CHECK_ERRNO(get_log(32764, bm), EINVAL);
  CHECK_ERRNO(get_log(0xffff, bm), EINVAL);
  CHECK_ERRNO(get_log((2u << 16) | DATA_SLOT, bm), EINVAL);
  /* No such slot, or a slot without a dirty bitmap → -ENOENT. */
  CHECK_ERRNO(get_log(9, bm), ENOENT);
  CHECK_ERRNO(get_log(32763, bm), ENOENT);
  CHECK_ERRNO(get_log(CODE_SLOT, bm), ENOENT);
  /* Address space 1 is valid on Linux x86 (KVM_CAP_MULTI_ADDRESS_SPACE = 2) but empty. */
  long nas = skvm_ioctl(vm, KVM_CHECK_EXTENSION, IARG(KVM_CAP_MULTI_ADDRESS_SPACE));
  if (nas >= 2) CHECK_ERRNO(get_log((1u << 16) | DATA_SLOT, bm), ENOENT);
  else CHECK_ERRNO(get_log((1u << 16) | DATA_SLOT, bm), EINVAL);
}

int main(void) {
  int sys = skvm_open();
  CHECK(sys >= 0);
  vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK(vm >= 0);
  uint8_t *code = mmap(NULL, CODE_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t *data = mmap(NULL, DATA_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t *big = mmap(NULL, BIG_PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(code != MAP_FAILED && data != MAP_FAILED && big != MAP_FAILED);
  if (sys < 0 || vm < 0 || code == MAP_FAILED || data == MAP_FAILED || big == MAP_FAILED)
    return test_summary();
  memcpy(code + 0x1000, guest_code, sizeof guest_code);
  memset(data, 0, DATA_PAGES * PG);

  CHECK_EQ(set_region(CODE_SLOT, 0, CODE_GPA, CODE_PAGES * PG, code), 0);
  CHECK_EQ(set_region(DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA, DATA_PAGES * PG, data), 0);
  CHECK_EQ(set_region(BIG_SLOT, KVM_MEM_LOG_DIRTY_PAGES, BIG_GPA, BIG_PAGES * PG, big), 0);
  test_bad_slots();

  /* A fresh log is all clear; host writes after the slot exists are not logged either. */
  int ok;
  CHECK_EQ(data_log(&ok), 0);
  CHECK(ok);
  memset(data, 0xee, 3 * PG);
  memset(data, 0, 3 * PG);
  CHECK_EQ(data_log(&ok), 0);
  CHECK(ok);
  /* 100 pages: ALIGN(100, 64) / 8 = 16 bytes are written, all zero; the third u64 is untouched. */
  uint64_t bbm[3] = {~0ULL, ~0ULL, 0x1234};
  CHECK_EQ(get_log(BIG_SLOT, bbm), 0);
  CHECK_EQ(bbm[0], 0);
  CHECK_EQ(bbm[1], 0);
  CHECK_EQ(bbm[2], 0x1234);

  /* vCPU 0 in real mode at 0000:1000. */
  vcpu = skvm_ioctl(vm, KVM_CREATE_VCPU, IARG(0));
  CHECK(vcpu >= 0);
  long msz = skvm_ioctl(sys, KVM_GET_VCPU_MMAP_SIZE, NULL);
  CHECK(msz >= (long)sizeof(struct kvm_run));
  run_size = msz > 0 ? (size_t)msz : 4096;
  run = skvm_mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  CHECK(run != MAP_FAILED);
  if (vcpu < 0 || run == MAP_FAILED) return test_summary();

  struct kvm_sregs sregs;
  CHECK_EQ(skvm_ioctl(vcpu, KVM_GET_SREGS, &sregs), 0);
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  sregs.ds.base = 0;
  sregs.ds.selector = 0;
  CHECK_EQ(skvm_ioctl(vcpu, KVM_SET_SREGS, &sregs), 0);
  struct kvm_regs regs;
  memset(&regs, 0, sizeof regs);
  regs.rip = 0x1000;
  regs.rflags = 2;
  CHECK_EQ(skvm_ioctl(vcpu, KVM_SET_REGS, &regs), 0);

  /* Part 1: pages 0, 2, 6+7 (a word write across the boundary dirties both), 15. */
  CHECK_EQ(run_vcpu(), KVM_EXIT_HLT);
  CHECK_EQ(get_rip(), PART1_END);
  CHECK_EQ(data[0], 0x11);
  CHECK_EQ(data[0x2234], 0x22);
  CHECK_EQ(data[0x6fff], 0xcd);
  CHECK_EQ(data[0x7000], 0xab);
  CHECK_EQ(data[0xffff], 0x44);
  CHECK_EQ(data_log(&ok), (1u << 0) | (1u << 2) | (1u << 6) | (1u << 7) | (1u << 15));
  CHECK(ok);
  /* The call cleared it. */
  CHECK_EQ(data_log(&ok), 0);
  CHECK(ok);
  /* The unwritten slot stayed clean. */
  bbm[0] = bbm[1] = ~0ULL;
  CHECK_EQ(get_log(BIG_SLOT, bbm), 0);
  CHECK_EQ(bbm[0] | bbm[1], 0);

  /* Part 2: pages already logged and cleared are logged again when rewritten. */
  CHECK_EQ(run_vcpu(), KVM_EXIT_HLT);
  CHECK_EQ(get_rip(), PART2_END);
  CHECK_EQ(data[0x1000], 0x55);
  CHECK_EQ(data[0], 0x66);
  CHECK_EQ(data_log(&ok), (1u << 0) | (1u << 1));
  CHECK(ok);
  CHECK_EQ(data_log(&ok), 0);

  /* Turning KVM_MEM_LOG_DIRTY_PAGES off frees the bitmap: -ENOENT. */
  CHECK_EQ(set_region(DATA_SLOT, 0, DATA_GPA, DATA_PAGES * PG, data), 0);
  uint64_t tmp[2] = {0};
  CHECK_ERRNO(get_log(DATA_SLOT, tmp), ENOENT);
  /* Part 3 writes page 4 while logging is off. */
  CHECK_EQ(run_vcpu(), KVM_EXIT_HLT);
  CHECK_EQ(get_rip(), PART3_END);
  CHECK_EQ(data[0x4000], 0x77);
  /* Turning it back on starts from a clear bitmap (page 4 is not reported). */
  CHECK_EQ(set_region(DATA_SLOT, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA, DATA_PAGES * PG, data), 0);
  CHECK_EQ(data_log(&ok), 0);
  CHECK(ok);
  /* Part 4: logging works again. */
  CHECK_EQ(run_vcpu(), KVM_EXIT_HLT);
  CHECK_EQ(get_rip(), PART4_END);
  CHECK_EQ(data[0x3010], 0x88);
  CHECK_EQ(data_log(&ok), 1u << 3);
  CHECK(ok);
  CHECK_EQ(data_log(&ok), 0);

  /* A moved slot keeps logging (it still has LOG_DIRTY_PAGES); a deleted one is -ENOENT. */
  CHECK_EQ(set_region(BIG_SLOT, KVM_MEM_LOG_DIRTY_PAGES, 0x400000, BIG_PAGES * PG, big), 0);
  CHECK_EQ(get_log(BIG_SLOT, bbm), 0);
  CHECK_EQ(set_region(BIG_SLOT, 0, 0, 0, NULL), 0);
  CHECK_ERRNO(get_log(BIG_SLOT, bbm), ENOENT);

  munmap(run, run_size);
  skvm_close(vcpu);
  skvm_close(vm);
  skvm_close(sys);
  munmap(code, CODE_PAGES * PG);
  munmap(data, DATA_PAGES * PG);
  munmap(big, BIG_PAGES * PG);
  return test_summary();
}
