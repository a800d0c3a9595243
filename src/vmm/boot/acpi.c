/* ACPI tables (see acpi.h). Layouts from the ACPI 6.0 specification, chapter 5.2: RSDP
 * (5.2.5.3), system description table header (5.2.6), RSDT/XSDT (5.2.7, 5.2.8), FADT rev 6
 * (5.2.9, 276 bytes), FACS (5.2.10), DSDT (5.2.11.1), MADT (5.2.12) with its processor local
 * APIC (5.2.12.2), I/O APIC (5.2.12.3), interrupt source override (5.2.12.5) and local APIC
 * NMI (5.2.12.7) entries; the generic address structure (5.2.3.2).
 *
 * Layout from ACPI_TABLES_BASE, each table 16-byte aligned (the FACS 64-byte aligned):
 * RSDP, FACS, DSDT, FADT, MADT, RSDT, XSDT; the rest of the area is zero. */
#include "vmm/boot/acpi.h"

#include <string.h>

#include "vmm/boot/aml.h"
#include "vmm/hw/acpi_pm.h"
#include "vmm/hw/pci.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define ACPI_OEM_ID "SKVM  "		/* 6 bytes */
#define ACPI_OEM_TABLE_PREFIX "SOFTKV"	/* + 2 characters of the signature: 8 bytes */
#define ACPI_CREATOR_ID "SKVM"

#define ACPI_HEADER_LEN 36
#define ACPI_RSDP_LEN 36
#define ACPI_RSDP_V1_LEN 20
#define ACPI_FACS_LEN 64
#define ACPI_FADT_LEN 276
#define ACPI_GAS_LEN 12
#define ACPI_GAS_SYSTEM_IO 1
#define ACPI_GAS_ACCESS_BYTE 1
#define ACPI_GAS_ACCESS_WORD 2
#define ACPI_GAS_ACCESS_DWORD 3

/* FADT field offsets */
#define FADT_FIRMWARE_CTRL 36
#define FADT_DSDT 40
#define FADT_SCI_INT 46
#define FADT_SMI_CMD 48
#define FADT_PM1A_EVT_BLK 56
#define FADT_PM1A_CNT_BLK 64
#define FADT_PM_TMR_BLK 76
#define FADT_PM1_EVT_LEN 88
#define FADT_PM1_CNT_LEN 89
#define FADT_PM_TMR_LEN 91
#define FADT_P_LVL2_LAT 96
#define FADT_P_LVL3_LAT 98
#define FADT_CENTURY 108
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_MINOR_VERSION 131
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT 140
#define FADT_X_PM1A_EVT_BLK 148
#define FADT_X_PM1A_CNT_BLK 172
#define FADT_X_PM_TMR_BLK 208
#define FADT_HYPERVISOR_ID 268

/* FADT flags */
#define FADT_F_WBINVD (1u << 0)
#define FADT_F_PROC_C1 (1u << 2)
#define FADT_F_PWR_BUTTON (1u << 4)	/* no fixed-feature power button */
#define FADT_F_SLP_BUTTON (1u << 5)	/* no fixed-feature sleep button */
#define FADT_F_FIX_RTC (1u << 6)	/* no RTC wake status in PM1 */
#define FADT_F_TMR_VAL_EXT (1u << 8)	/* 32-bit PM timer */
#define FADT_F_RESET_REG_SUP (1u << 10)

/* IAPC_BOOT_ARCH */
#define FADT_BOOT_LEGACY_DEVICES (1u << 0)
#define FADT_BOOT_8042 (1u << 1)
#define FADT_BOOT_NO_VGA (1u << 2)

#define FADT_C2_NONE 0x0fff		/* latency > 100: no C2 */
#define FADT_C3_NONE 0x0fff		/* latency > 1000: no C3 */

/* MADT */
#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_INT_OVERRIDE 2
#define MADT_LAPIC_NMI 4
#define MADT_LAPIC_ENABLED 1u
#define MADT_POLARITY_HIGH 0x1
#define MADT_TRIGGER_LEVEL 0xc
#define MADT_ALL_CPUS 0xff

