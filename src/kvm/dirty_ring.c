/* KVM_CAP_DIRTY_LOG_RING: a per-vCPU ring of struct kvm_dirty_gfn that userspace maps from the
 * vCPU fd at KVM_DIRTY_LOG_PAGE_OFFSET pages (Linux 6.1 virt/kvm/dirty_ring.c, kvm_main.c).
 *
 * The memslot's dirty bitmap stays the engine's write-protect state: a clear bit means "the next
 * guest write must be reported". The engine reports that first write (x86_vcpu_ops.page_dirtied)
 * and the page goes into the ring; KVM_RESET_DIRTY_RINGS clears the bits of harvested entries,
 * as KVM write-protects those pages again. The ring lives in the vCPU's memfd, so the entries
 * the vCPU writes are the ones userspace's shared mapping sees. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define RING_MAX_ENTRIES 65536   /* KVM_DIRTY_RING_MAX_ENTRIES */
#define RING_RSVD_ENTRIES 64     /* KVM_DIRTY_RING_RSVD_ENTRIES: room for one more instruction */
#define RING_OFFSET ((off_t)KVM_DIRTY_LOG_PAGE_OFFSET * SKVM_PAGE_SIZE)

struct skvm_dirty_ring {
  struct kvm_dirty_gfn *gfns;
  uint32_t size, soft_limit;
  uint32_t dirty_index;       /* next entry to fill; written by the vCPU thread only */
  uint32_t reset_index;       /* next entry to reset; written under vm->lock only */
};

static size_t ring_bytes(uint32_t entries)
{
  return (size_t)entries * sizeof(struct kvm_dirty_gfn);
}

/* kvm_vm_ioctl_enable_dirty_log_ring */
long dirty_ring_enable(struct skvm_vm *vm, uint64_t bytes)
{
  if (!bytes || (bytes & (bytes - 1))) return -EINVAL;
  if (bytes < ring_bytes(RING_RSVD_ENTRIES) || bytes < SKVM_PAGE_SIZE) return -EINVAL;
  if (bytes > ring_bytes(RING_MAX_ENTRIES)) return -E2BIG;
  long r = 0;
  pthread_mutex_lock(&vm->lock);
  if (vm->dirty_ring_size || vm->created_vcpus) r = -EINVAL;   /* once, and before any vCPU */
  else vm->dirty_ring_size = (uint32_t)(bytes / sizeof(struct kvm_dirty_gfn));
  pthread_mutex_unlock(&vm->lock);
  return r;
}

/* KVM_CREATE_VCPU: the ring goes into the vCPU's memfd at its mmap offset. */
int dirty_ring_vcpu_init(struct skvm_vcpu *v, int fd)
{
  uint32_t n = v->vm->dirty_ring_size;   /* fixed before the first vCPU */
  if (!n) return 0;
  struct skvm_dirty_ring *ring = calloc(1, sizeof(*ring));
  if (!ring) return -ENOMEM;
  if (ftruncate(fd, RING_OFFSET + (off_t)ring_bytes(n))) goto err;
  ring->gfns = mmap(NULL, ring_bytes(n), PROT_READ | PROT_WRITE, MAP_SHARED, fd, RING_OFFSET);
  if (ring->gfns == MAP_FAILED) goto err;
  ring->size = n;
  ring->soft_limit = n - RING_RSVD_ENTRIES;
  v->ring = ring;
  return 0;
err:
  free(ring);
  return -ENOMEM;
}

void dirty_ring_vcpu_fini(struct skvm_vcpu *v)
{
  if (!v->ring) return;
  munmap(v->ring->gfns, ring_bytes(v->ring->size));
  free(v->ring);
  v->ring = NULL;
}

static uint32_t ring_used(struct skvm_dirty_ring *ring)
{
  return ring->dirty_index - __atomic_load_n(&ring->reset_index, __ATOMIC_ACQUIRE);
}

/* kvm_dirty_ring_push, on the vCPU's thread during KVM_RUN. Once the ring is soft-full the
 * engine is asked to stop after this instruction (X86_EV_REQ), and dirty_ring_exit() ends
 * KVM_RUN with KVM_EXIT_DIRTY_RING_FULL. */
