; hello.asm - the demo guest: prints a line on the serial port and halts.
;
; Flat-binary contract (softkvm run --flat): loaded at guest physical 0x10000, entered in
; 16-bit real mode at CS:IP = 1000:0000 with DS = ES = SS = 0x1000, SP = 0xFFF0.
; `softkvm run --flat hello.bin` prints the message and exits with status 0 (HLT).

BITS 16
ORG 0

COM1     equ 0x3f8
COM1_LSR equ COM1 + 5

start:
	cld
	mov si, msg
.next:
	lodsb
	test al, al
	jz .done
	mov bl, al
	mov dx, COM1_LSR
.wait:					; wait for THR empty (LSR bit 5)
	in al, dx
	test al, 0x20
	jz .wait
	mov al, bl
	mov dx, COM1
	out dx, al
	jmp .next
.done:
	cli
	hlt
	jmp .done

msg:	db "Hello from softkvm guest (real mode)", 10, 0
