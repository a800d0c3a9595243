/* The in-kernel irqchip (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2): guests in irq_guest.asm (flat
 * 32-bit protected mode, a counting stub per vector) take LAPIC timer interrupts (one-shot,
 * periodic, TSC-deadline), IOAPIC-routed KVM_IRQ_LINE interrupts (edge and level, remote IRR and
 * the EOI broadcast), the PIC pair's (master and cascaded slave), PIT channel 0 ticks through the
 * PIC, PIT channel 2's gate/OUT2 on port 0x61, an IPI between two vCPU threads, INIT+SIPI starting
 * an AP; HLT blocks in the kernel until an interrupt (raised by the timer thread or another host
 * thread) or run->immediate_exit. Plus KVM_GET/SET_LAPIC, _IRQCHIP, _PIT2, _MP_STATE round trips
 * and Linux 6.1's error codes. No timing checks beyond "it arrived" (alarm() bounds the test). */
#define _GNU_SOURCE
#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "softkvm.h"
#include "testlib.h"
#include "vmtest.h"

#define MEM 0x10000
#define COUNTS 0x5000
#define RES 0x5500
#define FLAGS 0x5600
#define IARG(x) ((void *)(uintptr_t)(x))

enum { T_ONESHOT, T_PERIODIC, T_DEADLINE, T_IOAPIC, T_PIC, T_PIT, T_PIT2, T_IPI_BSP, T_IPI_AP,
       T_SIPI_BSP, T_HALT, T_WAKE, T_X2APIC, T_X2_BSP, T_X2_AP };

struct vm {
  int sys, vm, vcpu[2], nvcpus;
  struct kvm_run *run[2];
  long run_size;
  uint8_t *mem;
};

static uint32_t get32(struct vm *v, uint32_t gpa)
{
  uint32_t x;
  memcpy(&x, v->mem + gpa, 4);
  return x;
}
static uint32_t res(struct vm *v, int i) { return get32(v, RES + 4 * i); }
static uint32_t count(struct vm *v, int vec) { return get32(v, COUNTS + 4 * vec); }

static int load_guest(uint8_t *mem)
{
  FILE *f = fopen(IRQ_GUEST_BIN, "rb");
  CHECK(f != NULL);
  if (!f) return -1;
  size_t n = fread(mem, 1, MEM, f);
  fclose(f);
  CHECK(n > 0x8000);
  return n > 0x8000 ? 0 : -1;
}

/* sys, VM, 64 KiB at 0 with the guest, KVM_CREATE_IRQCHIP (and the PIT), nvcpus vCPUs */
static int vm_setup(struct vm *v, int nvcpus, bool pit)
{
  memset(v, 0, sizeof(*v));
  v->vcpu[0] = v->vcpu[1] = -1;
  v->sys = skvm_open();
  v->vm = skvm_ioctl(v->sys, KVM_CREATE_VM, IARG(0));
  CHECK(v->vm >= 0);
  v->mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (v->vm < 0 || v->mem == MAP_FAILED) return -1;
  struct kvm_userspace_memory_region r = { .slot = 0, .memory_size = MEM, .userspace_addr = (uintptr_t)v->mem };
  CHECK_EQ(skvm_ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &r), 0);
  CHECK_EQ(skvm_ioctl(v->vm, KVM_CREATE_IRQCHIP, IARG(0)), 0);
  if (pit) {
    struct kvm_pit_config pc = { .flags = KVM_PIT_SPEAKER_DUMMY };
    CHECK_EQ(skvm_ioctl(v->vm, KVM_CREATE_PIT2, &pc), 0);
  }
  if (load_guest(v->mem)) return -1;
  v->run_size = skvm_ioctl(v->sys, KVM_GET_VCPU_MMAP_SIZE, IARG(0));
  struct kvm_cpuid2 *c = vmt_supported_cpuid(v->sys);
  for (int i = 0; i < nvcpus; i++) {
    v->vcpu[i] = skvm_ioctl(v->vm, KVM_CREATE_VCPU, IARG(i));
    CHECK(v->vcpu[i] >= 0);
    if (v->vcpu[i] < 0) break;
    v->nvcpus++;
    v->run[i] = skvm_mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu[i], 0);
    CHECK(v->run[i] != MAP_FAILED);
    if (c) CHECK_EQ(skvm_ioctl(v->vcpu[i], KVM_SET_CPUID2, c), 0);
  }
  free(c);
  return v->nvcpus == nvcpus ? 0 : -1;
}

static void vm_teardown(struct vm *v)
{
  for (int i = 0; i < v->nvcpus; i++) {
    if (v->run[i] && v->run[i] != MAP_FAILED) munmap(v->run[i], v->run_size);
    skvm_close(v->vcpu[i]);
  }
  if (v->vm >= 0) skvm_close(v->vm);
  skvm_close(v->sys);
  if (v->mem && v->mem != MAP_FAILED) munmap(v->mem, MEM);
}

/* flat 32-bit protected mode at 0x1000, EAX = scenario */
static int enter(struct vm *v, int i, uint32_t scenario, uint32_t esp)
{
  struct kvm_sregs s;
  if (skvm_ioctl(v->vcpu[i], KVM_GET_SREGS, &s)) return -1;
  vmt_flat_seg(&s.cs, 0x08, 11, 0, 1);
  vmt_flat_seg(&s.ds, 0x10, 3, 0, 1);
  s.es = s.fs = s.gs = s.ss = s.ds;
  s.cr0 = 0x11;
  CHECK_EQ(skvm_ioctl(v->vcpu[i], KVM_SET_SREGS, &s), 0);
  struct kvm_regs r = { .rip = 0x1000, .rsp = esp, .rflags = 2, .rax = scenario };
  CHECK_EQ(skvm_ioctl(v->vcpu[i], KVM_SET_REGS, &r), 0);
  return 0;
}

