/* Port I/O: an access the in-kernel irqchip does not take exits to userspace as KVM_EXIT_IO (data
 * in the page after kvm_run). */
#include <string.h>

#include "engine.h"

#define PIO_DATA_OFFSET 4096  /* KVM_PIO_PAGE_OFFSET * PAGE_SIZE */

/* Protected mode with CPL > IOPL, and VM86 mode, ask the TSS I/O permission bitmap (its offset
 * at TSS+0x66): every bit for the access's ports must be clear. The two bytes holding them are
 * read as one word, which must lie within the TSS limit; a 16-bit TSS has no bitmap. #GP(0). */
static void io_check_permission(struct x86_cpu *cpu, uint16_t port, int size)
{
  if (!prot_mode(cpu)) return;
  if (!(cpu->rflags & F_VM) && cpu->cpl <= ((cpu->rflags & F_IOPL) >> 12)) return;
  const struct x86_seg *tr = &cpu->tr;
  if (tr->unusable || !(tr->type & 8) || tr->limit < 0x67) RAISE_ERR(cpu, EXC_GP, 0);
  uint32_t off = (uint32_t)lin_read(cpu, tr->base + 0x66, 2, ACC_SYS) + port / 8;
  if (off + 1 > tr->limit) RAISE_ERR(cpu, EXC_GP, 0);
  uint64_t lin = tr->base + off;
  if (!(cpu->efer & EFER_LMA)) lin &= 0xffffffff;
  uint32_t bits = (uint32_t)lin_read(cpu, lin, 2, ACC_SYS);
  if (bits >> (port & 7) & ((1u << size) - 1)) RAISE_ERR(cpu, EXC_GP, 0);
}

static void io_fill(struct x86_cpu *cpu, uint16_t port, int size, uint8_t dir)
{
  struct kvm_run *run = cpu->run;
  run->exit_reason = KVM_EXIT_IO;
  run->io.direction = dir;
  run->io.size = size;
  run->io.port = port;
  run->io.count = 1;
  run->io.data_offset = PIO_DATA_OFFSET;
}

bool io_in_kernel(struct x86_cpu *cpu, uint16_t port, int size, uint64_t *v)
{
  io_check_permission(cpu, port, size);
  *v = 0;
  return cpu->irq_ops && cpu->irq_ops->pio(cpu->irq_opaque, port, v, size, false);
}

_Noreturn void io_in_exit(struct x86_cpu *cpu, uint16_t port, int size, uint32_t count)
{
  io_fill(cpu, port, size, KVM_EXIT_IO_IN);
  cpu->run->io.count = count;
  x86_exit_restart(cpu);
}

const uint8_t *io_in_data(struct x86_cpu *cpu)
{
  return (const uint8_t *)cpu->run + PIO_DATA_OFFSET;
}

uint64_t io_in(struct x86_cpu *cpu, uint16_t port, int size)
{
  uint64_t v = 0;
  if (cpu->io_in_done) {
    io_check_permission(cpu, port, size);
    cpu->io_in_done = false;
    memcpy(&v, io_in_data(cpu), size);
    return v;
  }
  if (io_in_kernel(cpu, port, size, &v)) return v;
  io_in_exit(cpu, port, size, 1);
}

bool io_out(struct x86_cpu *cpu, uint16_t port, int size, uint64_t v)
{
  io_check_permission(cpu, port, size);
  if (cpu->irq_ops && cpu->irq_ops->pio(cpu->irq_opaque, port, &v, size, true)) return false;
  if (cpu->exit_now) x86_internal_error(cpu, NULL, 0);
  io_fill(cpu, port, size, KVM_EXIT_IO_OUT);
  memcpy((uint8_t *)cpu->run + PIO_DATA_OFFSET, &v, size);
  cpu->exit_now = true;
  return true;
}
