/* The VM's timer thread: sleeps until the earliest LAPIC timer or PIT channel 0 deadline, fires
 * what is due (setting IRR / pulsing GSI 0 wakes the target vCPUs) and sleeps again. Arming a
 * timer signals timer_cond so a new, earlier deadline is seen at once. */
#include <stdint.h>
#include <time.h>

#include "irqchip.h"

uint64_t irq_now_ns(void)
{
  return skvm_clock_ns(CLOCK_MONOTONIC);
}

void irq_cond_init(pthread_cond_t *c)
{
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(c, &a);
  pthread_condattr_destroy(&a);
}

static void *timer_main(void *arg)
{
  struct skvm_irqchip *chip = arg;
  pthread_mutex_lock(&chip->lock);
  while (!chip->timer_stop) {
    uint64_t now = irq_now_ns(), next = UINT64_MAX;
    for (int i = 0; i < chip->nlapics; i++) {
      struct skvm_lapic *l = chip->lapics[i];
      if (l->timer_due && l->timer_due <= now) lapic_timer_expire_locked(l, now);
      if (l->timer_due && l->timer_due < next) next = l->timer_due;
    }
    struct skvm_pit *p = chip->pit;
    if (p && p->ch0_due) {
      if (p->ch0_due <= now) pit_expire_locked(chip, now);
      if (p->ch0_due && p->ch0_due < next) next = p->ch0_due;
    }
    if (next == UINT64_MAX) {
      pthread_cond_wait(&chip->timer_cond, &chip->lock);
    } else {
      struct timespec ts = { .tv_sec = next / 1000000000ULL, .tv_nsec = next % 1000000000ULL };
      pthread_cond_timedwait(&chip->timer_cond, &chip->lock, &ts);
    }
  }
  pthread_mutex_unlock(&chip->lock);
  return NULL;
}

int timer_start(struct skvm_irqchip *chip)
{
  return pthread_create(&chip->timer_thread, NULL, timer_main, chip) ? -1 : 0;
}

void timer_stop(struct skvm_irqchip *chip)
{
  pthread_mutex_lock(&chip->lock);
  chip->timer_stop = true;
  pthread_cond_signal(&chip->timer_cond);
  pthread_mutex_unlock(&chip->lock);
  pthread_join(chip->timer_thread, NULL);
}
