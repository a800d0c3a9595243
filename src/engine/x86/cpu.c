/* vCPU life cycle: creation, the architectural reset state, destruction. */
#include <stdlib.h>
#include <string.h>

#include "engine.h"

void x86_cpu_init(struct x86_cpu *cpu)
{
  decoder_init(cpu);
  x86_cpu_reset(cpu);
}

void x86_cpu_fini(struct x86_cpu *cpu)
{
  decoder_fini(cpu);
  free(cpu->cpuid);
  cpu->cpuid = NULL;
}

static void real_seg(struct x86_seg *s, uint16_t sel, uint8_t type)
{
  *s = (struct x86_seg){ .base = (uint64_t)sel << 4, .limit = 0xffff, .sel = sel, .type = type,
                         .s = 1, .present = 1 };
}

/* The state after RESET/INIT, as KVM sets it up (SDM Vol. 3, "Processor state after reset"). */
void x86_cpu_reset(struct x86_cpu *cpu)
{
  memset(cpu->gpr, 0, sizeof(cpu->gpr));
  cpu->gpr[R_DX] = 0x600;
  cpu->rip = 0xfff0;
  cpu->rflags = 2;
  for (int i = 0; i < 6; i++) real_seg(&cpu->seg[i], 0, 3);
  real_seg(&cpu->seg[S_CS], 0xf000, 0xb);
  cpu->seg[S_CS].base = 0xffff0000;
  cpu->ldtr = (struct x86_seg){ .limit = 0xffff, .type = 2, .present = 1 };
  cpu->tr = (struct x86_seg){ .limit = 0xffff, .type = 0xb, .present = 1 };
  cpu->gdt = (struct x86_dtable){ 0, 0xffff };
  cpu->idt = (struct x86_dtable){ 0, 0xffff };
  cpu->cr0 = 0x60000010;
  cpu->cr2 = cpu->cr3 = cpu->cr4 = cpu->cr8 = 0;
  cpu->efer = 0;
  cpu->apic_base = 0xfee00000 | (1u << 11) | (1u << 8);   /* enabled, BSP */
  memset(cpu->dr, 0, sizeof(cpu->dr));
  cpu->dr[6] = 0xffff0ff0;
  cpu->dr[7] = 0x400;
  cpu->pat = 0x0007040600070406ULL;
  cpu->misc_enable = 0x1800;   /* PEBS and BTS unavailable */
  cpu->mtrr_def_type = 0;
  memset(cpu->mtrr_fixed, 0, sizeof(cpu->mtrr_fixed));
  memset(cpu->mtrr_var, 0, sizeof(cpu->mtrr_var));
  memset(&cpu->fpu, 0, sizeof(cpu->fpu));
  cpu->fpu.fcw = 0x37f;
  cpu->fpu.mxcsr = 0x1f80;
  cpu->xcr0 = 1;   /* x87 */
  cpu->pending_irq = -1;
  cpu->inject_exc = -1;
  cpu->shadow = cpu->halted = false;
  cpu->delivering = -1;
  cpu->pending_completion = 0;
  x86_tlb_flush(cpu);
  x86_cpu_update_mode(cpu);
}
