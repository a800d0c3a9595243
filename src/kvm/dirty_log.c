/* The dirty bitmap ioctls: KVM_GET_DIRTY_LOG, and with KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 the
 * manual mode where GET only reads the bitmap and KVM_CLEAR_DIRTY_LOG clears (re-protects) the
 * pages userspace names (Linux 6.1 virt/kvm/kvm_main.c: kvm_get_dirty_log_protect,
 * kvm_clear_dirty_log_protect). A clear bit is also the engine's "log the next write". */
#include <errno.h>

#include "internal.h"

#define BITS_PER_LONG (8 * sizeof(long))
#define MANUAL_CAPS (KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET)

/* KVM_ENABLE_CAP(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) */
long dirty_log_enable_manual(struct skvm_vm *vm, uint64_t flags)
{
  uint64_t allowed = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
  if (flags & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE) allowed = MANUAL_CAPS;
  if (flags & ~allowed) return -EINVAL;
  __atomic_store_n(&vm->manual_dirty_log, flags, __ATOMIC_RELAXED);
  return 0;
}

/* The slot's bitmap for these ioctls: -EINVAL for a bad slot number, -ENOENT if not logged. */
static int logged_slot(struct skvm_vm *vm, uint32_t slot, struct memslot **out)
{
  uint32_t as_id = slot >> 16, id = (uint16_t)slot;
  if (as_id != 0 || id >= SKVM_USER_MEM_SLOTS) return -EINVAL;
  struct memslot *s = vm->slots[id];
  if (!s || !s->dirty) return -ENOENT;
  *out = s;
  return 0;
}

int dirty_log_get(struct skvm_vm *vm, struct kvm_dirty_log *log)
{
  if (vm->dirty_ring_size) return -ENXIO;   /* the ring replaces the bitmap */
  struct memslot *s;
  uint64_t reprotected = 0;
  pthread_mutex_lock(&vm->lock);
  int ret = logged_slot(vm, log->slot, &s);
  if (ret) goto out;
  uint64_t pages = s->size / SKVM_PAGE_SIZE;
  size_t n = (pages + BITS_PER_LONG - 1) / BITS_PER_LONG;
  unsigned long *user = log->dirty_bitmap;
  bool manual = __atomic_load_n(&vm->manual_dirty_log, __ATOMIC_RELAXED) != 0;
  for (size_t i = 0; i < n; i++) {
    if (manual) {
      user[i] = __atomic_load_n(&s->dirty[i], __ATOMIC_SEQ_CST);
    } else {
      user[i] = __atomic_exchange_n(&s->dirty[i], 0, __ATOMIC_SEQ_CST);
      reprotected += (uint64_t)__builtin_popcountl(user[i]);
    }
  }
  *stats_val(&vm->stats, VM_STAT_PAGES_REPROTECTED) += reprotected;
out:
  pthread_mutex_unlock(&vm->lock);
  return ret;
}

int dirty_log_clear(struct skvm_vm *vm, struct kvm_clear_dirty_log *log)
{
  if (vm->dirty_ring_size) return -ENXIO;
  if (log->first_page & 63) return -EINVAL;
  struct memslot *s;
  pthread_mutex_lock(&vm->lock);
  int ret = logged_slot(vm, log->slot, &s);
  if (ret) goto out;
  uint64_t pages = s->size / SKVM_PAGE_SIZE;
  /* the range lies in the slot; only the last chunk may be a partial 64 pages */
  if (log->first_page > pages || log->num_pages > pages - log->first_page ||
      (log->num_pages < pages - log->first_page && (log->num_pages & 63))) {
    ret = -EINVAL;
    goto out;
  }
  const unsigned long *user = log->dirty_bitmap;
  size_t first = log->first_page / BITS_PER_LONG;
  size_t n = (log->num_pages + BITS_PER_LONG - 1) / BITS_PER_LONG;
  uint64_t reprotected = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned long mask = user[i];
    if (!mask) continue;
    /* bits beyond the slot's last page are never set, so a partial last word is harmless */
    mask &= __atomic_fetch_and(&s->dirty[first + i], ~mask, __ATOMIC_SEQ_CST);
    reprotected += (uint64_t)__builtin_popcountl(mask);
  }
  *stats_val(&vm->stats, VM_STAT_PAGES_REPROTECTED) += reprotected;
out:
  pthread_mutex_unlock(&vm->lock);
  return ret;
}
