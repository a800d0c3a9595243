; platform.asm - the PC platform devices as `softkvm run` wires them, seen from a guest:
; PCI config mechanism #1 (00:00.0 is an i440FX, 00:01.0 is empty), CMOS RTC status registers,
; i8042 self-test, the ACPI PM timer counting, the serial port's scratch register and loopback;
; then an ACPI poweroff (SLP_TYP 5 | SLP_EN on PM1a_CNT), which must end softkvm with status 0.
; Success: prints "OK platform" and powers off (status 0). Failure: "FAIL platform: <check>"
; and an isa-debug-exit write of 1 (status 3); falling through the poweroff writes 2 (status 5).

%define GUEST_NAME "platform"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"

PCI_ADDR  equ 0xcf8
PCI_DATA  equ 0xcfc
RTC_INDEX equ 0x70
RTC_DATA  equ 0x71
KBD_DATA  equ 0x60
KBD_CMD   equ 0x64
PM1_CNT   equ 0x604
PM_TMR    equ 0x608

BITS 16
ORG 0

start:
	cli
	cld

; --- PCI: 00:00.0 = 8086:1237 class 0600, 00:01.0 absent ---
	mov dx, PCI_ADDR
	mov eax, 0x80000000
	out dx, eax
	in eax, dx
	cmp eax, 0x80000000
	CHECK e, "pci address readback"
	mov dx, PCI_DATA
	in eax, dx
	cmp eax, 0x12378086
	CHECK e, "pci 00:00.0 vendor/device"
	mov dx, PCI_ADDR
	mov eax, 0x80000008
	out dx, eax
	mov dx, PCI_DATA + 2
	in ax, dx
	cmp ax, 0x0600
	CHECK e, "pci 00:00.0 class"
	mov dx, PCI_ADDR
	mov eax, 0x80000800
	out dx, eax
	mov dx, PCI_DATA
	in eax, dx
	cmp eax, 0xffffffff
	CHECK e, "pci 00:01.0 absent"

; --- RTC: status D valid, status B 24-hour BCD, seconds in BCD ---
	mov al, 0x8d			; with the NMI-mask bit
	out RTC_INDEX, al
	in al, RTC_DATA
	cmp al, 0x80
	CHECK e, "rtc status D"
	mov al, 0x0b
	out RTC_INDEX, al
	in al, RTC_DATA
	cmp al, 0x02
	CHECK e, "rtc status B"
	mov al, 0x00
	out RTC_INDEX, al
	in al, RTC_DATA
	cmp al, 0x59
	CHECK be, "rtc seconds"

; --- i8042 self-test ---
	mov al, 0xaa
	out KBD_CMD, al
	in al, KBD_CMD
	test al, 1
	CHECK nz, "i8042 output buffer full"
	in al, KBD_DATA
	cmp al, 0x55
	CHECK e, "i8042 self-test"

; --- PM timer moves ---
	mov dx, PM_TMR
	in eax, dx
	mov ebx, eax
	mov ecx, 1000000
.spin:
	in eax, dx
	cmp eax, ebx
	jne .moved
	dec ecx
	jnz .spin
.moved:
	cmp eax, ebx
	CHECK ne, "pm timer"
	mov dx, PM1_CNT
	in ax, dx
	test ax, 1
	CHECK nz, "pm1 control SCI_EN"

; --- serial: scratch register, loopback ---
	mov dx, COM1 + 7
	mov al, 0xa5
	out dx, al
	in al, dx
	cmp al, 0xa5
	CHECK e, "serial scratch"
	mov dx, COM1 + 4
	mov al, 0x10			; loopback
	out dx, al
	mov dx, COM1
	mov al, 'L'
	out dx, al
	mov dx, COM1 + 5
	in al, dx
	test al, 1
	CHECK nz, "serial loopback data ready"
	mov dx, COM1
	in al, dx
	cmp al, 'L'
	CHECK e, "serial loopback byte"
	mov dx, COM1 + 4
	mov al, 0
	out dx, al

; --- all good: say so, then power off ---
	mov si, done_msg
	call puts16
	mov dx, PM1_CNT
	mov ax, (5 << 10) | (1 << 13)
	out dx, ax
	mov al, 2
	jmp exit16

done_msg: db "OK platform", 10, 0

GUEST_LIB
