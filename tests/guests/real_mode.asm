; real_mode.asm - checks real-mode integer instructions inside the guest.
;
; Loaded at 0x10000, entered at 1000:0000 with DS = ES = SS = 0x1000, SP = 0xFFF0 (ORG 0).
; Success: prints "OK real" on COM1 and writes 0 to the isa-debug-exit port (status 1).
; Failure: prints "FAIL real: <check>" and writes 1 (status 3).

BITS 16
ORG 0

COM1      equ 0x3f8
COM1_LSR  equ COM1 + 5
EXIT_PORT equ 0xf4
POST_PORT equ 0x80
NOBODY    equ 0x4a0			; a port no device claims

; CHECK cc, "name": fail with "name" unless condition cc holds. Leaves flags alone.
%macro CHECK 2
	j%1 %%ok
	mov si, %%name
	jmp fail
%%name:	db %2, 0
%%ok:
%endmacro

; EXPECT operand, value, "name"
%macro EXPECT 3
	cmp %1, %2
	CHECK e, %3
%endmacro

start:
	cli
	cld

; --- entry state ---
	mov ax, cs
	EXPECT ax, 0x1000, "cs"
	mov ax, ds
	EXPECT ax, 0x1000, "ds"
	mov ax, ss
	EXPECT ax, 0x1000, "ss"
	EXPECT sp, 0xfff0, "initial sp"

; --- add / adc ---
	mov ax, 0x1234
	add ax, 0x4321
	EXPECT ax, 0x5555, "add"
	mov ax, 0xffff
	add ax, 1
	CHECK c, "add carry"
	CHECK z, "add zero"
	mov al, 0x7f
	add al, 1
	CHECK o, "add overflow"
	CHECK s, "add sign"
	mov bx, 0x8000
	mov cx, 0x8000
	add bx, cx
	CHECK c, "add reg carry"
	CHECK o, "add reg overflow"
	mov ax, 0xffff
	add ax, 1			; CF = 1
	mov bx, 5
	adc bx, 0x10
	EXPECT bx, 0x16, "adc with carry"
	mov ax, 1
	add ax, 1			; CF = 0
	mov bx, 5
	adc bx, 0x10
	EXPECT bx, 0x15, "adc without carry"

; --- sub / sbb / cmp ---
	mov ax, 0x5555
	sub ax, 0x1234
	EXPECT ax, 0x4321, "sub"
	xor ax, ax
	sub ax, 1
	CHECK c, "sub borrow"
	CHECK s, "sub sign"
	EXPECT ax, 0xffff, "sub wrap"
	xor ax, ax
	sub ax, 1			; CF = 1
	mov bx, 10
	sbb bx, 3
	EXPECT bx, 6, "sbb with borrow"
	mov ax, -5
	cmp ax, 3
	CHECK l, "cmp signed less"
	CHECK a, "cmp unsigned above"
	CHECK ne, "cmp not equal"
	mov cx, 100
	cmp cx, 200
	CHECK b, "cmp below"
	CHECK le, "cmp less or equal"
	cmp cx, 100
	CHECK ge, "cmp greater or equal"
	CHECK be, "cmp below or equal"
	mov dl, 0x80
	cmp dl, 1
	CHECK o, "cmp overflow"

; --- and / or / xor / test ---
	mov ax, 0xf0f0
	and ax, 0x3c3c
	EXPECT ax, 0x3030, "and"
	or ax, 0x0101
	EXPECT ax, 0x3131, "or"
	xor ax, 0x3131
	CHECK z, "xor zero flag"
	EXPECT ax, 0, "xor"
	mov ax, 0xffff
	add ax, 1			; CF = 1
	and ax, ax
	CHECK nc, "and clears carry"
	mov al, 0x80
	test al, 0x80
	CHECK nz, "test nonzero"
	CHECK s, "test sign"
	test al, 0x01
	CHECK z, "test zero"
	mov bl, 0x55
	test al, bl
	CHECK z, "test reg"

; --- inc / dec / neg / not ---
	mov ax, 0xffff
	add ax, 1			; CF = 1, ax = 0
	inc ax
	CHECK c, "inc keeps carry"
	EXPECT ax, 1, "inc"
	dec ax
	CHECK z, "dec zero"
	mov al, 0x7f
	inc al
	CHECK o, "inc overflow"
	xor bx, bx
	dec bx
	EXPECT bx, 0xffff, "dec wrap"
	mov word [counter], 41
	inc word [counter]
	EXPECT word [counter], 42, "inc memory"
	mov ax, 5
	neg ax
	CHECK c, "neg carry"
	EXPECT ax, 0xfffb, "neg"
	xor ax, ax
	neg ax
	CHECK nc, "neg zero carry"
	mov ax, 0x5a5a
	not ax
	EXPECT ax, 0xa5a5, "not"

; --- push / pop ---
	mov ax, 0x1111
	mov bx, 0x2222
	push ax
	push bx
	EXPECT sp, 0xfff0 - 4, "push sp"
	mov bp, sp
	EXPECT word [bp], 0x2222, "push stores"
	pop ax
	pop bx
	EXPECT ax, 0x2222, "pop ax"
	EXPECT bx, 0x1111, "pop bx"
	push word 0x1234
	pop cx
	EXPECT cx, 0x1234, "push imm"
	push word [counter]
	pop dx
	EXPECT dx, 42, "push memory"
	EXPECT sp, 0xfff0, "sp balanced"

; --- call / ret / jmp ---
	xor ax, ax
	call add_three
	call add_three
	EXPECT ax, 6, "call"
	call add_six
	EXPECT ax, 12, "nested call"
	mov bx, add_three
	call bx
	EXPECT ax, 15, "call reg"
	call [fnptr]
	EXPECT ax, 18, "call memory"
	EXPECT sp, 0xfff0, "call sp balanced"
	mov bx, .jumped
	jmp bx
	jmp fail_jmp
