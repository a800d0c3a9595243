/* A guest set up the way the Linux KVM selftests (tools/testing/selftests/kvm, lib/x86_64/processor.c)
 * do it, using nothing but the KVM ABI: anonymous guest memory registered with
 * KVM_SET_USER_MEMORY_REGION, 4-level identity page tables (a 2 MiB page plus a 4 KiB page table that
 * aliases other memory), a GDT (null, code, data, TSS) and a TSS in guest memory, KVM_SET_SREGS
 * straight into 64-bit mode, KVM_SET_CPUID2 from KVM_GET_SUPPORTED_CPUID, KVM_SET_REGS, then KVM_RUN
 * of hand-assembled code that reports through port I/O. Every exit is checked in order, then the
 * final registers and memory. A second guest runs the same kind of program in 32-bit protected mode
 * (flat segments, no paging). */
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

#define GUEST_MEM 0x200000 /* 2 MiB at guest-physical 0 */
#define GDT_GPA 0x500
#define TSS_GPA 0x600
#define PML4_GPA 0x2000
#define PDPT_GPA 0x3000
#define PD_GPA 0x4000
#define PT_GPA 0x5000
#define CODE_GPA 0x8000
#define STACK_TOP 0x20000

#define PTE_P 0x1ULL
#define PTE_RW 0x2ULL
#define PTE_A 0x20ULL
#define PTE_D 0x40ULL
#define PTE_PS 0x80ULL

/* The GDT descriptor of a kvm_segment: each flat segment (vmt_flat_seg, as kvm_seg_set_kernel_code_64bit
 * and friends make them) goes both to KVM_SET_SREGS and, as this, to guest memory. */
static uint64_t desc(const struct kvm_segment *s) {
  uint64_t lim = s->g ? s->limit >> 12 : s->limit;
  uint64_t d = (lim & 0xffff) | ((s->base & 0xffffff) << 16);
  d |= (uint64_t)(s->type | (s->s << 4) | (s->dpl << 5) | (s->present << 7)) << 40;
  d |= ((lim >> 16) & 0xf) << 48;
  d |= (uint64_t)((s->avl) | (s->l << 1) | (s->db << 2) | (s->g << 3)) << 52;
  d |= ((s->base >> 24) & 0xff) << 56;
  return d;
}

/* Common part: GDT with null, code 0x08, data 0x10, TSS 0x18 (16 bytes in long mode). */
static void setup_gdt(struct vmt *t, struct kvm_sregs *s, int long_mode) {
  vmt_flat_seg(&s->cs, 0x08, 11, long_mode, !long_mode);
  vmt_flat_seg(&s->ds, 0x10, 3, 0, 1);
  s->es = s->fs = s->gs = s->ss = s->ds;
  memset(&s->tr, 0, sizeof(s->tr));
  s->tr.selector = 0x18;
  s->tr.base = TSS_GPA;
  s->tr.limit = 0x67;
  s->tr.type = 11; /* busy TSS (64-bit in long mode, 32-bit otherwise) */
  s->tr.present = 1;
  memset(&s->ldt, 0, sizeof(s->ldt));
  s->ldt.unusable = 1; /* kvm_seg_set_unusable */
  vmt_put64(t, GDT_GPA + 0x00, 0);
  vmt_put64(t, GDT_GPA + 0x08, desc(&s->cs));
  vmt_put64(t, GDT_GPA + 0x10, desc(&s->ds));
  vmt_put64(t, GDT_GPA + 0x18, desc(&s->tr));
  vmt_put64(t, GDT_GPA + 0x20, 0); /* TSS base 63:32 (long mode) */
  s->gdt.base = GDT_GPA;
  s->gdt.limit = long_mode ? 0x27 : 0x1f;
  memset(t->mem + TSS_GPA, 0, 0x68);
  s->idt.base = 0;
  s->idt.limit = 0;
}

