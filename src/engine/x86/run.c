/* The run loop: fetch/decode/execute, exits to userspace with KVM's contract, exception escape. */
#include <string.h>

#include "engine.h"

_Noreturn void x86_raise(struct x86_cpu *cpu, int vector, uint32_t error, bool has_error)
{
  cpu->exc_vector = vector;
  cpu->exc_error = error;
  cpu->exc_has_error = has_error;
  longjmp(cpu->jb, JMP_EXCEPTION);
}

_Noreturn void x86_exit_restart(struct x86_cpu *cpu)
{
  struct kvm_run *run = cpu->run;
  if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_IN) cpu->pending_completion = PEND_IO_IN;
  else if (run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write) cpu->pending_completion = PEND_MMIO_READ;
  longjmp(cpu->jb, JMP_EXIT);
}

/* KVM's emulation-failure exit: flags, then the instruction bytes (insn_size + insn_bytes). */
_Noreturn void x86_internal_error(struct x86_cpu *cpu, const uint8_t *bytes, int len)
{
  struct kvm_run *run = cpu->run;
  run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
  memset(&run->emulation_failure, 0, sizeof(run->emulation_failure));
  run->emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
  if (bytes && len > 0) {
    if (len > 15) len = 15;
    run->emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
    run->emulation_failure.insn_size = len;
    memset(run->emulation_failure.insn_bytes, 0x90, sizeof(run->emulation_failure.insn_bytes));
    memcpy(run->emulation_failure.insn_bytes, bytes, len);
    run->emulation_failure.ndata = 3;
  } else {
    run->emulation_failure.ndata = 1;
  }
  longjmp(cpu->jb, JMP_EXIT);
}

static bool contributory(int v)
{
  return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP);
}

/* An exception raised while delivering another one: serial, #DF, or triple fault. */
static void escalate(struct x86_cpu *cpu)
{
  int first = cpu->delivering, second = cpu->exc_vector;
  cpu->delivering = -1;
  if (first < 0) return;
  if (first == EXC_DF) {
    cpu->run->exit_reason = KVM_EXIT_SHUTDOWN;
    longjmp(cpu->jb, JMP_EXIT);
  }
  if ((contributory(first) && contributory(second)) ||
      (first == EXC_PF && (contributory(second) || second == EXC_PF))) {
    cpu->exc_vector = EXC_DF;
    cpu->exc_error = 0;
    cpu->exc_has_error = true;
  }
}

static inline void step(struct x86_cpu *cpu)
{
  struct x86_insn scratch;
  const struct x86_insn *in = decode_insn(cpu, &scratch);
  cpu->next_rip = cpu->rip + in->len;
  if (cpu->code_bits == 16) cpu->next_rip &= 0xffff;
  else if (cpu->code_bits == 32) cpu->next_rip &= 0xffffffff;
  cpu->shadow = false;
  in->fn(cpu, in);
  cpu->rip = cpu->next_rip;
  cpu->n_mmio_done = 0;
  cpu->io_in_done = false;
}

static bool interrupts_allowed(const struct x86_cpu *cpu)
{
  return (cpu->rflags & F_IF) && !cpu->shadow;
}

/* Interrupt-controller events (cpu->events): an NMI, an interrupt to take from ack() when IF
 * allows, or a request that ends x86_run. Returns true to leave the run loop. */
static bool handle_events(struct x86_cpu *cpu, uint32_t ev)
{
  if (ev & X86_EV_REQ) {
    cpu->exit_ret = 1;
    return true;
  }
  if ((ev & X86_EV_NMI) && !cpu->nmi_blocked && !cpu->shadow) {
    __atomic_and_fetch(&cpu->events, ~X86_EV_NMI, __ATOMIC_ACQ_REL);
    cpu->nmi_blocked = true;
    deliver_event(cpu, 2, 0, false, false, cpu->rip);
  } else if ((ev & X86_EV_INTR) && interrupts_allowed(cpu)) {
    /* cleared before ack(): an interrupt raised meanwhile sets it again */
    __atomic_and_fetch(&cpu->events, ~X86_EV_INTR, __ATOMIC_ACQ_REL);
    int v = cpu->irq_ops->ack(cpu->irq_opaque);
    if (v >= 0) deliver_event(cpu, v, 0, false, false, cpu->rip);
  }
  return false;
}

/* Picks up a new memory map; the generation is published last, so a vCPU that shows the new
 * generation no longer touches the old map or its host pages (see wait_for_vcpus_locked). */
