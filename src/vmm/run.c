/* The run loop: KVM_RUN, then one short switch on the exit reason. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "vmm/util.h"
#include "vmm/vm.h"

static const char *const run__exit_names[] = {
	[KVM_EXIT_UNKNOWN] = "UNKNOWN",
	[KVM_EXIT_EXCEPTION] = "EXCEPTION",
	[KVM_EXIT_IO] = "IO",
	[KVM_EXIT_HYPERCALL] = "HYPERCALL",
	[KVM_EXIT_DEBUG] = "DEBUG",
	[KVM_EXIT_HLT] = "HLT",
	[KVM_EXIT_MMIO] = "MMIO",
	[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
	[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
	[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[KVM_EXIT_INTR] = "INTR",
	[KVM_EXIT_SET_TPR] = "SET_TPR",
	[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
	[KVM_EXIT_NMI] = "NMI",
	[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
	[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	[KVM_EXIT_X86_RDMSR] = "X86_RDMSR",
	[KVM_EXIT_X86_WRMSR] = "X86_WRMSR",
	[KVM_EXIT_DIRTY_RING_FULL] = "DIRTY_RING_FULL",
};

static const char *run__exit_name(uint32_t reason)
{
	if (reason < ARRAY_SIZE(run__exit_names) && run__exit_names[reason])
		return run__exit_names[reason];
	return "?";
}

/* Port I/O, including string I/O: count items of size bytes at data_offset in the run page. */
static int run__emulate_io(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;
	uint8_t *data;
	uint32_t i;

	if (run->io.size == 0 || run->io.size > 4 || run->io.data_offset > cpu->run_size ||
	    bytes > cpu->run_size - run->io.data_offset) {
		pr_err("bad KVM_EXIT_IO: port %#x size %u count %u data_offset %llu",
		       run->io.port, run->io.size, run->io.count,
		       (unsigned long long)run->io.data_offset);
		return -1;
	}
	data = (uint8_t *)run + run->io.data_offset;
	for (i = 0; i < run->io.count && !cpu->vm->stop.requested; i++) {
		pthread_mutex_lock(&cpu->vm->io_lock);
		iobus__access(&cpu->vm->pio, run->io.port, data, run->io.size, is_write);
		pthread_mutex_unlock(&cpu->vm->io_lock);
		data += run->io.size;
	}
	return 0;
}

static int run__emulate_mmio(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;

	if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data)) {
		pr_err("bad KVM_EXIT_MMIO: address %#llx len %u",
		       (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		return -1;
	}
	pthread_mutex_lock(&cpu->vm->io_lock);
	iobus__access(&cpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		      run->mmio.is_write);
	pthread_mutex_unlock(&cpu->vm->io_lock);
	return 0;
}

static void run__report_internal_error(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	uint32_t i, n = run->internal.ndata;

	pr_err("internal error: suberror %u%s, ndata %u", run->internal.suberror,
	       run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "",
	       n);
	if (n > ARRAY_SIZE(run->internal.data))
		n = ARRAY_SIZE(run->internal.data);
	if (n) {
		fprintf(stderr, "  data:");
		for (i = 0; i < n; i++)
			fprintf(stderr, " %#llx", (unsigned long long)run->internal.data[i]);
		fputc('\n', stderr);
	}
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION && n >= 2 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		uint32_t len = run->emulation_failure.insn_size;

		if (len > sizeof(run->emulation_failure.insn_bytes))
			len = sizeof(run->emulation_failure.insn_bytes);
		fprintf(stderr, "  instruction bytes:");
		for (i = 0; i < len; i++)
			fprintf(stderr, " %02x", run->emulation_failure.insn_bytes[i]);
		fputc('\n', stderr);
	}
	vcpu__dump(cpu);
}

int vcpu__run(struct vcpu *cpu)
{
	struct kvm_run *run = cpu->run;
	const struct hv_ops *hv = cpu->vm->hv;

	for (;;) {
		if (hv->ioctl(cpu->fd, KVM_RUN, NULL) < 0) {
			if ((errno == EINTR || errno == EAGAIN) && cpu->vm->stop.requested)
				return cpu->vm->stop.status;
			if (errno == EINTR || errno == EAGAIN)
				continue;
			pr_err_errno("KVM_RUN");
			vcpu__dump(cpu);
			return 1;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run__emulate_io(cpu) < 0)
				return 1;
			break;
		case KVM_EXIT_MMIO:
			if (run__emulate_mmio(cpu) < 0)
				return 1;
			break;
		case KVM_EXIT_HLT:
			return 0;
		case KVM_EXIT_SHUTDOWN:
			pr_err("guest shutdown (triple fault)");
			vcpu__dump(cpu);
			return 1;
		case KVM_EXIT_INTERNAL_ERROR:
			run__report_internal_error(cpu);
			return 1;
		case KVM_EXIT_FAIL_ENTRY:
			pr_err("KVM_EXIT_FAIL_ENTRY: hardware entry failure reason %#llx",
			       (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			vcpu__dump(cpu);
			return 1;
		default:
			pr_err("unexpected exit reason %u (KVM_EXIT_%s)", run->exit_reason,
			       run__exit_name(run->exit_reason));
			vcpu__dump(cpu);
			return 1;
		}
		if (cpu->vm->stop.requested)
			return cpu->vm->stop.status;
	}
}
