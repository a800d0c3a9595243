/* ACPI PM registers at ACPI_PM_BASE, any width and offset:
 *   +0 PM1_STS  16-bit, write 1 to clear (nothing ever sets a status bit: no SCI sources)
 *   +2 PM1_EN   16-bit, read/write
 *   +4 PM1_CNT  16-bit: SCI_EN always reads 1 (ACPI mode, no SMI_CMD); SLP_EN is write-only;
 *               SLP_EN with SLP_TYP = ACPI_SLP_TYP_S5 powers off (stop, status 0)
 *   +8 PM_TMR   32-bit, read-only, 3.579545 MHz from CLOCK_MONOTONIC, 0 at creation
 * and the reset control register at 0xcf9 (a write with RST_CPU set requests a reset). */
#include "vmm/hw/acpi_pm.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/iobus.h"
#include "vmm/util.h"
#include "vmm/vm.h"

#define PM1_STS_OFF 0
#define PM1_EN_OFF 2
#define PM1_CNT_OFF 4
#define PM_TMR_OFF 8

/* PM1_EN bits a guest may set: TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN. */
#define PM1_EN_MASK 0x0721
/* PM1_CNT bits that hold what was written: BM_RLD and SLP_TYP. */
#define PM1_CNT_RW_MASK (0x0002 | ACPI_PM1_CNT_SLP_TYP_MASK)

struct acpi_pm {
	struct vm_stop *stop;
	uint64_t t0_ns;
	uint16_t sts, en, cnt;
	uint8_t rst_cnt;
};

static uint32_t acpi_pm__timer(struct acpi_pm *pm)
{
	uint64_t ns = util__mono_ns() - pm->t0_ns;

	/* split so that the product cannot overflow 64 bits */
	return (uint32_t)((ns / 1000000000ULL) * ACPI_PM_TMR_HZ +
			  (ns % 1000000000ULL) * ACPI_PM_TMR_HZ / 1000000000ULL);
}

static void acpi_pm__put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void acpi_pm__write_cnt(struct acpi_pm *pm, uint16_t v)
{
	unsigned typ = (v & ACPI_PM1_CNT_SLP_TYP_MASK) >> ACPI_PM1_CNT_SLP_TYP_SHIFT;

	pm->cnt = v & PM1_CNT_RW_MASK;
	if ((v & ACPI_PM1_CNT_SLP_EN) && typ == ACPI_SLP_TYP_S5)
		vm_stop__request(pm->stop, 0);
}

static void acpi_pm__io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = dev;
	uint32_t off = (uint32_t)(addr - ACPI_PM_BASE), i;
	uint8_t regs[ACPI_PM_LEN];
	uint32_t tmr = acpi_pm__timer(pm);

	acpi_pm__put16(regs + PM1_STS_OFF, pm->sts);
	acpi_pm__put16(regs + PM1_EN_OFF, pm->en);
	acpi_pm__put16(regs + PM1_CNT_OFF, pm->cnt | ACPI_PM1_CNT_SCI_EN);
	regs[PM1_CNT_OFF + 2] = regs[PM1_CNT_OFF + 3] = 0;
	for (i = 0; i < 4; i++)
		regs[PM_TMR_OFF + i] = (uint8_t)(tmr >> (8 * i));

	if (!is_write) {
		for (i = 0; i < len; i++)
			data[i] = off + i < ACPI_PM_LEN ? regs[off + i] : 0xff;
		return;
	}

	/* Merge the written bytes into each register they touch, then apply each once. Bytes of
	 * PM1_STS not written count as 0 (write-1-to-clear). */
	regs[PM1_STS_OFF] = regs[PM1_STS_OFF + 1] = 0;
	for (i = 0; i < len && off + i < ACPI_PM_LEN; i++)
		regs[off + i] = data[i];
	if (off < PM1_STS_OFF + 2)
		pm->sts &= ~(uint16_t)(regs[PM1_STS_OFF] | regs[PM1_STS_OFF + 1] << 8);
	if (off < PM1_EN_OFF + 2 && off + len > PM1_EN_OFF)
		pm->en = (regs[PM1_EN_OFF] | regs[PM1_EN_OFF + 1] << 8) & PM1_EN_MASK;
	if (off < PM1_CNT_OFF + 2 && off + len > PM1_CNT_OFF)
		acpi_pm__write_cnt(pm, regs[PM1_CNT_OFF] | regs[PM1_CNT_OFF + 1] << 8);
	/* PM_TMR is read-only */
}

static void acpi_pm__reset_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len,
			      bool is_write)
{
	struct acpi_pm *pm = dev;

	if (!is_write) {
		memset(data, 0xff, len);
		data[0] = pm->rst_cnt;
		return;
	}
	/* SYS_RST and FULL_RST hold; RST_CPU starts the reset and reads back 0 */
	pm->rst_cnt = data[0] & 0x0a;
	if (data[0] & ACPI_RESET_RST_CPU)
		vm_stop__request_reset(pm->stop);
}

struct acpi_pm *acpi_pm__create(struct iobus *pio, struct vm_stop *stop)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->stop = stop;
	pm->t0_ns = util__mono_ns();
	if (iobus__register(pio, ACPI_PM_BASE, ACPI_PM_LEN, acpi_pm__io, pm) < 0)
		goto fail;
	if (iobus__register(pio, ACPI_RESET_PORT, 1, acpi_pm__reset_io, pm) < 0) {
		iobus__unregister(pio, ACPI_PM_BASE);
		goto fail;
	}
	return pm;
fail:
	free(pm);
	return NULL;
}

void acpi_pm__destroy(struct acpi_pm *pm, struct iobus *pio)
{
	if (!pm)
		return;
	iobus__unregister(pio, ACPI_RESET_PORT);
	iobus__unregister(pio, ACPI_PM_BASE);
	free(pm);
}
