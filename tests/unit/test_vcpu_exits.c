/* KVM_RUN exits, each field checked: port I/O (OUT, IN with completion, string OUTS), MMIO writes and
 * reads outside any memslot, writes to a KVM_MEM_READONLY slot, HLT, interrupt injection with
 * KVM_INTERRUPT, an instruction the engine cannot execute (KVM_EXIT_INTERNAL_ERROR), and a triple
 * fault (KVM_EXIT_SHUTDOWN). Guests are flat real-mode code at 0x1000 (cs = ds = ss = 0). Where
 * Linux 6.1 defines what RIP reads at an exit, that is checked too:
 *   - fast PIO (OUT/IN): RIP still points at the instruction; it advances when KVM_RUN is called
 *     again (kvm_fast_pio_out/complete_fast_pio_out, complete_fast_pio_in);
 *   - emulated MMIO write: the instruction is complete (RIP advanced) at the exit;
 *   - emulated MMIO read: RIP points at the instruction until the data is supplied;
 *   - HLT: RIP is past the HLT. */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "softkvm.h"
#include "testlib.h"
#include "vmtest.h"

#define MEM 0x8000 /* slot 0: guest-physical 0 .. 0x8000; 0xa000 is MMIO (no slot) */

static int setup(struct vmt *t, const uint8_t *code, size_t n) {
  if (vmt_init(t, MEM)) return -1;
  memcpy(t->mem + 0x1000, code, n);
  return vmt_real_mode(t, 0x1000, 0x7000);
}

/* ---- OUT and IN, sizes 1/2/4, immediate and DX ports ---- */
static void test_pio(void) {
  static const uint8_t code[] = {
      0xb0, 0x41,                         /* 1000 mov al, 0x41 */
      0xe6, 0x10,                         /* 1002 out 0x10, al */
      0xba, 0xf8, 0x03,                   /* 1004 mov dx, 0x3f8 */
      0xb8, 0xef, 0xbe,                   /* 1007 mov ax, 0xbeef */
      0xef,                               /* 100a out dx, ax */
      0x66, 0xb8, 0xef, 0xbe, 0xad, 0xde, /* 100b mov eax, 0xdeadbeef */
      0x66, 0xef,                         /* 1011 out dx, eax */
      0xb4, 0x12,                         /* 1013 mov ah, 0x12 */
      0xe4, 0x20,                         /* 1015 in al, 0x20 */
      0xe7, 0x21,                         /* 1017 out 0x21, ax */
      0xed,                               /* 1019 in ax, dx */
      0x89, 0xc3,                         /* 101a mov bx, ax */
      0x66, 0xed,                         /* 101c in eax, dx */
      0x66, 0xef,                         /* 101e out dx, eax */
      0xf4,                               /* 1020 hlt */
  };
  struct vmt t;
  if (setup(&t, code, sizeof(code)) == 0) {
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x10, 1, 0x41);
    CHECK_EQ(vmt_regs(&t).rip, 0x1002); /* at the OUT until re-entry */
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x3f8, 2, 0xbeef);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x3f8, 4, 0xdeadbeef);
    EXPECT_IO(&t, KVM_EXIT_IO_IN, 0x20, 1, 0);
    CHECK_EQ(vmt_regs(&t).rip, 0x1015);
    vmt_io_fill(&t, 0x34);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x21, 2, 0x1234); /* IN AL merged into AX */
    EXPECT_IO(&t, KVM_EXIT_IO_IN, 0x3f8, 2, 0);
    vmt_io_fill(&t, 0x5678);
    EXPECT_IO(&t, KVM_EXIT_IO_IN, 0x3f8, 4, 0);
    vmt_io_fill(&t, 0x9abcdef0);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x3f8, 4, 0x9abcdef0);
    EXPECT_HLT(&t);
    struct kvm_regs r = vmt_regs(&t);
    CHECK_EQ(r.rip, 0x1021);
    CHECK_EQ(r.rax, 0x9abcdef0);
    CHECK_EQ(r.rbx, 0x5678);
    CHECK_EQ(r.rdx, 0x3f8);
    struct kvm_mp_state mp = {.mp_state = 0xff}; /* no in-kernel LAPIC: HLT leaves it RUNNABLE */
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_MP_STATE, &mp), 0);
    CHECK_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);
  }
  vmt_fini(&t);
}

