; exc64.asm - exception and interrupt delivery in long mode: #DE (div, idiv overflow), #UD (ud2),
; #BP (int3, int 3: traps, saved RIP after them), #GP with error codes (bad selector into DS,
; DPL-3 selector into SS, non-canonical address, INT n to a DPL-0 gate from ring 3: n*8+2, HLT in
; ring 3: 0), #NP (not-present segment), INT n to DPL-0/DPL-3 gates, the stack switch to TSS.RSP0
; from ring 3 (SS becomes the null selector), IST (with and without a privilege change), IRETQ
; back to ring 3, and #DF (error code 0, on IST1) when the #GP gate is not present.
; Every event is logged (vector, error code, saved RIP/CS/RFLAGS/RSP/SS, where the frame was,
; the handler's SS) and checked exactly.
; Success: prints "OK exc64" and exits 0 (status 1); failure: "FAIL exc64: <check>" (status 3).

%define GUEST_NAME "exc64"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"

BITS 16
ORG 0

RSP0      equ 0x88000
IST1_TOP  equ 0x86000
IST2_TOP  equ 0x84000
NOERR     equ -1

; log entry fields (qwords; entries are 16 qwords)
F_VEC equ 0
F_ERR equ 1
F_RIP equ 2
F_CS  equ 3
F_FL  equ 4
F_RSP equ 5
F_SS  equ 6
F_FRAME equ 7				; address of the saved RIP
F_HSS equ 8				; SS in the handler

; LOG i, field, value, "name"
%macro LOG 4+
	EXPECTV64 [rel xlog + (%1) * 128 + (%2) * 8], %3, %4
%endmacro

; RESUME label: the next event resumes at label (instead of the saved RIP); clears the log
%macro RESUME 1
	lea rax, [rel %1]
	mov [rel x_resume], rax
	mov qword [rel x_count], 0
%endmacro

%macro CLEARLOG 0
	mov qword [rel x_resume], 0
	mov qword [rel x_count], 0
%endmacro

; GATE vector, handler, attributes (type | ist << 8)
%macro GATE 3
	mov edi, %1
	lea rsi, [rel %2]
	mov edx, %3
	call idt64_set
%endmacro

start:
	ENTER_LONG64

	call idt64_unexpected
	GATE 0, xh_0, 0x8e
	GATE 3, xh_3, 0x8e
	GATE 6, xh_6, 0x8e
	GATE 8, xh_8, 0x8e | (1 << 8)		; IST1
	GATE 11, xh_11, 0x8e
	GATE 13, xh_13, 0x8e
	GATE 0x40, xh_0x40, 0x8e		; DPL 0
	GATE 0x81, xh_0x81, 0x8e		; DPL 0
	GATE 0x82, xh_0x82, 0xee		; DPL 3
	GATE 0x83, xh_0x83, 0xef | (2 << 8)	; DPL 3 trap gate, IST2
	GATE 0x80, user_return64, 0xee
	IDT64_LOAD
	mov qword [TSS_LIN + TSS64_RSP0], RSP0
	mov qword [TSS_LIN + TSS64_IST1], IST1_TOP
	mov qword [TSS_LIN + TSS64_IST2], IST2_TOP
	mov ax, SEL_TSS
	ltr ax
	str ax
	EXPECT ax, SEL_TSS, "str"

; --- #DE: fault, saved RIP = the div; frame on the current stack ---
	RESUME .r1
	xor edx, edx
	mov eax, 1
	xor ecx, ecx
.f1:	div ecx
.r1:	EXPECT qword [rel x_count], 1, "#DE: one event"
	LOG 0, F_VEC, 0, "#DE: vector"
	LOG 0, F_ERR, NOERR, "#DE: no error code"
	lea rax, [rel .f1]
	EXPECT [rel xlog + F_RIP * 8], rax, "#DE: saved rip"
	LOG 0, F_CS, SEL_CODE64, "#DE: saved cs"
	LOG 0, F_RSP, STACK_TOP, "#DE: saved rsp"
	LOG 0, F_SS, SEL_DATA, "#DE: saved ss"
	LOG 0, F_FRAME, STACK_TOP - 40, "#DE: frame on the same stack"
	LOG 0, F_HSS, SEL_DATA, "#DE: handler ss"
	RESUME .r1b
	mov eax, 0x80000000
	cdq
	mov ecx, -1
.f1b:	idiv ecx
.r1b:	LOG 0, F_VEC, 0, "#DE idiv overflow: vector"
	lea rax, [rel .f1b]
	EXPECT [rel xlog + F_RIP * 8], rax, "#DE idiv overflow: saved rip"

; --- #UD ---
	RESUME .r2
.f2:	ud2
.r2:	EXPECT qword [rel x_count], 1, "#UD: one event"
	LOG 0, F_VEC, 6, "#UD: vector"
	LOG 0, F_ERR, NOERR, "#UD: no error code"
	lea rax, [rel .f2]
	EXPECT [rel xlog + F_RIP * 8], rax, "#UD: saved rip"

; --- #BP: trap, saved RIP after the instruction ---
	CLEARLOG
	int3
.a3:	lea rax, [rel .a3]
	EXPECT [rel xlog + F_RIP * 8], rax, "int3: saved rip after it"
	LOG 0, F_VEC, 3, "int3: vector"
	LOG 0, F_ERR, NOERR, "int3: no error code"
	CLEARLOG
	int 3
.a3b:	lea rax, [rel .a3b]
	EXPECT [rel xlog + F_RIP * 8], rax, "int 3: saved rip after it"
	EXPECT qword [rel x_count], 1, "int3: one event each"

; --- #GP / #NP with selector error codes ---
	RESUME .r4
	mov ax, 0x1fb			; index 63 (beyond the GDT limit), RPL 3
.f4:	mov ds, ax
.r4:	LOG 0, F_VEC, 13, "bad selector: #GP"
	LOG 0, F_ERR, 0x1f8, "bad selector: error code"
	lea rax, [rel .f4]
	EXPECT [rel xlog + F_RIP * 8], rax, "bad selector: saved rip"
	mov ax, ds
	EXPECT ax, SEL_DATA, "bad selector: ds unchanged"
	RESUME .r4b
	mov ax, SEL_NP
.f4b:	mov es, ax
.r4b:	LOG 0, F_VEC, 11, "not-present segment: #NP"
	LOG 0, F_ERR, SEL_NP, "not-present segment: error code"
	RESUME .r4c
	mov ax, SEL_UDATA | 3
.f4c:	mov ss, ax
.r4c:	LOG 0, F_VEC, 13, "dpl-3 ss at cpl 0: #GP"
	LOG 0, F_ERR, SEL_UDATA, "dpl-3 ss at cpl 0: error code"
	RESUME .r4d
	mov rbx, 0x8000000000000000
.f4d:	mov rax, [rbx]
.r4d:	LOG 0, F_VEC, 13, "non-canonical: #GP"
	LOG 0, F_ERR, 0, "non-canonical: error code 0"
	lea rax, [rel .f4d]
	EXPECT [rel xlog + F_RIP * 8], rax, "non-canonical: saved rip"

; --- INT n to a DPL-0 gate at CPL 0; IST without a privilege change ---
	CLEARLOG
	int 0x40
.a5:	LOG 0, F_VEC, 0x40, "int 0x40: vector"
	lea rax, [rel .a5]
	EXPECT [rel xlog + F_RIP * 8], rax, "int 0x40: saved rip"
	LOG 0, F_FRAME, STACK_TOP - 40, "int 0x40: frame on the same stack"
	CLEARLOG
	sub rsp, 8			; misaligned: the CPU aligns RSP to 16 before pushing
	int 0x83
	add rsp, 8
	LOG 0, F_VEC, 0x83, "int 0x83 at cpl 0: vector"
	LOG 0, F_RSP, STACK_TOP - 8, "int 0x83 at cpl 0: saved rsp"
	LOG 0, F_FRAME, IST2_TOP - 40, "int 0x83 at cpl 0: frame on IST2"
	LOG 0, F_SS, SEL_DATA, "int 0x83 at cpl 0: saved ss"
	CLEARLOG
	sub rsp, 8
	int 0x40
	add rsp, 8
	LOG 0, F_FRAME, STACK_TOP - 48 - 8, "int 0x40 misaligned rsp: frame 16-byte aligned"

; --- ring 3: stack switch, IST, DPL check, privileged instruction, IRETQ back ---
	CLEARLOG
	lea rsi, [rel user1]
	mov edx, 0x202 & ~0x200		; IF stays 0
	call call_user64
	EXPECT qword [rel x_count], 4, "ring 3: four events"
	LOG 0, F_VEC, 0x82, "ring 3 int 0x82: vector"
	LOG 0, F_ERR, NOERR, "ring 3 int 0x82: no error code"
	lea rax, [rel user1.a1]
	EXPECT [rel xlog + F_RIP * 8], rax, "ring 3 int 0x82: saved rip"
	LOG 0, F_CS, SEL_UCODE64 | 3, "ring 3 int 0x82: saved cs"
	LOG 0, F_FL, 2, "ring 3 int 0x82: saved rflags"
	LOG 0, F_RSP, USER_STACK, "ring 3 int 0x82: saved rsp"
	LOG 0, F_SS, SEL_UDATA | 3, "ring 3 int 0x82: saved ss"
	LOG 0, F_FRAME, RSP0 - 40, "ring 3 int 0x82: frame on RSP0"
	LOG 0, F_HSS, 0, "ring 3 int 0x82: handler ss is null"
	EXPECTV64 [rel u_cs], SEL_UCODE64 | 3, "iretq back to ring 3: cs"
	EXPECTV64 [rel u_ss], SEL_UDATA | 3, "iretq back to ring 3: ss"
	EXPECTV64 [rel u_rsp], USER_STACK, "iretq back to ring 3: rsp"
	LOG 1, F_VEC, 0x83, "ring 3 int 0x83: vector"
	LOG 1, F_FRAME, IST2_TOP - 40, "ring 3 int 0x83: frame on IST2"
	LOG 1, F_CS, SEL_UCODE64 | 3, "ring 3 int 0x83: saved cs"
	LOG 1, F_RSP, USER_STACK - 8, "ring 3 int 0x83: saved rsp"
	LOG 2, F_VEC, 13, "ring 3 int 0x81 (dpl 0): #GP"
%ifdef QEMU_QUIRKS
	; QEMU 7.2 TCG do_interrupt64 gives vector * 16 + 2 (fixed in later QEMU)
	cmp qword [rel xlog + 2 * 128 + F_ERR * 8], 0x81 * 16 + 2
	jne .not_quirk
	mov qword [rel xlog + 2 * 128 + F_ERR * 8], 0x81 * 8 + 2
.not_quirk:
%endif
	LOG 2, F_ERR, 0x81 * 8 + 2, "ring 3 int 0x81 (dpl 0): error code"
	lea rax, [rel user1.f3]
	EXPECT [rel xlog + 2 * 128 + F_RIP * 8], rax, "ring 3 int 0x81: saved rip"
	LOG 2, F_FRAME, RSP0 - 40, "ring 3 #GP: frame on RSP0"
	LOG 3, F_VEC, 13, "ring 3 hlt: #GP"
	LOG 3, F_ERR, 0, "ring 3 hlt: error code"
	lea rax, [rel user1.f4]
	EXPECT [rel xlog + 3 * 128 + F_RIP * 8], rax, "ring 3 hlt: saved rip"
	EXPECTV64 [rel user_frame], RSP0 - 40, "ring 3 int 0x80: frame on RSP0"
	mov ax, cs
	EXPECT ax, SEL_CODE64, "back in ring 0"

; --- #DF: #GP while its gate is not present (-> #NP, contributory) ---
	and byte [IDT_BASE + 13 * 16 + 5], 0x7f
	RESUME .r7
	mov ax, 0x1fb
	mov ds, ax
.r7:	or byte [IDT_BASE + 13 * 16 + 5], 0x80
	EXPECT qword [rel x_count], 1, "#DF: one event"
	LOG 0, F_VEC, 8, "#DF: vector"
	LOG 0, F_ERR, 0, "#DF: error code 0"
	LOG 0, F_CS, SEL_CODE64, "#DF: saved cs"
	LOG 0, F_FRAME, IST1_TOP - 40, "#DF: frame on IST1"
	mov ax, ds
	EXPECT ax, SEL_DATA, "#DF: ds unchanged"

	jmp pass64

; --- ring-3 code (IF = 0, IOPL = 0) ---
user1:
	int 0x82
.a1:	mov [rel u_cs], cs
	mov [rel u_ss], ss
	mov [rel u_rsp], rsp
	push rax
	int 0x83
	pop rax
	lea rax, [rel .a3]
	mov [rel x_resume], rax
.f3:	int 0x81
.a3:	lea rax, [rel .a4]
	mov [rel x_resume], rax
.f4:	hlt
.a4:	int 0x80

; --- handlers: push a fake error code where the CPU pushes none, then the vector ---
%macro XSTUB 2
xh_%1:
%if %2 == 0
	push NOERR
%endif
	push %1
	jmp exc_common
%endmacro
	XSTUB 0, 0
	XSTUB 3, 0
	XSTUB 6, 0
	XSTUB 8, 1
	XSTUB 11, 1
	XSTUB 13, 1
	XSTUB 0x40, 0
	XSTUB 0x81, 0
	XSTUB 0x82, 0
	XSTUB 0x83, 0

; [rsp] vector, +8 error, +16 rip, +24 cs, +32 rflags, +40 rsp, +48 ss
exc_common:
	push rax
	push rbx
	mov rbx, [rel x_count]
	cmp rbx, 8
	jae .overflow
	shl rbx, 7
	lea rax, [rel xlog]
	add rbx, rax
%assign i 0
%rep 7
	mov rax, [rsp + 16 + i * 8]
	mov [rbx + i * 8], rax
%assign i i + 1
%endrep
	lea rax, [rsp + 32]
	mov [rbx + F_FRAME * 8], rax
	xor eax, eax
	mov ax, ss
	mov [rbx + F_HSS * 8], rax
	inc qword [rel x_count]
	mov rax, [rel x_resume]
	test rax, rax
	jz .keep
	mov [rsp + 32], rax
	mov qword [rel x_resume], 0
.keep:
	pop rbx
	pop rax
	add rsp, 16
	iretq
.overflow:
	lea rsi, [rel .msg]
	jmp fail64
.msg:	db "too many exceptions", 0

GUEST_LIB
IDT_LIB
GDT_TABLE

align 8
x_count:	dq 0
x_resume:	dq 0
u_cs:		dq 0
u_ss:		dq 0
u_rsp:		dq 0
xlog:		times 8 * 16 dq 0
