/* PCI bus 0 behind configuration mechanism #1 (address at 0xcf8, data at 0xcfc..0xcff).
 *
 * A device is a struct pci_device: 256 bytes of config space as the guest reads it, a mask of
 * the bits the guest may write and a mask of write-1-to-clear bits; optional hooks run after a
 * write (BAR moves, command register changes) and before a read (fields computed on demand).
 * The host bridge at 00:00.0 is built in; functions nobody registered read all-ones. */
#ifndef SKVM_VMM_HW_PCI_H
#define SKVM_VMM_HW_PCI_H

#include <stdint.h>

struct iobus;
struct pci;

#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define PCI_CONFIG_ENABLE 0x80000000u

#define PCI_CFG_SIZE 256
#define PCI_DEVFN(slot, fn) ((uint8_t)(((slot) << 3) | (fn)))

/* Config header offsets */
#define PCI_CFG_VENDOR_ID 0x00
#define PCI_CFG_DEVICE_ID 0x02
#define PCI_CFG_COMMAND 0x04
#define PCI_CFG_STATUS 0x06
#define PCI_CFG_REVISION 0x08
#define PCI_CFG_CLASS_PROG 0x09
#define PCI_CFG_HEADER_TYPE 0x0e
#define PCI_CFG_SUBSYS_VENDOR_ID 0x2c
#define PCI_CFG_SUBSYS_ID 0x2e
#define PCI_CFG_INTERRUPT_LINE 0x3c
#define PCI_CFG_INTERRUPT_PIN 0x3d

/* The host bridge: an i440FX (PMC), as QEMU's pc machine has. */
#define PCI_HOST_VENDOR 0x8086
#define PCI_HOST_DEVICE 0x1237
#define PCI_HOST_REVISION 0x02
#define PCI_CLASS_BRIDGE_HOST 0x060000

/* Guest-physical window for 32-bit BARs (below the I/O APIC), and the I/O port window above
 * the legacy ports. The DSDT's PCI0._CRS advertises them. */
#define PCI_MMIO32_BASE 0xc0000000ULL
#define PCI_MMIO32_END 0xfec00000ULL	/* exclusive */
#define PCI_IO_BASE 0x0d00
#define PCI_IO_END 0x10000		/* exclusive */

/* The GSI of INTx (pin 0..3 = INTA..INTD) of a device in slot 1..31: the DSDT's _PRT says
 * the same (I/O APIC pins 16..23, level-triggered, active-low). */
static inline uint32_t pci__intx_gsi(unsigned slot, unsigned pin)
{
	return 16 + ((slot + pin) & 7);
}

struct pci_device {
	uint8_t devfn;
	uint8_t cfg[PCI_CFG_SIZE];	/* what the guest reads */
	uint8_t wmask[PCI_CFG_SIZE];	/* bits a guest write changes */
	uint8_t w1cmask[PCI_CFG_SIZE];	/* bits a guest write of 1 clears */
	/* optional: after a guest write of [off, off+len), already merged into cfg */
	void (*cfg_write)(struct pci_device *dev, uint32_t off, uint32_t len);
	/* optional: before a guest read of [off, off+len); may update cfg */
	void (*cfg_read)(struct pci_device *dev, uint32_t off, uint32_t len);
	void *priv;
};

/* A type 0 header with these IDs (subsystem 1af4:1100, as QEMU's), everything read-only
 * but the command register (I/O, memory, bus master, INTx disable), the interrupt line and
 * the status register's error bits (write-1-to-clear). */
void pci__init_header(struct pci_device *dev, uint8_t devfn, uint16_t vendor, uint16_t device,
		      uint8_t revision, uint32_t class_code);

struct pci *pci__create(struct iobus *pio);
void pci__destroy(struct pci *pci, struct iobus *pio);

/* Puts dev on bus 0 at dev->devfn: 0, or -EEXIST when that function is taken. dev stays
 * owned by the caller and must outlive its registration. */
int pci__register(struct pci *pci, struct pci_device *dev);
void pci__unregister(struct pci *pci, struct pci_device *dev);

#endif
