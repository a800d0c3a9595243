/* vCPU lifetime and register setup. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "vmm/util.h"
#include "vmm/vm.h"

/* Gives the vCPU everything KVM_GET_SUPPORTED_CPUID offers (needed on /dev/kvm for long mode). */
static int vcpu__init_cpuid(struct vcpu *cpu)
{
	const struct hv_ops *hv = cpu->vm->hv;
	struct kvm_cpuid2 *cpuid = NULL;
	int nent, ret = -1;

	if (hv->ioctl(cpu->vm->sys_fd, KVM_CHECK_EXTENSION, HV_ARG(KVM_CAP_EXT_CPUID)) <= 0)
		return 0;
	for (nent = 64; nent <= 4096; nent *= 2) {
		free(cpuid);
		cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
		if (!cpuid) {
			pr_err("out of memory");
			return -1;
		}
		cpuid->nent = nent;
		if (hv->ioctl(cpu->vm->sys_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
			break;
		if (errno != E2BIG) {
			pr_err_errno("KVM_GET_SUPPORTED_CPUID");
			goto out;
		}
	}
	if (nent > 4096) {
		pr_err("KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
		goto out;
	}
	/* leaf 1 EBX[31:24]: this CPU's initial APIC ID, as the MADT and the LAPIC say */
	for (int i = 0; i < (int)cpuid->nent; i++)
		if (cpuid->entries[i].function == 1)
			cpuid->entries[i].ebx = (cpuid->entries[i].ebx & 0x00ffffff) |
						((uint32_t)cpu->id << 24);
	if (hv->ioctl(cpu->fd, KVM_SET_CPUID2, cpuid) < 0) {
		pr_err_errno("KVM_SET_CPUID2");
		goto out;
	}
	ret = 0;
out:
	free(cpuid);
	return ret;
}

int vcpu__create(struct vcpu *cpu, struct vm *vm, int id)
{
	const struct hv_ops *hv = vm->hv;
	int size;

	cpu->vm = vm;
	cpu->id = id;
	cpu->run = NULL;
	cpu->fd = hv->ioctl(vm->vm_fd, KVM_CREATE_VCPU, HV_ARG(id));
	if (cpu->fd < 0) {
		pr_err_errno("KVM_CREATE_VCPU %d", id);
		goto fail;
	}
	size = hv->ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (size < (int)sizeof(struct kvm_run)) {
		if (size < 0)
			pr_err_errno("KVM_GET_VCPU_MMAP_SIZE");
		else
			pr_err("KVM_GET_VCPU_MMAP_SIZE: %d is smaller than struct kvm_run", size);
		goto fail;
	}
	cpu->run = hv->mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu->fd, 0);
	if (cpu->run == MAP_FAILED) {
		cpu->run = NULL;
		pr_err_errno("cannot map struct kvm_run of vCPU %d", id);
		goto fail;
	}
	cpu->run_size = size;
	if (vcpu__init_cpuid(cpu) < 0)
		goto fail;
	return 0;
fail:
	vcpu__destroy(cpu);
	return -1;
}

void vcpu__destroy(struct vcpu *cpu)
{
	if (cpu->run)
		munmap(cpu->run, cpu->run_size);
	cpu->run = NULL;
	if (cpu->fd >= 0)
		cpu->vm->hv->close(cpu->fd);
	cpu->fd = -1;
}

static void vcpu__real_seg(struct kvm_segment *seg, uint16_t sel)
{
	seg->selector = sel;
	seg->base = (uint64_t)sel << 4;
	seg->limit = 0xffff;
}

int vcpu__get_sregs(struct vcpu *cpu, struct kvm_sregs *sregs)
{
	if (cpu->vm->hv->ioctl(cpu->fd, KVM_GET_SREGS, sregs) < 0) {
		pr_err_errno("KVM_GET_SREGS");
		return -1;
	}
	return 0;
}

int vcpu__set_state(struct vcpu *cpu, const struct kvm_sregs *sregs, const struct kvm_regs *regs)
{
	const struct hv_ops *hv = cpu->vm->hv;

	if (hv->ioctl(cpu->fd, KVM_SET_SREGS, (void *)sregs) < 0) {
		pr_err_errno("KVM_SET_SREGS");
		return -1;
	}
	if (hv->ioctl(cpu->fd, KVM_SET_REGS, (void *)regs) < 0) {
		pr_err_errno("KVM_SET_REGS");
		return -1;
	}
	return 0;
}

int vcpu__reset_real_mode(struct vcpu *cpu, uint16_t cs, uint16_t ip, uint16_t sp)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (vcpu__get_sregs(cpu, &sregs) < 0)
		return -1;
	vcpu__real_seg(&sregs.cs, cs);
	vcpu__real_seg(&sregs.ds, cs);
	vcpu__real_seg(&sregs.es, cs);
	vcpu__real_seg(&sregs.ss, cs);
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;	/* bit 1 is always set; IF clear */
	regs.rip = ip;
	regs.rsp = sp;
	return vcpu__set_state(cpu, &sregs, &regs);
}

static void vcpu__dump_seg(const char *name, const struct kvm_segment *s)
{
	fprintf(stderr, "  %s=%04x base=%016llx limit=%08x type=%x s=%u dpl=%u p=%u db=%u l=%u g=%u\n",
		name, s->selector, (unsigned long long)s->base, s->limit, s->type, s->s, s->dpl,
		s->present, s->db, s->l, s->g);
}

void vcpu__dump(struct vcpu *cpu)
{
	const struct hv_ops *hv = cpu->vm->hv;
	struct kvm_sregs sregs;
	struct kvm_regs r;

	if (hv->ioctl(cpu->fd, KVM_GET_REGS, &r) == 0) {
		fprintf(stderr, "  rip=%016llx rflags=%08llx\n",
			(unsigned long long)r.rip, (unsigned long long)r.rflags);
		fprintf(stderr, "  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n",
			(unsigned long long)r.rax, (unsigned long long)r.rbx,
			(unsigned long long)r.rcx, (unsigned long long)r.rdx);
		fprintf(stderr, "  rsi=%016llx rdi=%016llx rsp=%016llx rbp=%016llx\n",
			(unsigned long long)r.rsi, (unsigned long long)r.rdi,
			(unsigned long long)r.rsp, (unsigned long long)r.rbp);
	}
	if (hv->ioctl(cpu->fd, KVM_GET_SREGS, &sregs) == 0) {
		vcpu__dump_seg("cs", &sregs.cs);
		vcpu__dump_seg("ss", &sregs.ss);
		vcpu__dump_seg("ds", &sregs.ds);
		fprintf(stderr, "  cr0=%08llx cr2=%016llx cr3=%016llx cr4=%08llx efer=%llx\n",
			(unsigned long long)sregs.cr0, (unsigned long long)sregs.cr2,
			(unsigned long long)sregs.cr3, (unsigned long long)sregs.cr4,
			(unsigned long long)sregs.efer);
		fprintf(stderr, "  gdt=%016llx/%04x idt=%016llx/%04x\n",
			(unsigned long long)sregs.gdt.base, sregs.gdt.limit,
			(unsigned long long)sregs.idt.base, sregs.idt.limit);
	}
}