static int irq_line(struct vm *v, unsigned gsi, int level)
{
  struct kvm_irq_level l = { .irq = gsi, .level = level };
  CHECK_EQ(skvm_ioctl(v->vm, KVM_IRQ_LINE_STATUS, &l), 0);
  return l.status;
}

/* KVM_RUN until OUT 0xe0/0xe1 (returned); OUT 0x11..0x13 go to act(). No CHECKs: threads use it. */
struct runner {
  struct vm *v;
  int i, port, rc, exit_reason;
  void (*act)(struct vm *v, int port);
};

static void *run_guest(void *arg)
{
  struct runner *r = arg;
  struct kvm_run *run = r->v->run[r->i];
  r->port = -1;
  for (int n = 0; n < 100000; n++) {
    r->rc = skvm_ioctl(r->v->vcpu[r->i], KVM_RUN, IARG(0));
    r->exit_reason = run->exit_reason;
    if (r->rc || run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT) break;
    if (run->io.port == 0xe0 || run->io.port == 0xe1) {
      r->port = run->io.port;
      break;
    }
    if (!r->act || run->io.port < 0x11 || run->io.port > 0x13) break;
    r->act(r->v, run->io.port);
  }
  return NULL;
}

static void run_checked(struct vm *v, int i, void (*act)(struct vm *, int))
{
  struct runner r = { .v = v, .i = i, .act = act };
  run_guest(&r);
  CHECK_EQ(r.rc, 0);
  CHECK_EQ(r.exit_reason, KVM_EXIT_IO);
  CHECK_EQ(r.port, i ? 0xe1 : 0xe0);
}

/* ---- LAPIC timer ---- */
static void test_timer_oneshot(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_ONESHOT, 0xf000) == 0) {
    run_checked(&v, 0, NULL);
    CHECK(res(&v, 0) > 0 && res(&v, 0) <= 20000000);   /* TMCCT counting down */
    CHECK_EQ(res(&v, 1), 0);                           /* expired */
    CHECK_EQ(res(&v, 2), 0x50014);                     /* version */
    CHECK_EQ(res(&v, 3), 0);                           /* APIC ID 0 */
    CHECK_EQ(res(&v, 4), 0);                           /* ISR clear after the EOI */
    CHECK_EQ(res(&v, 5), 1);                           /* one-shot: exactly one */
    CHECK_EQ(res(&v, 6), 0);                           /* PPR */
  }
  vm_teardown(&v);
}

static void test_timer_periodic(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_PERIODIC, 0xf000) == 0) {
    run_checked(&v, 0, NULL);
    CHECK(res(&v, 0) >= 5);
    CHECK_EQ(count(&v, 0x41), res(&v, 0));
  }
  vm_teardown(&v);
}

static void test_timer_deadline(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_DEADLINE, 0xf000) == 0) {
    run_checked(&v, 0, NULL);
    CHECK(res(&v, 0) != 0);   /* MSR_IA32_TSC_DEADLINE armed */
    CHECK_EQ(res(&v, 1), 0);  /* and cleared once fired */
    CHECK_EQ(res(&v, 2), 2);  /* a deadline in the past fires at once */
    CHECK_EQ(res(&v, 3), 0);  /* TMICT ignored in TSC-deadline mode */
  }
  vm_teardown(&v);
}

/* ---- IOAPIC ---- */
static int ioapic_status[3];
static void ioapic_act(struct vm *v, int port)
{
  switch (port) {
  case 0x11:
    ioapic_status[0] = irq_line(v, 4, 1);
    irq_line(v, 4, 0);
    break;
  case 0x12: ioapic_status[1] = irq_line(v, 5, 1); break;
  case 0x13: ioapic_status[2] = irq_line(v, 5, 0); break;
  }
}

static void test_ioapic(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_IOAPIC, 0xf000) == 0) {
    run_checked(&v, 0, ioapic_act);
    CHECK_EQ(ioapic_status[0], 1);            /* PIC masked (-1), IOAPIC delivered (1) */
    CHECK_EQ(ioapic_status[1], 1);
    CHECK_EQ(res(&v, 0), 0x170011);           /* 24 pins, version 0x11 */
    CHECK_EQ(count(&v, 0x51), 1);
    CHECK(res(&v, 1) & (1u << 14));           /* remote IRR while in service */
    CHECK_EQ(res(&v, 1) & 0x180ff, 0x8052);   /* level, unmasked, vector */
    CHECK(res(&v, 2) & (1u << (0x52 - 0x40))); /* TMR */
    CHECK(!(res(&v, 3) & (1u << 14)));        /* the EOI broadcast cleared it */
    CHECK_EQ(res(&v, 4), 1);                  /* line low: not sent again */

    /* KVM_GET/SET_IRQCHIP of the IOAPIC */
    struct kvm_irqchip c = { .chip_id = KVM_IRQCHIP_IOAPIC };
    CHECK_EQ(skvm_ioctl(v.vm, KVM_GET_IRQCHIP, &c), 0);
    CHECK_EQ(c.chip.ioapic.base_address, 0xfec00000);
    CHECK_EQ(c.chip.ioapic.redirtbl[4].bits, 0x51);
    CHECK_EQ(c.chip.ioapic.redirtbl[5].bits, 0x8052);
    CHECK_EQ(c.chip.ioapic.redirtbl[6].bits, 1u << 16);   /* reset: masked */
    CHECK_EQ(c.chip.ioapic.irr, 0);
    c.chip.ioapic.redirtbl[7].bits = 0x00000000000180a7ULL;   /* level, masked, vector 0xa7 */
    c.chip.ioapic.id = 3;
    CHECK_EQ(skvm_ioctl(v.vm, KVM_SET_IRQCHIP, &c), 0);
    struct kvm_irqchip d = { .chip_id = KVM_IRQCHIP_IOAPIC };
    CHECK_EQ(skvm_ioctl(v.vm, KVM_GET_IRQCHIP, &d), 0);
    CHECK(memcmp(&c.chip.ioapic, &d.chip.ioapic, sizeof(d.chip.ioapic)) == 0);
  }
  vm_teardown(&v);
}

