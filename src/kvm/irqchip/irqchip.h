/* The in-kernel interrupt controllers and timers, as KVM's arch/x86/kvm (lapic.c, ioapic.c,
 * i8259.c, i8254.c, irq_comm.c): one per VM, made by KVM_CREATE_IRQCHIP, a LAPIC per vCPU, the PIT
 * by KVM_CREATE_PIT2. One mutex guards all of it (and every LAPIC); a timer thread fires the LAPIC
 * timers and the PIT. Functions named *_locked expect chip->lock held. */
#ifndef SKVM_IRQCHIP_H
#define SKVM_IRQCHIP_H

#include <string.h>

#include "kvm/internal.h"

#define IRQ_NR_GSI 24                /* KVM's default routing: GSI n -> IOAPIC pin n, PIC irq n < 16 */
#define IOAPIC_DEFAULT_BASE 0xfec00000ULL
#define APIC_DEFAULT_BASE 0xfee00000ULL
#define APICBASE_BSP (1ULL << 8)
#define APICBASE_ENABLE (1ULL << 11)
#define APICBASE_EXTD (1ULL << 10)   /* x2APIC mode */
#define X2APIC_MSR_FIRST 0x800       /* MSR 0x800 + n is register n << 4 */
#define X2APIC_MSR_LAST 0x8ff

/* interrupt line sources, ORed per GSI as KVM's irq_states */
enum { IRQ_SRC_USER, IRQ_SRC_PIT };

/* xAPIC register offsets */
enum {
  APIC_ID = 0x20, APIC_LVR = 0x30, APIC_TASKPRI = 0x80, APIC_ARBPRI = 0x90, APIC_PROCPRI = 0xa0,
  APIC_EOI = 0xb0, APIC_RRR = 0xc0, APIC_LDR = 0xd0, APIC_DFR = 0xe0, APIC_SPIV = 0xf0,
  APIC_ISR = 0x100, APIC_TMR = 0x180, APIC_IRR = 0x200, APIC_ESR = 0x280, APIC_LVTCMCI = 0x2f0,
  APIC_ICR = 0x300, APIC_ICR2 = 0x310, APIC_LVTT = 0x320, APIC_LVTTHMR = 0x330, APIC_LVTPC = 0x340,
  APIC_LVT0 = 0x350, APIC_LVT1 = 0x360, APIC_LVTERR = 0x370, APIC_TMICT = 0x380,
  APIC_TMCCT = 0x390, APIC_TDCR = 0x3e0, APIC_SELF_IPI = 0x3f0,   /* SELF_IPI: x2APIC only */
};
/* ICR / LVT delivery modes (bits 10:8) */
enum { DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_SIPI = 6, DM_EXTINT = 7 };

/* An interrupt message: from the IOAPIC, an IPI (ICR) or a local LVT. */
struct apic_irq {
  uint8_t vector, dm;
  uint32_t dest;                    /* 8 bits, or an x2APIC ICR's 32 */
  bool logical, level, trig;        /* trig: level-triggered */
  int shorthand;                    /* 0 none, 1 self, 2 all, 3 all but self */
};

struct skvm_lapic {
  struct skvm_irqchip *chip;
  struct skvm_vcpu *vcpu;
  struct x86_cpu *cpu;
  uint8_t regs[KVM_APIC_REG_SIZE];  /* the register page as KVM_GET_LAPIC shows it */
  /* timer (host CLOCK_MONOTONIC ns; 1 ns per APIC bus cycle) */
  uint64_t timer_due;               /* next expiry, 0 = not armed */
  uint64_t timer_len;               /* one period: TMICT * divide (ns) */
  uint64_t tsc_deadline;            /* MSR_IA32_TSC_DEADLINE, guest TSC; 0 = disarmed */
  /* INIT / SIPI (KVM_MP_STATE_*) */
  int mp_state;
  bool init_pending, sipi_pending;
  uint8_t sipi_vector;
  pthread_cond_t wake;              /* the vCPU thread waits here (HLT, wait-for-SIPI) */
};

