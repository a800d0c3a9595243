/* KVM_GET_STATS_FD: the binary stats file of a VM or vCPU (Linux 6.1 virt/kvm/binary_stats.c):
 * a header, an id string, descriptors, then one u64 per stat.
 *
 * Design: the file is a memfd, and once it exists the counters LIVE in it. The first
 * KVM_GET_STATS_FD builds the file, maps it, copies the counters into its data block and points
 * the object's counters there (stats_val()); later updates are plain stores into the mapping,
 * so read()/pread() through the kernel always see current values: no refresh, no interception
 * in the shim. Every KVM_GET_STATS_FD returns a new read-only open of that memfd (its own file
 * offset, like KVM's anon file); the file outlives the object while an fd remains. Counters are
 * updated under the object's lock (vCPU: its ioctl lock, VM: vm->lock), which also guards the
 * switch to the file. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define NAME_SIZE 48   /* KVM_STATS_NAME_SIZE */
#define CUMULATIVE (KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10)
#define INSTANT (KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_NONE | KVM_STATS_BASE_POW10)

struct stat_def {
  const char *name;
  uint32_t flags;
};

/* vCPU: returns of KVM_RUN to userspace, by reason (KVM counts VM exits; a software CPU has
 * none that userspace does not see) */
static const struct stat_def vcpu_defs[VCPU_NSTATS] = {
  [VCPU_STAT_EXITS] = { "exits", CUMULATIVE },
  [VCPU_STAT_IO_EXITS] = { "io_exits", CUMULATIVE },
  [VCPU_STAT_MMIO_EXITS] = { "mmio_exits", CUMULATIVE },
  [VCPU_STAT_HALT_EXITS] = { "halt_exits", CUMULATIVE },
  [VCPU_STAT_SIGNAL_EXITS] = { "signal_exits", CUMULATIVE },
  [VCPU_STAT_IRQ_WINDOW_EXITS] = { "irq_window_exits", CUMULATIVE },
  [VCPU_STAT_DIRTY_RING_FULL_EXITS] = { "dirty_ring_full_exits", CUMULATIVE },
};

static const struct stat_def vm_defs[VM_NSTATS] = {
  /* memory map changes: every vCPU drops its soft TLB */
  [VM_STAT_REMOTE_TLB_FLUSH] = { "remote_tlb_flush", CUMULATIVE },
  /* guest pages in memslots (all mapped with 4 KiB granularity) */
  [VM_STAT_PAGES_4K] = { "pages_4k", INSTANT },
  /* dirty-logged pages write-protected again: GET/CLEAR_DIRTY_LOG, KVM_RESET_DIRTY_RINGS */
  [VM_STAT_PAGES_REPROTECTED] = { "pages_reprotected", CUMULATIVE },
};

static size_t desc_size(void)
{
  return sizeof(struct kvm_stats_desc) + NAME_SIZE;
}

/* Builds the file: header, id, descriptors, data (the counters so far). */
static int stats_build(struct skvm_stats *s, const char *id, const struct stat_def *defs, int n)
{
  struct kvm_stats_header h = {
    .name_size = NAME_SIZE, .num_desc = (uint32_t)n, .id_offset = sizeof(h),
    .desc_offset = sizeof(h) + NAME_SIZE,
  };
  h.data_offset = (uint32_t)(h.desc_offset + n * desc_size());
  size_t size = h.data_offset + n * sizeof(uint64_t);
  int fd = memfd_create("softkvm-stats", MFD_CLOEXEC);
  if (fd < 0) return -errno;
  if (ftruncate(fd, (off_t)size)) goto err;
  uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) goto err;
  memcpy(p, &h, sizeof(h));
  snprintf((char *)p + h.id_offset, NAME_SIZE, "%s", id);
  for (int i = 0; i < n; i++) {
    struct kvm_stats_desc *d = (void *)(p + h.desc_offset + i * desc_size());
    d->flags = defs[i].flags;
    d->size = 1;
    d->offset = (uint32_t)(i * sizeof(uint64_t));
    snprintf(d->name, NAME_SIZE, "%s", defs[i].name);
  }
  uint64_t *data = (uint64_t *)(p + h.data_offset);
  memcpy(data, s->own, n * sizeof(uint64_t));
  s->fd = fd;
  s->map = p;
  s->map_size = size;
  __atomic_store_n(&s->file_data, data, __ATOMIC_RELEASE);
  return 0;
err:
  close(fd);
  return -ENOMEM;
}

/* A new read-only fd on the stats file, building it the first time. Caller holds the lock. */
static long stats_open(struct skvm_stats *s, const char *id, const struct stat_def *defs, int n)
{
  if (!s->map) {
    int r = stats_build(s, id, defs, n);
    if (r) return r;
  }
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", s->fd);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);   /* no /proc: shares the file offset */
  return fd < 0 ? -errno : fd;
}

long stats_vm_fd(struct skvm_vm *vm)
{
  char id[NAME_SIZE];
  snprintf(id, sizeof(id), "kvm-%d", (int)getpid());
  pthread_mutex_lock(&vm->lock);
  long r = stats_open(&vm->stats, id, vm_defs, VM_NSTATS);
  pthread_mutex_unlock(&vm->lock);
  return r;
}

long stats_vcpu_fd(struct skvm_vcpu *v)   /* under v->lock (vcpu_ioctl) */
{
  char id[NAME_SIZE];
  snprintf(id, sizeof(id), "kvm-%d/vcpu-%d", (int)getpid(), v->id);
  return stats_open(&v->stats, id, vcpu_defs, VCPU_NSTATS);
}

/* The end of KVM_RUN: r < 0 is an EINTR return (a signal, immediate_exit). */
void stats_vcpu_exit(struct skvm_vcpu *v, int r)
{
  struct skvm_stats *s = &v->stats;
  (*stats_val(s, VCPU_STAT_EXITS))++;
  if (r < 0) {
    (*stats_val(s, VCPU_STAT_SIGNAL_EXITS))++;
    return;
  }
  switch (v->run->exit_reason) {
  case KVM_EXIT_IO: (*stats_val(s, VCPU_STAT_IO_EXITS))++; break;
  case KVM_EXIT_MMIO: (*stats_val(s, VCPU_STAT_MMIO_EXITS))++; break;
  case KVM_EXIT_HLT: (*stats_val(s, VCPU_STAT_HALT_EXITS))++; break;
  case KVM_EXIT_IRQ_WINDOW_OPEN: (*stats_val(s, VCPU_STAT_IRQ_WINDOW_EXITS))++; break;
  case KVM_EXIT_DIRTY_RING_FULL: (*stats_val(s, VCPU_STAT_DIRTY_RING_FULL_EXITS))++; break;
  }
}

void stats_fini(struct skvm_stats *s)
{
  if (!s->map) return;
  munmap(s->map, s->map_size);
  close(s->fd);
  s->map = NULL;
  s->file_data = NULL;
}
