; long64.asm - switches from real mode straight to 64-bit long mode and checks 64-bit code.
;
; Loaded at 0x10000, entered at 1000:0000 with DS = ES = SS = 0x1000, SP = 0xFFF0 (ORG 0).
; Page tables (built in real mode by ENTER_LONG64, inc/entry.inc) at 0x20000: PML4 -> PDPT -> PD
; with 2 MiB pages identity-mapping 0..8 MiB, plus an alias: virtual 8 MiB -> physical 0. Needs
; -m 5 or more (it checks RAM at 4 MiB; the default is 64).
; Success: prints "OK long64" on COM1 and writes 0 to the isa-debug-exit port (status 1).
; Failure: prints "FAIL long64: <check>" and writes 1 (status 3).

%define GUEST_NAME "long64"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"

BITS 16
ORG 0

start:
	ENTER_LONG64

; --- mode ---
	mov ecx, MSR_EFER
	rdmsr
	test eax, EFER_LMA
	CHECK nz, "efer.lma"
	mov rax, cr3
	EXPECT rax, PML4, "cr3"

; --- 64-bit immediates and operands ---
	mov rax, 0x123456789abcdef0
	mov rbx, rax
	shr rbx, 32
	EXPECT rbx, 0x12345678, "shr 64"
	mov ecx, eax
	EXPECT ecx, 0x9abcdef0, "low dword"
	shl rax, 4
	EXPECT64 rax, 0x23456789abcdef00, "shl 64"
	mov rax, -1
	mov eax, 1
	EXPECT rax, 1, "32-bit write zero-extends"
	mov rax, 0xffffffff
	add rax, 1
	EXPECT64 rax, 0x100000000, "add carries into high dword"
	mov rax, 0x7fffffffffffffff
	add rax, 1
	CHECK o, "add overflow 64"
	CHECK s, "add sign 64"
	xor rax, rax
	sub rax, 1			; CF = 1
	mov rbx, 0x100000000
	sbb rbx, 0
	EXPECT64 rbx, 0xffffffff, "sbb 64"
	mov rax, -1
	add rax, 1			; CF = 1
	mov rbx, 0xffffffff
	adc rbx, 0
	EXPECT64 rbx, 0x100000000, "adc 64"
	mov rax, 5
	neg rax
	EXPECT rax, -5, "neg 64"
	not rax
	EXPECT rax, 4, "not 64"
	mov rax, 0x8000000000000000
	sar rax, 63
	EXPECT rax, -1, "sar 64"
	mov rax, -3
	cmp rax, 2
	CHECK l, "cmp signed 64"
	CHECK a, "cmp unsigned 64"
	mov al, 0x80
	movsx rbx, al
	EXPECT rbx, -128, "movsx 64"
	movzx rbx, al
	EXPECT rbx, 0x80, "movzx 64"
	mov eax, 0x80000000
	movsx rbx, eax			; movsxd
	EXPECT64 rbx, 0xffffffff80000000, "movsxd"

; --- r8-r15 ---
	mov r8, 1
	mov r9, 2
	mov r10, 3
	mov r11, 4
	mov r12, 5
	mov r13, 6
	mov r14, 7
	mov r15, 0x100000000
	add r15, r8
	add r15, r9
	add r15, r10
	add r15, r11
	add r15, r12
	add r15, r13
	add r15, r14
	EXPECT64 r15, 0x10000001c, "r8-r15 sum"
	mov r9d, -1
	EXPECT64 r9, 0xffffffff, "r9d zero-extends"
	mov r10b, 0xff
	EXPECT r10, 0xff, "r10b"
	xchg r11, r12
	EXPECT r11, 5, "xchg r11"
	EXPECT r12, 4, "xchg r12"
	mov r13, L(qtable)
	mov r14, 1
	mov rax, [r13 + r14*8]
	EXPECT64 rax, 0x2222222222222222, "mov [r13+r14*8]"

; --- rip-relative ---
	mov rax, [rel qval]
	EXPECT64 rax, 0x0123456789abcdef, "rip-relative load"
	lea rsi, [rel qval]
	EXPECT rsi, L(qval), "rip-relative lea"
	mov rbx, 0xfedcba9876543210
	mov [rel scratch], rbx
	EXPECT64 qword [L(scratch)], 0xfedcba9876543210, "rip-relative store"
	inc qword [rel scratch]
	mov rax, [rel scratch]
	EXPECT64 rax, 0xfedcba9876543211, "rip-relative inc"

; --- stack, call, ret ---
	EXPECT rsp, STACK_TOP, "rsp"
	mov r12, 0x1122334455667788
	push r12
	push -2
	EXPECT rsp, STACK_TOP - 16, "push rsp"
	pop rax
	EXPECT rax, -2, "push imm sign-extends"
	pop r13
	EXPECT64 r13, 0x1122334455667788, "pop r13"
	xor eax, eax
	call add_seven
	call add_fourteen
	EXPECT rax, 21, "call"
	lea r11, [rel add_seven]
	call r11
	EXPECT rax, 28, "call reg"
	call [rel fnptr]
	EXPECT rax, 35, "call memory"
	EXPECT rsp, STACK_TOP, "rsp balanced"
	mov rcx, 10
	xor eax, eax
.sum:
	add rax, rcx
	loop .sum
	EXPECT rax, 55, "loop"

; --- paging: memory above 4 MiB and the alias mapping ---
	mov rbx, 0x400000
	mov rax, 0xa5a5a5a55a5a5a5a
	mov [rbx], rax
	cmp [rbx], rax
	CHECK e, "memory at 4 MiB"
	mov rax, [ALIAS + L(qval)]
	EXPECT64 rax, 0x0123456789abcdef, "alias read"
	mov qword [ALIAS + L(scratch)], 77
	EXPECT qword [rel scratch], 77, "alias write"

; --- string instructions ---
	lea rdi, [rel buf]
	mov rax, 0x0102030405060708
	mov ecx, 4
	rep stosq
	lea rdx, [rel buf + 32]
	EXPECT rdi, rdx, "rep stosq rdi"
	lea rsi, [rel qtable]
	lea rdi, [rel buf]
	mov ecx, 16
	rep movsb
	mov rax, [rel buf + 8]
	EXPECT64 rax, 0x2222222222222222, "rep movsb"

; --- all passed ---
	jmp pass64

add_seven:
	add rax, 7
	ret

add_fourteen:
	call add_seven
	call add_seven
	ret

GUEST_LIB
GDT_TABLE

align 8
fnptr:		dq L(add_seven)
qval:		dq 0x0123456789abcdef
scratch:	dq 0
qtable:		dq 0x1111111111111111, 0x2222222222222222
buf:		times 32 db 0
