/* ACPI tables for a PC without firmware: RSDP, RSDT, XSDT, FADT (+ FACS), MADT and a DSDT
 * (\_S5 for poweroff, \_SB.PCI0 with its resources and INTx routing, one ACPI0007 processor
 * device per CPU), written into guest RAM at [ACPI_TABLES_BASE, ACPI_TABLES_END) -- the BIOS
 * area, where Linux also scans for the RSDP when the boot protocol does not pass it. That range
 * must be reserved in the e820 map. */
#ifndef SKVM_VMM_BOOT_ACPI_H
#define SKVM_VMM_BOOT_ACPI_H

#include <stdint.h>

struct vm;

#define ACPI_TABLES_BASE 0xe0000ULL
#define ACPI_TABLES_END 0x100000ULL	/* exclusive */

/* The platform the tables describe */
#define ACPI_LAPIC_ADDR 0xfee00000u
#define ACPI_IOAPIC_ADDR 0xfec00000u
#define ACPI_SCI_IRQ 9
#define ACPI_MAX_CPUS 255

/* Writes the tables for ncpus CPUs (APIC IDs 0..ncpus-1, the I/O APIC's ID is ncpus) and
 * returns the RSDP's guest-physical address (for boot_params.acpi_rsdp_addr). 0, or -1 after
 * a message (RAM smaller than 1 MiB, bad ncpus, out of memory). */
int acpi__build(struct vm *vm, int ncpus, uint64_t *rsdp_gpa);

#endif