/* ---- PIC ---- */
static int pic_status;
static void pic_act(struct vm *v, int port)
{
  unsigned gsi = port == 0x11 ? 3 : 10;
  int st = irq_line(v, gsi, 1);
  if (port == 0x11) pic_status = st;
  irq_line(v, gsi, 0);
}

static void test_pic(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_PIC, 0xf000) == 0) {
    run_checked(&v, 0, pic_act);
    CHECK_EQ(pic_status, 1);            /* the PIC took it; IOAPIC pin 3 is masked */
    CHECK_EQ(res(&v, 0) & 0xff, 0xf7);  /* IMR */
    CHECK_EQ(count(&v, 0x23), 1);       /* IRQ 3 at base 0x20 */
    CHECK_EQ(res(&v, 1), 0);            /* master ISR after the EOI */
    CHECK_EQ(res(&v, 2), 0x2a);         /* IRQ 10 through the cascade, slave base 0x28 */
    CHECK_EQ(count(&v, 0x2a), 1);
    CHECK_EQ(res(&v, 3), 0);            /* slave ISR after the EOI */
    CHECK_EQ(res(&v, 4), 1);

    struct kvm_irqchip c = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
    CHECK_EQ(skvm_ioctl(v.vm, KVM_GET_IRQCHIP, &c), 0);
    CHECK_EQ(c.chip.pic.irq_base, 0x20);
    CHECK_EQ(c.chip.pic.imr, 0xff);
    CHECK_EQ(c.chip.pic.isr, 0);
    CHECK_EQ(c.chip.pic.init4, 1);
    CHECK_EQ(c.chip.pic.elcr_mask, 0xf8);
    c.chip_id = KVM_IRQCHIP_PIC_SLAVE;
    CHECK_EQ(skvm_ioctl(v.vm, KVM_GET_IRQCHIP, &c), 0);
    CHECK_EQ(c.chip.pic.irq_base, 0x28);
    CHECK_EQ(c.chip.pic.elcr_mask, 0xde);
    c.chip.pic.imr = 0x5a;
    c.chip.pic.elcr = 0x02;
    CHECK_EQ(skvm_ioctl(v.vm, KVM_SET_IRQCHIP, &c), 0);
    struct kvm_irqchip d = { .chip_id = KVM_IRQCHIP_PIC_SLAVE };
    CHECK_EQ(skvm_ioctl(v.vm, KVM_GET_IRQCHIP, &d), 0);
    CHECK(memcmp(&c.chip.pic, &d.chip.pic, sizeof(d.chip.pic)) == 0);
    d.chip_id = 3;
    CHECK_ERRNO(skvm_ioctl(v.vm, KVM_GET_IRQCHIP, &d), EINVAL);
    CHECK_ERRNO(skvm_ioctl(v.vm, KVM_SET_IRQCHIP, &d), EINVAL);
  }
  vm_teardown(&v);
}

/* ---- PIT ---- */
static void test_pit_ch0(void)
{
  struct vm v;
  if (vm_setup(&v, 1, true) == 0 && enter(&v, 0, T_PIT, 0xf000) == 0) {
    run_checked(&v, 0, NULL);
    CHECK(res(&v, 0) >= 1 && res(&v, 0) <= 11932);   /* latched mode-2 count */
    CHECK(res(&v, 1) >= 3);                           /* IRQ 0 ticks at vector 0x20 */

    struct kvm_pit_state2 ps;
    memset(&ps, 0xa5, sizeof(ps));
    CHECK_EQ(skvm_ioctl(v.vm, KVM_GET_PIT2, &ps), 0);
    CHECK_EQ(ps.channels[0].count, 11932);
    CHECK_EQ(ps.channels[0].mode, 2);
    CHECK_EQ(ps.channels[0].rw_mode, 3);
    CHECK_EQ(ps.channels[2].gate, 0);   /* reset: channel 2's gate low */
    CHECK_EQ(ps.channels[1].gate, 1);
    CHECK_EQ(ps.reserved[0], 0);
    ps.channels[1].count = 0x1234;
    ps.channels[1].mode = 3;
    CHECK_EQ(skvm_ioctl(v.vm, KVM_SET_PIT2, &ps), 0);
    struct kvm_pit_state2 ps2;
    CHECK_EQ(skvm_ioctl(v.vm, KVM_GET_PIT2, &ps2), 0);
    CHECK_EQ(ps2.channels[1].count, 0x1234);
    CHECK_EQ(ps2.channels[1].mode, 3);
    CHECK_EQ(ps2.channels[0].count, 11932);
  }
  vm_teardown(&v);
}

static void test_pit_ch2_speaker(void)
{
  struct vm v;
  if (vm_setup(&v, 1, true) == 0 && enter(&v, 0, T_PIT2, 0xf000) == 0) {
    run_checked(&v, 0, NULL);
    CHECK_EQ(res(&v, 0) & 0x23, 0);    /* OUT2 low while counting, gate and speaker off */
    CHECK(res(&v, 1) != 0);            /* OUT2 rose at the terminal count */
    CHECK_EQ(res(&v, 2) & 0x23, 0x21); /* OUT2 and the gate */
    CHECK_EQ(res(&v, 3), 0xb0);        /* read-back status: OUT, lobyte/hibyte, mode 0, binary */
  }
  vm_teardown(&v);
}