.jumped:

; --- loop ---
	mov cx, 10
	xor ax, ax
.sum:
	add ax, cx
	loop .sum
	EXPECT ax, 55, "loop sum"
	EXPECT cx, 0, "loop count"

; --- addressing modes ---
	mov bx, array
	mov si, 2
	mov di, 4
	mov ax, [bx+si]
	EXPECT ax, 0x2222, "mov [bx+si]"
	mov ax, [bx+di+2]
	EXPECT ax, 0x4444, "mov [bx+di+disp8]"
	mov ax, [si+array]
	EXPECT ax, 0x2222, "mov [si+disp16]"
	mov ax, [array+6]
	EXPECT ax, 0x4444, "mov [disp16]"
	mov bp, array
	mov ax, [bp+di]
	EXPECT ax, 0x3333, "mov [bp+di]"
	mov al, [bx+1]
	EXPECT al, 0x11, "mov byte"
	lea ax, [bx+si+0x10]
	EXPECT ax, array + 0x12, "lea"
	lea dx, [bx+di-1]
	EXPECT dx, array + 3, "lea negative disp"
	mov word [bx+si], 0xbeef
	EXPECT word [array+2], 0xbeef, "mov store"
	mov byte [bx+di+1], 0x5a
	EXPECT word [array+4], 0x5a33, "mov byte store"
	xor ebx, ebx
	mov bx, array
	mov esi, 1
	mov ax, [ebx+esi*2]
	EXPECT ax, 0xbeef, "mov [ebx+esi*2]"

; --- segments ---
	mov ax, 0x2000
	mov es, ax
	mov word [es:0x10], 0x1234	; linear 0x20010
	mov ax, 0x2001
	mov es, ax
	EXPECT word [es:0], 0x1234, "segment base"
	mov ax, ds
	mov es, ax

; --- 32-bit operands ---
	mov eax, 0x12345678
	add eax, 0x11111111
	EXPECT eax, 0x23456789, "add32"
	mov ecx, 0xffffffff
	add ecx, 1
	CHECK c, "add32 carry"
	CHECK z, "add32 zero"

; --- movzx / movsx / shifts / xchg ---
	mov al, 0x80
	movzx bx, al
	EXPECT bx, 0x0080, "movzx"
	movsx bx, al
	EXPECT bx, 0xff80, "movsx"
	mov ax, 1
	shl ax, 4
	EXPECT ax, 0x10, "shl imm"
	mov cl, 4
	shl ax, cl
	EXPECT ax, 0x100, "shl cl"
	shr ax, 8
	EXPECT ax, 1, "shr"
	mov ax, 0x8000
	sar ax, 15
	EXPECT ax, 0xffff, "sar"
	mov ax, 3
	shr ax, 1
	CHECK c, "shr carry"
	EXPECT ax, 1, "shr by one"
	mov ax, 0xaaaa
	mov bx, 0x5555
	xchg ax, bx
	EXPECT ax, 0x5555, "xchg ax"
	EXPECT bx, 0xaaaa, "xchg bx"
	xchg bx, [counter]
	EXPECT bx, 42, "xchg memory reg"
	EXPECT word [counter], 0xaaaa, "xchg memory"

; --- string instructions ---
	mov di, buf
	mov al, 0xab
	mov cx, 16
	rep stosb
	EXPECT cx, 0, "rep stosb count"
	EXPECT di, buf + 16, "rep stosb di"
	EXPECT byte [buf+15], 0xab, "rep stosb data"
	mov si, array
	mov di, buf
	mov cx, 4
	rep movsw
	EXPECT word [buf+6], 0x4444, "rep movsw"
	EXPECT si, array + 8, "rep movsw si"
	mov si, array + 7
	std
	lodsb
	cld
	EXPECT al, 0x44, "std lodsb"
	EXPECT si, array + 6, "std lodsb si"

; --- port I/O ---
	mov dx, COM1_LSR
	in al, dx
	EXPECT al, 0x60, "in lsr"
	mov dx, NOBODY
	in ax, dx
	EXPECT ax, 0xffff, "unclaimed port reads ones"
	mov al, 0x42
	out POST_PORT, al
	out dx, al			; ignored
	mov di, buf
	mov dx, COM1_LSR
	mov cx, 4
	rep insb
	EXPECT word [buf], 0x6060, "rep insb"
	EXPECT word [buf+2], 0x6060, "rep insb end"
	EXPECT di, buf + 4, "rep insb di"

; --- all passed: string output, then exit 0 ---
	mov si, ok_msg
	mov cx, ok_len
	mov dx, COM1
	rep outsb
	mov al, 0
	out EXIT_PORT, al
	hlt
	jmp $

add_three:
	add ax, 3
	ret

add_six:
	call add_three
	call add_three
	ret

fail_jmp:
	mov si, .name
	jmp fail
.name:	db "jmp reg", 0

; fail: prints "FAIL real: " and the check name at si, exits with code 1 (status 3).
fail:
	push si
	mov si, fail_msg
	call puts
	pop si
	call puts
	mov si, newline
	call puts
	mov al, 1
	out EXIT_PORT, al
	hlt
	jmp $

; puts: prints the NUL-terminated string at ds:si.
puts:
	mov dx, COM1
.next:
	lodsb
	test al, al
	jz .done
	out dx, al
	jmp .next
.done:
	ret

ok_msg:		db "OK real", 10
ok_len		equ $ - ok_msg
fail_msg:	db "FAIL real: ", 0
newline:	db 10, 0
fnptr:		dw add_three
counter:	dw 0
array:		dw 0x1111, 0x2222, 0x3333, 0x4444
buf:		times 32 db 0