static int start(struct vmt *t, const uint8_t *code, size_t n, int long_mode) {
  if (vmt_init(t, GUEST_MEM)) return -1;
  if (vmt_set_cpuid(t)) return -1;
  memcpy(t->mem + CODE_GPA, code, n);
  struct kvm_sregs s;
  if (skvm_ioctl(t->vcpu, KVM_GET_SREGS, &s)) { CHECK(0); return -1; }
  setup_gdt(t, &s, long_mode);
  if (long_mode) {
    /* PML4[0] -> PDPT[0] -> PD; PD[0] = 2 MiB identity page; PD[1] -> PT, whose 4 KiB pages map
     * virtual 0x200000 + i*4K onto physical 0x10000 + i*4K (an alias of identity-mapped memory). */
    vmt_put64(t, PML4_GPA, PDPT_GPA | PTE_P | PTE_RW);
    vmt_put64(t, PDPT_GPA, PD_GPA | PTE_P | PTE_RW);
    vmt_put64(t, PD_GPA + 0, 0 | PTE_PS | PTE_P | PTE_RW);
    vmt_put64(t, PD_GPA + 8, PT_GPA | PTE_P | PTE_RW);
    for (uint64_t i = 0; i < 16; i++) vmt_put64(t, PT_GPA + i * 8, (0x10000 + i * 0x1000) | PTE_P | PTE_RW);
    s.cr0 = 0x80050033; /* PE MP ET NE WP AM PG */
    s.cr4 = 0x620;      /* PAE OSFXSR OSXMMEXCPT */
    s.efer = 0x500;     /* LME LMA */
    s.cr3 = PML4_GPA;
  } else {
    s.cr0 = 0x31; /* PE ET NE */
    s.cr4 = 0;
    s.efer = 0;
    s.cr3 = 0;
  }
  int rc = skvm_ioctl(t->vcpu, KVM_SET_SREGS, &s);
  CHECK_EQ(rc, 0);
  if (rc) return -1;
  struct kvm_sregs g;
  CHECK_EQ(skvm_ioctl(t->vcpu, KVM_GET_SREGS, &g), 0);
  CHECK_EQ(g.cr0, s.cr0);
  CHECK_EQ(g.efer, s.efer);
  CHECK_EQ(g.cs.l, s.cs.l);
  return vmt_set_entry(t->vcpu, CODE_GPA, STACK_TOP);
}

static void test_long_mode(void) {
  static const uint8_t code[] = {
      0x66, 0xba, 0x00, 0x10,                   /* 8000 mov dx, 0x1000 */
      0xb8, 0x78, 0x56, 0x34, 0x12,             /* 8004 mov eax, 0x12345678 */
      0xef,                                     /* 8009 out dx, eax */
      0x48, 0xb8, 0x88, 0x77, 0x66, 0x55,
      0x44, 0x33, 0x22, 0x11,                   /* 800a mov rax, 0x1122334455667788 */
      0x48, 0x89, 0xc3,                         /* 8014 mov rbx, rax */
      0x48, 0xc1, 0xe8, 0x20,                   /* 8017 shr rax, 32 */
      0xef,                                     /* 801b out dx, eax */
      0x89, 0xd8,                               /* 801c mov eax, ebx */
      0xef,                                     /* 801e out dx, eax */
      0x31, 0xc0,                               /* 801f xor eax, eax */
      0xb9, 0x64, 0x00, 0x00, 0x00,             /* 8021 mov ecx, 100 */
      0x01, 0xc8,                               /* 8026 .l: add eax, ecx */
      0xe2, 0xfc,                               /* 8028 loop .l */
      0xef,                                     /* 802a out dx, eax */
      0x53,                                     /* 802b push rbx */
      0xe8, 0x24, 0x00, 0x00, 0x00,             /* 802c call func (8055) */
      0x59,                                     /* 8031 pop rcx */
      0xef,                                     /* 8032 out dx, eax */
      0xbf, 0x10, 0x00, 0x20, 0x00,             /* 8033 mov edi, 0x200010 */
      0xc7, 0x07, 0xbe, 0xba, 0xfe, 0xca,       /* 8038 mov dword [rdi], 0xcafebabe */
      0x8b, 0x04, 0x25, 0x10, 0x00, 0x01, 0x00, /* 803e mov eax, [0x10010] */
      0xef,                                     /* 8045 out dx, eax */
      0x66, 0xb8, 0xef, 0xbe,                   /* 8046 mov ax, 0xbeef */
      0x66, 0xba, 0x02, 0x10,                   /* 804a mov dx, 0x1002 */
      0x66, 0xef,                               /* 804e out dx, ax */
      0xb0, 0x5a,                               /* 8050 mov al, 0x5a */
      0xe6, 0x80,                               /* 8052 out 0x80, al */
      0xf4,                                     /* 8054 hlt */
      0x8b, 0x44, 0x24, 0x08,                   /* 8055 func: mov eax, [rsp+8] */
      0xff, 0xc0,                               /* 8059 inc eax */
      0xc3,                                     /* 805b ret */
  };
  struct vmt t;
  if (start(&t, code, sizeof(code), 1) == 0) {
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 0x12345678);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 0x11223344);   /* high half of the imm64 */
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 0x55667788);   /* low half */
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 5050);         /* 100 + 99 + ... + 1 */
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 0x55667789);   /* via push/call/[rsp+8]/ret/pop */
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 0xcafebabe);   /* stored via the 4 KiB alias */
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1002, 2, 0xbeef);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x80, 1, 0x5a);
    EXPECT_HLT(&t);
    struct kvm_regs r = vmt_regs(&t);
    CHECK_EQ(r.rip, 0x8055);
    CHECK_EQ(r.rax, 0xcafebe5a);
    CHECK_EQ(r.rbx, 0x1122334455667788ULL);
    CHECK_EQ(r.rcx, 0x1122334455667788ULL);
    CHECK_EQ(r.rdx, 0x1002);
    CHECK_EQ(r.rdi, 0x200010);
    CHECK_EQ(r.rsp, STACK_TOP);
    CHECK_EQ(r.rflags, 0x2); /* last flag writer: inc 0x55667788 -> all clear, CF 0 from add */
    CHECK_EQ(r.rsi | r.rbp | r.r8 | r.r15, 0);
    CHECK_EQ(vmt_get32(&t, 0x10010), 0xcafebabe);
    CHECK_EQ(vmt_get64(&t, STACK_TOP - 8), 0x1122334455667788ULL); /* pushed rbx */
    CHECK_EQ(vmt_get64(&t, STACK_TOP - 16), 0x8031);               /* return address */
    /* The walker set Accessed on every level it used and Dirty on the written 4 KiB page. */
    CHECK(vmt_get64(&t, PML4_GPA) & PTE_A);
    CHECK(vmt_get64(&t, PDPT_GPA) & PTE_A);
    CHECK(vmt_get64(&t, PD_GPA + 8) & PTE_A);
    CHECK_EQ(vmt_get64(&t, PT_GPA) & (PTE_A | PTE_D), PTE_A | PTE_D);
    CHECK_EQ(vmt_get64(&t, PT_GPA + 8) & (PTE_A | PTE_D), 0); /* never touched */
    struct kvm_sregs s;
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
    CHECK_EQ(s.efer, 0x500);
    CHECK_EQ(s.cs.selector, 0x08);
    CHECK_EQ(s.cs.l, 1);
    CHECK_EQ(s.cr3, PML4_GPA);
  }
  vmt_fini(&t);
}