/* ---- two vCPUs ---- */
/* Two vCPUs on two threads: vCPU 0 runs scenario bsp_test (stack 0xf000), vCPU 1 ap_test (0xe000). */
static void run_pair(struct vm *v, uint32_t bsp_test, uint32_t ap_test, struct runner r[2])
{
  enter(v, 0, bsp_test, 0xf000);
  enter(v, 1, ap_test, 0xe000);
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    r[i] = (struct runner){ .v = v, .i = i };
    CHECK_EQ(pthread_create(&th[i], NULL, run_guest, &r[i]), 0);
  }
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
}

static void test_ipi(void)
{
  struct vm v;
  if (vm_setup(&v, 2, false) == 0) {
    struct kvm_mp_state mp = { 0xff };
    CHECK_EQ(skvm_ioctl(v.vcpu[1], KVM_GET_MP_STATE, &mp), 0);
    CHECK_EQ(mp.mp_state, KVM_MP_STATE_UNINITIALIZED);   /* an AP waits for INIT/SIPI */
    mp.mp_state = KVM_MP_STATE_RUNNABLE;
    CHECK_EQ(skvm_ioctl(v.vcpu[1], KVM_SET_MP_STATE, &mp), 0);
    struct runner r[2];
    run_pair(&v, T_IPI_BSP, T_IPI_AP, r);
    CHECK_EQ(r[0].port, 0xe0);
    CHECK_EQ(r[1].port, 0xe1);
    CHECK_EQ(res(&v, 0), 0x61);        /* ICR: delivery status clear */
    CHECK_EQ(res(&v, 8), 1u << 24);    /* the AP's APIC ID */
    CHECK_EQ(count(&v, 0x61), 1);
  }
  vm_teardown(&v);
}

static void test_init_sipi(void)
{
  struct vm v;
  if (vm_setup(&v, 2, false) == 0) {
    /* an AP waiting for its SIPI gives the thread back on immediate_exit */
    v.run[1]->immediate_exit = 1;
    CHECK_ERRNO(skvm_ioctl(v.vcpu[1], KVM_RUN, IARG(0)), EINTR);
    CHECK_EQ(v.run[1]->exit_reason, KVM_EXIT_INTR);
    v.run[1]->immediate_exit = 0;

    enter(&v, 0, T_SIPI_BSP, 0xf000);
    struct runner r[2] = { { .v = &v, .i = 0 }, { .v = &v, .i = 1 } };
    pthread_t th[2];
    CHECK_EQ(pthread_create(&th[1], NULL, run_guest, &r[1]), 0);   /* blocks until the SIPI */
    CHECK_EQ(pthread_create(&th[0], NULL, run_guest, &r[0]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_EQ(r[0].port, 0xe0);
    CHECK_EQ(r[1].port, 0xe1);
    CHECK_EQ(get32(&v, FLAGS + 8) & 0xffff, 0x1234);
    CHECK_EQ(get32(&v, FLAGS + 12) & 0xffff, 0x0800);   /* CS = vector << 8 */
    struct kvm_sregs s;
    CHECK_EQ(skvm_ioctl(v.vcpu[1], KVM_GET_SREGS, &s), 0);
    CHECK_EQ(s.cs.selector, 0x0800);
    CHECK_EQ(s.cs.base, 0x8000);
    CHECK_EQ(s.cr0 & 1, 0);                             /* real mode */
    CHECK_EQ(s.apic_base, 0xfee00800);                  /* enabled, not the BSP */
    struct kvm_mp_state mp = { 0xff };
    CHECK_EQ(skvm_ioctl(v.vcpu[1], KVM_GET_MP_STATE, &mp), 0);
    CHECK_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);
  }
  vm_teardown(&v);
}

/* ---- HLT in the kernel: immediate_exit, and a wake-up from another thread ---- */
static void *set_immediate_exit(void *arg)
{
  struct kvm_run *run = arg;
  usleep(100000);
  __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void test_halt_immediate_exit(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_HALT, 0xf000) == 0) {
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, set_immediate_exit, v.run[0]), 0);
    CHECK_ERRNO(skvm_ioctl(v.vcpu[0], KVM_RUN, IARG(0)), EINTR);   /* cli; hlt never wakes */
    pthread_join(th, NULL);
    CHECK_EQ(v.run[0]->exit_reason, KVM_EXIT_INTR);
    struct kvm_mp_state mp = { 0xff };
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_GET_MP_STATE, &mp), 0);
    CHECK_EQ(mp.mp_state, KVM_MP_STATE_HALTED);
    v.run[0]->immediate_exit = 0;
    mp.mp_state = KVM_MP_STATE_RUNNABLE;
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_SET_MP_STATE, &mp), 0);
    run_checked(&v, 0, NULL);
    CHECK_EQ(res(&v, 0), 0x600d);
  }
  vm_teardown(&v);
}

/* an asynchronous pthread_cancel of a thread halted in KVM_RUN (xapic_ipi_test ends this way):
 * as on KVM, it is cancelled after the ioctl, holding no lock and no longer running */
#ifdef __SANITIZE_ADDRESS__
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

/* ASan does not follow a cancellation's forced unwind: the frames it skipped keep their poisoned
 * redzones, which the exiting thread then trips over. Clear the shadow of the stack below us. */
