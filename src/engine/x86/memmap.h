/* The guest-physical memory map the engine executes against: an immutable, sorted array of RAM
 * regions published by libsoftkvm (one per memslot). Anything outside it is MMIO. */
#ifndef SKVM_ENGINE_MEMMAP_H
#define SKVM_ENGINE_MEMMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_region {
  uint64_t gpa;               /* page aligned */
  uint64_t size;              /* bytes, page multiple */
  uint8_t *hva;               /* host address of gpa */
  bool readonly;              /* guest writes exit as MMIO */
  unsigned long *dirty;       /* one bit per page, set by guest writes; NULL when not logging */
  uint32_t slot;              /* the memslot, as KVM names it: as_id << 16 | id */
};

struct guest_memmap {
  int n;
  struct guest_region r[];    /* sorted by gpa, non-overlapping */
};

/* The region holding gpa, or NULL. */
static inline const struct guest_region *memmap_find(const struct guest_memmap *m, uint64_t gpa)
{
  int lo = 0, hi = m ? m->n - 1 : -1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    const struct guest_region *r = &m->r[mid];
    if (gpa < r->gpa) hi = mid - 1;
    else if (gpa - r->gpa >= r->size) lo = mid + 1;
    else return r;
  }
  return NULL;
}

/* Sets the page's dirty bit; true when it was clear (the first write since it was harvested). */
static inline bool region_mark_dirty(const struct guest_region *r, uint64_t gpa)
{
  uint64_t page = (gpa - r->gpa) >> 12;
  unsigned long bit = 1UL << (page % (8 * sizeof(long)));
  return !(__atomic_fetch_or(&r->dirty[page / (8 * sizeof(long))], bit, __ATOMIC_RELAXED) & bit);
}

#endif
