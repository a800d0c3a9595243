; prot32.asm - switches from real mode to 32-bit protected mode and checks 32-bit code.
;
; Loaded at 0x10000, entered at 1000:0000 with DS = ES = SS = 0x1000, SP = 0xFFF0 (ORG 0).
; The GDT (inc/gdt.inc) lives in this image, so its base is a linear address: LOAD + gdt. The
; 32-bit segments are flat (base 0), so 32-bit code addresses its own data as LOAD + label.
; Success: prints "OK prot32" on COM1 and writes 0 to the isa-debug-exit port (status 1).
; Failure: prints "FAIL prot32: <check>" and writes 1 (status 3).

%define GUEST_NAME "prot32"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"

BITS 16
ORG 0

start:
	ENTER_PROT32

; --- control state ---
	mov eax, cr0
	test eax, 1
	CHECK nz, "cr0.pe"
	mov ax, cs
	EXPECT ax, SEL_CODE32, "cs selector"

; --- 32-bit arithmetic ---
	mov eax, 0x12345678
	add eax, 0x87654321
	EXPECT eax, 0x99999999, "add"
	mov eax, 0xffffffff
	add eax, 1
	CHECK c, "add carry"
	CHECK z, "add zero"
	mov ebx, 0x7fffffff
	add ebx, 1
	CHECK o, "add overflow"
	CHECK s, "add sign"
	xor eax, eax
	sub eax, 1			; CF = 1
	mov ecx, 0x10000
	sbb ecx, 0
	EXPECT ecx, 0xffff, "sbb"
	mov eax, 0xffffffff
	add eax, 1			; CF = 1
	mov edx, 0x00010000
	adc edx, 0xffff
	EXPECT edx, 0x00020000, "adc"
	mov eax, -1000
	cmp eax, 1000
	CHECK l, "cmp signed"
	CHECK a, "cmp unsigned"
	mov eax, 0xdeadbeef
	and eax, 0xffff0000
	EXPECT eax, 0xdead0000, "and"
	or eax, 0xbeef
	EXPECT eax, 0xdeadbeef, "or"
	xor eax, 0xdeadbeef
	CHECK z, "xor"
	mov eax, 0x80000000
	neg eax
	CHECK o, "neg overflow"
	EXPECT eax, 0x80000000, "neg min"
	mov eax, 0x0f0f0f0f
	not eax
	EXPECT eax, 0xf0f0f0f0, "not"
	mov eax, 0xffffffff
	inc eax
	CHECK z, "inc wrap"
	dec eax
	EXPECT eax, 0xffffffff, "dec wrap"
	mov eax, 1
	shl eax, 31
	EXPECT eax, 0x80000000, "shl"
	sar eax, 31
	EXPECT eax, 0xffffffff, "sar"
	shr eax, 28
	EXPECT eax, 0xf, "shr"
	mov al, 0xfe
	movsx ebx, al
	EXPECT ebx, -2, "movsx"
	movzx ebx, al
	EXPECT ebx, 0xfe, "movzx"

; --- memory and addressing ---
	mov ebx, L(table)
	mov esi, 2
	mov eax, [ebx+esi*4]
	EXPECT eax, 0x33333333, "mov [base+index*4]"
	mov eax, [ebx+esi*4+4]
	EXPECT eax, 0x44444444, "mov [base+index*4+disp]"
	mov eax, [L(table)+4]
	EXPECT eax, 0x22222222, "mov [disp32]"
	mov eax, [esi*4+L(table)]
	EXPECT eax, 0x33333333, "mov [index*4+disp32]"
	lea ecx, [ebx+esi*8+3]
	EXPECT ecx, L(table) + 19, "lea"
	mov dword [ebx+12], 0xcafef00d
	EXPECT dword [L(table)+12], 0xcafef00d, "mov store"
	mov ax, SEL_DATA_LOAD
	mov es, ax
	EXPECT dword [es:table+4], 0x22222222, "segment base"
	mov ax, SEL_DATA
	mov es, ax

; --- stack, call, ret ---
	EXPECT esp, STACK_TOP, "esp"
	push dword 0x11111111
	push dword 0x22222222
	EXPECT esp, STACK_TOP - 8, "push esp"
	EXPECT dword [esp], 0x22222222, "push stores"
	pop eax
	pop ebx
	EXPECT eax, 0x22222222, "pop eax"
	EXPECT ebx, 0x11111111, "pop ebx"
	xor eax, eax
	call add_seven
	call add_fourteen
	EXPECT eax, 21, "call"
	mov edx, L(add_seven)
	call edx
	EXPECT eax, 28, "call reg"
	call [L(fnptr)]
	EXPECT eax, 35, "call memory"
	EXPECT esp, STACK_TOP, "esp balanced"
	mov ecx, 100
	xor eax, eax
.sum:
	add eax, ecx
	loop .sum
	EXPECT eax, 5050, "loop"

; --- string instructions ---
	mov edi, L(buf)
	mov eax, 0x5a5a5a5a
	mov ecx, 4
	rep stosd
	EXPECT edi, L(buf) + 16, "rep stosd"
	EXPECT dword [L(buf)+12], 0x5a5a5a5a, "rep stosd data"
	mov esi, L(table)
	mov edi, L(buf)
	mov ecx, 16
	rep movsb
	EXPECT dword [L(buf)+12], 0xcafef00d, "rep movsb"

; --- all passed ---
	jmp pass32

add_seven:
	add eax, 7
	ret

add_fourteen:
	call add_seven
	call add_seven
	ret

GUEST_LIB
GDT_TABLE

align 4
fnptr:		dd L(add_seven)
table:		dd 0x11111111, 0x22222222, 0x33333333, 0x44444444
buf:		times 16 db 0