/* ---- A pending IN is completed by KVM_RUN even when immediate_exit makes it return EINTR ---- */
static void test_pio_complete_on_immediate_exit(void) {
  static const uint8_t code[] = {
      0xe4, 0x20, /* 1000 in al, 0x20 */
      0xf4,       /* 1002 hlt */
  };
  struct vmt t;
  if (setup(&t, code, sizeof(code)) == 0) {
    EXPECT_IO(&t, KVM_EXIT_IO_IN, 0x20, 1, 0);
    vmt_io_fill(&t, 0x77);
    t.run->immediate_exit = 1;
    CHECK_ERRNO(vmt_run(&t), EINTR);
    struct kvm_regs r = vmt_regs(&t);
    CHECK_EQ(r.rax, 0x77);
    CHECK_EQ(r.rip, 0x1002);
    t.run->immediate_exit = 0;
    EXPECT_HLT(&t);
    CHECK_EQ(vmt_regs(&t).rip, 0x1003);
  }
  vmt_fini(&t);
}

/* ---- rep outsb: one or more exits whose data, concatenated, is the string ---- */
static void test_string_io(void) {
  static const char msg[] = "Hello, softkvm!";
  uint8_t code[64] = {
      0xbe, 0x0d, 0x10, /* 1000 mov si, 0x100d (msg) */
      0xb9, 0x0f, 0x00, /* 1003 mov cx, 15 */
      0xba, 0xe9, 0x00, /* 1006 mov dx, 0xe9 */
      0xfc,             /* 1009 cld */
      0xf3, 0x6e,       /* 100a rep outsb */
      0xf4,             /* 100c hlt */
  };                    /* 100d msg: db "Hello, softkvm!" */
  memcpy(code + 13, msg, 15);
  struct vmt t;
  if (setup(&t, code, 13 + 15) == 0) {
    char got[64] = {0};
    unsigned total = 0, exits = 0;
    int rc;
    while ((rc = vmt_run(&t)) == 0 && t.run->exit_reason == KVM_EXIT_IO && exits < 64) {
      exits++;
      CHECK_EQ(t.run->io.direction, KVM_EXIT_IO_OUT);
      CHECK_EQ(t.run->io.port, 0xe9);
      CHECK_EQ(t.run->io.size, 1);
      CHECK(t.run->io.count >= 1);
      CHECK((uint64_t)t.run->io.data_offset + t.run->io.count <= (uint64_t)t.run_size);
      if (total + t.run->io.count <= 15) memcpy(got + total, vmt_io_data(&t), t.run->io.count);
      total += t.run->io.count;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(t.run->exit_reason, KVM_EXIT_HLT);
    CHECK(exits >= 1 && exits <= 15);
    CHECK_EQ(total, 15);
    CHECK(memcmp(got, msg, 15) == 0);
    struct kvm_regs r = vmt_regs(&t);
    CHECK_EQ(r.rsi, 0x100d + 15);
    CHECK_EQ(r.rcx, 0);
    CHECK_EQ(r.rip, 0x100d);
  }
  vmt_fini(&t);
}

/* ---- MMIO outside any memslot: writes of 1/2/4 bytes, reads completed by the VMM ---- */
static void test_mmio(void) {
  static const uint8_t code[] = {
      0xc6, 0x06, 0x00, 0xa0, 0x5a,                         /* 1000 mov byte [0xa000], 0x5a */
      0xc7, 0x06, 0x02, 0xa0, 0xef, 0xbe,                   /* 1005 mov word [0xa002], 0xbeef */
      0x66, 0xc7, 0x06, 0x04, 0xa0, 0x78, 0x56, 0x34, 0x12, /* 100b mov dword [0xa004], 0x12345678 */
      0xa1, 0x10, 0xa0,                                     /* 1014 mov ax, [0xa010] */
      0xe7, 0x10,                                           /* 1017 out 0x10, ax */
      0x66, 0xa1, 0x20, 0xa0,                               /* 1019 mov eax, [0xa020] */
      0x66, 0xe7, 0x10,                                     /* 101d out 0x10, eax */
      0xf4,                                                 /* 1020 hlt */
  };
  struct vmt t;
  if (setup(&t, code, sizeof(code)) == 0) {
    static const struct { uint64_t addr; uint32_t len; uint8_t data[4]; uint64_t rip; } w[] = {
        {0xa000, 1, {0x5a}, 0x1005},
        {0xa002, 2, {0xef, 0xbe}, 0x100b},
        {0xa004, 4, {0x78, 0x56, 0x34, 0x12}, 0x1014},
    };
    for (unsigned i = 0; i < 3; i++) {
      CHECK_EQ(vmt_run(&t), 0);
      CHECK_EQ(t.run->exit_reason, KVM_EXIT_MMIO);
      CHECK_EQ(t.run->mmio.is_write, 1);
      CHECK_EQ(t.run->mmio.phys_addr, w[i].addr);
      CHECK_EQ(t.run->mmio.len, w[i].len);
      CHECK(memcmp(t.run->mmio.data, w[i].data, w[i].len) == 0);
      CHECK_EQ(vmt_regs(&t).rip, w[i].rip); /* a write exit happens after the instruction */
    }
    CHECK_EQ(vmt_run(&t), 0);
    CHECK_EQ(t.run->exit_reason, KVM_EXIT_MMIO);
    CHECK_EQ(t.run->mmio.is_write, 0);
    CHECK_EQ(t.run->mmio.phys_addr, 0xa010);
    CHECK_EQ(t.run->mmio.len, 2);
    CHECK_EQ(vmt_regs(&t).rip, 0x1014); /* a read waits at the instruction */
    memcpy(t.run->mmio.data, "\x34\x12", 2);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x10, 2, 0x1234);
    CHECK_EQ(vmt_run(&t), 0);
    CHECK_EQ(t.run->exit_reason, KVM_EXIT_MMIO);
    CHECK_EQ(t.run->mmio.is_write, 0);
    CHECK_EQ(t.run->mmio.phys_addr, 0xa020);
    CHECK_EQ(t.run->mmio.len, 4);
    memcpy(t.run->mmio.data, "\x0d\xf0\xfe\xca", 4);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x10, 4, 0xcafef00d);
    EXPECT_HLT(&t);
    CHECK_EQ(vmt_regs(&t).rip, 0x1021);
  }
  vmt_fini(&t);
}

