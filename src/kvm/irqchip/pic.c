/* The i8259 pair (arch/x86/kvm/i8259.c): ports 0x20/0x21 (master), 0xa0/0xa1 (slave), ELCR at
 * 0x4d0/0x4d1; ICW1-4, OCW2 (EOI, specific EOI, rotation), OCW3 (read register, poll, special
 * mask), auto-EOI, the slave cascaded on master IRQ 2, spurious IRQ 7. The master's output goes to
 * every LAPIC whose LINT0 takes ExtINT (lapic_accepts_pic), which then INTAs via
 * pic_read_irq_locked. State lives in KVM's own struct kvm_pic_state, so KVM_GET/SET_IRQCHIP is a
 * copy. */
#include "irqchip.h"

void pic_reset(struct skvm_irqchip *chip)
{
  memset(chip->pic, 0, sizeof(chip->pic));
  chip->pic[0].elcr_mask = 0xf8;
  chip->pic[1].elcr_mask = 0xde;
  chip->pic_output = false;
}

/* Sets an input level; returns 1 if raised, 0 if coalesced, -1 if masked (pic_set_irq1). */
static int set_irq1(struct kvm_pic_state *s, int irq, bool level)
{
  int ret = 1;
  uint8_t mask = 1u << irq;
  if (s->elcr & mask) {   /* level triggered */
    if (level) {
      ret = !(s->irr & mask);
      s->irr |= mask;
      s->last_irr |= mask;
    } else {
      s->irr &= ~mask;
      s->last_irr &= ~mask;
    }
  } else {                /* edge triggered */
    if (level) {
      if (!(s->last_irr & mask)) {
        ret = !(s->irr & mask);
        s->irr |= mask;
      }
      s->last_irr |= mask;
    } else {
      s->last_irr &= ~mask;
    }
  }
  return (s->imr & mask) ? -1 : ret;
}

/* the priority of the highest bit in mask (0 highest), 8 if none */
static int get_priority(const struct kvm_pic_state *s, int mask)
{
  if (!mask) return 8;
  int p = 0;
  while (!(mask & (1 << ((p + s->priority_add) & 7)))) p++;
  return p;
}

/* the IRQ to raise, or -1 */
static int get_irq(const struct kvm_pic_state *s, bool master)
{
  int p = get_priority(s, s->irr & ~s->imr);
  if (p == 8) return -1;
  int mask = s->isr;
  if (s->special_mask) mask &= ~s->imr;
  if (s->special_fully_nested_mode && master) mask &= ~(1 << 2);   /* the slave does not count */
  return p < get_priority(s, mask) ? (p + s->priority_add) & 7 : -1;
}

void pic_update_locked(struct skvm_irqchip *chip)
{
  if (get_irq(&chip->pic[1], false) >= 0) {   /* the cascade: a pulse on master IRQ 2 */
    set_irq1(&chip->pic[0], 2, true);
    set_irq1(&chip->pic[0], 2, false);
  }
  chip->pic_output = get_irq(&chip->pic[0], true) >= 0;
  if (chip->pic_output)
    for (int i = 0; i < chip->nlapics; i++)
      if (lapic_accepts_pic(chip->lapics[i])) lapic_kick_locked(chip->lapics[i]);
}

int pic_set_irq_locked(struct skvm_irqchip *chip, int irq, bool level)
{
  int ret = set_irq1(&chip->pic[irq >> 3], irq & 7, level);
  pic_update_locked(chip);
  return ret;
}

static void intack(struct kvm_pic_state *s, int irq)
{
  s->isr |= 1u << irq;
  if (!(s->elcr & (1u << irq))) s->irr &= ~(1u << irq);   /* a level IRQ stays requested */
  if (s->auto_eoi) {
    if (s->rotate_on_auto_eoi) s->priority_add = (irq + 1) & 7;
    s->isr &= ~(1u << irq);
  }
}

int pic_read_irq_locked(struct skvm_irqchip *chip)
{
  struct kvm_pic_state *m = &chip->pic[0], *sl = &chip->pic[1];
  int irq = get_irq(m, true), vector;
  if (irq >= 0) {
    intack(m, irq);
    if (irq == 2) {
      int irq2 = get_irq(sl, false);
      if (irq2 >= 0) intack(sl, irq2);
      else irq2 = 7;   /* spurious on the slave */
      vector = sl->irq_base + irq2;
    } else {
      vector = m->irq_base + irq;
    }
  } else {
    vector = m->irq_base + 7;   /* spurious on the master */
  }
  pic_update_locked(chip);
  return vector;
}

