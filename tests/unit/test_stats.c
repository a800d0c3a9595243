/* KVM_GET_STATS_FD (Linux 6.1 virt/kvm/binary_stats.c): the file layout, and that the values
 * read through the fd with pread(2) are live, as the selftests' read_stat_data() reads them. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "pagewriter.h"

#define IARG(x) ((void *)(uintptr_t)(x))

/* The value of stat `name` in the file, read with pread; ~0 if there is none. */
static uint64_t stat_value(int fd, const char *name)
{
  struct kvm_stats_header h;
  if (pread(fd, &h, sizeof(h), 0) != sizeof(h)) return ~0ULL;
  size_t dsize = sizeof(struct kvm_stats_desc) + h.name_size;
  char *descs = malloc(dsize * h.num_desc);
  uint64_t v = ~0ULL;
  if (pread(fd, descs, dsize * h.num_desc, h.desc_offset) == (ssize_t)(dsize * h.num_desc)) {
    for (uint32_t i = 0; i < h.num_desc; i++) {
      struct kvm_stats_desc *d = (void *)(descs + i * dsize);
      if (strcmp(d->name, name) == 0 && pread(fd, &v, 8, h.data_offset + d->offset) != 8) v = ~0ULL;
      if (strcmp(d->name, name) == 0) break;
    }
  }
  free(descs);
  return v;
}

/* The header and id string as a reader sees them with read(2) from offset 0. */
static void check_layout(int fd, const char *want_id)
{
  struct kvm_stats_header h;
  CHECK_EQ(read(fd, &h, sizeof(h)), sizeof(h));
  CHECK_EQ(h.flags, 0);
  CHECK_EQ(h.name_size, 48);
  CHECK(h.num_desc > 0);
  CHECK_EQ(h.id_offset, sizeof(h));
  char id[48];
  CHECK_EQ(read(fd, id, sizeof(id)), sizeof(id));   /* the id follows the header */
  CHECK(strcmp(id, want_id) == 0);
  CHECK(h.desc_offset >= sizeof(h) + 48);
  CHECK(h.data_offset >= h.desc_offset + h.num_desc * (sizeof(struct kvm_stats_desc) + 48));
  struct kvm_stats_desc *d = malloc(sizeof(*d) + 48);
  int sane = 1;
  for (uint32_t i = 0; i < h.num_desc; i++) {
    sane &= pread(fd, d, sizeof(*d) + 48, h.desc_offset + i * (sizeof(*d) + 48)) == (ssize_t)(sizeof(*d) + 48);
    sane &= d->size == 1 && d->bucket_size == 0 && d->offset == i * 8 && d->name[0] && d->exponent == 0;
    sane &= (d->flags & KVM_STATS_TYPE_MASK) <= KVM_STATS_TYPE_INSTANT;
  }
  CHECK(sane);
  free(d);
  /* read-only, like KVM's file */
  CHECK_ERRNO(write(fd, "x", 1), EBADF);
}

int main(void)
{
  char id[64];
  int sys = skvm_open();
  CHECK_EQ(skvm_ioctl(sys, KVM_CHECK_EXTENSION, IARG(KVM_CAP_BINARY_STATS_FD)), 1);
  int vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  struct pw p;
  if (pw_slots(&p, vm, 16) || pw_vcpu(&p, sys)) return test_summary();

  /* the VM: pages in memslots, one map change per memslot call */
  int vfd = skvm_ioctl(vm, KVM_GET_STATS_FD, NULL);
  CHECK(vfd >= 0);
  snprintf(id, sizeof(id), "kvm-%d", (int)getpid());
  check_layout(vfd, id);
  CHECK_EQ(stat_value(vfd, "pages_4k"), 16 + 16);
  CHECK_EQ(stat_value(vfd, "remote_tlb_flush"), 2);
  CHECK_EQ(fcntl(vfd, F_GETFD), FD_CLOEXEC);

  /* the vCPU: counted before the file existed, and live after */
  pw_start(&p, 0, 1);
  CHECK_EQ(pw_run(&p), KVM_EXIT_HLT);
  int cfd = skvm_ioctl(p.vcpu, KVM_GET_STATS_FD, NULL);
  CHECK(cfd >= 0);
  snprintf(id, sizeof(id), "kvm-%d/vcpu-0", (int)getpid());
  check_layout(cfd, id);
  CHECK_EQ(stat_value(cfd, "exits"), 1);
  CHECK_EQ(stat_value(cfd, "halt_exits"), 1);
  CHECK_EQ(stat_value(cfd, "io_exits"), 0);
  p.code[PW_LOOP + 14] = 0xE6;   /* hlt -> out 0x10, al */
  p.code[PW_LOOP + 15] = 0x10;
  pw_start(&p, 0, 1);
  CHECK_EQ(pw_run(&p), KVM_EXIT_IO);
  p.run->immediate_exit = 1;
  CHECK_ERRNO(skvm_ioctl(p.vcpu, KVM_RUN, NULL), EINTR);
  p.run->immediate_exit = 0;
  CHECK_EQ(stat_value(cfd, "exits"), 3);
  CHECK_EQ(stat_value(cfd, "io_exits"), 1);
  CHECK_EQ(stat_value(cfd, "signal_exits"), 1);
  CHECK_EQ(stat_value(cfd, "halt_exits"), 1);

  /* a second fd: the same file with its own offset */
  int cfd2 = skvm_ioctl(p.vcpu, KVM_GET_STATS_FD, NULL);
  CHECK(cfd2 >= 0 && cfd2 != cfd);
  check_layout(cfd2, id);
  CHECK_EQ(stat_value(cfd2, "exits"), 3);

  /* the file outlives the objects, as an open struct file does */
  pw_fini(&p);
  skvm_close(vm);
  CHECK_EQ(stat_value(cfd, "io_exits"), 1);
  CHECK_EQ(stat_value(vfd, "pages_4k"), 32);
  close(cfd);
  close(cfd2);
  close(vfd);
  skvm_close(sys);
  return test_summary();
}
