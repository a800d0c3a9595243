/* A kick signal that KVM_SET_SIGNAL_MASK lets through but the thread's own mask blocks (the KVM
 * selftests' SIG_IPI): KVM_RUN returns EINTR and the signal stays pending for sigwait(), as
 * kvm_sigset_deactivate restores the thread's mask before returning (Linux 6.1 virt/kvm). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "vmtest.h"

static void *kicker(void *arg)
{
  nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
  pthread_kill(*(pthread_t *)arg, SIGUSR1);
  return NULL;
}

int main(void)
{
  struct vmt t;
  if (vmt_init(&t, 0x10000)) return test_summary();
  t.mem[0x1000] = 0xEB, t.mem[0x1001] = 0xFE;   /* jmp $ */
  struct kvm_sregs s;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_GET_SREGS, &s), 0);
  s.cs.base = 0, s.cs.selector = 0;
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SREGS, &s), 0);
  struct kvm_regs r = { .rip = 0x1000, .rflags = 2 };
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_REGS, &r), 0);

  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);
  struct { struct kvm_signal_mask m; uint64_t bits; } run_mask = { { .len = 8 }, 0 };   /* all open */
  CHECK_EQ(skvm_ioctl(t.vcpu, KVM_SET_SIGNAL_MASK, &run_mask), 0);

  pthread_t self = pthread_self(), th;
  pthread_create(&th, NULL, kicker, &self);
  CHECK_ERRNO(skvm_ioctl(t.vcpu, KVM_RUN, NULL), EINTR);   /* SIGUSR1's default would kill us */
  pthread_join(th, NULL);
  sigset_t pending;
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGUSR1));
  int sig = 0;
  CHECK_EQ(sigwait(&usr1, &sig), 0);
  CHECK_EQ(sig, SIGUSR1);
  vmt_fini(&t);
  return test_summary();
}
