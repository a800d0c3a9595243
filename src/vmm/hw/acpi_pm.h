/* ACPI fixed hardware (PM1 event and control blocks, PM timer) and the 0xcf9 reset register.
 * The FADT (boot/acpi.c) points at these ports. */
#ifndef SKVM_VMM_HW_ACPI_PM_H
#define SKVM_VMM_HW_ACPI_PM_H

#include <stdint.h>

struct iobus;
struct vm_stop;
struct acpi_pm;

#define ACPI_PM_BASE 0x600
#define ACPI_PM1_EVT_PORT (ACPI_PM_BASE + 0)	/* PM1_STS (2 bytes) + PM1_EN (2 bytes) */
#define ACPI_PM1_EVT_LEN 4
#define ACPI_PM1_CNT_PORT (ACPI_PM_BASE + 4)
#define ACPI_PM1_CNT_LEN 2
#define ACPI_PM_TMR_PORT (ACPI_PM_BASE + 8)
#define ACPI_PM_TMR_LEN 4
#define ACPI_PM_LEN 12

#define ACPI_PM_TMR_HZ 3579545ULL

/* PM1 control bits */
#define ACPI_PM1_CNT_SCI_EN 0x0001
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP_MASK (7 << ACPI_PM1_CNT_SLP_TYP_SHIFT)
#define ACPI_PM1_CNT_SLP_EN 0x2000

/* The SLP_TYP value of \_S5 in the DSDT: SLP_EN with it powers the machine off. */
#define ACPI_SLP_TYP_S5 5

/* Reset control register (as Intel chipsets): writing a value with bit 2 (RST_CPU) set resets. */
#define ACPI_RESET_PORT 0xcf9
#define ACPI_RESET_VALUE 0x06
#define ACPI_RESET_RST_CPU 0x04

/* Powering off requests a stop with status 0, a reset a reset (struct vm_stop). */
struct acpi_pm *acpi_pm__create(struct iobus *pio, struct vm_stop *stop);
void acpi_pm__destroy(struct acpi_pm *pm, struct iobus *pio);

#endif
