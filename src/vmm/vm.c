/* VM lifetime: hypervisor handle, VM, guest RAM and its memslot, buses, devices, vCPU 0. */
#include "vmm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/hw/acpi_pm.h"
#include "vmm/hw/debug_exit.h"
#include "vmm/hw/i8042.h"
#include "vmm/hw/pci.h"
#include "vmm/hw/post.h"
#include "vmm/hw/rtc.h"
#include "vmm/hw/serial.h"
#include "vmm/term.h"
#include "vmm/util.h"

/* Where KVM on Intel without unrestricted guest keeps its real-mode TSS (3 pages), as kvmtool. */
#define VM_TSS_ADDR 0xfffbd000ULL

static int vm__check_api(struct vm *vm)
{
	int v = vm->hv->ioctl(vm->sys_fd, KVM_GET_API_VERSION, NULL);

	if (v < 0) {
		pr_err_errno("%s: KVM_GET_API_VERSION", vm->hv->name);
		return -1;
	}
	if (v != KVM_API_VERSION) {
		pr_err("%s: KVM API version %d, expected %d", vm->hv->name, v, KVM_API_VERSION);
		return -1;
	}
	return 0;
}

static int vm__init_ram(struct vm *vm, uint64_t ram_size)
{
	struct kvm_userspace_memory_region region;

	vm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		pr_err_errno("cannot map %llu MiB of guest memory", (unsigned long long)(ram_size >> 20));
		return -1;
	}
	vm->ram_size = ram_size;

	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = ram_size,
		.userspace_addr = (uint64_t)(uintptr_t)vm->ram,
	};
	if (vm->hv->ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		pr_err_errno("KVM_SET_USER_MEMORY_REGION");
		return -1;
	}
	return 0;
}

void vm__irq_line(void *ctx, uint32_t irq, int level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level line = { .irq = irq, .level = level };

	if (vm->hv->ioctl(vm->vm_fd, KVM_IRQ_LINE, &line) == 0)
		return;
	/* ENXIO: no in-kernel irqchip (KVM); ENOTTY: a hypervisor without KVM_IRQ_LINE */
	if (errno == ENXIO || errno == ENOTTY)
		return;
	if (!__atomic_exchange_n(&vm->irq_line_warned, true, __ATOMIC_RELAXED))
		pr_err_errno("KVM_IRQ_LINE %u", irq);
}

static struct irq_line vm__isa_irq(struct vm *vm, uint32_t irq)
{
	return (struct irq_line){ .set = vm__irq_line, .ctx = vm, .irq = irq };
}

static int vm__init_devices(struct vm *vm)
{
	struct irq_line com1 = vm__isa_irq(vm, SERIAL_COM1_IRQ);
	struct irq_line kbd = vm__isa_irq(vm, I8042_KBD_IRQ);
	struct irq_line aux = vm__isa_irq(vm, I8042_AUX_IRQ);

	vm->serial = serial__create(&vm->pio, SERIAL_COM1_BASE, STDOUT_FILENO, &com1);
	if (!vm->serial)
		goto fail;
	vm->term = term__create(STDIN_FILENO, vm->serial);
	if (!vm->term)
		goto fail;
	vm->debug_exit = debug_exit__create(&vm->pio, DEBUG_EXIT_PORT, &vm->stop);
	if (!vm->debug_exit)
		goto fail;
	vm->post = post__create(&vm->pio, POST_PORT);
	if (!vm->post)
		goto fail;
	vm->rtc = rtc__create(&vm->pio);
	if (!vm->rtc)
		goto fail;
	vm->i8042 = i8042__create(&vm->pio, &vm->stop, &kbd, &aux);
	if (!vm->i8042)
		goto fail;
	vm->acpi_pm = acpi_pm__create(&vm->pio, &vm->stop);
	if (!vm->acpi_pm)
		goto fail;
	vm->pci = pci__create(&vm->pio);
	if (!vm->pci)
		goto fail;
	return 0;
fail:
	pr_err("cannot create devices");
	return -1;
}

