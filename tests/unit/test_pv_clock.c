/* KVM paravirt and Hyper-V through the KVM ABI (kvm_pv.c, hyperv.c), with tiny 32-bit guests:
 * - kvmclock: the guest enables MSR_KVM_SYSTEM_TIME_NEW and computes the time from the pvclock
 *   page and RDTSC; it lies between KVM_GET_CLOCK before and after, advances, and follows
 *   KVM_SET_CLOCK (also with KVM_CLOCK_REALTIME);
 * - hypercalls: the KVM CPUID leaves, KVM_HC_SCHED_YIELD, an unknown call (-KVM_ENOSYS),
 *   VMMCALL patched to VMCALL by the fix-hypercall quirk, #UD with the quirk disabled, and
 *   KVM_CAP_ENFORCE_PV_FEATURE_CPUID;
 * - Hyper-V: the hypercall page, an invalid hypercall code, and the reference TSC page agreeing
 *   with HV_X64_MSR_TIME_REF_COUNT, before and after KVM_SET_CLOCK. */
#include <asm/kvm_para.h>
#include <errno.h>
#include <stdbool.h>
#include <time.h>

#include "vmtest.h"

#define CODE 0x1000
#define OUT 0x3000   /* where the guests store their results */

/* 32-bit flat protected mode, no paging, CPL 0 */
static int prot_mode(struct vmt *t, uint64_t rip)
{
  struct kvm_sregs s;
  if (skvm_ioctl(t->vcpu, KVM_GET_SREGS, &s)) return -1;
  vmt_flat_seg(&s.cs, 8, 11, 0, 1);
  struct kvm_segment *d[] = { &s.ds, &s.es, &s.fs, &s.gs, &s.ss };
  for (int i = 0; i < 5; i++) vmt_flat_seg(d[i], 16, 3, 0, 1);
  s.cr0 |= 1;
  if (skvm_ioctl(t->vcpu, KVM_SET_SREGS, &s)) return -1;
  return vmt_set_entry(t->vcpu, rip, 0x8000);
}

static int run_to_port(struct vmt *t, int port)
{
  int rc = vmt_run(t);
  CHECK_EQ(rc, 0);
  CHECK_EQ(t->run->exit_reason, KVM_EXIT_IO);
  CHECK_EQ(t->run->io.port, port);
  return rc == 0 && t->run->exit_reason == KVM_EXIT_IO && t->run->io.port == port ? 0 : -1;
}

