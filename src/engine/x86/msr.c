/* Model-specific registers the engine implements; unknown ones fail (#GP for the guest). */
#include <time.h>

#include "engine.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_APICBASE 0x1b
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MISC_ENABLE_MWAIT (1ULL << 18)
#define MSR_IA32_CR_PAT 0x277
#define MSR_IA32_TSC_DEADLINE 0x6e0
#define MSR_IA32_PLATFORM_ID 0x17
#define MSR_IA32_FEATURE_CONTROL 0x3a
#define MSR_IA32_UCODE_REV 0x8b
#define MSR_IA32_ARCH_CAPABILITIES 0x10a
#define MSR_IA32_TSC_ADJUST 0x3b
#define MSR_IA32_POWER_CTL 0x1fc   /* KVM keeps whatever the guest writes */
/* A software CPU has none of the speculative-execution and stale-data flaws: RDCL_NO,
 * SKIP_VMENTRY_L1DFLUSH, SSB_NO, MDS_NO, PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO, FBSDP_NO,
 * PSDP_NO, BHI_NO, PBRSB_NO, GDS_NO, RFDS_NO (so Linux skips PTI, VERW buffer clearing, ...). */
#define ARCH_CAPABILITIES ((1ULL << 0) | (1ULL << 3) | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) | \
                           (1ULL << 8) | (1ULL << 13) | (1ULL << 14) | (1ULL << 15) | (1ULL << 20) | \
                           (1ULL << 24) | (1ULL << 26) | (1ULL << 27))
#define MSR_IA32_XSS 0xda0   /* no supervisor state components: only 0 (KVM's supported_xss) */
#define UCODE_REV 0x100000000ULL   /* revision 1 in bits 63:32 */
#define MSR_MTRRcap 0xfe
#define MSR_MTRR_VAR_FIRST 0x200   /* 8 base/mask pairs */
#define MSR_MTRR_VAR_LAST 0x20f
#define MSR_MTRRdefType 0x2ff
#define MSR_EFER 0xc0000080
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_FS_BASE 0xc0000100
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX 0xc0000103

/* KVM_GET_MSR_INDEX_LIST; like Linux, EFER is not listed (it travels with the sregs) */
const uint32_t x86_msr_list[] = {
  MSR_IA32_TSC, MSR_IA32_APICBASE, MSR_IA32_SYSENTER_CS, MSR_IA32_SYSENTER_ESP,
  MSR_IA32_SYSENTER_EIP, MSR_IA32_MISC_ENABLE, MSR_IA32_CR_PAT, MSR_STAR, MSR_LSTAR,
  MSR_CSTAR, MSR_SYSCALL_MASK, MSR_FS_BASE, MSR_GS_BASE, MSR_KERNEL_GS_BASE, MSR_TSC_AUX,
  MSR_IA32_TSC_DEADLINE, MSR_IA32_ARCH_CAPABILITIES, MSR_IA32_TSC_ADJUST, MSR_IA32_POWER_CTL,
  MSR_IA32_XSS,
};
const int x86_msr_list_len = sizeof(x86_msr_list) / sizeof(x86_msr_list[0]);

/* KVM_GET_MSR_FEATURE_INDEX_LIST: MSRs that describe the CPU model, read on the system fd */
const uint32_t x86_msr_feature_list[] = { MSR_IA32_ARCH_CAPABILITIES, MSR_IA32_UCODE_REV };
const int x86_msr_feature_list_len = sizeof(x86_msr_feature_list) / sizeof(x86_msr_feature_list[0]);

int x86_msr_feature_get(uint32_t index, uint64_t *val)
{
  switch (index) {
  case MSR_IA32_ARCH_CAPABILITIES: *val = ARCH_CAPABILITIES; return 0;
  case MSR_IA32_UCODE_REV: *val = UCODE_REV; return 0;
  }
  *val = 0;
  return X86_MSR_UNKNOWN;
}