static inline void refresh_memmap(struct x86_cpu *cpu)
{
  unsigned gen = __atomic_load_n(cpu->memmap_gen_slot, __ATOMIC_ACQUIRE);
  if (gen != cpu->memmap_gen) {
    cpu->memmap = __atomic_load_n(cpu->memmap_slot, __ATOMIC_ACQUIRE);
    x86_tlb_flush(cpu);
    __atomic_store_n(&cpu->memmap_gen, gen, __ATOMIC_SEQ_CST);
  }
}

void x86_complete_exit(struct x86_cpu *cpu)
{
  struct kvm_run *run = cpu->run;
  if (cpu->pending_completion == PEND_IO_IN) {
    cpu->io_in_done = true;
  } else if (cpu->pending_completion == PEND_MSR) {
    cpu->msr_done = true;
  } else if (cpu->pending_completion == PEND_MMIO_READ && cpu->n_mmio_done < 4) {
    int i = cpu->n_mmio_done++;
    cpu->mmio_done[i].gpa = run->mmio.phys_addr;
    cpu->mmio_done[i].len = run->mmio.len;
    memcpy(cpu->mmio_done[i].data, run->mmio.data, 8);
  }
}

int x86_run(struct x86_cpu *cpu, bool immediate_exit)
{
  struct kvm_run *run = cpu->run;
  volatile int ret = 0;
  volatile bool completing = cpu->pending_completion == PEND_IO_IN ||
                            cpu->pending_completion == PEND_MMIO_READ ||
                            cpu->pending_completion == PEND_MSR;

  if (cpu->pending_completion == PEND_OUT && cpu->rip == cpu->out_skip_rip)
    cpu->rip = cpu->out_next_rip;
  cpu->pending_completion = PEND_NONE;
  cpu->exit_now = false;
  cpu->exit_ret = 0;
  cpu->delivering = -1;
  refresh_memmap(cpu);
  switch (setjmp(cpu->jb)) {
  case 0:
    if (completing) {         /* re-execute the instruction that waited for userspace's data */
      step(cpu);
      if (cpu->exit_now) goto out;
    }
    if (immediate_exit) {
      ret = -1;
      goto out;
    }
    if (cpu->inject_exc >= 0) {    /* KVM_SET_VCPU_EVENTS: an exception to inject */
      int v = cpu->inject_exc;
      cpu->inject_exc = -1;
      deliver_event(cpu, v, cpu->inject_exc_error, cpu->inject_exc_has_error, false, cpu->rip);
    }
    if (cpu->pending_irq >= 0) {   /* KVM_INTERRUPT: injected at entry, as KVM does */
      int v = cpu->pending_irq;
      cpu->pending_irq = -1;
      deliver_event(cpu, v, 0, false, false, cpu->rip);
    }
    /* halted with an in-kernel irqchip: wait here (KVM_RUN after an interrupted HLT) */
    if (cpu->halted && cpu->irq_ops) {
      if (!cpu->irq_ops->halt(cpu->irq_opaque)) {
        run->exit_reason = KVM_EXIT_INTR;
        ret = -1;
        goto out;
      }
      cpu->halted = false;
    }
    break;
  case JMP_EXCEPTION:
    escalate(cpu);
    cpu->n_mmio_done = 0;
    cpu->io_in_done = false;
    cpu->msr_done = false;
    deliver_event(cpu, cpu->exc_vector, cpu->exc_error, cpu->exc_has_error, false, cpu->rip);
    if (cpu->exit_now) goto out;
    break;
  case JMP_EXIT:
    goto out;
  }

  /* userspace sets request_interrupt_window before KVM_RUN; KVM reads it at entry too */
  const bool want_window = run->request_interrupt_window;
  unsigned poll_left = X86_POLL_STEPS;
  for (;;) {
    refresh_memmap(cpu);
    uint32_t ev = __atomic_load_n(&cpu->events, __ATOMIC_ACQUIRE);
    if (__builtin_expect(ev != 0, 0) && handle_events(cpu, ev)) break;
    if (want_window && interrupts_allowed(cpu) && cpu->pending_irq < 0) {
      run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
      break;
    }
    step(cpu);
    if (cpu->exit_now) break;
    if (__builtin_expect(--poll_left == 0, 0)) {
      poll_left = X86_POLL_STEPS;
      if (cpu->vcpu_ops && cpu->vcpu_ops->poll(cpu->vcpu_opaque)) {
        run->exit_reason = KVM_EXIT_INTR;
        ret = -1;
        break;
      }
    }
  }
out:
  if (cpu->exit_ret) ret = cpu->exit_ret;
  run->if_flag = (cpu->rflags & F_IF) != 0;
  run->cr8 = cpu->irq_ops ? cpu->irq_ops->get_cr8(cpu->irq_opaque) : cpu->cr8;
  run->apic_base = cpu->apic_base;
  run->ready_for_interrupt_injection = interrupts_allowed(cpu) && cpu->pending_irq < 0;
  return ret;
}