static uint64_t now_ns(clockid_t id)
{
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const uint8_t clock_guest[] = {   /* wrmsr(SYSTEM_TIME_NEW, 0x2001); loop { OUT = pvclock read; out 0x10 } */
  0xb9, 0x01, 0x4d, 0x56, 0x4b, 0xb8, 0x01, 0x20, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0x8b, 0x35, 0x00, 0x20,
  0x00, 0x00, 0x0f, 0x31, 0x2b, 0x05, 0x08, 0x20, 0x00, 0x00, 0x1b, 0x15, 0x0c, 0x20, 0x00, 0x00, 0x03, 0x05,
  0x10, 0x20, 0x00, 0x00, 0x13, 0x15, 0x14, 0x20, 0x00, 0x00, 0xa3, 0x00, 0x30, 0x00, 0x00, 0x89, 0x15, 0x04,
  0x30, 0x00, 0x00, 0x89, 0x35, 0x08, 0x30, 0x00, 0x00, 0xe6, 0x10, 0xeb, 0xcb,
};

/* runs the clock guest once; checks its reading against KVM_GET_CLOCK around the run */
static uint64_t clock_round(struct vmt *t)
{
  struct kvm_clock_data a, b;
  CHECK_EQ(skvm_ioctl(t->vm, KVM_GET_CLOCK, &a), 0);
  if (run_to_port(t, 0x10)) return 0;
  CHECK_EQ(skvm_ioctl(t->vm, KVM_GET_CLOCK, &b), 0);
  uint64_t guest = vmt_get64(t, OUT);
  CHECK(a.clock <= guest && guest <= b.clock);
  CHECK_EQ(vmt_get32(t, OUT + 8) & 1, 0);                     /* the version the guest saw is even */
  CHECK_EQ(a.flags & (KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC), KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC);
  return guest;
}

static void test_kvmclock(void)
{
  struct vmt t;
  if (vmt_init(&t, 0x10000) || vmt_set_cpuid(&t)) goto out;
  CHECK_EQ(skvm_ioctl(t.sys, KVM_CHECK_EXTENSION, (void *)KVM_CAP_ADJUST_CLOCK),
           KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC);
  memcpy(t.mem + CODE, clock_guest, sizeof(clock_guest));
  if (prot_mode(&t, CODE)) goto out;

  uint64_t t1 = clock_round(&t);
  CHECK_EQ(vmt_get32(&t, 0x2018), 0x80000000u);              /* 1 ns per TSC tick: mul 2^31 ... */
  CHECK_EQ(t.mem[0x201c], 1);                                /* ... shift 1 */
  CHECK(t.mem[0x201d] & 1);                                  /* PVCLOCK_TSC_STABLE_BIT */
  uint64_t t2 = clock_round(&t);
  CHECK(t2 > t1);

  /* KVM_SET_CLOCK: the page follows on the next entry */
  uint32_t version = vmt_get32(&t, 0x2000);
  struct kvm_clock_data c = { .clock = 1000000000000ULL };
  CHECK_EQ(skvm_ioctl(t.vm, KVM_SET_CLOCK, &c), 0);
  uint64_t t3 = clock_round(&t);
  CHECK(t3 >= 1000000000000ULL && t3 < 1000000000000ULL + 5000000000ULL);
  CHECK(vmt_get32(&t, 0x2000) > version);

  /* KVM_CLOCK_REALTIME: the time since userspace sampled realtime is added */
  c = (struct kvm_clock_data){ .clock = 0, .flags = KVM_CLOCK_REALTIME,
                               .realtime = now_ns(CLOCK_REALTIME) - 7000000000ULL };
  CHECK_EQ(skvm_ioctl(t.vm, KVM_SET_CLOCK, &c), 0);
  uint64_t t4 = clock_round(&t);
  CHECK(t4 >= 7000000000ULL && t4 < 12000000000ULL);

  /* a GET_CLOCK result goes back unchanged; unknown flags do not */
  CHECK_EQ(skvm_ioctl(t.vm, KVM_GET_CLOCK, &c), 0);
  CHECK_EQ(skvm_ioctl(t.vm, KVM_SET_CLOCK, &c), 0);
  c.flags = 1;
  CHECK_EQ(skvm_ioctl(t.vm, KVM_SET_CLOCK, &c), -1);
  CHECK_EQ(errno, EINVAL);
out:
  vmt_fini(&t);
}

static const uint8_t hc_guest[] = {   /* CPUID 0x40000000/1; vmcall(11), vmcall(0xbeef), vmmcall(11); out 0x10 */
  0xb8, 0x00, 0x00, 0x00, 0x40, 0x0f, 0xa2, 0xa3, 0x10, 0x30, 0x00, 0x00, 0x89, 0x1d, 0x14, 0x30, 0x00, 0x00,
  0xb8, 0x01, 0x00, 0x00, 0x40, 0x0f, 0xa2, 0xa3, 0x18, 0x30, 0x00, 0x00, 0xb8, 0x0b, 0x00, 0x00, 0x00, 0x31,
  0xdb, 0x0f, 0x01, 0xc1, 0xa3, 0x00, 0x30, 0x00, 0x00, 0xb8, 0xef, 0xbe, 0x00, 0x00, 0x0f, 0x01, 0xc1, 0xa3,
  0x04, 0x30, 0x00, 0x00, 0xb8, 0x0b, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xd9, 0xa3, 0x08, 0x30, 0x00, 0x00, 0xe6,
  0x10, 0xf4, 0xe6, 0x11, 0xf4,
};
#define HC_PATCH (CODE + 0x3f)   /* the VMMCALL */
#define HC_UD (CODE + 0x4a)      /* #UD handler: out 0x11 */

/* one run of the hypercall guest; quirk: 0 = default, 1 = fix-hypercall disabled; enforce: PV
 * features enforced with KVM_CPUID_FEATURES cleared */
static void hypercall_case(bool disable_quirk, bool enforce)
{
  struct vmt t;
  if (vmt_init(&t, 0x10000)) goto out;
  struct kvm_cpuid2 *cpuid = vmt_supported_cpuid(t.sys);
  CHECK(cpuid != NULL);
  if (!cpuid) goto out;
  for (uint32_t i = 0; i < cpuid->nent; i++)
    if (enforce && cpuid->entries[i].function == KVM_CPUID_FEATURES) cpuid->entries[i].eax = 0;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, cpuid), 0);
  free(cpuid);
  if (disable_quirk) {
    CHECK(skvm_ioctl(t.sys, KVM_CHECK_EXTENSION, (void *)KVM_CAP_DISABLE_QUIRKS2) & KVM_X86_QUIRK_FIX_HYPERCALL_INSN);
    struct kvm_enable_cap cap = { .cap = KVM_CAP_DISABLE_QUIRKS2, .args = { KVM_X86_QUIRK_FIX_HYPERCALL_INSN } };
    CHECK_EQ(skvm_ioctl(t.vm, KVM_ENABLE_CAP, &cap), 0);
  }
  if (enforce) {
    struct kvm_enable_cap cap = { .cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .args = { 1 } };
    CHECK_EQ(skvm_ioctl(t.vcpu, KVM_ENABLE_CAP, &cap), 0);
  }
  memcpy(t.mem + CODE, hc_guest, sizeof(hc_guest));
  /* IDT at 0x4000: vector 6 (#UD) -> HC_UD, a 32-bit interrupt gate */
  uint64_t gate = (HC_UD & 0xffff) | (8ULL << 16) | (0x8eULL << 40) | ((uint64_t)(HC_UD >> 16) << 48);
  vmt_put64(&t, 0x4000 + 6 * 8, gate);
  if (prot_mode(&t, CODE)) goto out;
  struct kvm_sregs s;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
  s.idt.base = 0x4000, s.idt.limit = 0x7f;
  vmt_put64(&t, 0x4808, 0x00cf9b000000ffffULL);   /* GDT at 0x4800: the code segment delivery loads */
  vmt_put64(&t, 0x4810, 0x00cf93000000ffffULL);
  s.gdt.base = 0x4800, s.gdt.limit = 23;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &s), 0);

  int rc = vmt_run(&t);
  CHECK_EQ(rc, 0);
  CHECK_EQ(t.run->exit_reason, KVM_EXIT_IO);
  CHECK_EQ(vmt_get32(&t, OUT + 0x10), KVM_CPUID_FEATURES);  /* 0x40000000: max leaf, "KVMK" */
  CHECK_EQ(vmt_get32(&t, OUT + 0x14), 0x4b4d564b);
  if (enforce) CHECK_EQ(vmt_get32(&t, OUT + 0x18), 0);   /* the cleared features leaf */
  CHECK(enforce || (vmt_get32(&t, OUT + 0x18) & (1u << KVM_FEATURE_PV_SCHED_YIELD)));
  CHECK_EQ(vmt_get32(&t, OUT), enforce ? (uint32_t)-1000 : 0);   /* SCHED_YIELD: 0 or -KVM_ENOSYS */
  CHECK_EQ(vmt_get32(&t, OUT + 4), (uint32_t)-1000);             /* unknown: -KVM_ENOSYS */
  const uint8_t vmcall[3] = { 0x0f, 0x01, 0xc1 }, vmmcall[3] = { 0x0f, 0x01, 0xd9 };
  if (disable_quirk) {   /* #UD reached the guest; nothing patched */
    CHECK_EQ(t.run->io.port, 0x11);
    CHECK(!memcmp(t.mem + HC_PATCH, vmmcall, 3));
  } else {               /* patched to VMCALL and executed */
    CHECK_EQ(t.run->io.port, 0x10);
    CHECK(!memcmp(t.mem + HC_PATCH, vmcall, 3));
    CHECK_EQ(vmt_get32(&t, OUT + 8), enforce ? (uint32_t)-1000 : 0);
  }
