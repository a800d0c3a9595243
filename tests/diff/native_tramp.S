/* Native execution trampoline for the differential tests.
 *
 * int diff_native_enter(void): saves the host's callee-saved registers, RSP and DS/ES/SS, loads
 * DS/ES/SS with diff_data_sel (32/16-bit code; 0 keeps the host's), RFLAGS and the 16 GPRs from
 * diff_in (RSP last), and jumps through diff_entry: to the instruction at CODE_BASE (64-bit
 * code) or to diff_far_entry, a far jump to diff_far_target (selector:offset of 32/16-bit code).
 * The instruction is followed by a jump to diff_native_return, and a taken branch lands on one to
 * diff_native_return_taken (sets diff_taken); both store the 16 GPRs, RFLAGS and ES/SS/DS into
 * diff_out, restore the host's segments and return 0. A signal handler that catches a fault in
 * the instruction resumes at diff_native_fault (64-bit code), which returns 1.
 * Only RIP-relative accesses and instructions that leave RFLAGS alone are used between the
 * loads/stores and the instruction, so every register reaches it (and comes back) untouched. */
        .text

        .globl diff_native_enter
        .hidden diff_native_enter
        .type diff_native_enter, @function
diff_native_enter:
        pushq %rbx
        pushq %rbp
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, diff_host_rsp(%rip)
        movw %es, diff_host_seg+0(%rip)
        movw %ss, diff_host_seg+2(%rip)
        movw %ds, diff_host_seg+4(%rip)
        movw diff_data_sel(%rip), %ax
        testw %ax, %ax
        jz 1f
        movw %ax, %es           /* bases are ignored in 64-bit code: the loads below still work */
        movw %ax, %ss
        movw %ax, %ds
1:      pushq diff_in+128(%rip)
        popfq
        movq diff_in+0(%rip), %rax
        movq diff_in+8(%rip), %rcx
        movq diff_in+16(%rip), %rdx
        movq diff_in+24(%rip), %rbx
        movq diff_in+40(%rip), %rbp
        movq diff_in+48(%rip), %rsi
        movq diff_in+56(%rip), %rdi
        movq diff_in+64(%rip), %r8
        movq diff_in+72(%rip), %r9
        movq diff_in+80(%rip), %r10
        movq diff_in+88(%rip), %r11
        movq diff_in+96(%rip), %r12
        movq diff_in+104(%rip), %r13
        movq diff_in+112(%rip), %r14
        movq diff_in+120(%rip), %r15
        movq diff_in+32(%rip), %rsp
        jmp *diff_entry(%rip)
        .size diff_native_enter, .-diff_native_enter

        .globl diff_far_entry
        .hidden diff_far_entry
diff_far_entry:
        ljmpl *diff_far_target(%rip)    /* m16:32 */

        .globl diff_native_return_taken
        .hidden diff_native_return_taken
diff_native_return_taken:
        movb $1, diff_taken(%rip)

        .globl diff_native_return
        .hidden diff_native_return
        .type diff_native_return, @function
diff_native_return:
        movq %rax, diff_out+0(%rip)
        movq %rcx, diff_out+8(%rip)
        movq %rdx, diff_out+16(%rip)
        movq %rbx, diff_out+24(%rip)
        movq %rsp, diff_out+32(%rip)
        movq %rbp, diff_out+40(%rip)
        movq %rsi, diff_out+48(%rip)
        movq %rdi, diff_out+56(%rip)
        movq %r8, diff_out+64(%rip)
        movq %r9, diff_out+72(%rip)
        movq %r10, diff_out+80(%rip)
        movq %r11, diff_out+88(%rip)
        movq %r12, diff_out+96(%rip)
        movq %r13, diff_out+104(%rip)
        movq %r14, diff_out+112(%rip)
        movq %r15, diff_out+120(%rip)
        movw %es, diff_out+136(%rip)
        movw %ss, diff_out+138(%rip)
        movw %ds, diff_out+140(%rip)
        movq diff_host_rsp(%rip), %rsp
        pushfq
        popq diff_out+128(%rip)
        xorl %eax, %eax
        jmp 2f
        .size diff_native_return, .-diff_native_return

        .globl diff_native_fault
        .hidden diff_native_fault
        .type diff_native_fault, @function
diff_native_fault:
        movq diff_host_rsp(%rip), %rsp
        movl $1, %eax
2:      movw diff_host_seg+0(%rip), %es
        movw diff_host_seg+2(%rip), %ss
        movw diff_host_seg+4(%rip), %ds
        pushq $0x202            /* DF, AC and the arithmetic flags back to what C expects */
        popfq
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbp
        popq %rbx
        ret
        .size diff_native_fault, .-diff_native_fault

        .bss
        .balign 64
        .globl diff_in, diff_out, diff_host_rsp, diff_entry, diff_far_target
        .globl diff_data_sel, diff_taken
        .hidden diff_in, diff_out, diff_host_rsp, diff_entry, diff_far_target
        .hidden diff_data_sel, diff_taken
diff_in:        .skip 144
diff_out:       .skip 144
diff_host_rsp:  .skip 8
diff_entry:     .skip 8
diff_far_target: .skip 8       /* .long offset; .word selector */
diff_host_seg:  .skip 8
diff_data_sel:  .skip 2
diff_taken:     .skip 1

        .section .note.GNU-stack,"",@progbits
