; gates64.asm - 64-bit call gates (16 bytes) in long mode: CALL from ring 3 through a DPL-3 gate
; to 64-bit ring-0 code (RSP from TSS.RSP0, SS a null selector with RPL 0; saved RIP, CS, RSP, SS
; as qwords), RETFQ back to ring 3; #GP(gate) for a non-zero type in the gate's upper half;
; JMP/CALL to a TSS descriptor (#GP(sel): no task switches in long mode).
; Success: prints "OK gates64" and exits 0 (status 1).

%define GUEST_NAME "gates64"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"
%include "trap.inc"

BITS 16
ORG 0

RSP0    equ 0x88000
NEWGDT  equ 0x60000
SEL_CG  equ 0x80			; 64-bit call gate DPL 3 -> SEL_CODE64:gate_target
SEL_CGB equ 0x90			; the same with a bad upper half

start:
	ENTER_LONG64
	TRAP64_INSTALL
	mov edi, 0x80
	lea rsi, [rel user_return64]
	mov edx, 0xee
	call idt64_set
	IDT64_LOAD
	mov qword [TSS_LIN + TSS64_RSP0], RSP0

	mov esi, L(gdt)
	mov edi, NEWGDT
	mov ecx, 0x80
	rep movsb
	xor eax, eax
	mov ecx, 0x40
	rep stosd
	lea rax, [rel gate_target]
	mov [NEWGDT + SEL_CG], ax
	mov word [NEWGDT + SEL_CG + 2], SEL_CODE64
	mov word [NEWGDT + SEL_CG + 4], 0xec00	; present, DPL 3, type 0xc
	shr rax, 16
	mov [NEWGDT + SEL_CG + 6], ax
	shr rax, 16
	mov [NEWGDT + SEL_CG + 8], eax
	mov rax, [NEWGDT + SEL_CG]
	mov [NEWGDT + SEL_CGB], rax
	mov dword [NEWGDT + SEL_CGB + 12], 0x0c00	; type 0xc in the upper half: invalid
	lgdt [rel newgdt_desc]
	mov ax, SEL_TSS
	ltr ax

	lea rsi, [rel user]
	mov edx, 2
	call call_user64
	EXPECTV64 [rel g_cs], SEL_CODE64, "gate: cs"
	EXPECTV64 [rel g_ss], 0, "gate: ss null, rpl 0"
	EXPECTV64 [rel g_rsp], RSP0 - 32, "gate: rsp = rsp0 - 32"
	lea rax, [rel user.ret]
	cmp [rel g_frame], rax
	CHECK e, "gate: saved rip"
	EXPECTV64 [rel g_frame + 8], SEL_UCODE64 | 3, "gate: saved cs"
	EXPECTV64 [rel g_frame + 16], USER_STACK, "gate: saved rsp"
	EXPECTV64 [rel g_frame + 24], SEL_UDATA | 3, "gate: saved ss"
	EXPECTV64 [rel u_rsp], USER_STACK, "retfq: rsp"
	EXPECTV64 [rel u_cs], SEL_UCODE64 | 3, "retfq: cs"
	EXPECTV64 [rel u_ss], SEL_UDATA | 3, "retfq: ss"
	EXPECTV64 [rel u_v], 13, "bad gate upper half: #GP"
	EXPECTV64 [rel u_e], SEL_CGB, "bad gate upper half: error code"

	TRY .t1
	call far [rel tss_ptr]
.t1:	CAUGHT 13, SEL_TSS, "call to a tss in long mode"
	TRY .t2
	jmp far [rel tss_ptr]
.t2:	CAUGHT 13, SEL_TSS, "jmp to a tss in long mode"
	jmp pass64

gate_target:
	mov [rel g_rsp], rsp
	mov [rel g_cs], cs
	mov [rel g_ss], ss
	mov rax, [rsp]
	mov [rel g_frame], rax
	mov rax, [rsp + 8]
	mov [rel g_frame + 8], rax
	mov rax, [rsp + 16]
	mov [rel g_frame + 16], rax
	mov rax, [rsp + 24]
	mov [rel g_frame + 24], rax
	o64 retf

user:
	call far [rel gate_ptr]
.ret:	mov [rel u_rsp], rsp
	mov [rel u_cs], cs
	mov [rel u_ss], ss
	TRY .r1
	call far [rel bad_ptr]
.r1:	mov rax, [rel t_vec]
	mov [rel u_v], rax
	mov rax, [rel t_err]
	mov [rel u_e], rax
	int 0x80

align 8
gate_ptr: dq 0
	dw SEL_CG | 3
align 8
bad_ptr: dq 0
	dw SEL_CGB | 3
align 8
tss_ptr: dq 0
	dw SEL_TSS
align 8
newgdt_desc:
	dw 0x100 - 1
	dq NEWGDT
align 8
g_frame: times 4 dq 0
g_rsp:	dq 0
g_cs:	dq 0
g_ss:	dq 0
u_rsp:	dq 0
u_cs:	dq 0
u_ss:	dq 0
u_v:	dq 0
u_e:	dq 0

GUEST_LIB
IDT_LIB
TRAP_LIB
GDT_TABLE