out:
  vmt_fini(&t);
}

static const uint8_t hv_guest[] = {   /* OS id; hypercall page 0x6000; TSC page 0x5000; call 0xbeef; loop { rdtsc, TIME_REF_COUNT; out 0x10 } */
  0xb9, 0x00, 0x00, 0x00, 0x40, 0xba, 0x00, 0x00, 0x00, 0x81, 0x31, 0xc0, 0x0f, 0x30, 0xb9, 0x01, 0x00, 0x00,
  0x40, 0xb8, 0x01, 0x60, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30, 0xb9, 0x21, 0x00, 0x00, 0x40, 0xb8, 0x01, 0x50,
  0x00, 0x00, 0x0f, 0x30, 0xb8, 0xef, 0xbe, 0x00, 0x00, 0x31, 0xd2, 0x31, 0xdb, 0x31, 0xc9, 0x31, 0xff, 0x31,
  0xf6, 0xff, 0x15, 0x6b, 0x10, 0x00, 0x00, 0xa3, 0x10, 0x30, 0x00, 0x00, 0x89, 0x15, 0x14, 0x30, 0x00, 0x00,
  0x0f, 0x31, 0xa3, 0x00, 0x30, 0x00, 0x00, 0x89, 0x15, 0x04, 0x30, 0x00, 0x00, 0xb9, 0x20, 0x00, 0x00, 0x40,
  0x0f, 0x32, 0xa3, 0x08, 0x30, 0x00, 0x00, 0x89, 0x15, 0x0c, 0x30, 0x00, 0x00, 0xe6, 0x10, 0xeb, 0xdd, 0x00,
  0x60, 0x00, 0x00,
};

