/* KVM_SET_USER_MEMORY_REGION and the slots' dirty bitmaps (their ioctls: dirty_log.c), with Linux
 * 6.1's checks and errnos (virt/kvm/kvm_main.c: __kvm_set_memory_region). vCPUs see memory through an
 * immutable sorted map that is republished on every change and freed once no vCPU can use it. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BITS_PER_LONG (8 * sizeof(long))
#define KVM_MEM_MAX_NR_PAGES ((1ULL << 31) - 1)
#define MAX_GPA (1ULL << 46)   /* CPUID 0x80000008: 46 physical address bits */
#define USER_ADDR_LIMIT ((1ULL << 47) - SKVM_PAGE_SIZE)   /* x86-64 TASK_SIZE_MAX */

static size_t bitmap_bytes(uint64_t size)
{
  uint64_t pages = size / SKVM_PAGE_SIZE;
  return (pages + BITS_PER_LONG - 1) / BITS_PER_LONG * sizeof(long);
}

/* KVM_DIRTY_LOG_INITIALLY_SET: a newly logged slot starts all dirty (bits past the end stay 0). */
static void bitmap_set_all(unsigned long *bm, uint64_t pages)
{
  for (uint64_t i = 0; i < pages / BITS_PER_LONG; i++) bm[i] = ~0UL;
  if (pages % BITS_PER_LONG) bm[pages / BITS_PER_LONG] = (1UL << (pages % BITS_PER_LONG)) - 1;
}

