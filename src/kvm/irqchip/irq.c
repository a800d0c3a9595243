/* The irqchip's VM ioctls (arch/x86/kvm/x86.c kvm_arch_vm_ioctl, irq_comm.c): KVM_CREATE_IRQCHIP,
 * KVM_IRQ_LINE(_STATUS) through KVM's default routing (GSI n -> IOAPIC pin n, and PIC irq n for
 * n < 16), KVM_GET/SET_IRQCHIP, KVM_CREATE_PIT(2), KVM_GET/SET_PIT2. */
#include <errno.h>
#include <stdlib.h>

#include "irqchip.h"

static struct skvm_irqchip *chip_of(struct skvm_vm *vm)
{
  return __atomic_load_n(&vm->irqchip, __ATOMIC_ACQUIRE);
}

/* kvm_set_irq: the sum of the chips' results, -1 if none delivered (or no route) */
int irq_set_locked(struct skvm_irqchip *chip, unsigned gsi, int src, bool level)
{
  if (gsi >= IRQ_NR_GSI) return -1;
  uint32_t *line = &chip->line[gsi];
  *line = level ? *line | (1u << src) : *line & ~(1u << src);
  bool high = *line != 0;
  int ret = -1, r;
  if (gsi < 16 && (r = pic_set_irq_locked(chip, gsi, high)) >= 0) ret = r;
  if ((r = ioapic_set_irq_locked(chip, gsi, high)) >= 0) ret = r + (ret < 0 ? 0 : ret);
  return ret;
}

static long create_irqchip(struct skvm_vm *vm)
{
  long r = 0;
  pthread_mutex_lock(&vm->lock);
  if (vm->irqchip) r = -EEXIST;
  else if (vm->created_vcpus) r = -EINVAL;
  if (r) goto out;
  struct skvm_irqchip *chip = calloc(1, sizeof(*chip));
  if (!chip) {
    r = -ENOMEM;
    goto out;
  }
  pthread_mutex_init(&chip->lock, NULL);
  irq_cond_init(&chip->timer_cond);
  pic_reset(chip);
  ioapic_reset(chip);
  if (timer_start(chip)) {
    pthread_cond_destroy(&chip->timer_cond);
    pthread_mutex_destroy(&chip->lock);
    free(chip);
    r = -ENOMEM;
    goto out;
  }
  __atomic_store_n(&vm->irqchip, chip, __ATOMIC_RELEASE);
out:
  pthread_mutex_unlock(&vm->lock);
  return r;
}

void irqchip_destroy(struct skvm_vm *vm)
{
  struct skvm_irqchip *chip = vm->irqchip;
  if (!chip) return;
  timer_stop(chip);
  free(chip->pit);
  pthread_cond_destroy(&chip->timer_cond);
  pthread_mutex_destroy(&chip->lock);
  free(chip);
  vm->irqchip = NULL;
}

static long irq_line(struct skvm_irqchip *chip, struct kvm_irq_level *e, bool status)
{
  if (!chip) return -ENXIO;
  pthread_mutex_lock(&chip->lock);
  int st = irq_set_locked(chip, e->irq, IRQ_SRC_USER, e->level != 0);
  pthread_mutex_unlock(&chip->lock);
  if (status) e->status = st;
  return 0;
}

static long get_set_irqchip(struct skvm_irqchip *chip, struct kvm_irqchip *c, bool set)
{
  if (!chip) return -ENXIO;
  long r = 0;
  pthread_mutex_lock(&chip->lock);
  switch (c->chip_id) {
  case KVM_IRQCHIP_PIC_MASTER:
  case KVM_IRQCHIP_PIC_SLAVE:
    if (set) {
      chip->pic[c->chip_id] = c->chip.pic;
      pic_update_locked(chip);
    } else {
      c->chip.pic = chip->pic[c->chip_id];
    }
    break;
  case KVM_IRQCHIP_IOAPIC:
    if (set) ioapic_set_state_locked(chip, &c->chip.ioapic);
    else ioapic_get_state_locked(chip, &c->chip.ioapic);
    break;
  default:
    r = -EINVAL;
  }
  pthread_mutex_unlock(&chip->lock);
  return r;
}

/* Without an irqchip 6.1 accepts the PIT but it can raise nothing; later kernels (and we) say
 * ENOENT. */
static long create_pit(struct skvm_vm *vm, uint32_t flags)
{
  struct skvm_irqchip *chip = chip_of(vm);
  long r;
  pthread_mutex_lock(&vm->lock);
  if (chip) pthread_mutex_lock(&chip->lock);
  if (chip && chip->pit) r = -EEXIST;
  else if (!chip) r = -ENOENT;
  else r = pit_create(chip, flags);
  if (chip) pthread_mutex_unlock(&chip->lock);
  pthread_mutex_unlock(&vm->lock);
  return r;
}

static long get_set_pit2(struct skvm_irqchip *chip, struct kvm_pit_state2 *s, bool set)
{
  if (!chip) return -ENXIO;
  long r = 0;
  pthread_mutex_lock(&chip->lock);
  if (!chip->pit) r = -ENXIO;
  else if (set) pit_set_state_locked(chip, s);
  else pit_get_state_locked(chip, s);
  pthread_mutex_unlock(&chip->lock);
  return r;
}

/* -ENOTTY for requests that are not the irqchip's */
long irqchip_vm_ioctl(struct skvm_vm *vm, unsigned long req, void *arg)
{
  switch (req) {
  case KVM_CREATE_IRQCHIP: return create_irqchip(vm);
  case KVM_IRQ_LINE: return irq_line(chip_of(vm), arg, false);
  case KVM_IRQ_LINE_STATUS: return irq_line(chip_of(vm), arg, true);
  case KVM_GET_IRQCHIP: return get_set_irqchip(chip_of(vm), arg, false);
  case KVM_SET_IRQCHIP: return get_set_irqchip(chip_of(vm), arg, true);
  case KVM_CREATE_PIT: return create_pit(vm, KVM_PIT_SPEAKER_DUMMY);
  case KVM_CREATE_PIT2: return create_pit(vm, ((const struct kvm_pit_config *)arg)->flags);
  case KVM_GET_PIT2: return get_set_pit2(chip_of(vm), arg, false);
  case KVM_SET_PIT2: return get_set_pit2(chip_of(vm), arg, true);
  }
  return -ENOTTY;
}
