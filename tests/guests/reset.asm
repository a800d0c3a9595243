; reset.asm - a guest reset through the i8042 (command 0xfe: pulse the reset line), after a
; write to the 0xcf9 reset register without RST_CPU (which must not reset). `softkvm run`
; (default --reboot=exit) must then end with status 0. Falling through writes 1 to
; isa-debug-exit (status 3).

%define GUEST_NAME "reset"
%include "defs.inc"
%include "lib.inc"

BITS 16
ORG 0

start:
	cli
	cld
	mov si, msg
	call puts16
	mov dx, 0xcf9
	mov al, 0x02			; SYS_RST alone: no reset yet
	out dx, al
	mov al, 0xfe
	out 0x64, al
	mov al, 1
	jmp exit16

msg:	db "resetting", 10, 0

GUEST_LIB
