/* Far transfers through gates and TSSs (far.c, task.c) and the descriptor helpers they share
 * with seg.c. */
#ifndef SKVM_FAR_H
#define SKVM_FAR_H

#include "engine.h"

/* far JMP / CALL / RET in every mode (real and VM86 mode: plain CS:IP) */
void far_jmp(struct x86_cpu *cpu, uint16_t sel, uint64_t off);
void far_call(struct x86_cpu *cpu, uint16_t sel, uint64_t off, int opsize);
void far_ret(struct x86_cpu *cpu, int opsize, uint16_t extra);

/* Task switch to the 32-bit TSS sel (SDM Vol. 3, 8.3): saves the current task in its TSS with
 * EIP ret_eip, loads the new one; the source decides busy bits, back link and NT. An exception
 * delivered through a task gate pushes its error code on the new task's stack. ext: the EXT bit
 * of error codes (1 for events not caused by an instruction). */
enum { TASK_JMP, TASK_CALL, TASK_IRET, TASK_INT };
void task_switch(struct x86_cpu *cpu, uint16_t sel, int source, uint64_t ret_eip, bool has_error,
                 uint32_t error, int ext);
/* IRET with NT = 1 in legacy protected mode: back to the task in the TSS's back link */
void task_iret(struct x86_cpu *cpu);
/* A task gate (JMP/CALL, or the IDT for INT and exceptions): the TSS selector it names,
 * checked (in the GDT, an available TSS, present); faults carry err_ext. */
uint16_t task_gate_tss(struct x86_cpu *cpu, uint64_t gate, int ext);

void desc_parse(uint64_t d, struct x86_seg *s);
void desc_set_accessed(struct x86_cpu *cpu, uint16_t sel, struct x86_seg *s);

#endif
