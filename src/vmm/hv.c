/* Hypervisor ops tables: libsoftkvm (default) and the real /dev/kvm. */
#include "vmm/hv.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <softkvm.h>

static int hv__dev_kvm_open(void)
{
	return open("/dev/kvm", O_RDWR | O_CLOEXEC);
}

static int hv__dev_kvm_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

const struct hv_ops hv__softkvm_ops = {
	.name = "libsoftkvm",
	.open = skvm_open,
	.ioctl = skvm_ioctl,
	.mmap = skvm_mmap,
	.close = skvm_close,
};

const struct hv_ops hv__dev_kvm_ops = {
	.name = "/dev/kvm",
	.open = hv__dev_kvm_open,
	.ioctl = hv__dev_kvm_ioctl,
	.mmap = mmap,
	.close = close,
};

const struct hv_ops *hv__select(bool dev_kvm)
{
	const char *env = getenv("SOFTKVM_DEV_KVM");

	if (dev_kvm || (env && strcmp(env, "1") == 0))
		return &hv__dev_kvm_ops;
	return &hv__softkvm_ops;
}