/* the reference time the TSC page gives for the guest's RDTSC, and TIME_REF_COUNT read after it */
static void tsc_page_check(struct vmt *t, uint64_t *page_time)
{
  CHECK(vmt_get32(t, 0x5000) != 0);   /* tsc_sequence: the page is valid */
  uint64_t tsc = vmt_get64(t, OUT), msr = vmt_get64(t, OUT + 8);
  uint64_t ref = (uint64_t)(((unsigned __int128)tsc * vmt_get64(t, 0x5008)) >> 64) + vmt_get64(t, 0x5010);
  CHECK(ref <= msr && msr - ref < 100000);   /* within 10 ms, never ahead */
  *page_time = ref;
}

static void test_hyperv(void)
{
  struct vmt t;
  if (vmt_init(&t, 0x10000)) goto out;
  CHECK_EQ(skvm_ioctl(t.sys, KVM_CHECK_EXTENSION, (void *)KVM_CAP_HYPERV_TIME), 1);
  /* the supported CPUID with Hyper-V's leaves in place of KVM's, as the selftests build it */
  struct kvm_cpuid2 *c = vmt_supported_cpuid(t.sys);
  struct kvm_cpuid2 *hv = calloc(1, sizeof(*hv) + 16 * sizeof(hv->entries[0]));
  CHECK(c && hv);
  if (!c || !hv) goto out;
  hv->nent = 1;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SUPPORTED_HV_CPUID, hv), -1);
  CHECK_EQ(errno, E2BIG);
  hv->nent = 16;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SUPPORTED_HV_CPUID, hv), 0);
  CHECK_EQ(hv->nent, 10);
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->nent; i++)
    if (c->entries[i].function < 0x40000000 || c->entries[i].function >= 0x40000100) c->entries[n++] = c->entries[i];
  memcpy(&c->entries[n], hv->entries, hv->nent * sizeof(hv->entries[0]));
  c->nent = n + hv->nent;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_CPUID2, c), 0);
  free(c);
  free(hv);

  memcpy(t.mem + CODE, hv_guest, sizeof(hv_guest));
  if (prot_mode(&t, CODE)) goto out;
  if (run_to_port(&t, 0x10)) goto out;
  const uint8_t page[4] = { 0x0f, 0x01, 0xc1, 0xc3 };   /* VMCALL; RET */
  CHECK(!memcmp(t.mem + 0x6000, page, 4));
  CHECK_EQ(vmt_get64(&t, OUT + 0x10), 2);               /* HV_STATUS_INVALID_HYPERCALL_CODE */
  uint64_t p1, p2, p3;
  tsc_page_check(&t, &p1);
  if (run_to_port(&t, 0x10)) goto out;
  tsc_page_check(&t, &p2);
  CHECK(p2 >= p1);

  /* KVM_SET_CLOCK: the page is rewritten on the next entry */
  uint64_t offset = vmt_get64(&t, 0x5010);
  struct kvm_clock_data clk = { .clock = 0 };
  CHECK_EQ(skvm_ioctl(t.vm, KVM_SET_CLOCK, &clk), 0);
  if (run_to_port(&t, 0x10)) goto out;
  tsc_page_check(&t, &p3);
  CHECK(p3 < 100000);                                    /* 10 ms after zero */
  CHECK(vmt_get64(&t, 0x5010) != offset);
out:
  vmt_fini(&t);
}

int main(void)
{
  test_kvmclock();
  hypercall_case(false, false);
  hypercall_case(true, false);
  hypercall_case(false, true);
  test_hyperv();
  return test_summary();
}