static void unpoison_unwound(void *arg)
{
  (void)arg;
#ifdef __SANITIZE_ADDRESS__
  pthread_attr_t a;
  void *lo;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &a)) return;
  pthread_attr_getstack(&a, &lo, &size);
  pthread_attr_destroy(&a);
  char *here = __builtin_frame_address(0);
  __asan_unpoison_memory_region(lo, (size_t)(here - (char *)lo));
#endif
}

static void *run_cancellable(void *arg)
{
  struct vm *v = arg;
  pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
  __atomic_store_n(&v->mem[FLAGS + 32], 1, __ATOMIC_SEQ_CST);
  pthread_cleanup_push(unpoison_unwound, NULL);
  skvm_ioctl(v->vcpu[0], KVM_RUN, IARG(0));
  pthread_cleanup_pop(0);
  return NULL;
}

static void test_cancel_in_run(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_HALT, 0xf000) == 0) {
    pthread_t th;
    void *ret = NULL;
    CHECK_EQ(pthread_create(&th, NULL, run_cancellable, &v), 0);
    while (!__atomic_load_n(&v.mem[FLAGS + 32], __ATOMIC_SEQ_CST)) usleep(1000);
    usleep(50000);   /* in the HLT */
    CHECK_EQ(pthread_cancel(th), 0);
    CHECK_EQ(pthread_join(th, &ret), 0);
    CHECK(ret == PTHREAD_CANCELED);
    struct kvm_mp_state mp = { 0xff };
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_GET_MP_STATE, &mp), 0);   /* the vCPU's and irqchip's locks */
    CHECK_EQ(mp.mp_state, KVM_MP_STATE_HALTED);
    struct kvm_userspace_memory_region r = { .slot = 0 };        /* waits for running vCPUs */
    CHECK_EQ(skvm_ioctl(v.vm, KVM_SET_USER_MEMORY_REGION, &r), 0);
  }
  vm_teardown(&v);
}

static void *raise_gsi4_when_ready(void *arg)
{
  struct vm *v = arg;
  for (int i = 0; i < 20000 && !__atomic_load_n((uint32_t *)(v->mem + FLAGS + 16), __ATOMIC_ACQUIRE); i++)
    usleep(1000);
  usleep(50000);   /* let the vCPU reach its HLT */
  struct kvm_irq_level l = { .irq = 4, .level = 1 };
  skvm_ioctl(v->vm, KVM_IRQ_LINE, &l);
  l.level = 0;
  skvm_ioctl(v->vm, KVM_IRQ_LINE, &l);
  return NULL;
}

static void test_wake_from_thread(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_WAKE, 0xf000) == 0) {
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, raise_gsi4_when_ready, &v), 0);
    run_checked(&v, 0, NULL);
    pthread_join(th, NULL);
    CHECK_EQ(res(&v, 0), 1);
  }
  vm_teardown(&v);
}

/* ---- KVM_GET/SET_LAPIC, CR8, APIC base ---- */
static uint32_t lreg(const struct kvm_lapic_state *s, int off)
{
  uint32_t x;
  memcpy(&x, s->regs + off, 4);
  return x;
}
static void set_lreg(struct kvm_lapic_state *s, int off, uint32_t x) { memcpy(s->regs + off, &x, 4); }

static void test_lapic_state(void)
{
  struct vm v;
  if (vm_setup(&v, 2, false) == 0) {
    struct kvm_lapic_state s;
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_GET_LAPIC, &s), 0);
    CHECK_EQ(lreg(&s, 0x20), 0);              /* ID */
    CHECK_EQ(lreg(&s, 0x30), 0x50014);        /* version */
    CHECK_EQ(lreg(&s, 0xf0), 0xff);           /* SVR: software-disabled */
    CHECK_EQ(lreg(&s, 0xe0), 0xffffffff);     /* DFR: flat */
    CHECK_EQ(lreg(&s, 0x320), 0x10000);       /* LVTT masked */
    CHECK_EQ(lreg(&s, 0x350), 0x700);         /* BSP LINT0: ExtINT */
    struct kvm_lapic_state s1;
    CHECK_EQ(skvm_ioctl(v.vcpu[1], KVM_GET_LAPIC, &s1), 0);
    CHECK_EQ(lreg(&s1, 0x20), 1u << 24);
    CHECK_EQ(lreg(&s1, 0x350), 0x10000);

    set_lreg(&s, 0x80, 0x20);                 /* TPR */
    set_lreg(&s, 0xf0, 0x1ff);
    set_lreg(&s, 0x320, 0x40);                /* one-shot, vector 0x40 */
    set_lreg(&s, 0x3e0, 0xb);
    set_lreg(&s, 0x380, 1000000000);          /* TMICT: 1 s */
    set_lreg(&s, 0x390, 0);                   /* TMCCT 0: a full period */
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_SET_LAPIC, &s), 0);
    struct kvm_lapic_state t;
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_GET_LAPIC, &t), 0);
    CHECK_EQ(lreg(&t, 0x80), 0x20);
    CHECK_EQ(lreg(&t, 0xa0), 0x20);           /* PPR follows TPR */
    CHECK_EQ(lreg(&t, 0x380), 1000000000);
    CHECK(lreg(&t, 0x390) > 0 && lreg(&t, 0x390) <= 1000000000);   /* running */
    set_lreg(&s, 0xa0, 0x20);
    CHECK(memcmp(t.regs, s.regs, 0x390) == 0);

    struct kvm_sregs sr;
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_GET_SREGS, &sr), 0);
    CHECK_EQ(sr.cr8, 2);                      /* CR8 = TPR >> 4 */
    CHECK_EQ(sr.apic_base, 0xfee00900);       /* enabled, BSP */
    sr.cr8 = 5;
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_SET_SREGS, &sr), 0);
    CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_GET_LAPIC, &t), 0);
    CHECK_EQ(lreg(&t, 0x80), 0x50);
    sr.apic_base = 0xfee00500;                /* x2APIC without ENABLE: an invalid mode */
    CHECK_ERRNO(skvm_ioctl(v.vcpu[0], KVM_SET_SREGS, &sr), EINVAL);

    struct { struct kvm_msrs h; struct kvm_msr_entry e[2]; } m = { .h.nmsrs = 2 };
    m.e[0].index = 0x1b;
    m.e[1].index = 0x6e0;
    CHECK_EQ(skvm_ioctl(v.vcpu[1], KVM_GET_MSRS, &m), 2);
    CHECK_EQ(m.e[0].data, 0xfee00800);
    CHECK_EQ(m.e[1].data, 0);                 /* not in TSC-deadline mode */
  }
  vm_teardown(&v);
}

