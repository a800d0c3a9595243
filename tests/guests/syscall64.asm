; syscall64.asm - SYSCALL/SYSRET in long mode: #UD while EFER.SCE = 0; ring 3 -> 0 -> 3 round
; trip with STAR/LSTAR/SFMASK set by WRMSR: RCX = the return RIP, R11 = RFLAGS, CS/SS from
; STAR[47:32] (0x10/0x18), RFLAGS masked by SFMASK; SYSRETQ back to 64-bit ring 3 (CS/SS from
; STAR[63:48] + 16/+ 8, RPL 3, RFLAGS = R11); SYSRETL to compatibility mode (CS = STAR[63:48]).
; Success: prints "OK syscall64" and exits 0 (status 1); failure: "FAIL syscall64: <check>".

%define GUEST_NAME "syscall64"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"

BITS 16
ORG 0

RSP0       equ 0x88000
USER_FL    equ 0x40483			; AC DF SF CF (+ bit 1)
SFMASK_VAL equ 0x40401			; AC DF CF
RET_FL     equ 0x8d7			; OF SF ZF AF PF CF (+ bit 1)

; kernel records, one per syscall function number (qwords; 8 per record)
K_RCX equ 0
K_R11 equ 1
K_CS  equ 2
K_SS  equ 3
K_FL  equ 4
K_RSP equ 5

; QEMU_FLAGS_QUIRK rec, expected: QEMU 7.2 TCG helper_syscall masks env->eflags, which lacks
; the arithmetic flags (kept in CC_SRC), so SYSCALL clears OF SF ZF AF PF CF; accept that too
%macro QEMU_FLAGS_QUIRK 2
%ifdef QEMU_QUIRKS
	cmp qword [rel krec + (%1) * 64 + K_FL * 8], (%2) & ~0x8d5
	jne %%no
	mov qword [rel krec + (%1) * 64 + K_FL * 8], %2
%%no:
%endif
%endmacro

%macro KREC 4+
	EXPECTV64 [rel krec + (%1) * 64 + (%2) * 8], %3, %4
%endmacro

start:
	ENTER_LONG64

	call idt64_unexpected
	mov edi, 6
	lea rsi, [rel ud_handler]
	mov edx, 0x8e
	call idt64_set
	mov edi, 0x80
	lea rsi, [rel user_return64]
	mov edx, 0xee
	call idt64_set
	IDT64_LOAD
	mov qword [TSS_LIN + TSS64_RSP0], RSP0
	mov ax, SEL_TSS
	ltr ax

; --- #UD while EFER.SCE = 0 ---
	mov ecx, MSR_EFER
	rdmsr
	test eax, EFER_SCE
	CHECK z, "efer.sce clear after entry"
	lea rax, [rel .r0]
	mov [rel ud_resume], rax
.f0:	syscall
.r0:	EXPECTV64 [rel ud_count], 1, "syscall with sce=0: #UD"
	lea rax, [rel .f0]
	EXPECT [rel ud_rip], rax, "syscall with sce=0: saved rip"

; --- MSRs ---
	mov ecx, MSR_EFER
	rdmsr
	or eax, EFER_SCE
	wrmsr
	mov ecx, MSR_STAR
	xor eax, eax
	mov edx, (SEL_UCODE32 << 16) | SEL_CODE64
	wrmsr
	mov ecx, MSR_LSTAR
	lea rax, [rel sc_entry]
	mov rdx, rax
	shr rdx, 32
	wrmsr
	mov ecx, MSR_SFMASK
	mov eax, SFMASK_VAL
	xor edx, edx
	wrmsr
	mov ecx, MSR_STAR
	rdmsr
	EXPECT edx, (SEL_UCODE32 << 16) | SEL_CODE64, "star reads back"
	mov ecx, MSR_SFMASK
	rdmsr
	EXPECT eax, SFMASK_VAL, "sfmask reads back"

