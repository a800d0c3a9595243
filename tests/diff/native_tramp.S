/* Native execution trampoline for the differential tests.
 *
 * int diff_native_enter(void): saves the host's callee-saved registers and RSP, loads RFLAGS and
 * the 16 GPRs from diff_in (RSP last), and jumps to diff_code_entry (the instruction under test,
 * followed by `jmp [rip+0]` to diff_native_return). diff_native_return stores the 16 GPRs and
 * RFLAGS into diff_out and returns 0 to the caller. A signal handler that catches a fault in the
 * instruction sets the interrupted RIP to diff_native_fault, which returns 1.
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
        pushq diff_in+128(%rip)
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
        jmp *diff_code_entry(%rip)
        .size diff_native_enter, .-diff_native_enter

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
        movq diff_host_rsp(%rip), %rsp
        pushfq
        popq diff_out+128(%rip)
        pushq $0x202            /* DF, AC and the arithmetic flags back to what C expects */
        popfq
        xorl %eax, %eax
        jmp 1f
        .size diff_native_return, .-diff_native_return

        .globl diff_native_fault
        .hidden diff_native_fault
        .type diff_native_fault, @function
diff_native_fault:
        movq diff_host_rsp(%rip), %rsp
        pushq $0x202
        popfq
        movl $1, %eax
1:      popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbp
        popq %rbx
        ret
        .size diff_native_fault, .-diff_native_fault

        .bss
        .balign 64
        .globl diff_in, diff_out, diff_code_entry, diff_host_rsp
        .hidden diff_in, diff_out, diff_code_entry, diff_host_rsp
diff_in:        .skip 136
diff_out:       .skip 136
diff_code_entry: .skip 8
diff_host_rsp:  .skip 8

        .section .note.GNU-stack,"",@progbits