/* ---- x2APIC ---- */
static int get_msr(int vcpu, uint32_t index, uint64_t *val)
{
  struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = { .h.nmsrs = 1, .e.index = index };
  int r = skvm_ioctl(vcpu, KVM_GET_MSRS, &m);
  *val = m.e.data;
  return r;   /* 1, or 0 when refused */
}
static int set_msr(int vcpu, uint32_t index, uint64_t val)
{
  struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = { .h.nmsrs = 1, .e = { .index = index, .data = val } };
  return skvm_ioctl(vcpu, KVM_SET_MSRS, &m);
}

/* the host's side: APIC base rules, MSR reads/writes, KVM_GET/SET_LAPIC's layout, X2APIC_API */
static void test_x2apic_host(void)
{
  struct vm v;
  if (vm_setup(&v, 2, false) == 0) {
    int c1 = v.vcpu[1];
    uint64_t x = 0;
    struct kvm_cpuid2 *cpuid = vmt_supported_cpuid(v.sys);
    CHECK(cpuid != NULL);
    for (uint32_t i = 0; cpuid && i < cpuid->nent; i++)
      if (cpuid->entries[i].function == 1) CHECK(cpuid->entries[i].ecx & (1u << 21));   /* offered */
    CHECK_EQ(get_msr(c1, 0x802, &x), 0);              /* xAPIC mode: no x2APIC MSRs */
    CHECK_EQ(set_msr(c1, 0x808, 0), 0);
    CHECK_EQ(set_msr(c1, 0x1b, 0xfee00400), 0);       /* EXTD without ENABLE */
    CHECK_EQ(set_msr(c1, 0x1b, 0xfee00c00), 1);
    CHECK_EQ(get_msr(c1, 0x802, &x), 1);
    CHECK_EQ(x, 1);                                   /* the x2APIC ID: the vCPU's */
    CHECK_EQ(get_msr(c1, 0x80d, &x), 1);
    CHECK_EQ(x, 2);                                   /* LDR: cluster 0, bit 1 */
    CHECK_EQ(get_msr(c1, 0x803, &x), 1);
    CHECK_EQ(x, 0x50014);
    static const uint32_t no_read[] = { 0x80e, 0x831, 0x809, 0x83f, 0x82f, 0x840, 0x8ff };
    for (size_t i = 0; i < sizeof(no_read) / sizeof(no_read[0]); i++) CHECK_EQ(get_msr(c1, no_read[i], &x), 0);
    CHECK_EQ(set_msr(c1, 0x802, 1), 0);               /* ID, LDR, version: read-only */
    CHECK_EQ(set_msr(c1, 0x80d, 2), 0);
    CHECK_EQ(set_msr(c1, 0x803, 0), 0);
    CHECK_EQ(set_msr(c1, 0x80e, 0), 0);               /* no DFR */
    CHECK_EQ(set_msr(c1, 0x808, 1ULL << 32), 0);      /* 32-bit registers */
    CHECK_EQ(set_msr(c1, 0x808, 0x30), 1);
    CHECK_EQ(get_msr(c1, 0x80a, &x), 1);
    CHECK_EQ(x, 0x30);                                /* PPR follows */
    CHECK_EQ(set_msr(c1, 0x830, 0x40ULL | 1u << 16), 0);   /* ICR reserved bits */
    CHECK_EQ(set_msr(c1, 0x830, 7ULL << 32 | 0x40), 1);    /* to x2APIC ID 7: nobody */
    CHECK_EQ(get_msr(c1, 0x830, &x), 1);
    CHECK_EQ(x, 7ULL << 32 | 0x40);

    struct kvm_lapic_state s;
    CHECK_EQ(skvm_ioctl(c1, KVM_GET_LAPIC, &s), 0);
    CHECK_EQ(lreg(&s, 0x20), 1u << 24);               /* ID in the xAPIC place */
    CHECK_EQ(lreg(&s, 0xd0), 2);
    CHECK_EQ(lreg(&s, 0x300), 0x40);                  /* the ICR split in two */
    CHECK_EQ(lreg(&s, 0x310), 7);
    set_lreg(&s, 0x300, 0x41);
    set_lreg(&s, 0x310, 9);
    set_lreg(&s, 0xd0, 0xdead);                       /* recomputed from the ID */
    CHECK_EQ(skvm_ioctl(c1, KVM_SET_LAPIC, &s), 0);
    CHECK_EQ(get_msr(c1, 0x830, &x), 1);
    CHECK_EQ(x, 9ULL << 32 | 0x41);
    CHECK_EQ(get_msr(c1, 0x80d, &x), 1);
    CHECK_EQ(x, 2);
    CHECK_EQ(get_msr(c1, 0x802, &x), 1);
    CHECK_EQ(x, 1);

    /* KVM_CAP_X2APIC_API: 32-bit IDs in KVM_GET/SET_LAPIC */
    CHECK_EQ(skvm_ioctl(v.vm, KVM_CHECK_EXTENSION, IARG(KVM_CAP_X2APIC_API)), 3);
    struct kvm_enable_cap cap = { .cap = KVM_CAP_X2APIC_API, .args = { 4 } };
    CHECK_ERRNO(skvm_ioctl(v.vm, KVM_ENABLE_CAP, &cap), EINVAL);
    cap.args[0] = KVM_X2APIC_API_USE_32BIT_IDS;
    CHECK_EQ(skvm_ioctl(v.vm, KVM_ENABLE_CAP, &cap), 0);
    CHECK_EQ(skvm_ioctl(c1, KVM_GET_LAPIC, &s), 0);
    CHECK_EQ(lreg(&s, 0x20), 1);
    set_lreg(&s, 0x20, 5);
    CHECK_ERRNO(skvm_ioctl(c1, KVM_SET_LAPIC, &s), EINVAL);   /* not the vCPU's ID */
    set_lreg(&s, 0x20, 1);
    CHECK_EQ(skvm_ioctl(c1, KVM_SET_LAPIC, &s), 0);

    /* the host may leave x2APIC for xAPIC, and enter it from disabled */
    CHECK_EQ(set_msr(c1, 0x1b, 0xfee00800), 1);
    CHECK_EQ(get_msr(c1, 0x802, &x), 0);
    CHECK_EQ(set_msr(c1, 0x1b, 0xfee00000), 1);
    CHECK_EQ(set_msr(c1, 0x1b, 0xfee00c00), 1);

    /* a guest CPUID without x2APIC: EXTD is a reserved bit */
    for (uint32_t i = 0; cpuid && i < cpuid->nent; i++)
      if (cpuid->entries[i].function == 1) cpuid->entries[i].ecx &= ~(1u << 21);
    if (cpuid) CHECK_EQ(skvm_ioctl(v.vcpu[0], KVM_SET_CPUID2, cpuid), 0);
    CHECK_EQ(set_msr(v.vcpu[0], 0x1b, 0xfee00d00), 0);
    free(cpuid);
  }
  vm_teardown(&v);
}

