; exc32.asm - exception and interrupt delivery in real mode (IVT) and 32-bit protected mode.
; Real mode: INT n through the IVT (saved IP/CS/FLAGS, IF/TF cleared) and #DE from DIV (fault:
; saved IP = the DIV). Protected mode: #DE, #UD (ud2), #BP (int3 / int 3: traps), #GP with
; selector error codes (bad selector into DS, DPL-3 selector into SS), #NP (not-present segment),
; INT n to a DPL-0 gate at CPL 0 (no stack switch), and from ring 3: INT n to a DPL-3 gate
; (stack switch to TSS.ESP0/SS0, saved SS:ESP), IRETD back to ring 3, INT n to a DPL-0 gate
; (#GP(n*8+2)), HLT (#GP(0)); #DF (error code 0) when the #GP gate is not present.
; Success: prints "OK exc32" and exits 0 (status 1); failure: "FAIL exc32: <check>" (status 3).

%define GUEST_NAME "exc32"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"

BITS 16
ORG 0

ESP0  equ 0x88000
NOERR equ -1

; log entry fields (dwords; entries are 16 dwords)
F_VEC equ 0
F_ERR equ 1
F_EIP equ 2
F_CS  equ 3
F_FL  equ 4
F_ESP equ 5				; only with a privilege change
F_SS  equ 6				; only with a privilege change
F_FRAME equ 7				; address of the saved EIP
F_HSS equ 8				; SS in the handler

%macro LOG 4+
	EXPECT dword [L(xlog) + (%1) * 64 + (%2) * 4], %3, %4
%endmacro

%macro RESUME 1
	mov dword [L(x_resume)], L(%1)
	mov dword [L(x_count)], 0
%endmacro

%macro CLEARLOG 0
	mov dword [L(x_resume)], 0
	mov dword [L(x_count)], 0
%endmacro

%macro GATE 3
	mov edi, %1
	mov esi, L(%2)
	mov edx, %3
	call idt32_set
%endmacro

start:
	cli
	cld
; --- real mode: IVT ---
	xor ax, ax
	mov es, ax
	mov word [es:0x42 * 4], rm_int42
	mov word [es:0x42 * 4 + 2], LOAD >> 4
	mov word [es:0 * 4], rm_de
	mov word [es:0 * 4 + 2], LOAD >> 4
	mov ax, ds
	mov es, ax
	mov bx, 0x1234
	stc
	int 0x42
.rm_a:	EXPECT word [rm_ip], .rm_a, "real int 0x42: saved ip"
	EXPECT word [rm_cs], LOAD >> 4, "real int 0x42: saved cs"
	test word [rm_flags], 1
	CHECK nz, "real int 0x42: saved flags (cf)"
	test word [rm_hflags], 0x300
	CHECK z, "real int 0x42: if/tf clear in handler"
	EXPECT bx, 0x4321, "real int 0x42: handler ran"
	mov sp, 0xfff0
	EXPECT word [rm_sp], 0xfff0 - 6, "real int 0x42: 3 words pushed"
	mov ax, 100
	xor cl, cl
.rm_f:	div cl
	EXPECT word [rm_ip], .rm_f, "real #DE: saved ip is the div"
	EXPECT word [rm_de_count], 1, "real #DE: one"

	ENTER_PROT32

	call idt32_unexpected
	GATE 0, xh_0, 0x8e
	GATE 3, xh_3, 0x8e
	GATE 6, xh_6, 0x8e
	GATE 8, xh_8, 0x8e
	GATE 11, xh_11, 0x8e
	GATE 13, xh_13, 0x8e
	GATE 0x40, xh_0x40, 0x8e		; DPL 0
	GATE 0x81, xh_0x81, 0x8e		; DPL 0
	GATE 0x82, xh_0x82, 0xee		; DPL 3
	GATE 0x80, user_return32, 0xee
	IDT32_LOAD
	mov dword [TSS_LIN + TSS32_ESP0], ESP0
	mov word [TSS_LIN + TSS32_SS0], SEL_DATA
	mov ax, SEL_TSS
	ltr ax

; --- #DE ---
	RESUME .r1
	xor edx, edx
	mov eax, 1
	xor ecx, ecx
.f1:	div ecx
.r1:	EXPECT dword [L(x_count)], 1, "#DE: one event"
	LOG 0, F_VEC, 0, "#DE: vector"
	LOG 0, F_ERR, NOERR, "#DE: no error code"
	LOG 0, F_EIP, L(.f1), "#DE: saved eip"
	LOG 0, F_CS, SEL_CODE32, "#DE: saved cs"
	LOG 0, F_FRAME, STACK_TOP - 12, "#DE: frame on the same stack"
	LOG 0, F_HSS, SEL_DATA, "#DE: handler ss"

; --- #UD ---
	RESUME .r2
.f2:	ud2
.r2:	LOG 0, F_VEC, 6, "#UD: vector"
	LOG 0, F_EIP, L(.f2), "#UD: saved eip"
	LOG 0, F_ERR, NOERR, "#UD: no error code"

; --- #BP ---
	CLEARLOG
	pushfd
	pop ebx
	int3
.a3:	LOG 0, F_VEC, 3, "int3: vector"
	LOG 0, F_EIP, L(.a3), "int3: saved eip after it"
	EXPECT [L(xlog) + F_FL * 4], ebx, "int3: saved eflags"
	CLEARLOG
	int 3
.a3b:	LOG 0, F_EIP, L(.a3b), "int 3: saved eip after it"

; --- #GP / #NP ---
	RESUME .r4
	mov ax, 0x1fb
.f4:	mov ds, ax
.r4:	LOG 0, F_VEC, 13, "bad selector: #GP"
	LOG 0, F_ERR, 0x1f8, "bad selector: error code"
	LOG 0, F_EIP, L(.f4), "bad selector: saved eip"
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

; --- INT n, CPL 0 -> DPL 0 gate: no stack switch ---
	CLEARLOG
	int 0x40
.a5:	LOG 0, F_VEC, 0x40, "int 0x40: vector"
	LOG 0, F_EIP, L(.a5), "int 0x40: saved eip"
	LOG 0, F_FRAME, STACK_TOP - 12, "int 0x40: frame on the same stack"

; --- ring 3 ---
	CLEARLOG
	mov esi, L(user1)
	mov edx, 2
	call call_user32
	EXPECT dword [L(x_count)], 3, "ring 3: three events"
	LOG 0, F_VEC, 0x82, "ring 3 int 0x82: vector"
	LOG 0, F_EIP, L(user1.a1), "ring 3 int 0x82: saved eip"
	LOG 0, F_CS, SEL_UCODE32 | 3, "ring 3 int 0x82: saved cs"
	LOG 0, F_FL, 2, "ring 3 int 0x82: saved eflags"
	LOG 0, F_ESP, USER_STACK, "ring 3 int 0x82: saved esp"
	LOG 0, F_SS, SEL_UDATA | 3, "ring 3 int 0x82: saved ss"
	LOG 0, F_FRAME, ESP0 - 20, "ring 3 int 0x82: frame on ESP0"
	LOG 0, F_HSS, SEL_DATA, "ring 3 int 0x82: handler ss = SS0"
	EXPECT dword [L(u_cs)], SEL_UCODE32 | 3, "iretd back to ring 3: cs"
	EXPECT dword [L(u_ss)], SEL_UDATA | 3, "iretd back to ring 3: ss"
	EXPECT dword [L(u_esp)], USER_STACK, "iretd back to ring 3: esp"
	LOG 1, F_VEC, 13, "ring 3 int 0x81 (dpl 0): #GP"
	LOG 1, F_ERR, 0x81 * 8 + 2, "ring 3 int 0x81 (dpl 0): error code"
	LOG 1, F_EIP, L(user1.f3), "ring 3 int 0x81: saved eip"
	LOG 1, F_FRAME, ESP0 - 20, "ring 3 #GP: frame on ESP0"
	LOG 2, F_VEC, 13, "ring 3 hlt: #GP"
	LOG 2, F_ERR, 0, "ring 3 hlt: error code"
	LOG 2, F_EIP, L(user1.f4), "ring 3 hlt: saved eip"
	EXPECT dword [L(user_frame)], ESP0 - 20, "ring 3 int 0x80: frame on ESP0"
	mov ax, cs
	EXPECT ax, SEL_CODE32, "back in ring 0"

; --- #DF ---
	and byte [IDT_BASE + 13 * 8 + 5], 0x7f
	RESUME .r7
	mov ax, 0x1fb
	mov ds, ax
.r7:	or byte [IDT_BASE + 13 * 8 + 5], 0x80
	EXPECT dword [L(x_count)], 1, "#DF: one event"
	LOG 0, F_VEC, 8, "#DF: vector"
	LOG 0, F_ERR, 0, "#DF: error code 0"
	LOG 0, F_FRAME, STACK_TOP - 12, "#DF: frame on the same stack"
	mov ax, ds
	EXPECT ax, SEL_DATA, "#DF: ds unchanged"

	jmp pass32

; --- ring-3 code ---
user1:
	int 0x82
.a1:	mov [L(u_cs)], cs
	mov [L(u_ss)], ss
	mov [L(u_esp)], esp
	mov dword [L(x_resume)], L(.a3)
.f3:	int 0x81
.a3:	mov dword [L(x_resume)], L(.a4)
.f4:	hlt
.a4:	int 0x80

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

; [esp] vector, +4 error, +8 eip, +12 cs, +16 eflags, (+20 esp, +24 ss)
exc_common:
	push eax
	push ebx
	push ds
	mov ax, SEL_DATA
	mov ds, ax
	mov ebx, [L(x_count)]
	cmp ebx, 8
	jae .overflow
	shl ebx, 6
	add ebx, L(xlog)
%assign i 0
%rep 7
	mov eax, [esp + 12 + i * 4]
	mov [ebx + i * 4], eax
%assign i i + 1
%endrep
	lea eax, [esp + 20]
	mov [ebx + F_FRAME * 4], eax
	xor eax, eax
	mov ax, ss
	mov [ebx + F_HSS * 4], eax
	inc dword [L(x_count)]
	mov eax, [L(x_resume)]
	test eax, eax
	jz .keep
	mov [esp + 20], eax
	mov dword [L(x_resume)], 0
.keep:
	pop ds
	pop ebx
	pop eax
	add esp, 8
	iretd
.overflow:
	mov esi, L(.msg)
	jmp fail32
.msg:	db "too many exceptions", 0

BITS 16
rm_int42:
	push bp
	mov bp, sp
	mov [rm_sp], bp
	add word [rm_sp], 2
	mov ax, [bp + 2]
	mov [rm_ip], ax
	mov ax, [bp + 4]
	mov [rm_cs], ax
	mov ax, [bp + 6]
	mov [rm_flags], ax
	pushf
	pop ax
	mov [rm_hflags], ax
	mov bx, 0x4321
	pop bp
	iret

rm_de:
	push bp
	mov bp, sp
	mov ax, [bp + 2]
	mov [rm_ip], ax
	add word [bp + 2], 2		; skip the 2-byte div
	inc word [rm_de_count]
	pop bp
	iret

GUEST_LIB
IDT_LIB
GDT_TABLE

align 4
rm_ip:		dw 0
rm_cs:		dw 0
rm_flags:	dw 0
rm_hflags:	dw 0
rm_sp:		dw 0
rm_de_count:	dw 0
x_count:	dd 0
x_resume:	dd 0
u_cs:		dd 0
u_ss:		dd 0
u_esp:		dd 0
xlog:		times 8 * 16 dd 0