struct acpi_builder {
	uint8_t *base;			/* host address of ACPI_TABLES_BASE */
	uint64_t used;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t acpi__checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* len bytes at the next align-aligned offset; NULL when the area is full. */
static uint8_t *acpi__alloc(struct acpi_builder *b, uint64_t len, uint64_t align,
			    uint64_t *gpa)
{
	uint64_t off = (b->used + align - 1) & ~(align - 1);

	if (off + len > ACPI_TABLES_END - ACPI_TABLES_BASE)
		return NULL;
	b->used = off + len;
	*gpa = ACPI_TABLES_BASE + off;
	return b->base + off;
}

static void acpi__header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, ACPI_OEM_TABLE_PREFIX, 6);
	memcpy(t + 22, sig, 2);
	put32(t + 24, 1);		/* OEM revision */
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put32(t + 32, 1);		/* creator revision */
}

static void acpi__finish(uint8_t *t)
{
	uint32_t len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;

	t[9] = 0;
	t[9] = acpi__checksum(t, len);
}

static void acpi__gas_io(uint8_t *p, uint8_t bits, uint8_t access, uint64_t port)
{
	p[0] = ACPI_GAS_SYSTEM_IO;
	p[1] = bits;
	p[2] = 0;			/* bit offset */
	p[3] = access;
	put64(p + 4, port);
}

static uint8_t *acpi__facs(struct acpi_builder *b, uint64_t *gpa)
{
	uint8_t *t = acpi__alloc(b, ACPI_FACS_LEN, 64, gpa);

	if (!t)
		return NULL;
	memcpy(t, "FACS", 4);
	put32(t + 4, ACPI_FACS_LEN);
	t[32] = 2;			/* version */
	return t;
}