struct skvm_pit {
  struct kvm_pit_state2 st;         /* channels as KVM_GET_PIT2 shows them */
  uint32_t config_flags;            /* KVM_PIT_SPEAKER_DUMMY: port 0x61 is in-kernel */
  bool speaker_data_on;
  uint64_t ch0_due, ch0_period;     /* channel 0's interrupt timer; period 0 = one-shot */
  /* tick reinjection, as KVM's default: a tick that fires while the previous one is still
   * unacknowledged is counted, and delivered when the guest takes the previous one */
  uint32_t pending;
  uint8_t in_flight;                /* PIT_VIA_*: the unmasked paths the unacknowledged tick
                                       went out on; 0 = none outstanding */
  uint64_t in_flight_since;
};

struct skvm_irqchip {
  pthread_mutex_t lock;
  struct skvm_lapic *lapics[SKVM_MAX_VCPUS];
  int nlapics;
  struct kvm_pic_state pic[2];      /* master, slave */
  bool pic_output;                  /* the master's INT line */
  struct kvm_ioapic_state ioapic;
  uint32_t ioapic_irr_delivered;    /* edge pins sent since raised (hidden from KVM_GET_IRQCHIP) */
  uint32_t line[IRQ_NR_GSI];        /* per GSI, a bit per IRQ_SRC_* source holding it high */
  struct skvm_pit *pit;
  pthread_t timer_thread;
  pthread_cond_t timer_cond;        /* CLOCK_MONOTONIC; signalled when a deadline changes */
  bool timer_stop;
};

uint64_t irq_now_ns(void);
void irq_cond_init(pthread_cond_t *c);   /* a CLOCK_MONOTONIC condition variable */

/* irq.c: the VM's ioctls and the GSI routing */
long irqchip_vm_ioctl(struct skvm_vm *vm, unsigned long req, void *arg);
void irqchip_destroy(struct skvm_vm *vm);
int irq_set_locked(struct skvm_irqchip *chip, unsigned gsi, int src, bool level);

/* timer.c */
int timer_start(struct skvm_irqchip *chip);
void timer_stop(struct skvm_irqchip *chip);
static inline void timer_kick_locked(struct skvm_irqchip *chip) { pthread_cond_signal(&chip->timer_cond); }

/* pic.c */
void pic_reset(struct skvm_irqchip *chip);
int pic_set_irq_locked(struct skvm_irqchip *chip, int irq, bool level);
int pic_read_irq_locked(struct skvm_irqchip *chip);   /* INTA: the vector */
void pic_update_locked(struct skvm_irqchip *chip);
bool pic_pio_locked(struct skvm_irqchip *chip, uint16_t port, uint8_t *val, bool write);

/* ioapic.c */
void ioapic_reset(struct skvm_irqchip *chip);
int ioapic_set_irq_locked(struct skvm_irqchip *chip, int pin, bool level);
void ioapic_mmio_locked(struct skvm_irqchip *chip, uint64_t off, void *data, int len, bool write);
void ioapic_eoi_locked(struct skvm_irqchip *chip, int vector);
void ioapic_get_state_locked(struct skvm_irqchip *chip, struct kvm_ioapic_state *s);
void ioapic_set_state_locked(struct skvm_irqchip *chip, const struct kvm_ioapic_state *s);

/* pit.c */
int pit_create(struct skvm_irqchip *chip, uint32_t flags);
bool pit_pio_locked(struct skvm_irqchip *chip, uint16_t port, uint8_t *val, bool write);
void pit_expire_locked(struct skvm_irqchip *chip, uint64_t now);
/* The CPU took vector (INTA or LAPIC accept): if it is the PIT's, the next pending tick goes. */
void pit_ack_locked(struct skvm_irqchip *chip, int vector);
void pit_get_state_locked(struct skvm_irqchip *chip, struct kvm_pit_state2 *s);
void pit_set_state_locked(struct skvm_irqchip *chip, const struct kvm_pit_state2 *s);