/* ---- KVM_MEM_READONLY: reads see the slot, writes exit as MMIO and change nothing ---- */
static void test_readonly_slot(void) {
  static const uint8_t code[] = {
      0xa0, 0x01, 0xc0,             /* 1000 mov al, [0xc001] */
      0xe6, 0x11,                   /* 1003 out 0x11, al */
      0xc6, 0x06, 0x00, 0xc0, 0x5a, /* 1005 mov byte [0xc000], 0x5a */
      0xa0, 0x00, 0xc0,             /* 100a mov al, [0xc000] */
      0xe6, 0x11,                   /* 100d out 0x11, al */
      0xf4,                         /* 100f hlt */
  };
  struct vmt t;
  uint8_t *ro = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(ro != MAP_FAILED);
  if (ro != MAP_FAILED && setup(&t, code, sizeof(code)) == 0) {
    ro[0] = 0x11;
    ro[1] = 0x22;
    struct kvm_userspace_memory_region r = {.slot = 1, .flags = KVM_MEM_READONLY,
                                            .guest_phys_addr = 0xc000, .memory_size = 0x1000,
                                            .userspace_addr = (uintptr_t)ro};
    CHECK_EQ(skvm_ioctl(t.vm, KVM_SET_USER_MEMORY_REGION, &r), 0);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x11, 1, 0x22);
    CHECK_EQ(vmt_run(&t), 0);
    CHECK_EQ(t.run->exit_reason, KVM_EXIT_MMIO);
    CHECK_EQ(t.run->mmio.is_write, 1);
    CHECK_EQ(t.run->mmio.phys_addr, 0xc000);
    CHECK_EQ(t.run->mmio.len, 1);
    CHECK_EQ(t.run->mmio.data[0], 0x5a);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x11, 1, 0x11); /* the slot still holds 0x11 */
    EXPECT_HLT(&t);
    CHECK_EQ(ro[0], 0x11);
  }
  if (ro != MAP_FAILED) vmt_fini(&t);
  if (ro != MAP_FAILED) munmap(ro, 0x1000);
}