/* the guest's side: WRMSR to the APIC base, the MSRs and what #GPs, SELF_IPI and ICR IPIs */
static void test_x2apic_guest(void)
{
  struct vm v;
  if (vm_setup(&v, 1, false) == 0 && enter(&v, 0, T_X2APIC, 0xf000) == 0) {
    run_checked(&v, 0, NULL);
    CHECK_EQ(res(&v, 0), 0);                  /* x2APIC ID */
    CHECK_EQ(res(&v, 1), 1);                  /* LDR */
    CHECK_EQ(res(&v, 2), 1u << 0 | 1u << 1 | 0x7ffu << 9 | 1u << 22 | 1u << 24 | 1u << 26);   /* #GPs */
    CHECK_EQ(count(&v, 0x70), 1);             /* SELF_IPI */
    CHECK_EQ(count(&v, 0x71), 1);             /* ICR */
    CHECK_EQ(res(&v, 3), 0x71);               /* ICR: not busy */
    CHECK_EQ(res(&v, 4), 0);
    CHECK_EQ(res(&v, 5), 0xffffffff);         /* MMIO in x2APIC mode */
    CHECK_EQ(res(&v, 6), 0);                  /* the MMIO TPR write was ignored */
    CHECK_EQ(res(&v, 7), 0x50014);            /* xAPIC again */
    CHECK_EQ(count(&v, 0x72), 0);
  }
  vm_teardown(&v);
}

static void test_x2apic_ipi(void)
{
  struct vm v;
  if (vm_setup(&v, 2, false) == 0) {
    struct kvm_mp_state mp = { KVM_MP_STATE_RUNNABLE };
    CHECK_EQ(skvm_ioctl(v.vcpu[1], KVM_SET_MP_STATE, &mp), 0);
    struct runner r[2];
    run_pair(&v, T_X2_BSP, T_X2_AP, r);
    CHECK_EQ(r[0].port, 0xe0);
    CHECK_EQ(r[1].port, 0xe1);
    CHECK_EQ(res(&v, 8), 1);                  /* the AP's x2APIC ID */
    CHECK_EQ(res(&v, 9), 2);                  /* and LDR */
    CHECK_EQ(count(&v, 0x62), 1);             /* physical */
    CHECK_EQ(count(&v, 0x63), 1);             /* logical, cluster 0 */
    CHECK_EQ(count(&v, 0x64), 0);             /* cluster 1: nobody */
  }
  vm_teardown(&v);
}

/* KVM_SET_BOOT_CPU_ID: which vCPU resets as the BSP; only before any vCPU exists */
static void test_boot_cpu_id(void)
{
  int sys = skvm_open();
  int vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK_EQ(skvm_ioctl(vm, KVM_CHECK_EXTENSION, IARG(KVM_CAP_SET_BOOT_CPU_ID)), 1);
  CHECK_EQ(skvm_ioctl(vm, KVM_CREATE_IRQCHIP, IARG(0)), 0);
  CHECK_EQ(skvm_ioctl(vm, KVM_SET_BOOT_CPU_ID, IARG(1)), 0);
  int c0 = skvm_ioctl(vm, KVM_CREATE_VCPU, IARG(0)), c1 = skvm_ioctl(vm, KVM_CREATE_VCPU, IARG(1));
  CHECK(c0 >= 0 && c1 >= 0);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_SET_BOOT_CPU_ID, IARG(0)), EBUSY);
  uint64_t base = 0;
  CHECK_EQ(get_msr(c0, 0x1b, &base), 1);
  CHECK_EQ(base, 0xfee00800);
  CHECK_EQ(get_msr(c1, 0x1b, &base), 1);
  CHECK_EQ(base, 0xfee00900);                 /* the BSP */
  struct kvm_mp_state mp = { 0xff };
  CHECK_EQ(skvm_ioctl(c0, KVM_GET_MP_STATE, &mp), 0);
  CHECK_EQ(mp.mp_state, KVM_MP_STATE_UNINITIALIZED);
  CHECK_EQ(skvm_ioctl(c1, KVM_GET_MP_STATE, &mp), 0);
  CHECK_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);
  struct kvm_lapic_state s;
  CHECK_EQ(skvm_ioctl(c1, KVM_GET_LAPIC, &s), 0);
  CHECK_EQ(lreg(&s, 0x350), 0x700);           /* the BSP's LINT0: ExtINT */
  skvm_close(c0);
  skvm_close(c1);
  skvm_close(vm);
  skvm_close(sys);
}

