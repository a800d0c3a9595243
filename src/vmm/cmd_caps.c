/* softkvm caps: what the hypervisor behind the ops table says about itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/kvm.h>

#include "vmm/cli.h"
#include "vmm/hv.h"
#include "vmm/util.h"

struct cap_name {
	int cap;
	const char *name;
};

#define CAP(x) { KVM_CAP_##x, "KVM_CAP_" #x }

/* The capabilities a VMM or a KVM client on x86 asks about, in <linux/kvm.h> order. */
static const struct cap_name cmd_caps__table[] = {
	CAP(IRQCHIP), CAP(HLT), CAP(USER_MEMORY), CAP(SET_TSS_ADDR), CAP(EXT_CPUID),
	CAP(NR_VCPUS), CAP(NR_MEMSLOTS), CAP(PIT), CAP(NOP_IO_DELAY), CAP(MP_STATE),
	CAP(COALESCED_MMIO), CAP(SYNC_MMU), CAP(USER_NMI), CAP(SET_GUEST_DEBUG),
	CAP(REINJECT_CONTROL), CAP(IRQ_ROUTING), CAP(IRQ_INJECT_STATUS), CAP(MCE), CAP(IRQFD),
	CAP(PIT2), CAP(SET_BOOT_CPU_ID), CAP(PIT_STATE2), CAP(IOEVENTFD),
	CAP(SET_IDENTITY_MAP_ADDR), CAP(ADJUST_CLOCK), CAP(INTERNAL_ERROR_DATA),
	CAP(VCPU_EVENTS), CAP(DEBUGREGS), CAP(XSAVE), CAP(XCRS), CAP(TSC_CONTROL),
	CAP(GET_TSC_KHZ), CAP(MAX_VCPUS), CAP(KVMCLOCK_CTRL), CAP(SIGNAL_MSI),
	CAP(TSC_DEADLINE_TIMER), CAP(READONLY_MEM), CAP(ENABLE_CAP_VM), CAP(CHECK_EXTENSION_VM),
	CAP(SYNC_REGS), CAP(COALESCED_PIO), CAP(SPLIT_IRQCHIP), CAP(X2APIC_API),
	CAP(MULTI_ADDRESS_SPACE), CAP(MAX_VCPU_ID), CAP(IMMEDIATE_EXIT), CAP(GET_MSR_FEATURES),
	CAP(EXIT_HYPERCALL), CAP(X86_DISABLE_EXITS), CAP(MANUAL_DIRTY_LOG_PROTECT2),
	CAP(X86_USER_SPACE_MSR), CAP(X86_MSR_FILTER), CAP(DIRTY_LOG_RING),
#ifdef KVM_CAP_XSAVE2
	CAP(XSAVE2),
#endif
#ifdef KVM_CAP_DIRTY_LOG_RING_ACQ_REL
	CAP(DIRTY_LOG_RING_ACQ_REL),
#endif
#ifdef KVM_CAP_USER_MEMORY2
	CAP(USER_MEMORY2),
#endif
#ifdef KVM_CAP_VM_TYPES
	CAP(VM_TYPES),
#endif
};

void cmd_caps__usage(FILE *f)
{
	fputs("usage: softkvm caps [--dev-kvm]\n"
	      "\n"
	      "Prints KVM_GET_API_VERSION, KVM_GET_VCPU_MMAP_SIZE, KVM_CHECK_EXTENSION for each\n"
	      "KVM_CAP_* one per line (\"KVM_CAP_READONLY_MEM: 1\"), and the number of\n"
	      "KVM_GET_SUPPORTED_CPUID entries and KVM_GET_MSR_INDEX_LIST indices.\n"
	      "\n"
	      "  --dev-kvm    ask the kernel's /dev/kvm instead of libsoftkvm\n"
	      "  -h, --help   print this text\n", f);
}

/* Entries KVM_GET_SUPPORTED_CPUID returns, growing the buffer while it answers E2BIG. */
static int cmd_caps__cpuid_count(const struct hv_ops *hv, int sys_fd)
{
	struct kvm_cpuid2 *cpuid;
	int nent, ret;

	for (nent = 64; nent <= 4096; nent *= 2) {
		cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
		if (!cpuid)
			return -ENOMEM;
		cpuid->nent = nent;
		ret = hv->ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
		ret = ret < 0 ? -errno : (int)cpuid->nent;
		free(cpuid);
		if (ret != -E2BIG)
			return ret;
	}
	return -E2BIG;
}

/* Indices in KVM_GET_MSR_INDEX_LIST: asked with nmsrs = 0, KVM answers E2BIG and the count. */
static int cmd_caps__msr_count(const struct hv_ops *hv, int sys_fd)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };

	if (hv->ioctl(sys_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return -errno;
	return (int)probe.nmsrs;
}

static void cmd_caps__print(const char *what, int v)
{
	if (v < 0)
		printf("%s: error: %s\n", what, strerror(-v));
	else
		printf("%s: %d\n", what, v);
}

int cmd_caps__main(int argc, char **argv, bool dev_kvm)
{
	const struct hv_ops *hv;
	size_t i;
	int fd, v, a;

	for (a = 1; a < argc; a++) {
		if (cli__flag(argv[a], "--help", "-h")) {
			cmd_caps__usage(stdout);
			return CLI_EXIT_OK;
		} else if (cli__flag(argv[a], "--dev-kvm", NULL)) {
			dev_kvm = true;
		} else {
			return cli__bad_arg("caps", argv[a]);
		}
	}

	hv = hv__select(dev_kvm);
	fd = hv->open();
	if (fd < 0) {
		pr_err_errno("cannot open %s", hv->name);
		return CLI_EXIT_FAIL;
	}

	printf("hypervisor: %s\n", hv->name);
	v = hv->ioctl(fd, KVM_GET_API_VERSION, NULL);
	cmd_caps__print("KVM_GET_API_VERSION", v < 0 ? -errno : v);
	v = hv->ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	cmd_caps__print("KVM_GET_VCPU_MMAP_SIZE", v < 0 ? -errno : v);
	for (i = 0; i < ARRAY_SIZE(cmd_caps__table); i++) {
		v = hv->ioctl(fd, KVM_CHECK_EXTENSION, HV_ARG(cmd_caps__table[i].cap));
		cmd_caps__print(cmd_caps__table[i].name, v < 0 ? -errno : v);
	}
	cmd_caps__print("KVM_GET_SUPPORTED_CPUID entries", cmd_caps__cpuid_count(hv, fd));
	cmd_caps__print("KVM_GET_MSR_INDEX_LIST indices", cmd_caps__msr_count(hv, fd));
	fflush(stdout);

	hv->close(fd);
	return CLI_EXIT_OK;
}