/* ---- KVM_INTERRUPT with a userspace irqchip: delivered through the real-mode IVT ---- */
static void test_interrupt(void) {
  static const uint8_t code[] = {
      0x90,       /* 1000 nop */
      0xf4,       /* 1001 hlt */
      0xb0, 0x20, /* 1002 handler: mov al, 0x20 */
      0xe6, 0x12, /* 1004 out 0x12, al */
      0xf4,       /* 1006 hlt */
  };
  struct vmt t;
  if (setup(&t, code, sizeof(code)) == 0) {
    memcpy(t.mem + 0x20 * 4, "\x02\x10\x00\x00", 4); /* IVT[0x20] = 0000:1002 */
    struct kvm_regs r = vmt_regs(&t);
    r.rflags = 0x202; /* IF */
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_REGS, &r), 0);
    struct kvm_interrupt irq = {.irq = 0x20};
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_INTERRUPT, &irq), 0);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x12, 1, 0x20);
    EXPECT_HLT(&t);
    r = vmt_regs(&t);
    CHECK_EQ(r.rip, 0x1007);
    CHECK_EQ(r.rsp, 0x7000 - 6);
    CHECK_EQ(r.rflags & 0x200, 0); /* IF cleared by delivery */
    uint16_t frame[3];
    memcpy(frame, t.mem + 0x7000 - 6, 6);
    CHECK_EQ(frame[0], 0x1000); /* IP: nothing ran before the injection */
    CHECK_EQ(frame[1], 0);      /* CS */
    CHECK_EQ(frame[2], 0x202);  /* FLAGS */
    struct kvm_sregs s;
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
    CHECK_EQ(s.interrupt_bitmap[0], 0); /* delivered, no longer pending */
  }
  vmt_fini(&t);
}

/* ---- KVM_SET_CPUID2 after KVM_RUN: only an identical table is accepted (kvm_set_cpuid) ---- */
static void test_cpuid_after_run(void) {
  static const uint8_t code[] = {0xf4}; /* 1000 hlt */
  struct vmt t;
  if (setup(&t, code, sizeof(code)) == 0) {
    struct kvm_cpuid2 *c = vmt_supported_cpuid(t.sys);
    CHECK(c != NULL);
    if (c) {
      CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, c), 0);
      EXPECT_HLT(&t);
      CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, c), 0);
      c->entries[0].ebx ^= 1; /* a different vendor string */
      CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, c), EINVAL);
      free(c);
    }
  }
  vmt_fini(&t);
}

/* ---- An instruction the engine does not implement: KVM_EXIT_INTERNAL_ERROR/EMULATION ---- */
static void test_unimplemented(void) {
  static const uint8_t insn[] = {0x62, 0xf1, 0x7c, 0x48, 0x58, 0xc1}; /* vaddps zmm0, zmm0, zmm1 */
  struct vmt t;
  if (setup(&t, insn, sizeof(insn)) == 0) {
    /* 32-bit flat protected mode (KVM_SET_SREGS loads the hidden parts; no GDT needed). */
    struct kvm_sregs s;
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
    struct kvm_segment *sg[] = {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss};
    for (unsigned i = 0; i < 6; i++) {
      sg[i]->selector = i ? 0x10 : 0x08;
      sg[i]->base = 0;
      sg[i]->limit = 0xffffffff;
      sg[i]->type = i ? 3 : 11;
      sg[i]->db = 1;
      sg[i]->g = 1;
      sg[i]->s = 1;
      sg[i]->present = 1;
    }
    s.cr0 = 0x11; /* PE | ET */
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &s), 0);
    CHECK_EQ(vmt_run(&t), 0);
    CHECK_EQ(t.run->exit_reason, KVM_EXIT_INTERNAL_ERROR);
    CHECK_EQ(t.run->emulation_failure.suberror, KVM_INTERNAL_ERROR_EMULATION);
    /* prepare_emulation_failure_exit: data[0] = flags, then insn_size + 15 insn bytes. */
    CHECK(t.run->emulation_failure.ndata >= 3);
    CHECK(t.run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES);
    CHECK(t.run->emulation_failure.insn_size >= sizeof(insn));
    CHECK(t.run->emulation_failure.insn_size <= 15);
    CHECK(memcmp(t.run->emulation_failure.insn_bytes, insn, sizeof(insn)) == 0);
    CHECK_EQ(vmt_regs(&t).rip, 0x1000);
  }
  vmt_fini(&t);
}

/* ---- Triple fault: INT3 with an IVT limit of 0 -> #GP -> #DF -> shutdown ---- */
static void test_triple_fault(void) {
  static const uint8_t code[] = {0xcc}; /* 1000 int3 */
  struct vmt t;
  if (setup(&t, code, sizeof(code)) == 0) {
    struct kvm_sregs s;
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
    s.idt.base = 0;
    s.idt.limit = 0;
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &s), 0);
    CHECK_EQ(vmt_run(&t), 0);
    CHECK_EQ(t.run->exit_reason, KVM_EXIT_SHUTDOWN);
  }
  vmt_fini(&t);
}

int main(void) {
  alarm(100);
  test_pio();
  test_pio_complete_on_immediate_exit();
  test_string_io();
  test_mmio();
  test_readonly_slot();
  test_interrupt();
  test_cpuid_after_run();
  test_unimplemented();
  test_triple_fault();
  return test_summary();
}
