; gates32.asm - call gates and task switches in 32-bit protected mode.
; Call gates: CALL from ring 3 through a DPL-3 32-bit gate to ring-0 code (stack from TSS.ESP0/SS0:
; saved EIP, CS, two copied parameters, ESP, SS), RETF 8 back to ring 3 (parameters released on
; both stacks, ES with a DPL-0 selector nulled); #GP(gate) for a gate DPL < CPL, #GP(target) for
; a gate naming a data segment; JMP through a gate at CPL 0.
; Tasks: CALL to a TSS descriptor (registers, EFLAGS.NT, back link, busy bits, TR, CR0.TS, the
; old task's saved EIP/EAX), IRETD back (busy bit of the returning task cleared), CALL through a
; task gate, INT through a task gate in the IDT, #NP through a task gate (error code on the new
; task's stack), JMP to a busy TSS (#GP(sel)), JMP to a task (no back link, old task not busy).
; Success: prints "OK gates32" and exits 0 (status 1).

%define GUEST_NAME "gates32"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"
%include "trap.inc"

BITS 16
ORG 0

ESP0     equ 0x88000
NEWGDT   equ 0x60000
TSSB     equ 0x51000
BSTACK   equ 0x87000
SEL_CG3  equ 0x80			; call gate DPL 3 -> SEL_CODE32:gate_target, 2 parameters
SEL_CG0  equ 0x88			; call gate DPL 0
SEL_CGD  equ 0x90			; call gate DPL 3 -> SEL_NP (a data segment)
SEL_CGJ  equ 0x98			; call gate DPL 0 -> SEL_CODE32:jmp_target
SEL_TSSB equ 0xa0			; TSS B
SEL_TGB  equ 0xa8			; task gate -> TSS B
SEL_TSSC equ 0xb0			; TSS C (JMP target)

; CALLGATE slot, target selector, offset (linear), dpl, count
%macro CALLGATE 5
	mov eax, %3
	mov [NEWGDT + %1], ax
	shr eax, 16
	mov [NEWGDT + %1 + 6], ax
	mov word [NEWGDT + %1 + 2], %2
	mov byte [NEWGDT + %1 + 4], %5
	mov byte [NEWGDT + %1 + 5], 0x8c | ((%4) << 5)
%endmacro

; TSSDESC slot, base
%macro TSSDESC 2
	mov word [NEWGDT + %1], 0x67
	mov word [NEWGDT + %1 + 2], (%2) & 0xffff
	mov byte [NEWGDT + %1 + 4], (%2) >> 16
	mov byte [NEWGDT + %1 + 5], 0x89
	mov word [NEWGDT + %1 + 6], 0
%endmacro

; INITTSS base, eip, esp
%macro INITTSS 3
	mov edi, %1
	xor eax, eax
	mov ecx, 0x68 / 4
	rep stosd
	mov dword [%1 + 0x20], %2
	mov dword [%1 + 0x24], 2
	mov dword [%1 + 0x38], %3
	mov dword [%1 + 0x28], 0x12345678	; EAX
	mov dword [%1 + 0x2c], 0x9abc		; ECX
	mov word [%1 + 0x48], SEL_DATA		; ES
	mov word [%1 + 0x4c], SEL_CODE32	; CS
	mov word [%1 + 0x50], SEL_DATA		; SS
	mov word [%1 + 0x54], SEL_DATA		; DS
%endmacro

start:
	ENTER_PROT32
	TRAP32_INSTALL
	mov edi, 0x80
	mov esi, L(user_return32)
	mov edx, 0xee
	call idt32_set
	IDT32_LOAD
	mov dword [TSS_LIN + TSS32_ESP0], ESP0
	mov word [TSS_LIN + TSS32_SS0], SEL_DATA

; --- a bigger GDT: gdt.inc's, then the gates and TSSs ---
	mov esi, L(gdt)
	mov edi, NEWGDT
	mov ecx, 0x80
	rep movsb
	xor eax, eax
	mov ecx, 0x40
	rep stosd
	CALLGATE SEL_CG3, SEL_CODE32, L(gate_target), 3, 2
	CALLGATE SEL_CG0, SEL_CODE32, L(gate_target), 0, 0
	CALLGATE SEL_CGD, SEL_NP, 0, 3, 0
	CALLGATE SEL_CGJ, SEL_CODE32, L(jmp_target), 0, 0
	INITTSS TSSB, L(task_b), BSTACK
	TSSDESC SEL_TSSB, TSSB
	mov dword [NEWGDT + SEL_TGB], SEL_TSSB << 16
	mov dword [NEWGDT + SEL_TGB + 4], 0x8500	; task gate, present, DPL 0
	INITTSS TSSC, L(task_c), BSTACK - 0x1000
	TSSDESC SEL_TSSC, TSSC
	lgdt [L(newgdt_desc)]
	mov ax, SEL_TSS
	ltr ax

; --- call gate from ring 3 ---
	mov esi, L(user1)
	mov edx, 2
	call call_user32
	EXPECT dword [L(g_cs)], SEL_CODE32, "gate: cs in the target"
	EXPECT dword [L(g_ss)], SEL_DATA, "gate: ss = tss.ss0"
	EXPECT dword [L(g_esp)], ESP0 - 24, "gate: esp = tss.esp0 - 24"
	EXPECT dword [L(g_frame)], L(user1.ret), "gate: saved eip"
	EXPECT dword [L(g_frame) + 4], SEL_UCODE32 | 3, "gate: saved cs"
	EXPECT dword [L(g_frame) + 8], 0x2222, "gate: parameter 1"
	EXPECT dword [L(g_frame) + 12], 0x1111, "gate: parameter 2"
	EXPECT dword [L(g_frame) + 16], USER_STACK - 8, "gate: saved esp"
	EXPECT dword [L(g_frame) + 20], SEL_UDATA | 3, "gate: saved ss"
	EXPECT dword [L(u_esp)], USER_STACK - 8 + 8, "retf 8: esp back in ring 3"
	EXPECT dword [L(u_cs)], SEL_UCODE32 | 3, "retf 8: cs"
	EXPECT dword [L(u_ss)], SEL_UDATA | 3, "retf 8: ss"
	EXPECT dword [L(u_es)], 0, "retf 8: es (dpl 0) nulled"
	EXPECT dword [L(u_v1)], 13, "gate dpl 0 from ring 3: #GP"
	EXPECT dword [L(u_e1)], SEL_CG0, "gate dpl 0 from ring 3: error code"
	EXPECT dword [L(u_v2)], 13, "gate to a data segment: #GP"
	EXPECT dword [L(u_e2)], SEL_NP, "gate to a data segment: error code"

; --- JMP through a gate at CPL 0 ---
	jmp SEL_CGJ:0
	jmp fail_jmp
jmp_back:

; --- CALL to TSS B ---
	mov eax, 0xaaaa0001
	mov ebx, 0xbbbb0002
	call SEL_TSSB:0
.back1:	EXPECT eax, 0xaaaa0001, "iret from task: eax restored"
	EXPECT ebx, 0xbbbb0002, "iret from task: ebx restored"
	EXPECT dword [L(b_eax)], 0x12345678, "task b: eax from its tss"
	EXPECT dword [L(b_ecx)], 0x9abc, "task b: ecx from its tss"
	EXPECT dword [L(b_nt)], 0x4000, "task b: nt set"
	EXPECT dword [L(b_tr)], SEL_TSSB, "task b: tr"
	EXPECT dword [L(b_link)], SEL_TSS, "task b: back link"
	EXPECT dword [L(b_busy_a)], 0x8b, "task b: old tss still busy"
	EXPECT dword [L(b_busy_b)], 0x8b, "task b: new tss busy"
	EXPECT dword [L(b_ts)], 8, "task b: cr0.ts set"
	EXPECT dword [L(b_saved_eip)], L(.back1), "task b: old task's saved eip"
	EXPECT dword [L(b_saved_eax)], 0xaaaa0001, "task b: old task's saved eax"
	pushfd
	pop eax
	and eax, 0x4000
	EXPECT eax, 0, "after iret: nt clear"
	str ax
	EXPECT ax, SEL_TSS, "after iret: tr"
	mov al, [NEWGDT + SEL_TSSB + 5]
	EXPECT al, 0x89, "after iret: tss b not busy"
	mov al, [NEWGDT + SEL_TSS + 5]
	EXPECT al, 0x8b, "after iret: tss a busy"
	EXPECT dword [TSSB + 0x20], L(task_b.e2), "after iret: tss b saved eip"
	clts

; --- CALL through a task gate; INT through a task gate ---
	call SEL_TGB:0
	EXPECT dword [L(b_count)], 1, "call via task gate"
	mov edi, 0x50
	xor esi, esi
	mov edx, 0x85
	call idt32_set
	mov word [IDT_BASE + 0x50 * 8 + 2], SEL_TSSB
	int 0x50
	EXPECT dword [L(b_count)], 2, "int via task gate"

; --- #NP through a task gate: error code on task b's stack ---
	mov edi, 11
	xor esi, esi
	mov edx, 0x85
	call idt32_set
	mov word [IDT_BASE + 11 * 8 + 2], SEL_TSSB
	mov ax, SEL_NP
	mov ds, ax
	jmp fail_np
np_resume:
	mov ax, SEL_DATA
	mov ds, ax
	EXPECT dword [L(b_err)], SEL_NP, "#np via task gate: error code"
	EXPECT dword [L(b_count)], 3, "#np via task gate: task b ran"

; --- JMP to a busy TSS; JMP to task c ---
	TRY .j1
	jmp SEL_TSS:0
.j1:	CAUGHT 13, SEL_TSS, "jmp to a busy tss"
	jmp SEL_TSSC:0
	jmp fail_jmp

task_c:
	mov ax, SEL_DATA
	mov ds, ax
	str ax
	EXPECT ax, SEL_TSSC, "jmp to task c: tr"
	mov al, [NEWGDT + SEL_TSS + 5]
	EXPECT al, 0x89, "jmp to task c: old tss not busy"
	mov al, [NEWGDT + SEL_TSSC + 5]
	EXPECT al, 0x8b, "jmp to task c: tss c busy"
	pushfd
	pop eax
	and eax, 0x4000
	EXPECT eax, 0, "jmp to task c: nt clear"
	EXPECT word [TSSC], 0, "jmp to task c: no back link"
	clts
	jmp pass32

fail_jmp:
	mov esi, L(.m)
	jmp fail32
.m:	db "far jmp fell through", 0
fail_np:
	mov esi, L(.m)
	jmp fail32
.m:	db "no #np", 0

jmp_target:
	mov ax, cs
	EXPECT ax, SEL_CODE32, "jmp via gate: cs"
	jmp jmp_back

; ring-0 target of the call gate
gate_target:
	mov [L(g_esp)], esp
	mov [L(g_cs)], cs
	mov [L(g_ss)], ss
	mov esi, esp
	mov edi, L(g_frame)
	mov ecx, 6
	rep movsd
	mov ax, SEL_DATA
	mov es, ax
	retf 8

task_b:
	mov [L(b_eax)], eax
	mov [L(b_ecx)], ecx
	pushfd
	pop eax
	and eax, 0x4000
	mov [L(b_nt)], eax
	str ax
	movzx eax, ax
	mov [L(b_tr)], eax
	movzx eax, word [TSSB]
	mov [L(b_link)], eax
	movzx eax, byte [NEWGDT + SEL_TSS + 5]
	mov [L(b_busy_a)], eax
	movzx eax, byte [NEWGDT + SEL_TSSB + 5]
	mov [L(b_busy_b)], eax
	mov eax, cr0
	and eax, 8
	mov [L(b_ts)], eax
	mov eax, [TSS_LIN + 0x20]
	mov [L(b_saved_eip)], eax
	mov eax, [TSS_LIN + 0x28]
	mov [L(b_saved_eax)], eax
	iretd
.e2:	inc dword [L(b_count)]		; CALL via the task gate
	iretd
	inc dword [L(b_count)]		; INT 0x50
	iretd
	pop eax				; #NP: its error code
	mov [L(b_err)], eax
	inc dword [L(b_count)]
	mov dword [TSS_LIN + 0x20], L(np_resume)
	iretd
	jmp $

; ---- ring 3 ----
user1:
	push 0x1111
	push 0x2222
	call SEL_CG3 | 3:0
.ret:	mov [L(u_esp)], esp
	mov [L(u_cs)], cs
	mov [L(u_ss)], ss
	mov [L(u_es)], es
	mov ax, SEL_UDATA | 3
	mov es, ax
	TRY .r1
	call SEL_CG0 | 3:0
.r1:	mov eax, [L(t_vec)]
	mov [L(u_v1)], eax
	mov eax, [L(t_err)]
	mov [L(u_e1)], eax
	TRY .r2
	call SEL_CGD | 3:0
.r2:	mov eax, [L(t_vec)]
	mov [L(u_v2)], eax
	mov eax, [L(t_err)]
	mov [L(u_e2)], eax
	int 0x80

TSSC equ 0x52000

align 4
newgdt_desc:
	dw 0x100 - 1
	dd NEWGDT
g_frame: times 6 dd 0
g_esp:	dd 0
g_cs:	dd 0
g_ss:	dd 0
u_esp:	dd 0
u_cs:	dd 0
u_ss:	dd 0
u_es:	dd 0
u_v1:	dd 0
u_e1:	dd 0
u_v2:	dd 0
u_e2:	dd 0
b_eax:	dd 0
b_ecx:	dd 0
b_nt:	dd 0
b_tr:	dd 0
b_link:	dd 0
b_busy_a: dd 0
b_busy_b: dd 0
b_ts:	dd 0
b_saved_eip: dd 0
b_saved_eax: dd 0
b_count: dd 0
b_err:	dd 0

GUEST_LIB
IDT_LIB
TRAP_LIB
GDT_TABLE
