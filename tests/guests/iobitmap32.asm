; iobitmap32.asm - the TSS I/O permission bitmap in 32-bit protected mode. At CPL 3 with IOPL 0:
; IN/OUT/INS/OUTS succeed only when every bit for the accessed ports is clear (byte, word and
; dword accesses, a word straddling a bitmap byte), #GP(0) otherwise; the word holding a port's
; bits must be within the TSS limit (#GP(0) even with clear bits); an I/O map base past the limit
; denies everything. With IOPL 3 the bitmap is not consulted.
; Success: prints "OK iobitmap32" and exits 0 (status 1).

%define GUEST_NAME "iobitmap32"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"
%include "trap.inc"

BITS 16
ORG 0

ESP0    equ 0x88000
TSS2    equ 0x50000			; our TSS: 0x68 bytes, then the bitmap (ports 0..0x3ff)
MAP     equ TSS2 + 0x68
SEL_TSS2 equ SEL_CODE32B		; the spare GDT slot becomes our TSS descriptor

; SETTSS limit, iomap_base: descriptor (type 9, available) and LTR
%macro SETTSS 2
	mov word [L(gdt) + SEL_TSS2], %1
	mov word [L(gdt) + SEL_TSS2 + 2], TSS2 & 0xffff
	mov byte [L(gdt) + SEL_TSS2 + 4], TSS2 >> 16
	mov byte [L(gdt) + SEL_TSS2 + 5], 0x89
	mov byte [L(gdt) + SEL_TSS2 + 6], 0
	mov byte [L(gdt) + SEL_TSS2 + 7], 0
	mov word [TSS2 + 0x66], %2
	mov ax, SEL_TSS2
	ltr ax
%endmacro

; USER label, eflags: run ring-3 code at label (it ends with int 0x80)
%macro USER 2
	mov esi, L(%1)
	mov edx, %2
	call call_user32
%endmacro

start:
	ENTER_PROT32
	TRAP32_INSTALL
	mov edi, 0x80
	mov esi, L(user_return32)
	mov edx, 0xee
	call idt32_set
	IDT32_LOAD

; --- the TSS and its bitmap: all ports denied but COM1 (0x3f8), the exit port (0xf4),
;     0x80, 0x81 and 0x83 (0x82 denied) ---
	mov edi, TSS2
	xor eax, eax
	mov ecx, 0x68 / 4
	rep stosd
	mov dword [TSS2 + TSS32_ESP0], ESP0
	mov word [TSS2 + TSS32_SS0], SEL_DATA
	mov edi, MAP
	mov al, 0xff
	mov ecx, 0x81			; 0x80 bitmap bytes + the 0xff terminator
	rep stosb
	and byte [MAP + 0x3f8 / 8], 0xfe
	and byte [MAP + 0xf4 / 8], ~(1 << 4)
	and byte [MAP + 0x80 / 8], ~0b1011
	SETTSS 0x68 + 0x80, 0x68

	USER user_a, 2
	EXPECT dword [L(u_ok)], 4, "cpl 3: allowed accesses"
	mov ax, cs
	EXPECT ax, SEL_CODE32, "back in ring 0"

; --- the word holding port 0x80's bits (bytes 0x10, 0x11 of the map) must be inside the limit ---
	mov al, [L(gdt) + SEL_TSS2 + 5]
	EXPECT al, 0x8b, "ltr marked the tss busy"
	SETTSS 0x68 + 0x10, 0x68
	USER user_b, 2
; --- map base beyond the limit ---
	SETTSS 0x68 + 0x80, 0x1000
	USER user_c, 2
; --- IOPL 3: no bitmap ---
	SETTSS 0x68 + 0x80, 0x68
	USER user_d, 0x3002
	EXPECT dword [L(u_ok)], 1, "iopl 3: denied port allowed"
	jmp pass32

; ---- ring 3 ----
user_a:
	mov dword [L(u_ok)], 0
	out 0x80, al
	inc dword [L(u_ok)]
	in ax, 0x80			; 0x80, 0x81
	inc dword [L(u_ok)]
	mov dx, 0x83
	out dx, al
	inc dword [L(u_ok)]
	mov esi, L(u_ok)
	mov dx, 0x80
	outsb
	inc dword [L(u_ok)]
	TRY .a1
	in al, 0x82
.a1:	CAUGHT 13, 0, "in al, 0x82 (denied)"
	TRY .a2
	out 0x81, ax			; 0x81 and 0x82
.a2:	CAUGHT 13, 0, "out 0x81, ax (one port denied)"
	TRY .a3
	out 0x80, eax			; 0x80..0x83
.a3:	CAUGHT 13, 0, "out 0x80, eax (one port denied)"
	mov dx, 0x7f
	TRY .a4
	in ax, dx			; 0x7f (denied) and 0x80: bits in two map bytes
.a4:	CAUGHT 13, 0, "in ax, 0x7f (straddles two map bytes)"
	mov dx, 0x82
	mov edi, L(u_buf)
	TRY .a5
	insb
.a5:	CAUGHT 13, 0, "insb from 0x82"
	mov dx, 0x400
	TRY .a6
	in al, dx			; the terminator byte
.a6:	CAUGHT 13, 0, "port 0x400 (terminator byte)"
	mov dx, 0x408
	TRY .a7
	in al, dx			; beyond the limit
.a7:	CAUGHT 13, 0, "port 0x408 (beyond the limit)"
	int 0x80

user_b:
	TRY .b1
	out 0x80, al
.b1:	CAUGHT 13, 0, "port 0x80: bitmap word crosses the limit"
	int 0x80

user_c:
	TRY .c1
	out 0x80, al
.c1:	CAUGHT 13, 0, "map base beyond the limit"
	int 0x80

user_d:
	mov dword [L(u_ok)], 0
	in al, 0x82
	inc dword [L(u_ok)]
	int 0x80

align 4
u_ok:	dd 0
u_buf:	dd 0

GUEST_LIB
IDT_LIB
TRAP_LIB
GDT_TABLE