; --- ring 3 ---
	lea rsi, [rel user]
	mov edx, USER_FL
	call call_user64
	; syscall 0 (from 64-bit ring 3)
	lea rax, [rel user.after0]
	EXPECT [rel krec + 0 * 64 + K_RCX * 8], rax, "syscall: rcx = return rip"
	KREC 0, K_R11, USER_FL, "syscall: r11 = rflags"
	KREC 0, K_CS, SEL_CODE64, "syscall: cs"
	KREC 0, K_SS, SEL_DATA, "syscall: ss"
	QEMU_FLAGS_QUIRK 0, USER_FL & ~SFMASK_VAL
	KREC 0, K_FL, USER_FL & ~SFMASK_VAL, "syscall: rflags masked by sfmask"
	KREC 0, K_RSP, USER_STACK, "syscall: rsp unchanged"
	; after sysretq
	EXPECTV64 [rel u_cs], SEL_UCODE64 | 3, "sysretq: cs"
	EXPECTV64 [rel u_ss], SEL_UDATA | 3, "sysretq: ss"
	EXPECTV64 [rel u_fl], RET_FL, "sysretq: rflags = r11"
	EXPECTV64 [rel u_r11], RET_FL, "sysretq: r11 unchanged"
	lea rax, [rel user.after0]
	EXPECT [rel u_rcx], rax, "sysretq: rcx unchanged"
	EXPECTV64 [rel u_rbx], 0x1111, "sysretq: rbx preserved"
	; syscall 1 (64-bit ring 3 again), then sysretl into compatibility mode
	KREC 1, K_R11, RET_FL, "second syscall: r11"
	QEMU_FLAGS_QUIRK 1, RET_FL & ~SFMASK_VAL
	KREC 1, K_FL, RET_FL & ~SFMASK_VAL, "second syscall: rflags masked"
	EXPECTV64 [rel c_cs], SEL_UCODE32 | 3, "sysretl: cs = star[63:48] | 3"
	EXPECTV64 [rel c_ss], SEL_UDATA | 3, "sysretl: ss"
	EXPECTV64 [rel c_fl], 0x202 & ~0x200, "sysretl: eflags = r11"
	EXPECTV64 [rel user_frame], RSP0 - 40, "int 0x80 from compatibility mode: frame on RSP0"
	mov ax, cs
	EXPECT ax, SEL_CODE64, "back in ring 0"
	jmp pass64

; --- SYSCALL entry (ring 0, on the caller's stack): records, then SYSRET ---
sc_entry:
	mov r13, rsp
	pushfq				; first: the flags SYSCALL left
	pop r12
	mov rbx, rax
	shl rbx, 6
	lea rdi, [rel krec]
	add rbx, rdi
	mov [rbx + K_RCX * 8], rcx
	mov [rbx + K_R11 * 8], r11
	mov [rbx + K_RSP * 8], r13
	mov [rbx + K_FL * 8], r12
	mov word [rbx + K_CS * 8], cs
	mov word [rbx + K_SS * 8], ss
	cmp eax, 1
	je .to_compat
	mov rbx, 0x1111
	mov r11d, RET_FL
	o64 sysret
.to_compat:
	lea rcx, [rel compat]
	mov r11d, 2
	sysret				; SYSRETL: 32-bit ring 3

ud_handler:
	inc qword [rel ud_count]
	mov rax, [rsp]
	mov [rel ud_rip], rax
	mov rax, [rel ud_resume]
	mov [rsp], rax
	iretq

; --- ring-3 code ---
user:					; no flag-changing instructions before the syscall
	mov eax, 0
	mov ebx, 0x1111
	syscall
.after0:
	mov [rel u_cs], cs
	mov [rel u_ss], ss
	mov [rel u_rcx], rcx
	mov [rel u_r11], r11
	mov [rel u_rbx], rbx
	pushfq
	pop qword [rel u_fl]
	mov eax, 1
	syscall

BITS 32
compat:
	mov ax, ss
	mov ds, ax
	mov es, ax
	mov [L(c_cs)], cs
	mov [L(c_ss)], ss
	pushfd
	pop dword [L(c_fl)]
	int 0x80

GUEST_LIB
IDT_LIB
GDT_TABLE

align 8
ud_count:	dq 0
ud_rip:		dq 0
ud_resume:	dq 0
u_cs:		dq 0
u_ss:		dq 0
u_fl:		dq 0
u_rcx:		dq 0
u_r11:		dq 0
u_rbx:		dq 0
c_cs:		dq 0
c_ss:		dq 0
c_fl:		dq 0
krec:		times 2 * 8 dq 0