static void write_cmd(struct skvm_irqchip *chip, struct kvm_pic_state *s, uint8_t val)
{
  if (val & 0x10) {   /* ICW1 */
    uint8_t edge_irr = s->irr & ~s->elcr;
    s->init4 = val & 1;
    s->last_irr = 0;
    s->irr &= s->elcr;
    s->imr = 0;
    s->priority_add = 0;
    s->special_mask = 0;
    s->read_reg_select = 0;
    if (!s->init4) {
      s->special_fully_nested_mode = 0;
      s->auto_eoi = 0;
    }
    s->init_state = 1;
    bool found = false;
    for (int i = 0; i < chip->nlapics && !found; i++) found = lapic_accepts_pic(chip->lapics[i]);
    if (found) s->isr &= ~edge_irr;   /* as KVM: in-service edge IRQs are dropped */
  } else if (val & 0x08) {   /* OCW3 */
    if (val & 0x04) s->poll = 1;
    if (val & 0x02) s->read_reg_select = val & 1;
    if (val & 0x40) s->special_mask = (val >> 5) & 1;
  } else {                   /* OCW2 */
    int cmd = val >> 5, irq, p;
    switch (cmd) {
    case 0:
    case 4:
      s->rotate_on_auto_eoi = cmd >> 2;
      break;
    case 1:   /* non-specific EOI */
    case 5:   /* rotate on non-specific EOI */
      p = get_priority(s, s->isr);
      if (p != 8) {
        irq = (p + s->priority_add) & 7;
        if (cmd == 5) s->priority_add = (irq + 1) & 7;
        s->isr &= ~(1u << irq);
        pic_update_locked(chip);
      }
      break;
    case 3:   /* specific EOI */
      s->isr &= ~(1u << (val & 7));
      pic_update_locked(chip);
      break;
    case 6:   /* set priority */
      s->priority_add = (val + 1) & 7;
      pic_update_locked(chip);
      break;
    case 7:   /* rotate on specific EOI */
      irq = val & 7;
      s->priority_add = (irq + 1) & 7;
      s->isr &= ~(1u << irq);
      pic_update_locked(chip);
      break;
    }
  }
}

static void write_data(struct skvm_irqchip *chip, struct kvm_pic_state *s, uint8_t val)
{
  switch (s->init_state) {
  case 0:   /* OCW1: the mask */
    s->imr = val;
    pic_update_locked(chip);
    break;
  case 1:   /* ICW2 */
    s->irq_base = val & 0xf8;
    s->init_state = 2;
    break;
  case 2:   /* ICW3 */
    s->init_state = s->init4 ? 3 : 0;
    break;
  case 3:   /* ICW4 */
    s->special_fully_nested_mode = (val >> 4) & 1;
    s->auto_eoi = (val >> 1) & 1;
    s->init_state = 0;
    break;
  }
}

/* OCW3 poll: acknowledges the highest request, as an INTA would */
static uint8_t poll_read(struct skvm_irqchip *chip, struct kvm_pic_state *s, bool slave)
{
  int irq = get_irq(s, !slave);
  if (irq < 0) {
    pic_update_locked(chip);
    return 0x07;
  }
  if (slave) {
    chip->pic[0].isr &= ~(1u << 2);
    chip->pic[0].irr &= ~(1u << 2);
  }
  s->irr &= ~(1u << irq);
  s->isr &= ~(1u << irq);
  if (slave || irq != 2) pic_update_locked(chip);
  return 0x80 | irq;
}

bool pic_pio_locked(struct skvm_irqchip *chip, uint16_t port, uint8_t *val, bool write)
{
  if (port == 0x4d0 || port == 0x4d1) {
    struct kvm_pic_state *s = &chip->pic[port & 1];
    if (write) s->elcr = *val & s->elcr_mask;
    else *val = s->elcr;
    return true;
  }
  bool slave = (port & ~1) == 0xa0;
  if (!slave && (port & ~1) != 0x20) return false;
  struct kvm_pic_state *s = &chip->pic[slave];
  if (write) {
    if (port & 1) write_data(chip, s, *val);
    else write_cmd(chip, s, *val);
  } else if (s->poll) {
    *val = poll_read(chip, s, slave);
    s->poll = 0;
  } else {
    *val = (port & 1) ? s->imr : s->read_reg_select ? s->isr : s->irr;
  }
  return true;
}