static int cmp_region(const void *a, const void *b)
{
  const struct guest_region *x = a, *y = b;
  return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Frees retired maps that every running vCPU has moved past. Caller holds vm->lock. */
static void reclaim_locked(struct skvm_vm *vm)
{
  unsigned oldest = vm->memmap_gen;
  for (int i = 0; i < vm->nvcpus; i++) {
    struct skvm_vcpu *v = vm->vcpus[i];
    if (!__atomic_load_n(&v->running, __ATOMIC_SEQ_CST)) continue;
    unsigned seen = __atomic_load_n(&v->cpu.memmap_gen, __ATOMIC_SEQ_CST);
    if ((int)(seen - oldest) < 0) oldest = seen;
  }
  struct retired **pp = &vm->retired;
  while (*pp) {
    struct retired *r = *pp;
    if ((int)(r->gen - oldest) < 0) {
      *pp = r->next;
      free(r->map);
      free(r->bitmap);
      free(r);
    } else {
      pp = &r->next;
    }
  }
}

void memslot_reclaim(struct skvm_vm *vm)
{
  pthread_mutex_lock(&vm->lock);
  reclaim_locked(vm);
  pthread_mutex_unlock(&vm->lock);
}

/* Like synchronize_srcu() in KVM: returns once every vCPU inside KVM_RUN has switched to the
 * current map (they check before each instruction), so the caller may unmap memory it just
 * removed from the guest. Caller holds vm->lock; KVM_RUN never takes it while running. */
static void wait_for_vcpus_locked(struct skvm_vm *vm)
{
  for (int i = 0; i < vm->nvcpus; i++) {
    struct skvm_vcpu *v = vm->vcpus[i];
    while (__atomic_load_n(&v->running, __ATOMIC_SEQ_CST) &&
           __atomic_load_n(&v->cpu.memmap_gen, __ATOMIC_SEQ_CST) != vm->memmap_gen)
      sched_yield();
  }
}

/* Builds and publishes a new map; the old one (and a dropped bitmap) retire. Caller holds lock. */
static int publish_locked(struct skvm_vm *vm, unsigned long *dropped_bitmap)
{
  int n = 0;
  for (int i = 0; i < SKVM_USER_MEM_SLOTS; i++) n += vm->slots[i] != NULL;
  struct guest_memmap *m = malloc(sizeof(*m) + n * sizeof(m->r[0]));
  struct retired *ret = calloc(1, sizeof(*ret));
  if (!m || !ret) {
    free(m);
    free(ret);
    return -ENOMEM;
  }
  m->n = 0;
  for (int i = 0; i < SKVM_USER_MEM_SLOTS; i++) {
    struct memslot *s = vm->slots[i];
    if (!s) continue;
    m->r[m->n++] = (struct guest_region){ s->gpa, s->size, (uint8_t *)(uintptr_t)s->hva,
                                          (s->flags & KVM_MEM_READONLY) != 0, s->dirty, s->id };
  }
  qsort(m->r, m->n, sizeof(m->r[0]), cmp_region);
  uint64_t pages = 0;
  for (int i = 0; i < m->n; i++) pages += m->r[i].size / SKVM_PAGE_SIZE;
  *stats_val(&vm->stats, VM_STAT_PAGES_4K) = pages;
  (*stats_val(&vm->stats, VM_STAT_REMOTE_TLB_FLUSH))++;   /* every vCPU drops its soft TLB */
  ret->map = vm->memmap;
  ret->bitmap = dropped_bitmap;
  ret->gen = vm->memmap_gen;
  ret->next = vm->retired;
  vm->retired = ret;
  __atomic_store_n(&vm->memmap, m, __ATOMIC_SEQ_CST);
  __atomic_store_n(&vm->memmap_gen, vm->memmap_gen + 1, __ATOMIC_SEQ_CST);
  wait_for_vcpus_locked(vm);
  reclaim_locked(vm);
  return 0;
}

static bool overlaps(struct skvm_vm *vm, uint32_t id, uint64_t gpa, uint64_t size)
{
  for (int i = 0; i < SKVM_USER_MEM_SLOTS; i++) {
    struct memslot *s = vm->slots[i];
    if (s && s->id != id && gpa < s->gpa + s->size && s->gpa < gpa + size) return true;
  }
  return false;
}

int memslot_set(struct skvm_vm *vm, const struct kvm_userspace_memory_region *r)
{
  uint32_t as_id = r->slot >> 16, id = (uint16_t)r->slot;
  int ret = 0;

  if (r->flags & ~(uint32_t)(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) return -EINVAL;
  if (id >= SKVM_USER_MEM_SLOTS || as_id != 0) return -EINVAL;
  if ((r->memory_size & (SKVM_PAGE_SIZE - 1)) || (r->guest_phys_addr & (SKVM_PAGE_SIZE - 1)) ||
      (r->userspace_addr & (SKVM_PAGE_SIZE - 1)))
    return -EINVAL;
  /* access_ok(): the userspace range must lie below the top of the user address space */
  if (r->userspace_addr + r->memory_size < r->userspace_addr ||
      r->userspace_addr + r->memory_size > USER_ADDR_LIMIT)
    return -EINVAL;
  if (r->guest_phys_addr + r->memory_size < r->guest_phys_addr) return -EINVAL;
  if ((r->memory_size >> 12) > KVM_MEM_MAX_NR_PAGES) return -EINVAL;
  /* kvm_arch_prepare_memory_region: the slot must end below the guest physical address limit */
  if (r->memory_size && r->guest_phys_addr + r->memory_size > MAX_GPA) return -EINVAL;

  pthread_mutex_lock(&vm->lock);
  struct memslot *old = vm->slots[id];
  if (!old) {
    if (!r->memory_size) ret = -EINVAL;   /* deleting a slot that does not exist (6.1) */
    if (!r->memory_size) goto out;
  } else if (!r->memory_size) {     /* delete */
    vm->slots[id] = NULL;
    ret = publish_locked(vm, old->dirty);
    free(old);
    goto out;
  } else if (r->userspace_addr != old->hva || r->memory_size != old->size ||
             ((r->flags ^ old->flags) & KVM_MEM_READONLY)) {
    ret = -EINVAL;
    goto out;
  } else if (r->guest_phys_addr == old->gpa && r->flags == old->flags) {
    goto out;                        /* nothing changes */
  }

  bool moving = !old || r->guest_phys_addr != old->gpa;
  if (moving && overlaps(vm, id, r->guest_phys_addr, r->memory_size)) {
    ret = -EEXIST;
    goto out;
  }
  struct memslot *s = calloc(1, sizeof(*s));
  if (!s) {
    ret = -ENOMEM;
    goto out;
  }
  *s = (struct memslot){ id, r->guest_phys_addr, r->memory_size, r->userspace_addr, r->flags, NULL };
  unsigned long *dropped = NULL;
  if (r->flags & KVM_MEM_LOG_DIRTY_PAGES) {
    /* keep the bitmap across a flags-only change; a new or moved slot starts clean */
    if (old && old->dirty && !moving) s->dirty = old->dirty;
    else if (!(s->dirty = calloc(1, bitmap_bytes(s->size)))) {
      free(s);
      ret = -ENOMEM;
      goto out;
    } else if ((vm->manual_dirty_log & KVM_DIRTY_LOG_INITIALLY_SET) && !vm->dirty_ring_size) {
      bitmap_set_all(s->dirty, s->size / SKVM_PAGE_SIZE);   /* kvm_alloc_dirty_bitmap's caller */
    }
    if (old && old->dirty != s->dirty) dropped = old->dirty;
  } else if (old) {
    dropped = old->dirty;
  }
  vm->slots[id] = s;
  ret = publish_locked(vm, dropped);
  free(old);
out:
  pthread_mutex_unlock(&vm->lock);
  return ret;
}

void memslot_free_all(struct skvm_vm *vm)
{
  for (int i = 0; i < SKVM_USER_MEM_SLOTS; i++) {
    if (!vm->slots[i]) continue;
    free(vm->slots[i]->dirty);
    free(vm->slots[i]);
    vm->slots[i] = NULL;
  }
  while (vm->retired) {
    struct retired *r = vm->retired;
    vm->retired = r->next;
    free(r->map);
    free(r->bitmap);
    free(r);
  }
  free(vm->memmap);
  vm->memmap = NULL;
}