/* lapic.c */
struct skvm_lapic *lapic_new(struct skvm_irqchip *chip, struct skvm_vcpu *vcpu);
void lapic_reset_locked(struct skvm_lapic *l, bool init);
int lapic_deliver_locked(struct skvm_irqchip *chip, struct skvm_lapic *src, const struct apic_irq *irq);
void lapic_mmio_locked(struct skvm_lapic *l, uint32_t off, void *data, int len, bool write);
bool lapic_hw_enabled(const struct skvm_lapic *l);
bool lapic_x2apic_mode(const struct skvm_lapic *l);
bool lapic_accepts_pic(const struct skvm_lapic *l);
int lapic_pending_locked(struct skvm_lapic *l);      /* deliverable vector (not acked), or -1 */
int lapic_ack_locked(struct skvm_lapic *l);          /* IRR -> ISR; the vector or -1 */
void lapic_kick_locked(struct skvm_lapic *l);        /* "an interrupt may be deliverable" */
void lapic_timer_expire_locked(struct skvm_lapic *l, uint64_t now);
uint32_t lapic_tmcct_locked(struct skvm_lapic *l, uint64_t now);
void lapic_restart_timer_locked(struct skvm_lapic *l, uint32_t count);
int lapic_set_base_locked(struct skvm_lapic *l, uint64_t val, bool host);
void lapic_set_tpr_locked(struct skvm_lapic *l, uint32_t tpr);
uint64_t lapic_get_tsc_deadline_locked(struct skvm_lapic *l);
void lapic_set_tsc_deadline_locked(struct skvm_lapic *l, uint64_t val);
void lapic_get_state_locked(struct skvm_lapic *l, struct kvm_lapic_state *s);
int lapic_set_state_locked(struct skvm_lapic *l, const struct kvm_lapic_state *s);   /* 0 or -errno */
/* the register file, for x2apic.c: KVM's kvm_lapic_reg_write (1: the write is refused, which
 * x2APIC MSRs turn into #GP and MMIO ignores), reg_read's valid registers, kvm_apic_send_ipi */
int lapic_reg_write_locked(struct skvm_lapic *l, unsigned off, uint32_t val);
bool lapic_reg_readable(const struct skvm_lapic *l, unsigned off);
uint32_t lapic_reg_read_locked(struct skvm_lapic *l, unsigned off);
void lapic_send_ipi_locked(struct skvm_lapic *l, uint32_t lo, uint32_t hi);
/* x2apic.c: MSRs 0x800-0x8ff (kvm_x2apic_msr_read/write); -1 = #GP */
int x2apic_msr_read_locked(struct skvm_lapic *l, uint32_t msr, uint64_t *val);
int x2apic_msr_write_locked(struct skvm_lapic *l, uint32_t msr, uint64_t val);
uint32_t x2apic_ldr(uint32_t id);
uint64_t x2apic_icr(const struct skvm_lapic *l);
void x2apic_set_icr(struct skvm_lapic *l, uint64_t icr);
int x2apic_state_fixup(struct skvm_lapic *l, struct kvm_lapic_state *s, bool set);

static inline uint32_t lapic_reg(const struct skvm_lapic *l, unsigned off)
{
  uint32_t v;
  memcpy(&v, l->regs + off, 4);
  return v;
}
static inline void lapic_set_reg(struct skvm_lapic *l, unsigned off, uint32_t v)
{
  memcpy(l->regs + off, &v, 4);
}

/* vcpu_irq.c: the engine hooks and the vCPU side (libsoftkvm's vcpu.c calls these) */
int irqchip_vcpu_attach(struct skvm_vcpu *v);    /* under vm->lock, when vm->irqchip exists */
void irqchip_vcpu_detach(struct skvm_vcpu *v);
int irqchip_vcpu_accept_events(struct skvm_vcpu *v);   /* before x86_run: 0, or -1 (EINTR) */
long irqchip_vcpu_ioctl(struct skvm_vcpu *v, unsigned long req, void *arg);

#endif