static void vm__exit_devices(struct vm *vm)
{
	pci__destroy(vm->pci, &vm->pio);
	vm->pci = NULL;
	acpi_pm__destroy(vm->acpi_pm, &vm->pio);
	vm->acpi_pm = NULL;
	i8042__destroy(vm->i8042, &vm->pio);
	vm->i8042 = NULL;
	rtc__destroy(vm->rtc, &vm->pio);
	vm->rtc = NULL;
	post__destroy(vm->post, &vm->pio);
	vm->post = NULL;
	debug_exit__destroy(vm->debug_exit, &vm->pio);
	vm->debug_exit = NULL;
	term__destroy(vm->term);
	vm->term = NULL;
	serial__destroy(vm->serial, &vm->pio);
	vm->serial = NULL;
}

/* KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2 (with port 0x61 in-kernel): before any vCPU exists. */
static int vm__init_irqchip(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (vm->hv->ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, NULL) < 0) {
		pr_err_errno("KVM_CREATE_IRQCHIP");
		return -1;
	}
	if (vm->hv->ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		pr_err_errno("KVM_CREATE_PIT2");
		return -1;
	}
	return 0;
}

int vm__create(struct vm *vm, const struct hv_ops *hv, uint64_t ram_size, bool irqchip, int ncpus)
{
	int i;

	memset(vm, 0, sizeof(*vm));
	vm->hv = hv;
	vm->vm_fd = -1;
	for (i = 0; i < VM_MAX_CPUS; i++)
		vm->cpus[i].fd = -1;
	pthread_mutex_init(&vm->io_lock, NULL);
	iobus__init(&vm->pio, "pio");
	iobus__init(&vm->mmio, "mmio");

	vm->sys_fd = hv->open();
	if (vm->sys_fd < 0) {
		pr_err_errno("cannot open %s", hv->name);
		goto fail;
	}
	if (vm__check_api(vm) < 0)
		goto fail;
	vm->vm_fd = hv->ioctl(vm->sys_fd, KVM_CREATE_VM, HV_ARG(0));
	if (vm->vm_fd < 0) {
		pr_err_errno("KVM_CREATE_VM");
		goto fail;
	}
	if (hv->ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, HV_ARG(KVM_CAP_SET_TSS_ADDR)) > 0 &&
	    hv->ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, HV_ARG(VM_TSS_ADDR)) < 0) {
		pr_err_errno("KVM_SET_TSS_ADDR");
		goto fail;
	}
	if (irqchip && vm__init_irqchip(vm) < 0)
		goto fail;
	if (vm__init_ram(vm, ram_size) < 0)
		goto fail;
	if (vm__init_devices(vm) < 0)
		goto fail;
	for (i = 0; i < ncpus; i++) {
		if (vcpu__create(&vm->cpus[i], vm, i) < 0)
			goto fail;
		vm->ncpus = i + 1;
	}
	return 0;
fail:
	vm__destroy(vm);
	return -1;
}

void vm__destroy(struct vm *vm)
{
	for (int i = vm->ncpus - 1; i >= 0; i--)
		vcpu__destroy(&vm->cpus[i]);
	vm->ncpus = 0;
	vm__exit_devices(vm);
	iobus__exit(&vm->mmio);
	iobus__exit(&vm->pio);
	pthread_mutex_destroy(&vm->io_lock);
	if (vm->vm_fd >= 0)
		vm->hv->close(vm->vm_fd);
	vm->vm_fd = -1;
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
	if (vm->sys_fd >= 0)
		vm->hv->close(vm->sys_fd);
	vm->sys_fd = -1;
}

void *vm__gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa > vm->ram_size || len > vm->ram_size - gpa)
		return NULL;
	return vm->ram + gpa;
}

static void *vm__ap_thread(void *arg)
{
	struct vcpu *cpu = arg;
	int status = vcpu__run(cpu);

	/* an AP that stops (error, or the guest asked) ends the VM: wake the boot CPU */
	vm_stop__request(&cpu->vm->stop, status);
	__atomic_store_n(&cpu->vm->cpus[0].run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

int vm__start_aps(struct vm *vm)
{
	pthread_t t;
	int i;

	for (i = 1; i < vm->ncpus; i++) {
		if (pthread_create(&t, NULL, vm__ap_thread, &vm->cpus[i])) {
			pr_err("cannot start a thread for vCPU %d", i);
			return -1;
		}
		pthread_detach(t);
	}
	return 0;
}
