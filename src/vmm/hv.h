/* The hypervisor ops table: the one door from the VMM to a KVM implementation.
 *
 * Everything the VMM does to a VM goes through these four calls, which follow the contracts
 * of open(2)/ioctl(2)/mmap(2)/close(2). The default table is libsoftkvm (skvm_*); the
 * /dev/kvm table drives the kernel's KVM unchanged. */
#ifndef SKVM_VMM_HV_H
#define SKVM_VMM_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct hv_ops {
	const char *name;
	int (*open)(void);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*close)(int fd);
};

extern const struct hv_ops hv__softkvm_ops;
extern const struct hv_ops hv__dev_kvm_ops;

/* The table to use: /dev/kvm when dev_kvm is set or SOFTKVM_DEV_KVM=1 is in the environment. */
const struct hv_ops *hv__select(bool dev_kvm);

/* Integer ioctl argument (KVM_CREATE_VCPU id, KVM_CHECK_EXTENSION cap), passed as ioctl(2) would. */
#define HV_ARG(x) ((void *)(unsigned long)(x))

#endif
