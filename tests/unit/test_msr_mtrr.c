/* MTRRs and the MSRs Linux reads while booting, through KVM_GET/SET_MSRS: values round-trip,
 * invalid memory types and reserved bits are refused (arch/x86/kvm/mtrr.c: kvm_mtrr_valid). */
#include <linux/kvm.h>
#include <stdint.h>
#include <stdlib.h>

#include "softkvm.h"
#include "testlib.h"

static int vcpu;

static int set_msr(uint32_t index, uint64_t v)
{
  struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = { .h.nmsrs = 1, .e = { .index = index, .data = v } };
  return skvm_ioctl(vcpu, KVM_SET_MSRS, &m);
}

static uint64_t get_msr(uint32_t index, int *ok)
{
  struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = { .h.nmsrs = 1, .e = { .index = index } };
  *ok = skvm_ioctl(vcpu, KVM_GET_MSRS, &m);
  return m.e.data;
}

int main(void)
{
  int sys = skvm_open(), vm = skvm_ioctl(sys, KVM_CREATE_VM, 0);
  vcpu = skvm_ioctl(vm, KVM_CREATE_VCPU, 0);
  int ok;

  CHECK_EQ(get_msr(0xfe, &ok), 0x508);          /* MTRRcap: fixed, WC, 8 variable pairs */
  CHECK_EQ(ok, 1);
  CHECK_EQ(get_msr(0x2ff, &ok), 0);             /* MTRRdefType after reset */

  CHECK_EQ(set_msr(0x2ff, 0xc06), 1);           /* enabled, fixed enabled, WB */
  CHECK_EQ(get_msr(0x2ff, &ok), 0xc06);
  CHECK_EQ(set_msr(0x2ff, 0x2), 0);             /* type 2 is reserved */
  CHECK_EQ(set_msr(0x2ff, 0x1006), 0);          /* reserved bit 12 */
  CHECK_EQ(get_msr(0x2ff, &ok), 0xc06);         /* unchanged */

  CHECK_EQ(set_msr(0x250, 0x0606060606060606ULL), 1);   /* MTRRfix64K_00000 */
  CHECK_EQ(get_msr(0x250, &ok), 0x0606060606060606ULL);
  CHECK_EQ(set_msr(0x26f, 0x0600000000000000ULL), 1);   /* MTRRfix4K_F8000 */
  CHECK_EQ(set_msr(0x268, 0x0603000000000000ULL), 0);   /* byte with type 3 */

  CHECK_EQ(set_msr(0x200, 0x80000006ULL), 1);           /* PhysBase0: 2 GiB, WB */
  CHECK_EQ(set_msr(0x201, 0x3fff80000800ULL), 1);       /* PhysMask0: valid, 2 GiB */
  CHECK_EQ(get_msr(0x201, &ok), 0x3fff80000800ULL);
  CHECK_EQ(set_msr(0x200, 0x80000106ULL), 0);           /* base bits 11:8 reserved */
  CHECK_EQ(set_msr(0x201, 0x3fff80000801ULL), 0);       /* mask bits 10:0 reserved */
  CHECK_EQ(set_msr(0x20e, 1ULL << 50), 0);              /* above the physical address width */
  CHECK_EQ(set_msr(0x210, 0), 0);                       /* there are only 8 pairs */

  CHECK_EQ(set_msr(0x8b, 0), 1);                        /* UCODE_REV: the loader's probe */
  get_msr(0x8b, &ok);
  CHECK_EQ(ok, 1);
  CHECK_EQ(get_msr(0x3a, &ok), 1);                      /* FEATURE_CONTROL: locked */
  CHECK_EQ(set_msr(0xfe, 0), 0);                        /* MTRRcap is read-only */

  skvm_close(vcpu);
  skvm_close(vm);
  skvm_close(sys);
  return test_summary();
}
