/* One VM as the VMM sees it: hypervisor handles, guest RAM, buses, devices, vCPUs. */
#ifndef SKVM_VMM_VM_H
#define SKVM_VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "vmm/hv.h"
#include "vmm/iobus.h"

/* A device's request to end the VMM with an exit status, or to reset the machine (the first
 * request wins). What a reset does is the VMM's choice (softkvm run --reboot). */
struct vm_stop {
	bool requested;
	bool reset;
	int status;
};

static inline void vm_stop__request(struct vm_stop *stop, int status)
{
	if (!stop->requested) {
		stop->requested = true;
		stop->status = status;
	}
}

static inline void vm_stop__request_reset(struct vm_stop *stop)
{
	if (!stop->requested) {
		stop->requested = true;
		stop->reset = true;
		stop->status = 0;
	}
}

struct vm;

#define VM_MAX_CPUS 64

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
};

struct vm {
	const struct hv_ops *hv;
	int sys_fd;
	int vm_fd;
	uint8_t *ram;
	uint64_t ram_size;
	struct iobus pio;
	struct iobus mmio;
	struct vm_stop stop;
	pthread_mutex_t io_lock;	/* one vCPU at a time in the port I/O and MMIO devices */
	int ncpus;
	struct vcpu cpus[VM_MAX_CPUS];	/* cpus[0] is the boot CPU */
	bool irq_line_warned;		/* KVM_IRQ_LINE failed once (reported once) */
	/* devices, created in this order and destroyed in reverse */
	struct serial *serial;		/* COM1, IRQ 4 */
	struct term *term;		/* host stdin -> serial */
	struct debug_exit *debug_exit;
	struct post *post;
	struct rtc *rtc;
	struct i8042 *i8042;		/* IRQ 1 and 12, reset line */
	struct acpi_pm *acpi_pm;	/* PM1 blocks, PM timer, 0xcf9 reset */
	struct pci *pci;		/* config mechanism #1, host bridge */
};

/* Opens the hypervisor, creates the VM with ram_size bytes of RAM at gpa 0, the devices and
 * ncpus vCPUs (1 without irqchip); with irqchip, also the in-kernel interrupt controllers (LAPIC, IOAPIC, PIC) and PIT,
 * as a PC has (then HLT waits for an interrupt instead of ending the VM). 0, or -1 after a message. */
int vm__create(struct vm *vm, const struct hv_ops *hv, uint64_t ram_size, bool irqchip, int ncpus);
void vm__destroy(struct vm *vm);

/* Drives ISA IRQ / GSI irq to level through KVM_IRQ_LINE (an irq_line's set()). Without an
 * in-kernel irqchip the call fails and the line does nothing: devices then work polled. */
void vm__irq_line(void *vm, uint32_t irq, int level);

/* Host address of guest-physical [gpa, gpa+len), or NULL when not all inside RAM. */
void *vm__gpa_to_hva(struct vm *vm, uint64_t gpa, uint64_t len);

/* vcpu.c */
int vcpu__create(struct vcpu *cpu, struct vm *vm, int id);
void vcpu__destroy(struct vcpu *cpu);
/* KVM_GET_SREGS; KVM_SET_SREGS then KVM_SET_REGS. 0, or -1 after a message. */
int vcpu__get_sregs(struct vcpu *cpu, struct kvm_sregs *sregs);
int vcpu__set_state(struct vcpu *cpu, const struct kvm_sregs *sregs, const struct kvm_regs *regs);
/* Real mode at cs:ip with ds = es = ss = cs, sp as given, interrupts off. */
int vcpu__reset_real_mode(struct vcpu *cpu, uint16_t cs, uint16_t ip, uint16_t sp);
/* Registers and control state to stderr, for error reports. */
void vcpu__dump(struct vcpu *cpu);

/* run.c: runs the vCPU until the guest halts, stops through a device, or fails; returns the
 * VMM's exit status. */
int vcpu__run(struct vcpu *cpu);
/* Runs vCPUs 1..ncpus-1 on threads of their own (they wait for INIT/SIPI in KVM_RUN). 0 or -1. */
int vm__start_aps(struct vm *vm);

#endif