static uint8_t *acpi__fadt(struct acpi_builder *b, uint64_t facs, uint64_t dsdt, uint64_t *gpa)
{
	uint8_t *t = acpi__alloc(b, ACPI_FADT_LEN, 16, gpa);

	if (!t)
		return NULL;
	acpi__header(t, "FACP", ACPI_FADT_LEN, 6);
	put32(t + FADT_FIRMWARE_CTRL, (uint32_t)facs);
	put32(t + FADT_DSDT, (uint32_t)dsdt);
	put16(t + FADT_SCI_INT, ACPI_SCI_IRQ);
	put32(t + FADT_SMI_CMD, 0);	/* no SMI: always in ACPI mode */
	put32(t + FADT_PM1A_EVT_BLK, ACPI_PM1_EVT_PORT);
	put32(t + FADT_PM1A_CNT_BLK, ACPI_PM1_CNT_PORT);
	put32(t + FADT_PM_TMR_BLK, ACPI_PM_TMR_PORT);
	t[FADT_PM1_EVT_LEN] = ACPI_PM1_EVT_LEN;
	t[FADT_PM1_CNT_LEN] = ACPI_PM1_CNT_LEN;
	t[FADT_PM_TMR_LEN] = ACPI_PM_TMR_LEN;
	put16(t + FADT_P_LVL2_LAT, FADT_C2_NONE);
	put16(t + FADT_P_LVL3_LAT, FADT_C3_NONE);
	t[FADT_CENTURY] = 0x32;		/* RTC_CENTURY */
	put16(t + FADT_IAPC_BOOT_ARCH,
	      FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_8042 | FADT_BOOT_NO_VGA);
	put32(t + FADT_FLAGS, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_PWR_BUTTON |
	      FADT_F_SLP_BUTTON | FADT_F_FIX_RTC | FADT_F_TMR_VAL_EXT | FADT_F_RESET_REG_SUP);
	acpi__gas_io(t + FADT_RESET_REG, 8, ACPI_GAS_ACCESS_BYTE, ACPI_RESET_PORT);
	t[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
	t[FADT_MINOR_VERSION] = 0;
	put64(t + FADT_X_FIRMWARE_CTRL, facs);
	put64(t + FADT_X_DSDT, dsdt);
	acpi__gas_io(t + FADT_X_PM1A_EVT_BLK, ACPI_PM1_EVT_LEN * 8, ACPI_GAS_ACCESS_WORD,
		     ACPI_PM1_EVT_PORT);
	acpi__gas_io(t + FADT_X_PM1A_CNT_BLK, ACPI_PM1_CNT_LEN * 8, ACPI_GAS_ACCESS_WORD,
		     ACPI_PM1_CNT_PORT);
	acpi__gas_io(t + FADT_X_PM_TMR_BLK, ACPI_PM_TMR_LEN * 8, ACPI_GAS_ACCESS_DWORD,
		     ACPI_PM_TMR_PORT);
	memcpy(t + FADT_HYPERVISOR_ID, "softkvm", 8);
	acpi__finish(t);
	return t;
}

static uint8_t *acpi__madt(struct acpi_builder *b, int ncpus, uint64_t *gpa)
{
	uint32_t len = ACPI_HEADER_LEN + 8 + 8 * ncpus + 12 + 10 + 6;
	uint8_t *t = acpi__alloc(b, len, 16, gpa), *e;
	int i;

	if (!t)
		return NULL;
	acpi__header(t, "APIC", len, 3);
	put32(t + 36, ACPI_LAPIC_ADDR);
	put32(t + 40, MADT_PCAT_COMPAT);
	e = t + 44;
	for (i = 0; i < ncpus; i++, e += 8) {
		e[0] = MADT_LAPIC;
		e[1] = 8;
		e[2] = (uint8_t)i;	/* ACPI processor UID = the DSDT's Cnnn._UID */
		e[3] = (uint8_t)i;	/* APIC ID */
		put32(e + 4, MADT_LAPIC_ENABLED);
	}
	e[0] = MADT_IOAPIC;
	e[1] = 12;
	e[2] = (uint8_t)ncpus;		/* I/O APIC ID, after the CPUs' */
	e[3] = 0;
	put32(e + 4, ACPI_IOAPIC_ADDR);
	put32(e + 8, 0);		/* GSI base */
	e += 12;
	/* the SCI is level-triggered, active-high (ISA IRQs are edge unless overridden); no
	 * override for IRQ 0: the PIT's GSI 0 is I/O APIC pin 0 */
	e[0] = MADT_INT_OVERRIDE;
	e[1] = 10;
	e[2] = 0;			/* ISA bus */
	e[3] = ACPI_SCI_IRQ;
	put32(e + 4, ACPI_SCI_IRQ);
	put16(e + 8, MADT_POLARITY_HIGH | MADT_TRIGGER_LEVEL);
	e += 10;
	e[0] = MADT_LAPIC_NMI;
	e[1] = 6;
	e[2] = MADT_ALL_CPUS;
	put16(e + 3, 0);		/* bus-conforming polarity and trigger */
	e[5] = 1;			/* LINT1 */
	acpi__finish(t);
	return t;
}

/* Device (PCI0) in \_SB: the root bridge of bus 0 with its windows and INTx routing. */
static void acpi__dsdt_pci0(struct aml *a)
{
	size_t dev, crs, prt, entry;
	unsigned slot, pin;

	dev = aml__device_open(a, "PCI0");
	aml__name(a, "_HID");
	aml__eisaid(a, "PNP0A03");
	aml__name_integer(a, "_ADR", 0);
	aml__name_integer(a, "_UID", 0);
	aml__name_integer(a, "_BBN", 0);

	aml__name(a, "_CRS");
	crs = aml__buffer_open(a);
	aml__res_word_bus(a, 0x00, 0xff);
	aml__res_io(a, PCI_CONFIG_ADDRESS_PORT, PCI_CONFIG_ADDRESS_PORT, 1, 8);
	aml__res_word_io(a, 0x0000, PCI_CONFIG_ADDRESS_PORT - 1);
	aml__res_word_io(a, PCI_IO_BASE, PCI_IO_END - 1);
	aml__res_dword_mem(a, 0x000a0000, 0x000bffff);	/* legacy VGA window */
	aml__res_dword_mem(a, (uint32_t)PCI_MMIO32_BASE, (uint32_t)(PCI_MMIO32_END - 1));
	aml__res_end(a);
	aml__buffer_close(a, crs);

	/* _PRT: Package { Package { address 0xSSSSFFFF, pin, source 0 (a GSI), GSI } ... } */
	aml__name(a, "_PRT");
	prt = aml__package_open(a, 31 * 4);
	for (slot = 1; slot < 32; slot++) {
		for (pin = 0; pin < 4; pin++) {
			entry = aml__package_open(a, 4);
			aml__integer(a, (uint64_t)slot << 16 | 0xffff);
			aml__integer(a, pin);
			aml__integer(a, 0);
			aml__integer(a, pci__intx_gsi(slot, pin));
			aml__close(a, entry);
		}
	}
	aml__close(a, prt);
	aml__close(a, dev);
}

static int acpi__dsdt_aml(struct aml *a, int ncpus)
{
	size_t sb, pkg, dev;
	char name[5];
	int i;

	/* Name (_S5, Package (4) { SLP_TYPa, SLP_TYPb, 0, 0 }) */
	aml__name(a, "_S5");
	pkg = aml__package_open(a, 4);
	aml__integer(a, ACPI_SLP_TYP_S5);
	aml__integer(a, ACPI_SLP_TYP_S5);
	aml__integer(a, 0);
	aml__integer(a, 0);
	aml__close(a, pkg);

	sb = aml__scope_open(a, "\\_SB");
	acpi__dsdt_pci0(a);
	for (i = 0; i < ncpus; i++) {
		snprintf(name, sizeof(name), "C%03X", (unsigned)i);
		dev = aml__device_open(a, name);
		aml__name(a, "_HID");
		aml__string(a, "ACPI0007");
		aml__name_integer(a, "_UID", (uint64_t)i);
		aml__close(a, dev);
	}
	aml__close(a, sb);
	return a->failed ? -1 : 0;
}

static uint8_t *acpi__dsdt(struct acpi_builder *b, int ncpus, uint64_t *gpa)
{
	struct aml a;
	uint8_t *t = NULL;

	aml__init(&a);
	if (acpi__dsdt_aml(&a, ncpus) == 0) {
		t = acpi__alloc(b, ACPI_HEADER_LEN + a.len, 16, gpa);
		if (t) {
			acpi__header(t, "DSDT", (uint32_t)(ACPI_HEADER_LEN + a.len), 2);
			memcpy(t + ACPI_HEADER_LEN, a.buf, a.len);
			acpi__finish(t);
		}
	}
	aml__free(&a);
	return t;
}

/* RSDT (32-bit entries) or XSDT (64-bit entries) listing the given tables. */
static uint8_t *acpi__sdt(struct acpi_builder *b, const char *sig, unsigned entry_len,
			  const uint64_t *tables, unsigned n, uint64_t *gpa)
{
	uint32_t len = ACPI_HEADER_LEN + entry_len * n;
	uint8_t *t = acpi__alloc(b, len, 16, gpa);
	unsigned i;

	if (!t)
		return NULL;
	acpi__header(t, sig, len, 1);
	for (i = 0; i < n; i++) {
		if (entry_len == 4)
			put32(t + ACPI_HEADER_LEN + 4 * i, (uint32_t)tables[i]);
		else
			put64(t + ACPI_HEADER_LEN + 8 * i, tables[i]);
	}
	acpi__finish(t);
	return t;
}

int acpi__build(struct vm *vm, int ncpus, uint64_t *rsdp_gpa)
{
	uint64_t len = ACPI_TABLES_END - ACPI_TABLES_BASE;
	uint64_t rsdp, facs, dsdt, fadt, madt, rsdt, xsdt, tables[2];
	struct acpi_builder b;
	uint8_t *r;

	if (ncpus < 1 || ncpus > ACPI_MAX_CPUS) {
		pr_err("ACPI: %d CPUs (1..%d)", ncpus, ACPI_MAX_CPUS);
		return -1;
	}
	b.base = vm__gpa_to_hva(vm, ACPI_TABLES_BASE, len);
	b.used = 0;
	if (!b.base) {
		pr_err("ACPI: guest RAM does not cover the tables at %#llx..%#llx",
		       ACPI_TABLES_BASE, ACPI_TABLES_END - 1);
		return -1;
	}
	memset(b.base, 0, len);

	/* the RSDP first, filled in last; the FADT needs the FACS and DSDT addresses */
	r = acpi__alloc(&b, ACPI_RSDP_LEN, 16, &rsdp);
	if (!r || !acpi__facs(&b, &facs) || !acpi__dsdt(&b, ncpus, &dsdt) ||
	    !acpi__fadt(&b, facs, dsdt, &fadt) || !acpi__madt(&b, ncpus, &madt))
		goto full;
	tables[0] = fadt;
	tables[1] = madt;
	if (!acpi__sdt(&b, "RSDT", 4, tables, 2, &rsdt) ||
	    !acpi__sdt(&b, "XSDT", 8, tables, 2, &xsdt))
		goto full;

	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, ACPI_OEM_ID, 6);
	r[15] = 2;			/* revision: ACPI 2.0+ (has the XSDT) */
	put32(r + 16, (uint32_t)rsdt);
	put32(r + 20, ACPI_RSDP_LEN);
	put64(r + 24, xsdt);
	r[8] = acpi__checksum(r, ACPI_RSDP_V1_LEN);
	r[32] = acpi__checksum(r, ACPI_RSDP_LEN);
	*rsdp_gpa = rsdp;
	return 0;
full:
	pr_err("ACPI: the tables do not fit in %#llx..%#llx (or out of memory)",
	       ACPI_TABLES_BASE, ACPI_TABLES_END - 1);
	return -1;
}