/* ---- error codes (Linux 6.1) ---- */
static void test_errors(void)
{
  int sys = skvm_open();
  int vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  struct kvm_irq_level l = { .irq = 4, .level = 1 };
  struct kvm_irqchip c = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
  struct kvm_pit_state2 ps;
  struct kvm_pit_config pc = { 0 };
  struct kvm_lapic_state ls;
  CHECK_ERRNO(skvm_ioctl(vm, KVM_IRQ_LINE, &l), ENXIO);          /* no irqchip */
  CHECK_ERRNO(skvm_ioctl(vm, KVM_IRQ_LINE_STATUS, &l), ENXIO);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_GET_IRQCHIP, &c), ENXIO);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_SET_IRQCHIP, &c), ENXIO);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_GET_PIT2, &ps), ENXIO);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_PIT2, &pc), ENOENT);    /* later kernels' check */
  int cpu = skvm_ioctl(vm, KVM_CREATE_VCPU, IARG(0));
  CHECK(cpu >= 0);
  CHECK_ERRNO(skvm_ioctl(cpu, KVM_GET_LAPIC, &ls), EINVAL);     /* no in-kernel LAPIC */
  CHECK_ERRNO(skvm_ioctl(cpu, KVM_SET_LAPIC, &ls), EINVAL);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_IRQCHIP, IARG(0)), EINVAL);   /* a vCPU exists */
  skvm_close(cpu);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_IRQCHIP, IARG(0)), EINVAL);   /* ... or existed */
  skvm_close(vm);

  vm = skvm_ioctl(sys, KVM_CREATE_VM, IARG(0));
  CHECK_EQ(skvm_ioctl(vm, KVM_CREATE_IRQCHIP, IARG(0)), 0);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_IRQCHIP, IARG(0)), EEXIST);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_GET_PIT2, &ps), ENXIO);        /* no PIT yet */
  CHECK_ERRNO(skvm_ioctl(vm, KVM_SET_PIT2, &ps), ENXIO);
  CHECK_EQ(skvm_ioctl(vm, KVM_CREATE_PIT2, &pc), 0);
  CHECK_ERRNO(skvm_ioctl(vm, KVM_CREATE_PIT2, &pc), EEXIST);
  CHECK_EQ(skvm_ioctl(vm, KVM_IRQ_LINE_STATUS, &l), 0);
  CHECK_EQ(l.status, 1);                    /* the reset PIC has everything unmasked */
  l.irq = 30;
  l.level = 1;
  CHECK_EQ(skvm_ioctl(vm, KVM_IRQ_LINE_STATUS, &l), 0);
  CHECK_EQ(l.status, -1);                   /* no route */
  cpu = skvm_ioctl(vm, KVM_CREATE_VCPU, IARG(0));
  CHECK(cpu >= 0);
  struct kvm_interrupt irq = { .irq = 0x30 };
  CHECK_ERRNO(skvm_ioctl(cpu, KVM_INTERRUPT, &irq), ENXIO);     /* the in-kernel PIC */
  struct kvm_mp_state mp = { .mp_state = 42 };
  CHECK_ERRNO(skvm_ioctl(cpu, KVM_SET_MP_STATE, &mp), EINVAL);
  mp.mp_state = 0xff;
  CHECK_EQ(skvm_ioctl(cpu, KVM_GET_MP_STATE, &mp), 0);
  CHECK_EQ(mp.mp_state, KVM_MP_STATE_RUNNABLE);   /* the BSP */
  skvm_close(cpu);
  skvm_close(vm);
  skvm_close(sys);
}

int main(int argc, char **argv)
{
  static const struct { const char *name; void (*fn)(void); } tests[] = {
    { "errors", test_errors }, { "lapic_state", test_lapic_state },
    { "timer_oneshot", test_timer_oneshot }, { "timer_periodic", test_timer_periodic },
    { "timer_deadline", test_timer_deadline }, { "ioapic", test_ioapic }, { "pic", test_pic },
    { "pit_ch0", test_pit_ch0 }, { "pit_ch2_speaker", test_pit_ch2_speaker }, { "ipi", test_ipi },
    { "init_sipi", test_init_sipi }, { "halt_immediate_exit", test_halt_immediate_exit },
    { "wake_from_thread", test_wake_from_thread }, { "x2apic_host", test_x2apic_host },
    { "x2apic_guest", test_x2apic_guest }, { "x2apic_ipi", test_x2apic_ipi },
    { "boot_cpu_id", test_boot_cpu_id }, { "cancel_in_run", test_cancel_in_run },
  };
  alarm(100);
  for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
    if (argc > 1 && strcmp(argv[1], tests[i].name)) continue;   /* one test, by name */
    tests[i].fn();
  }
  return test_summary();
}