/* Guest TSC: the host monotonic clock in ns (a 1 GHz TSC) plus the guest's offset. */
static uint64_t host_tsc(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t x86_read_tsc(struct x86_cpu *cpu)
{
  return host_tsc() + cpu->tsc_offset;
}

/* The fixed-range MTRRs, in the order of cpu->mtrr_fixed. */
static const uint32_t mtrr_fixed_msrs[11] = { 0x250, 0x258, 0x259, 0x268, 0x269, 0x26a,
                                              0x26b, 0x26c, 0x26d, 0x26e, 0x26f };

static int mtrr_fixed_index(uint32_t index)
{
  for (int i = 0; i < 11; i++)
    if (mtrr_fixed_msrs[i] == index) return i;
  return -1;
}

static bool mtrr_type_valid(uint64_t t)
{
  return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;   /* UC WC WT WP WB */
}

/* kvm_mtrr_valid(): memory types and reserved bits */
static bool mtrr_value_valid(uint32_t index, uint64_t v)
{
  if (index == MSR_MTRRdefType) return !(v & ~0xcffULL) && mtrr_type_valid(v & 0xff);
  if (mtrr_fixed_index(index) >= 0) {
    for (int i = 0; i < 8; i++)
      if (!mtrr_type_valid((v >> (i * 8)) & 0xff)) return false;
    return true;
  }
  uint64_t rsvd = ~((1ULL << 46) - 1);
  if (!(index & 1)) return mtrr_type_valid(v & 0xff) && !(v & (rsvd | 0xf00));
  return !(v & (rsvd | 0x7ff));
}

/* the guest's CPUID has XSAVES (CPUID.(EAX=0DH,ECX=1):EAX[3]): IA32_XSS exists for it */
static bool guest_has_xsaves(struct x86_cpu *cpu)
{
  uint32_t r[4];
  x86_cpuid(cpu, 0xd, 1, r);
  return r[0] >> 3 & 1;
}

int x86_msr_get(struct x86_cpu *cpu, uint32_t index, uint64_t *val)
{
  if (cpu->irq_ops) {   /* APIC base, TSC deadline: the irqchip's */
    int r = cpu->irq_ops->msr_get(cpu->irq_opaque, index, val);
    if (r != X86_MSR_UNHANDLED) return r;
  }
  if (cpu->vcpu_ops) {   /* KVM paravirt, Hyper-V: libsoftkvm's */
    int r = cpu->vcpu_ops->msr_get(cpu->vcpu_opaque, index, val);
    if (r != X86_MSR_UNHANDLED) return r;
  }
  int fixed = mtrr_fixed_index(index);
  if (fixed >= 0) {
    *val = cpu->mtrr_fixed[fixed];
    return 0;
  }
  if (index >= MSR_MTRR_VAR_FIRST && index <= MSR_MTRR_VAR_LAST) {
    *val = cpu->mtrr_var[index - MSR_MTRR_VAR_FIRST];
    return 0;
  }
  switch (index) {
  case MSR_IA32_TSC: *val = x86_read_tsc(cpu); return 0;
  case MSR_IA32_TSC_ADJUST: *val = cpu->tsc_adjust; return 0;
  case MSR_IA32_APICBASE: *val = cpu->apic_base; return 0;
  case MSR_IA32_SYSENTER_CS: *val = cpu->sysenter_cs; return 0;
  case MSR_IA32_SYSENTER_ESP: *val = cpu->sysenter_esp; return 0;
  case MSR_IA32_SYSENTER_EIP: *val = cpu->sysenter_eip; return 0;
  case MSR_IA32_MISC_ENABLE: *val = cpu->misc_enable; return 0;
  case MSR_IA32_CR_PAT: *val = cpu->pat; return 0;
  case MSR_IA32_PLATFORM_ID: *val = 0; return 0;
  case MSR_IA32_FEATURE_CONTROL: *val = 1; return 0;   /* locked, no VMX/SGX enabled */
  case MSR_IA32_UCODE_REV: *val = UCODE_REV; return 0;
  case MSR_IA32_ARCH_CAPABILITIES: *val = ARCH_CAPABILITIES; return 0;
  case MSR_MTRRcap: *val = 0x500 | 8; return 0;         /* fixed ranges, WC, 8 variable */
  case MSR_MTRRdefType: *val = cpu->mtrr_def_type; return 0;
  case MSR_EFER: *val = cpu->efer; return 0;
  case MSR_STAR: *val = cpu->star; return 0;
  case MSR_LSTAR: *val = cpu->lstar; return 0;
  case MSR_CSTAR: *val = cpu->cstar; return 0;
  case MSR_SYSCALL_MASK: *val = cpu->sfmask; return 0;
  case MSR_FS_BASE: *val = cpu->seg[S_FS].base; return 0;
  case MSR_GS_BASE: *val = cpu->seg[S_GS].base; return 0;
  case MSR_KERNEL_GS_BASE: *val = cpu->kernel_gs_base; return 0;
  case MSR_TSC_AUX: *val = cpu->tsc_aux; return 0;
  case MSR_IA32_POWER_CTL: *val = cpu->power_ctl; return 0;
  case MSR_IA32_TSC_DEADLINE: *val = 0; return 0;   /* no in-kernel LAPIC: reads 0, as KVM */
  case MSR_IA32_XSS: *val = 0; return 0;
  }
  return X86_MSR_UNKNOWN;
}

static bool pat_valid(uint64_t v)
{
  for (int i = 0; i < 8; i++) {
    uint8_t t = (v >> (i * 8)) & 0xff;
    if (t > 7 || t == 2 || t == 3) return false;
  }
  return true;
}

int x86_msr_set(struct x86_cpu *cpu, uint32_t index, uint64_t val, bool host)
{
  if (cpu->irq_ops) {
    int r = cpu->irq_ops->msr_set(cpu->irq_opaque, index, val, host);
    if (r != X86_MSR_UNHANDLED) return r;
  }
  if (cpu->vcpu_ops) {
    int r = cpu->vcpu_ops->msr_set(cpu->vcpu_opaque, index, val, host);
    if (r != X86_MSR_UNHANDLED) return r;
  }
  int fixed = mtrr_fixed_index(index);
  bool var = index >= MSR_MTRR_VAR_FIRST && index <= MSR_MTRR_VAR_LAST;
  if (fixed >= 0 || var || index == MSR_MTRRdefType) {
    if (!mtrr_value_valid(index, val)) return -1;
    if (fixed >= 0) cpu->mtrr_fixed[fixed] = val;
    else if (var) cpu->mtrr_var[index - MSR_MTRR_VAR_FIRST] = val;
    else cpu->mtrr_def_type = val;
    return 0;
  }
  switch (index) {
  case MSR_IA32_TSC: {
    /* a guest write moves TSC_ADJUST by as much (SDM 18.17.3); KVM_SET_MSRS does not */
    int64_t off = (int64_t)(val - host_tsc());
    if (!host) cpu->tsc_adjust += (uint64_t)(off - cpu->tsc_offset);
    cpu->tsc_offset = off;
    return 0;
  }
  case MSR_IA32_TSC_ADJUST:
    if (!host) cpu->tsc_offset += (int64_t)(val - cpu->tsc_adjust);
    cpu->tsc_adjust = val;
    return 0;
  case MSR_IA32_APICBASE:
    if (val & 0x2ff) return -1;   /* reserved bits */
    cpu->apic_base = val;
    return 0;
  case MSR_IA32_SYSENTER_CS: cpu->sysenter_cs = val & 0xffff; return 0;
  case MSR_IA32_SYSENTER_ESP:
  case MSR_IA32_SYSENTER_EIP:
    if (!is_canonical(val)) return -1;
    *(index == MSR_IA32_SYSENTER_ESP ? &cpu->sysenter_esp : &cpu->sysenter_eip) = val;
    return 0;
  case MSR_IA32_MISC_ENABLE:
    /* ENABLE_MWAIT (bit 18) stays 0 unless KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT is off: then it
     * needs SSE3 and shows as CPUID MWAIT (x86_cpuid) */
    if ((val ^ cpu->misc_enable) & MISC_ENABLE_MWAIT) {
      uint32_t r[4];
      x86_cpuid(cpu, 1, 0, r);
      if (!x86_quirk_disabled(cpu, KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT) || !(r[2] & 1)) return -1;
    }
    cpu->misc_enable = val;
    return 0;
  case MSR_IA32_UCODE_REV: return 0;          /* writes are ignored (microcode loader probe) */
  case MSR_IA32_ARCH_CAPABILITIES: return host && val == ARCH_CAPABILITIES ? 0 : -1;   /* read-only */
  case MSR_IA32_PLATFORM_ID: return host ? 0 : -1;
  case MSR_IA32_FEATURE_CONTROL: return host && val == 1 ? 0 : -1;
  case MSR_IA32_CR_PAT:
    if (!pat_valid(val)) return -1;
    cpu->pat = val;
    return 0;
  case MSR_EFER: {
    uint64_t allowed = EFER_SCE | EFER_LME | EFER_NXE | EFER_LMA;
    if (val & ~allowed) return -1;
    /* the guest may not toggle LME while paging is on; LMA is read-only (set_efer) */
    if (!host && (cpu->cr0 & CR0_PG) && ((val ^ cpu->efer) & EFER_LME)) return -1;
    val = (val & ~(uint64_t)EFER_LMA) | (cpu->efer & EFER_LMA);
    cpu->efer = val;
    x86_tlb_flush(cpu);
    x86_cpu_update_mode(cpu);
    return 0;
  }
  case MSR_STAR: cpu->star = val; return 0;
  case MSR_LSTAR:
  case MSR_CSTAR:
    if (!is_canonical(val)) return -1;
    *(index == MSR_LSTAR ? &cpu->lstar : &cpu->cstar) = val;
    return 0;
  case MSR_SYSCALL_MASK: cpu->sfmask = (uint32_t)val; return 0;
  case MSR_FS_BASE:
  case MSR_GS_BASE:
  case MSR_KERNEL_GS_BASE:
    if (!is_canonical(val)) return -1;
    if (index == MSR_FS_BASE) cpu->seg[S_FS].base = val;
    else if (index == MSR_GS_BASE) cpu->seg[S_GS].base = val;
    else cpu->kernel_gs_base = val;
    return 0;
  case MSR_TSC_AUX:
    if (val >> 32) return -1;
    cpu->tsc_aux = val;
    return 0;
  case MSR_IA32_TSC_DEADLINE: return 0;   /* ignored without an in-kernel LAPIC */
  case MSR_IA32_POWER_CTL: cpu->power_ctl = val; return 0;
  case MSR_IA32_XSS: return (host || guest_has_xsaves(cpu)) && val == 0 ? 0 : -1;
  }
  return X86_MSR_UNKNOWN;
}
