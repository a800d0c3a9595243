/* softkvm public API: the KVM ABI (<linux/kvm.h>) served by a software CPU engine.
 *
 * Every handle is a real file descriptor, so a caller (or the LD_PRELOAD shim) can treat it
 * exactly like a /dev/kvm, VM or vCPU fd. The functions follow the contracts of open(2),
 * ioctl(2), mmap(2) and close(2): -1 (MAP_FAILED for mmap) with errno set on failure. */
#ifndef SOFTKVM_H
#define SOFTKVM_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A new system handle, as open("/dev/kvm", O_RDWR) would give. */
int skvm_open(void);

/* ioctl(2) on a softkvm handle. Integer arguments (KVM_CREATE_VCPU's id, KVM_CHECK_EXTENSION's
 * cap) are passed cast to a pointer, as the variadic ioctl(2) passes them. */
int skvm_ioctl(int fd, unsigned long req, void *arg);

/* mmap(2) on a softkvm handle: on a vCPU fd, maps that vCPU's struct kvm_run (offset 0,
 * KVM_GET_VCPU_MMAP_SIZE bytes) or, with KVM_CAP_DIRTY_LOG_RING, its dirty ring (offset
 * KVM_DIRTY_LOG_PAGE_OFFSET pages; MAP_SHARED, not executable). Unmap with munmap(2). */
void *skvm_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

/* close(2) on a softkvm handle (any fd is accepted: non-softkvm fds are simply closed). */
int skvm_close(int fd);

/* Call after dup(2)/dup2/dup3/fcntl(F_DUPFD*) made newfd a copy of oldfd: newfd then names
 * oldfd's object too (if oldfd is a handle), and the object lives until its last fd is closed
 * with skvm_close. If newfd was a handle itself (dup2 over it), that handle is released. Returns
 * newfd; errno is left alone. */
int skvm_dup(int oldfd, int newfd);

/* 1 if fd is a live softkvm handle, else 0. */
int skvm_is_handle(int fd);

#ifdef __cplusplus
}
#endif
#endif
