/* PCI configuration mechanism #1 and bus 0.
 *
 * Port 0xcf8 takes 32-bit accesses only (the address: enable bit 31, bus 23:16, device 15:11,
 * function 10:8, register 7:2); a narrower access there is not the address register (reads
 * all-ones, writes dropped), and 0xcf9 belongs to the reset register (hw/acpi_pm.c). Ports
 * 0xcfc..0xcff reach the dword the address selects, at any width and byte offset. With the
 * enable bit clear, on another bus or at an empty devfn, reads give all-ones and writes are
 * dropped. */
#include "vmm/hw/pci.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/iobus.h"

#define PCI_NR_DEVFN 256
#define PCI_COMMAND_WMASK 0x0407	/* I/O, memory, bus master, INTx disable */
#define PCI_STATUS_W1C 0xf900		/* parity, target/master aborts, SERR, parity error */

struct pci {
	uint32_t addr;
	struct pci_device *devs[PCI_NR_DEVFN];
	struct pci_device host;
};

static void pci__put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void pci__init_header(struct pci_device *dev, uint8_t devfn, uint16_t vendor, uint16_t device,
		      uint8_t revision, uint32_t class_code)
{
	memset(dev, 0, sizeof(*dev));
	dev->devfn = devfn;
	pci__put16(dev->cfg + PCI_CFG_VENDOR_ID, vendor);
	pci__put16(dev->cfg + PCI_CFG_DEVICE_ID, device);
	dev->cfg[PCI_CFG_REVISION] = revision;
	dev->cfg[PCI_CFG_CLASS_PROG] = (uint8_t)class_code;
	dev->cfg[PCI_CFG_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	dev->cfg[PCI_CFG_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	pci__put16(dev->cfg + PCI_CFG_SUBSYS_VENDOR_ID, 0x1af4);
	pci__put16(dev->cfg + PCI_CFG_SUBSYS_ID, 0x1100);
	pci__put16(dev->wmask + PCI_CFG_COMMAND, PCI_COMMAND_WMASK);
	pci__put16(dev->w1cmask + PCI_CFG_STATUS, PCI_STATUS_W1C);
	dev->wmask[PCI_CFG_INTERRUPT_LINE] = 0xff;
}

/* The device the address register selects, or NULL. */
static struct pci_device *pci__selected(struct pci *pci)
{
	if (!(pci->addr & PCI_CONFIG_ENABLE) || ((pci->addr >> 16) & 0xff) != 0)
		return NULL;
	return pci->devs[(pci->addr >> 8) & 0xff];
}

static void pci__config_access(struct pci *pci, uint32_t byte, uint8_t *data, uint32_t len,
			       bool is_write)
{
	struct pci_device *dev = pci__selected(pci);
	uint32_t off = (pci->addr & 0xfc) + byte, i;

	if (!is_write)
		memset(data, 0xff, len);
	if (!dev)
		return;
	if (len > 4 - byte)
		len = 4 - byte;		/* stay within the selected dword */
	if (!is_write) {
		if (dev->cfg_read)
			dev->cfg_read(dev, off, len);
		memcpy(data, dev->cfg + off, len);
		return;
	}
	for (i = 0; i < len; i++) {
		uint8_t *c = &dev->cfg[off + i];

		*c = (uint8_t)((*c & ~dev->wmask[off + i]) | (data[i] & dev->wmask[off + i]));
		*c &= (uint8_t)~(data[i] & dev->w1cmask[off + i]);
	}
	if (dev->cfg_write)
		dev->cfg_write(dev, off, len);
}

static void pci__addr_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci *pci = dev;
	uint32_t v;

	if (len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		memcpy(&v, data, 4);
		pci->addr = v & 0x80fffffc;	/* reserved bits 30:24 and 1:0 read 0 */
	} else {
		memcpy(data, &pci->addr, 4);
	}
}

static void pci__data_io(void *dev, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
	pci__config_access(dev, (uint32_t)(addr - PCI_CONFIG_DATA_PORT), data, len, is_write);
}

int pci__register(struct pci *pci, struct pci_device *dev)
{
	if (pci->devs[dev->devfn])
		return -EEXIST;
	pci->devs[dev->devfn] = dev;
	return 0;
}

void pci__unregister(struct pci *pci, struct pci_device *dev)
{
	if (pci->devs[dev->devfn] == dev)
		pci->devs[dev->devfn] = NULL;
}

struct pci *pci__create(struct iobus *pio)
{
	struct pci *pci = calloc(1, sizeof(*pci));

	if (!pci)
		return NULL;
	pci__init_header(&pci->host, PCI_DEVFN(0, 0), PCI_HOST_VENDOR, PCI_HOST_DEVICE,
			 PCI_HOST_REVISION, PCI_CLASS_BRIDGE_HOST);
	/* memory and bus master enabled, as an i440FX comes up */
	pci__put16(pci->host.cfg + PCI_CFG_COMMAND, 0x0006);
	pci__register(pci, &pci->host);

	if (iobus__register(pio, PCI_CONFIG_ADDRESS_PORT, 1, pci__addr_io, pci) < 0)
		goto fail;
	if (iobus__register(pio, PCI_CONFIG_DATA_PORT, 4, pci__data_io, pci) < 0) {
		iobus__unregister(pio, PCI_CONFIG_ADDRESS_PORT);
		goto fail;
	}
	return pci;
fail:
	free(pci);
	return NULL;
}

void pci__destroy(struct pci *pci, struct iobus *pio)
{
	if (!pci)
		return;
	iobus__unregister(pio, PCI_CONFIG_DATA_PORT);
	iobus__unregister(pio, PCI_CONFIG_ADDRESS_PORT);
	free(pci);
}