void dirty_ring_push(struct skvm_vcpu *v, uint32_t slot, uint64_t page)
{
  struct skvm_dirty_ring *ring = v->ring;
  if (!ring) return;
  if (ring_used(ring) >= ring->size) return;   /* can't happen: the reserve covers one instruction */
  struct kvm_dirty_gfn *e = &ring->gfns[ring->dirty_index & (ring->size - 1)];
  e->slot = slot;
  e->offset = page;
  __atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_DIRTY, __ATOMIC_RELEASE);
  __atomic_store_n(&ring->dirty_index, ring->dirty_index + 1, __ATOMIC_RELEASE);
  if (ring_used(ring) >= ring->soft_limit)
    __atomic_or_fetch(&v->cpu.events, X86_EV_REQ, __ATOMIC_ACQ_REL);
}

/* Before each entry to the guest (vcpu_enter_guest): a soft-full ring exits to userspace. Not
 * while an IN/MMIO read waits to complete: the engine finishes that instruction first. */
bool dirty_ring_exit(struct skvm_vcpu *v)
{
  struct skvm_dirty_ring *ring = v->ring;
  if (!ring || v->cpu.pending_completion != PEND_NONE) return false;
  if (!v->lapic) __atomic_and_fetch(&v->cpu.events, ~X86_EV_REQ, __ATOMIC_ACQ_REL);   /* ours */
  if (ring_used(ring) < ring->soft_limit) return false;
  v->run->exit_reason = KVM_EXIT_DIRTY_RING_FULL;
  return true;
}

/* Write-protects a harvested page again: its next guest write is reported. */
static void reprotect(struct skvm_vm *vm, uint32_t slot, uint64_t page)
{
  uint32_t as_id = slot >> 16, id = (uint16_t)slot;
  if (as_id || id >= SKVM_USER_MEM_SLOTS) return;
  struct memslot *s = vm->slots[id];
  if (!s || !s->dirty || page >= s->size / SKVM_PAGE_SIZE) return;
  const size_t bits = 8 * sizeof(long);
  __atomic_and_fetch(&s->dirty[page / bits], ~(1UL << (page % bits)), __ATOMIC_SEQ_CST);
}

/* kvm_dirty_ring_reset: entries userspace marked harvested (F_RESET), in order. */
static uint32_t ring_reset(struct skvm_vm *vm, struct skvm_dirty_ring *ring)
{
  uint32_t count = 0;
  uint32_t dirty = __atomic_load_n(&ring->dirty_index, __ATOMIC_ACQUIRE);
  while (ring->reset_index != dirty) {
    struct kvm_dirty_gfn *e = &ring->gfns[ring->reset_index & (ring->size - 1)];
    if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_RESET)) break;
    uint32_t slot = e->slot;
    uint64_t page = e->offset;
    __atomic_store_n(&e->flags, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ring->reset_index, ring->reset_index + 1, __ATOMIC_RELEASE);
    reprotect(vm, slot, page);
    count++;
  }
  return count;
}

/* KVM_RESET_DIRTY_RINGS: the number of entries reset, over all vCPUs. */
long dirty_ring_reset(struct skvm_vm *vm)
{
  if (!vm->dirty_ring_size) return -EINVAL;
  long cleared = 0;
  pthread_mutex_lock(&vm->lock);
  for (int i = 0; i < vm->nvcpus; i++)
    if (vm->vcpus[i]->ring) cleared += ring_reset(vm, vm->vcpus[i]->ring);
  *stats_val(&vm->stats, VM_STAT_PAGES_REPROTECTED) += (uint64_t)cleared;
  pthread_mutex_unlock(&vm->lock);
  return cleared;
}

/* kvm_vcpu_mmap: the ring may only be mapped shared and not executable. 0: go ahead. */
int dirty_ring_mmap_check(struct skvm_vcpu *v, size_t len, int prot, int flags, off_t off)
{
  if (!v->ring || !len) return 0;
  off_t end = off + (off_t)len;   /* the mapping [off, end) touches the ring's pages? */
  if (end <= RING_OFFSET || off >= RING_OFFSET + (off_t)ring_bytes(v->ring->size)) return 0;
  if ((prot & PROT_EXEC) || !(flags & MAP_SHARED)) return -EINVAL;
  return 0;
}
