/* start.S - entry of a C guest. softkvm loads the flat binary at 0x10000 and starts it in
 * real mode at 1000:0000 (src/vmm/flat.h); this goes straight to 64-bit long mode (CR0.PE and
 * PG together, as tests/guests/inc/entry.inc does) with the static page tables below, enables
 * SSE, clears .bss, calls main() on the stack guest.ld reserves and writes main's return value
 * to the isa-debug-exit port (softkvm then exits with status (v << 1) | 1). */

#define EXIT_PORT 0xf4
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)		/* SSE instructions and FXSAVE */
#define CR4_OSXMMEXCPT (1 << 10)	/* SIMD FP exceptions as #XM, not #UD */
#define SEL_CODE64 0x08
#define SEL_DATA 0x10

	.section .text.start, "ax"
	.code16
	.globl _start
_start:
	cli
	cld
	/* DS = 0x1000 = load address >> 4, so a label's offset from _start addresses it */
	lgdtl gdt_desc - _start
	movl %cr4, %eax
	orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~CR0_EM, %eax
	orl $(CR0_PG | CR0_MP | CR0_PE), %eax
	movl %eax, %cr0
	ljmpl $SEL_CODE64, $long64

	.code64
long64:
	movl $SEL_DATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	movq $__stack_top, %rsp
	fninit
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	rep stosb
	call main
	outb %al, $EXIT_PORT
1:	hlt
	jmp 1b

	.balign 8
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code, DPL 0 */
	.quad 0x00cf92000000ffff	/* 0x10: data, DPL 0, flat */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

/* Identity map of the first GiB with 2 MiB pages (present, writable, PS). */
	.section .data.pagetables, "aw"
	.balign 4096
pml4:
	.quad pdpt + 3
	.fill 511, 8, 0
pdpt:
	.quad pd + 3
	.fill 511, 8, 0
pd:
	.set i, 0
	.rept 512
	.quad (i << 21) | 0x83
	.set i, i + 1
	.endr
	.section .note.GNU-stack, "", @progbits
