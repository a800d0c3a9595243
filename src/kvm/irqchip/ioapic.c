/* The IOAPIC (arch/x86/kvm/ioapic.c): 24 pins, IOREGSEL/IOWIN at base_address (0xfec00000),
 * version 0x11, the redirection table, edge/level pins, remote IRR cleared by the LAPICs' EOI
 * broadcast. State lives in KVM's struct kvm_ioapic_state (irr: the pins' line levels). */
#include "irqchip.h"

#define RTE_DEST_LOGICAL (1ULL << 11)
#define RTE_REMOTE_IRR (1ULL << 14)
#define RTE_LEVEL (1ULL << 15)
#define RTE_MASKED (1ULL << 16)
#define IOAPIC_VERSION 0x11
#define REG_SELECT 0x00
#define REG_WINDOW 0x10
#define REG_EOI 0x40

void ioapic_reset(struct skvm_irqchip *chip)
{
  struct kvm_ioapic_state *io = &chip->ioapic;
  memset(io, 0, sizeof(*io));
  io->base_address = IOAPIC_DEFAULT_BASE;
  for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++) io->redirtbl[i].bits = RTE_MASKED;
}

/* ioapic_service: sends the pin's message; -1 when masked or waiting for an EOI */
static int service(struct skvm_irqchip *chip, int pin)
{
  __u64 *e = &chip->ioapic.redirtbl[pin].bits;
  bool level = *e & RTE_LEVEL;
  if ((*e & RTE_MASKED) || (level && (*e & RTE_REMOTE_IRR))) return -1;
  struct apic_irq irq = {
    .vector = *e & 0xff, .dm = (*e >> 8) & 7, .logical = *e & RTE_DEST_LOGICAL, .level = true,
    .trig = level, .dest = *e >> 56,
  };
  if (!level) chip->ioapic_irr_delivered |= 1u << pin;
  int ret = lapic_deliver_locked(chip, NULL, &irq);
  if (ret && level) *e |= RTE_REMOTE_IRR;   /* as KVM, also when no APIC matched (-1) */
  return ret;
}

/* ioapic_set_irq: 1 delivered, 0 coalesced, -1 masked or no destination */
int ioapic_set_irq_locked(struct skvm_irqchip *chip, int pin, bool level)
{
  struct kvm_ioapic_state *io = &chip->ioapic;
  uint32_t mask = 1u << pin;
  if (!level) {
    io->irr &= ~mask;
    return 1;
  }
  uint32_t old = io->irr;
  io->irr |= mask;
  if (!(io->redirtbl[pin].bits & RTE_LEVEL)) {
    chip->ioapic_irr_delivered &= ~mask;
    if (old == io->irr) return 0;   /* edge, still high */
  }
  return service(chip, pin);
}

/* The EOI broadcast for a level-triggered vector: clears remote IRR, re-sends a held line. */
void ioapic_eoi_locked(struct skvm_irqchip *chip, int vector)
{
  struct kvm_ioapic_state *io = &chip->ioapic;
  for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++) {
    __u64 *e = &io->redirtbl[pin].bits;
    if ((*e & 0xff) != (uint64_t)vector || !(*e & RTE_LEVEL)) continue;
    *e &= ~RTE_REMOTE_IRR;
    if (!(*e & RTE_MASKED) && (io->irr & (1u << pin))) service(chip, pin);
  }
}

static uint32_t read_indirect(struct kvm_ioapic_state *io)
{
  switch (io->ioregsel) {
  case 0x00:
  case 0x02: return (uint32_t)(io->id & 0xf) << 24;
  case 0x01: return ((KVM_IOAPIC_NUM_PINS - 1) << 16) | IOAPIC_VERSION;
  }
  uint32_t idx = (io->ioregsel - 0x10) >> 1;
  uint64_t rte = idx < KVM_IOAPIC_NUM_PINS ? io->redirtbl[idx].bits : ~0ULL;
  return (io->ioregsel & 1) ? rte >> 32 : (uint32_t)rte;
}

static void write_indirect(struct skvm_irqchip *chip, uint32_t val)
{
  struct kvm_ioapic_state *io = &chip->ioapic;
  switch (io->ioregsel) {
  case 0x00: io->id = (val >> 24) & 0xf; return;
  case 0x01:
  case 0x02: return;
  }
  uint32_t pin = (io->ioregsel - 0x10) >> 1;
  if (pin >= KVM_IOAPIC_NUM_PINS) return;
  __u64 *e = &io->redirtbl[pin].bits;
  uint64_t keep = *e & ((1ULL << 12) | RTE_REMOTE_IRR);   /* delivery status, remote IRR: read-only */
  if (io->ioregsel & 1) *e = (*e & 0xffffffffULL) | (uint64_t)val << 32;
  else *e = (*e & ~0xffffffffULL) | val;
  *e = (*e & ~((1ULL << 12) | RTE_REMOTE_IRR)) | keep;
  if (!(*e & RTE_LEVEL)) *e &= ~RTE_REMOTE_IRR;   /* Linux relies on this to "EOI" edge pins */
  if ((*e & RTE_LEVEL) && (io->irr & (1u << pin)) && !(*e & RTE_MASKED) && !(*e & RTE_REMOTE_IRR))
    service(chip, pin);   /* a level line held high while masked */
}

void ioapic_mmio_locked(struct skvm_irqchip *chip, uint64_t off, void *data, int len, bool write)
{
  struct kvm_ioapic_state *io = &chip->ioapic;
  if (!write) {
    uint64_t v = off == REG_SELECT ? io->ioregsel : off == REG_WINDOW ? read_indirect(io) : 0;
    memcpy(data, &v, len > 8 ? 8 : len);
    return;
  }
  uint32_t v = 0;
  memcpy(&v, data, len >= 4 ? 4 : len);
  switch (off) {
  case REG_SELECT: io->ioregsel = v & 0xff; break;
  case REG_WINDOW: write_indirect(chip, v); break;
  case REG_EOI: ioapic_eoi_locked(chip, v & 0xff); break;
  }
}

/* KVM_GET_IRQCHIP (kvm_get_ioapic): edge pins already delivered do not show as pending */
void ioapic_get_state_locked(struct skvm_irqchip *chip, struct kvm_ioapic_state *s)
{
  *s = chip->ioapic;
  s->irr &= ~chip->ioapic_irr_delivered;
}

/* KVM_SET_IRQCHIP (kvm_set_ioapic): the table, then the saved line levels raised again */
void ioapic_set_state_locked(struct skvm_irqchip *chip, const struct kvm_ioapic_state *s)
{
  uint32_t irr = s->irr;
  chip->ioapic = *s;
  chip->ioapic.irr = 0;
  chip->ioapic_irr_delivered = 0;
  for (int pin = 0; pin < KVM_IOAPIC_NUM_PINS; pin++)
    if (irr & (1u << pin)) ioapic_set_irq_locked(chip, pin, true);
}
