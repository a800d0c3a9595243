/* The VM object: memslots, vCPUs, and the VM handle's ioctls. */
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

int vm_create(void)
{
  struct skvm_vm *vm = calloc(1, sizeof(*vm));
  if (!vm) return -ENOMEM;
  vm->slots = calloc(SKVM_USER_MEM_SLOTS, sizeof(*vm->slots));
  if (!vm->slots) goto err_vm;
  pthread_mutex_init(&vm->lock, NULL);
  vm->refs = 1;
  int fd = eventfd(0, EFD_CLOEXEC);
  if (fd < 0) goto err_slots;
  if (handle_register(fd, SKVM_VM, vm)) goto err_fd;
  return fd;

err_fd:
  close(fd);
err_slots:
  free(vm->slots);
err_vm:
  free(vm);
  return -ENOMEM;
}

void vm_put(struct skvm_vm *vm)
{
  pthread_mutex_lock(&vm->lock);
  int refs = --vm->refs;
  pthread_mutex_unlock(&vm->lock);
  if (refs) return;
  irqchip_destroy(vm);
  memslot_free_all(vm);
  free(vm->slots);
  pthread_mutex_destroy(&vm->lock);
  free(vm);
}

long vm_ioctl(struct skvm_vm *vm, unsigned long req, void *arg)
{
  switch (req) {
  case KVM_SET_USER_MEMORY_REGION:
    return memslot_set(vm, arg);
  case KVM_CREATE_VCPU:
    return vcpu_create(vm, (unsigned long)arg);
  case KVM_GET_DIRTY_LOG:
    return dirty_log_get(vm, arg);
  case KVM_CHECK_EXTENSION:
    return check_extension(vm, (long)arg);
  case KVM_SET_TSS_ADDR:   /* VMX real-mode helpers: nothing to do for a software CPU */
    vm->tss_addr = (unsigned long)arg;
    return 0;
  case KVM_SET_IDENTITY_MAP_ADDR: {
    long r = 0;
    pthread_mutex_lock(&vm->lock);
    if (vm->nvcpus) r = -EEXIST;
    else vm->identity_map_addr = *(uint64_t *)arg;
    pthread_mutex_unlock(&vm->lock);
    return r;
  }
  }
  return irqchip_vm_ioctl(vm, req, arg);   /* -ENOTTY, kvm_arch_vm_ioctl's default, if not its */
}
