; smc.asm - self-modifying code in long mode: re-executing an instruction at the same address
; after overwriting its immediate or its opcode (new length); a loop rewriting its own immediate;
; a store that rewrites the very next instruction; code written through a second virtual
; alias of the same physical page (and code executed through the alias, written through the
; identity map); REP MOVSB copying code (also across a page boundary) and jumping to it, then
; copying other code over it; a STOSB turning code into RET.
; Success: prints "OK smc" and exits 0 (status 1); failure: "FAIL smc: <check>" (status 3).

%define GUEST_NAME "smc"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"

BITS 16
ORG 0

BUF  equ 0x50000			; scratch code buffer (identity-mapped)
BUF2 equ 0x51ffc			; crosses into the next page

start:
	ENTER_LONG64

; --- 1. new immediate, same address ---
	call f1
	EXPECT eax, 1, "f1 before"
	mov dword [rel f1 + 1], 2
	call f1
	EXPECT eax, 2, "f1 after immediate rewrite"
	mov dword [rel f1 + 1], 3
	call f1
	EXPECT eax, 3, "f1 after second rewrite"

; --- 2. new opcodes (different lengths), same address ---
	call f2
	EXPECT eax, 0x11111111, "f2 before"
	mov rax, 0x90c3c0ffc0ffc031	; xor eax, eax; inc eax; inc eax; ret; nop
	mov [rel f2], rax
	call f2
	EXPECT eax, 2, "f2 after opcode rewrite"

; --- 3. a loop rewriting its own immediate ---
	mov ecx, 3
	xor ebx, ebx
.loop:
.ins:	add ebx, strict dword 0x11111111
	inc dword [rel .ins + 2]
	loop .loop
	EXPECT ebx, 0x33333336, "loop rewriting its own immediate"
	EXPECT dword [rel .ins + 2], 0x11111114, "loop: final immediate"

; --- 4. a store rewriting the next instruction ---
	mov byte [rel .nx + 1], 0x42
.nx:	mov al, 0
	EXPECT al, 0x42, "store to the next instruction"
	mov word [rel .nx2], 0x9090	; the jmp becomes two nops
.nx2:	jmp short .skipped
	mov bl, 1
	jmp .nx2_done
.skipped:
	mov bl, 2
.nx2_done:
	EXPECT bl, 1, "next instruction rewritten to nops"

; --- 5. a second virtual alias (ALIAS + x maps physical x) ---
	call f3
	EXPECT eax, 5, "f3 before"
	mov dword [ALIAS + L(f3) + 1], 7
	call f3
	EXPECT eax, 7, "f3 written through the alias"
	mov rbx, ALIAS + L(f3)
	call rbx
	EXPECT eax, 7, "f3 executed through the alias"
	mov dword [rel f3 + 1], 8
	call rbx
	EXPECT eax, 8, "alias sees a write through the identity map"
	call f3
	EXPECT eax, 8, "f3 identity after the write"

; --- 6. REP MOVSB code and jump to it ---
	lea rsi, [rel code_a]
	mov edi, BUF
	mov ecx, code_a_len
	rep movsb
	mov ebx, BUF
	call rbx
	EXPECT eax, 0xaaaa, "copied code_a"
	lea rsi, [rel code_b]
	mov edi, BUF
	mov ecx, code_b_len
	rep movsb
	call rbx
	EXPECT eax, 0xbbbb, "code_b copied over code_a"
	lea rsi, [rel code_a]
	mov edi, BUF2
	mov ecx, code_a_len
	rep movsb
	mov ebx, BUF2
	call rbx
	EXPECT eax, 0xaaaa, "copied code across a page boundary"
	mov byte [BUF2 + 4], 0xcc	; imm32 byte 3, on the second page
	call rbx
	EXPECT eax, 0xcc00aaaa, "rewrite on the second page of an instruction"

; --- 7. STOSB turns code into RET ---
	mov ebx, BUF
	call rbx
	EXPECT eax, 0xbbbb, "code_b still there"
	mov eax, 5
	mov edi, BUF
	mov al, 0xc3
	stosb
	mov eax, 5
	call rbx
	EXPECT eax, 5, "stosb rewrote the first byte to ret"

	jmp pass64

f1:	mov eax, strict dword 1
	ret
	align 8
f2:	mov eax, 0x11111111
	ret
	times 8 nop
f3:	mov eax, strict dword 5
	ret

code_a:	mov eax, strict dword 0xaaaa
	ret
code_a_len equ $ - code_a
code_b:	xor eax, eax
	mov ax, 0xbbbb
	nop
	ret
code_b_len equ $ - code_b

GUEST_LIB
GDT_TABLE
