; sysenter32.asm - SYSENTER/SYSEXIT in 32-bit protected mode: ring 3 -> 0 -> 3 with
; IA32_SYSENTER_CS/ESP/EIP set by WRMSR: SYSENTER loads CS = SYSENTER_CS, SS = SYSENTER_CS + 8,
; ESP/EIP from the MSRs and clears IF (other flags kept); SYSEXIT loads CS = SYSENTER_CS + 16 | 3,
; SS = SYSENTER_CS + 24 | 3, EIP = EDX, ESP = ECX.
; Success: prints "OK sysenter32" and exits 0 (status 1); failure: "FAIL sysenter32: <check>".

%define GUEST_NAME "sysenter32"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"

BITS 16
ORG 0

ESP0     equ 0x88000
SE_STACK equ 0x87000
USER_FL  equ 0x8d7			; OF SF ZF AF PF CF (+ bit 1)
EXIT_FL  equ 0x846			; OF ZF PF: SYSEXIT leaves EFLAGS alone

K_CS  equ 0
K_SS  equ 1
K_ESP equ 2
K_FL  equ 3
K_EAX equ 4

%macro KREC 4+
	EXPECT dword [L(krec) + (%1) * 32 + (%2) * 4], %3, %4
%endmacro

start:
	ENTER_PROT32

	call idt32_unexpected
	mov edi, 0x80
	mov esi, L(user_return32)
	mov edx, 0xee
	call idt32_set
	IDT32_LOAD
	mov dword [TSS_LIN + TSS32_ESP0], ESP0
	mov word [TSS_LIN + TSS32_SS0], SEL_DATA
	mov ax, SEL_TSS
	ltr ax

	mov ecx, MSR_SYSENTER_CS
	mov eax, SEL_SE_CS
	xor edx, edx
	wrmsr
	mov ecx, MSR_SYSENTER_ESP
	mov eax, SE_STACK
	wrmsr
	mov ecx, MSR_SYSENTER_EIP
	mov eax, L(se_entry)
	wrmsr
	mov ecx, MSR_SYSENTER_EIP
	rdmsr
	EXPECT eax, L(se_entry), "sysenter_eip reads back"

	mov esi, L(user)
	mov edx, USER_FL
	call call_user32
	KREC 0, K_CS, SEL_SE_CS, "sysenter: cs"
	KREC 0, K_SS, SEL_SE_CS + 8, "sysenter: ss"
	KREC 0, K_ESP, SE_STACK, "sysenter: esp"
	KREC 0, K_FL, USER_FL, "sysenter: eflags kept"
	KREC 0, K_EAX, 0, "sysenter: eax"
	EXPECT dword [L(u_cs)], SEL_SE_CS + 16 | 3, "sysexit: cs"
	EXPECT dword [L(u_ss)], SEL_SE_CS + 24 | 3, "sysexit: ss"
	EXPECT dword [L(u_esp)], USER_STACK - 64, "sysexit: esp = ecx"
	EXPECT dword [L(u_fl)], EXIT_FL, "sysexit: eflags unchanged"
	KREC 1, K_CS, SEL_SE_CS, "second sysenter: cs"
	KREC 1, K_ESP, SE_STACK, "second sysenter: esp"
	KREC 1, K_EAX, 1, "second sysenter: eax"
	mov ax, cs
	EXPECT ax, SEL_SE_CS, "back in ring 0 (cs from sysenter)"
	jmp pass32

; --- SYSENTER entry: records, then SYSEXIT (function 0) or back to the kernel (1) ---
se_entry:
	mov ebp, esp
	pushfd				; first: the flags SYSENTER left
	pop edi
	mov ebx, eax
	shl ebx, 5
	add ebx, L(krec)
	mov [ebx + K_ESP * 4], ebp
	mov [ebx + K_FL * 4], edi
	mov [ebx + K_EAX * 4], eax
	mov word [ebx + K_CS * 4], cs
	mov word [ebx + K_SS * 4], ss
	cmp eax, 1
	je .to_kernel
	mov edx, L(user.back)
	mov ecx, USER_STACK - 64
	push dword EXIT_FL
	popfd
	sysexit
.to_kernel:
	mov ax, SEL_DATA
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov esp, [L(kstack_save)]
	ret

; --- ring-3 code (flags: USER_FL; no flag-changing instructions before SYSENTER) ---
user:
	mov eax, 0
	sysenter
.back:
	pushfd
	pop dword [L(u_fl)]
	mov [L(u_cs)], cs
	mov [L(u_ss)], ss
	mov [L(u_esp)], esp
	mov eax, 1
	sysenter

GUEST_LIB
IDT_LIB
GDT_TABLE

align 4
u_cs:	dd 0
u_ss:	dd 0
u_esp:	dd 0
u_fl:	dd 0
krec:	times 2 * 8 dd 0
