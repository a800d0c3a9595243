/* The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry: the VMM loads a
 * bzImage and initrd, writes boot_params (e820, command line) and starts vCPU 0 in long mode
 * with identity-mapped page tables, so no BIOS or real-mode setup code runs. */
#ifndef SKVM_VMM_BOOT_LINUX_H
#define SKVM_VMM_BOOT_LINUX_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

/* Guest-physical layout of what the loader writes below 1 MiB. */
#define LINUX_BOOT_GDT 0x500ULL
#define LINUX_BOOT_PARAMS 0x7000ULL
#define LINUX_BOOT_PML4 0x9000ULL	/* PML4, PDPT, 4 PDs: 0x9000..0xefff */
#define LINUX_BOOT_CMDLINE 0x20000ULL
#define LINUX_BOOT_CMDLINE_MAX 0x10000ULL
#define LINUX_KERNEL_ADDR 0x100000ULL
/* [LINUX_EBDA_START, 1 MiB) is reserved in the e820 map: ACPI tables live there. */
#define LINUX_EBDA_START 0x9fc00ULL
/* The most RAM the loader supports: below the 32-bit PCI/IOAPIC/LAPIC hole. */
#define LINUX_RAM_MAX 0xc0000000ULL

struct linux_boot {
	const char *kernel;	/* bzImage path */
	const char *initrd;	/* NULL for none */
	const char *cmdline;	/* NULL for "" */
	uint64_t rsdp;		/* ACPI RSDP address for boot_params, 0 for none */
	bool guest_decompress;	/* run the bzImage's own decompressor instead of unpacking it */
};

/* Loads everything into the VM's RAM and sets up vCPU 0. 0, or -1 after a one-line message
 * naming the file and the reason. */
int linux__boot(struct vm *vm, const struct linux_boot *b);

#endif