static void test_protected_mode(void) {
  static const uint8_t code[] = {
      0x66, 0xba, 0x00, 0x10,             /* 8000 mov dx, 0x1000 */
      0xb8, 0x78, 0x56, 0x34, 0x12,       /* 8004 mov eax, 0x12345678 */
      0xef,                               /* 8009 out dx, eax */
      0x31, 0xc0,                         /* 800a xor eax, eax */
      0xb9, 0x64, 0x00, 0x00, 0x00,       /* 800c mov ecx, 100 */
      0x01, 0xc8,                         /* 8011 .l: add eax, ecx */
      0xe2, 0xfc,                         /* 8013 loop .l */
      0xef,                               /* 8015 out dx, eax */
      0x68, 0x88, 0x77, 0x66, 0x55,       /* 8016 push dword 0x55667788 */
      0xe8, 0x17, 0x00, 0x00, 0x00,       /* 801b call func (8037) */
      0x59,                               /* 8020 pop ecx */
      0xef,                               /* 8021 out dx, eax */
      0xc7, 0x05, 0x10, 0x00, 0x01, 0x00,
      0xbe, 0xba, 0xfe, 0xca,             /* 8022 mov dword [0x10010], 0xcafebabe */
      0xa1, 0x10, 0x00, 0x01, 0x00,       /* 802c mov eax, [0x10010] */
      0xef,                               /* 8031 out dx, eax */
      0xb0, 0x5a,                         /* 8032 mov al, 0x5a */
      0xe6, 0x80,                         /* 8034 out 0x80, al */
      0xf4,                               /* 8036 hlt */
      0x8b, 0x44, 0x24, 0x04,             /* 8037 func: mov eax, [esp+4] */
      0x40,                               /* 803b inc eax */
      0xc3,                               /* 803c ret */
  };
  struct vmt t;
  if (start(&t, code, sizeof(code), 0) == 0) {
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 0x12345678);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 5050);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 0x55667789);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x1000, 4, 0xcafebabe);
    EXPECT_IO(&t, KVM_EXIT_IO_OUT, 0x80, 1, 0x5a);
    EXPECT_HLT(&t);
    struct kvm_regs r = vmt_regs(&t);
    CHECK_EQ(r.rip, 0x8037);
    CHECK_EQ(r.rax, 0xcafeba5a);
    CHECK_EQ(r.rcx, 0x55667788);
    CHECK_EQ(r.rdx, 0x1000);
    CHECK_EQ(r.rsp, STACK_TOP);
    CHECK_EQ(r.rflags, 0x2);
    CHECK_EQ(vmt_get32(&t, 0x10010), 0xcafebabe);
    CHECK_EQ(vmt_get32(&t, STACK_TOP - 4), 0x55667788);
    CHECK_EQ(vmt_get32(&t, STACK_TOP - 8), 0x8020);
    struct kvm_sregs s;
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
    CHECK_EQ(s.cr0, 0x31);
    CHECK_EQ(s.cs.db, 1);
    CHECK_EQ(s.efer, 0);
  }
  vmt_fini(&t);
}

int main(void) {
  alarm(100);
  test_long_mode();
  test_protected_mode();
  return test_summary();
}
