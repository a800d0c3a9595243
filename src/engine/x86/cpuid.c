/* CPUID: the features the engine really implements, and lookup in the guest's KVM_SET_CPUID2 table. */
#include <string.h>

#include "engine.h"
#include "xstate.h"

/* leaf 1 EDX: FPU MMX PSE TSC MSR PAE CX8 APIC SEP MTRR PGE CMOV PAT CLFSH FXSR SSE SSE2 (APIC: as
 * KVM, the bit is offered; a VMM without KVM_CREATE_IRQCHIP clears it) */
#define L1_EDX ((1u << 0) | (1u << 23) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 9) | (1u << 11) | (1u << 12) | (1u << 13) | \
                (1u << 15) | (1u << 16) | (1u << 19) | (1u << 24) | (1u << 25) | (1u << 26))
/* leaf 1 ECX: SSE3 SSSE3 CX16 PCID SSE4.1 SSE4.2 x2APIC MOVBE POPCNT TSC-deadline XSAVE RDRAND hypervisor
 * (x2APIC: as KVM, offered always, for the in-kernel LAPIC; OSXSAVE is CR4.OSXSAVE, filled in by
 * x86_cpuid as KVM's kvm_update_cpuid_runtime does) */
#define L1_ECX ((1u << 0) | (1u << 9) | (1u << 13) | (1u << 17) | (1u << 19) | (1u << 20) | (1u << 21) | (1u << 22) | (1u << 23) | \
                (1u << 24) | (1u << 26) | (1u << 30) | (1u << 31))
#define L1_ECX_OSXSAVE (1u << 27)
/* leaf 7.0 EBX: TSC_ADJUST BMI1 BMI2 INVPCID RDSEED ADX CLFLUSHOPT CLWB */
#define L7_EBX ((1u << 1) | (1u << 3) | (1u << 8) | (1u << 10) | (1u << 18) | (1u << 19) | (1u << 23) | (1u << 24))
#define L7_EDX (1u << 29)   /* IA32_ARCH_CAPABILITIES (msr.c) */
#define X1_EDX ((1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29))   /* SYSCALL, NX, 1 GiB pages, RDTSCP, LM */
#define X1_ECX ((1u << 0) | (1u << 5))     /* LAHF/SAHF in 64-bit mode, LZCNT (ABM) */

static const struct kvm_cpuid_entry2 supported[] = {
  { .function = 0, .eax = 0x16, .ebx = 0x756e6547, .edx = 0x49656e69, .ecx = 0x6c65746e }, /* GenuineIntel */
  { .function = 1, .eax = 0x00000663, .ebx = 0x00000800, .ecx = L1_ECX, .edx = L1_EDX },
  { .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = L7_EBX, .edx = L7_EDX },
  /* XSAVE: XCR0 may hold x87|SSE, 576-byte area; sub-leaf 1: XSAVEOPT, XSAVEC, XGETBV with ECX=1,
   * XSAVES; EBX: the compacted size for XCR0 | XSS (576 too); ECX:EDX: no IA32_XSS bits */
  { .function = 0xd, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = XCR0_SUPPORTED,
    .ebx = XSAVE_SIZE, .ecx = XSAVE_SIZE },
  { .function = 0xd, .index = 1, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0xf, .ebx = XSAVE_SIZE },
  /* the TSC and the LAPIC timer run at 1 GHz: a 1 GHz crystal (TSC = ECX * EBX / EAX), so Linux
   * needs no calibration; leaf 0x16: base, max and bus frequency in MHz */
  { .function = 0x15, .eax = 1, .ebx = 1, .ecx = 1000000000 },
  { .function = 0x16, .eax = 1000, .ebx = 1000, .ecx = 1000 },
  { .function = 0x80000000, .eax = 0x80000008 },
  /* invariant TSC: the TSC is the host monotonic clock. With TSC_ADJUST and a known frequency,
   * Linux trusts it without a clocksource watchdog */
  { .function = 0x80000007, .edx = 1u << 8 },
  { .function = 0x80000001, .ecx = X1_ECX, .edx = X1_EDX },
  { .function = 0x80000008, .eax = 0x302e },  /* 46 physical, 48 linear address bits */
};

/* SSSE3/SSE4.1/SSE4.2 run on the host (exec_sse4.c): not offered where the host lacks them */
static uint32_t l1_ecx_missing(void)
{
  return (x86_host_has_sse4(FEAT_SSSE3) ? 0 : 1u << 9) | (x86_host_has_sse4(FEAT_SSE41) ? 0 : 1u << 19) |
         (x86_host_has_sse4(FEAT_SSE42) ? 0 : 1u << 20);
}

int x86_supported_cpuid(struct kvm_cpuid_entry2 *out, int max)
{
  int n = sizeof(supported) / sizeof(supported[0]);
  if (out) {
    if (max < n) return -1;
    memcpy(out, supported, sizeof(supported));
    for (int i = 0; i < n; i++)
      if (out[i].function == 1) out[i].ecx &= ~l1_ecx_missing();
  }
  return n;
}

void x86_cpuid(struct x86_cpu *cpu, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
  const struct kvm_cpuid_entry2 *t = cpu->cpuid ? cpu->cpuid : supported;
  int n = cpu->cpuid ? cpu->ncpuid : (int)(sizeof(supported) / sizeof(supported[0]));
  r[0] = r[1] = r[2] = r[3] = 0;
  for (int i = 0; i < n; i++) {
    if (t[i].function != leaf) continue;
    if ((t[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && t[i].index != sub) continue;
    r[0] = t[i].eax, r[1] = t[i].ebx, r[2] = t[i].ecx, r[3] = t[i].edx;
    if (leaf == 1) {
      if (!cpu->cpuid) r[2] &= ~l1_ecx_missing();
      r[2] = (r[2] & ~L1_ECX_OSXSAVE) | ((cpu->cr4 & CR4_OSXSAVE) ? L1_ECX_OSXSAVE : 0);
      if (x86_quirk_disabled(cpu, KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT))   /* MWAIT = MISC_ENABLE[18] */
        r[2] = (r[2] & ~(1u << 3)) | ((cpu->misc_enable >> 18 & 1) << 3);
    }
    /* the size XCR0 (sub-leaf 0) and XCR0 | XSS compacted (sub-leaf 1) need: x87, SSE: 576 */
    if (leaf == 0xd && sub <= 1) r[1] = XSAVE_SIZE;
    return;
  }
}
