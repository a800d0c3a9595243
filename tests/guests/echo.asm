; echo.asm - the serial receive path: echoes what arrives on COM1 (polling LSR.DR) until a 'q',
; then halts (status 0). `printf 'abc q' | softkvm run --flat echo.bin` prints "abc ".

BITS 16
ORG 0

COM1     equ 0x3f8
COM1_LSR equ COM1 + 5

start:
	cli
	; no FCR write: switching the FIFO on would empty it, losing what already arrived
.wait:
	mov dx, COM1_LSR
	in al, dx
	test al, 0x01
	jz .wait
	mov dx, COM1
	in al, dx
	cmp al, 'q'
	je .done
	out dx, al
	jmp .wait
.done:
	hlt
	jmp .done
