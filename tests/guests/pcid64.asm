; pcid64.asm - PCID and INVPCID in long mode: CPUID bits; CR4.PCIDE only with CR3[11:0] = 0
; (#GP otherwise); CR3[11:0] as the PCID; MOV to CR3 with bit 63 (no flush) does not store bit
; 63, and #GPs while PCIDE = 0; clearing PCIDE keeps CR3. INVPCID types 0..3 each
; drop a stale translation (a 2 MiB page remapped without INVLPG); #GP(0) for type 4, for
; descriptor bits 63:12, for a non-canonical address (type 0), for a PCID with PCIDE = 0 (types
; 0, 1), and at CPL 3; a MOV to CR3 without bit 63 drops it too.
; Success: prints "OK pcid64" and exits 0 (status 1).

%define GUEST_NAME "pcid64"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"
%include "trap.inc"

BITS 16
ORG 0

RSP0   equ 0x88000
VA     equ 0xa00000			; PD[5]: 10 MiB
MARK   equ 0x5000			; marker offset in the 2 MiB page
CR4_PCIDE equ 1 << 17

; REMAP phys: PD[5] -> phys (2 MiB page), no TLB invalidation; stores markers first
%macro REMAP 1
	mov qword [PD + 5 * 8], (%1) | 0x87
%endmacro

start:
	ENTER_LONG64
	TRAP64_INSTALL
	mov edi, 0x80
	lea rsi, [rel user_return64]
	mov edx, 0xee
	call idt64_set
	IDT64_LOAD
	mov qword [TSS_LIN + TSS64_RSP0], RSP0
	mov ax, SEL_TSS
	ltr ax

; --- CPUID ---
	mov eax, 1
	cpuid
	bt ecx, 17
	CHECK c, "cpuid.1:ecx pcid"
	mov eax, 7
	xor ecx, ecx
	cpuid
	bt ebx, 10
	CHECK c, "cpuid.7:ebx invpcid"

; --- markers: phys 0x005000 = 0x1111, phys 0x205000 = 0x2222 ---
	mov qword [MARK], 0x1111
	mov qword [0x200000 + MARK], 0x2222

; --- PCIDE = 0: bit 63 of CR3 is reserved; PCIDE needs CR3[11:0] = 0 ---
	mov rax, PML4 | (1 << 63)
	TRY .r1
	mov cr3, rax
.r1:	CAUGHT 13, 0, "mov cr3 bit 63 with pcide=0"
	mov rax, PML4 | 0x5
	mov cr3, rax
	mov rax, cr4
	or eax, CR4_PCIDE
	TRY .r2
	mov cr4, rax
.r2:	CAUGHT 13, 0, "set pcide with cr3[11:0] != 0"
	mov rax, cr4
	bt eax, 17
	CHECK nc, "pcide still clear"

; --- INVPCID with PCIDE = 0: PCID must be 0 for types 0 and 1 ---
	mov qword [rel desc], 1
	mov qword [rel desc + 8], VA
	xor eax, eax
	TRY .r3
	invpcid rax, [rel desc]
.r3:	CAUGHT 13, 0, "invpcid type 0, pcid 1, pcide=0"
	mov eax, 1
	TRY .r4
	invpcid rax, [rel desc]
.r4:	CAUGHT 13, 0, "invpcid type 1, pcid 1, pcide=0"
	mov eax, 2			; type 2 ignores the PCID
	invpcid rax, [rel desc]

; --- enable PCIDE ---
	mov eax, PML4
	mov cr3, rax
	mov rax, cr4
	or eax, CR4_PCIDE
	mov cr4, rax
	mov rax, cr4
	bt eax, 17
	CHECK c, "pcide set"

; --- CR3: PCID in bits 11:0, bit 63 not stored ---
	mov rax, PML4 | 7 | (1 << 63)
	mov cr3, rax
	mov rax, cr3
	EXPECTV64 rax, PML4 | 7, "cr3 after a no-flush write"
	mov rax, PML4 | 7
	mov cr3, rax
	mov rax, cr3
	EXPECTV64 rax, PML4 | 7, "cr3 pcid 7"
	mov rax, PML4 | 7 | (1 << 63)	; same value, no flush: translations still right
	mov cr3, rax
	EXPECTV64 [MARK], 0x1111, "identity map after a no-flush write"
	REMAP 0
	mov rax, PML4 | 7
	mov cr3, rax
	EXPECTV64 [VA + MARK], 0x1111, "va -> phys 0 after a flushing cr3 write"

; --- INVPCID: each type drops the stale translation of VA ---
	mov qword [rel desc], 7
	mov qword [rel desc + 8], VA + MARK
%assign t 0
%rep 4
	REMAP 0
	mov rax, [VA + MARK]		; cache the translation
	REMAP 0x200000
	mov eax, t
	invpcid rax, [rel desc]
	EXPECTV64 [VA + MARK], 0x2222, "va -> new page after invpcid type ", %eval(t) + '0'
%assign t t + 1
%endrep
	REMAP 0
	mov rax, [VA + MARK]
	REMAP 0x200000
	mov rax, PML4 | 7
	mov cr3, rax
	EXPECTV64 [VA + MARK], 0x2222, "va -> new page after mov cr3 (no bit 63)"

; --- INVPCID faults ---
	mov eax, 4
	TRY .r5
	invpcid rax, [rel desc]
.r5:	CAUGHT 13, 0, "invpcid type 4"
	mov qword [rel desc], 0x1007
	mov eax, 1
	TRY .r6
	invpcid rax, [rel desc]
.r6:	CAUGHT 13, 0, "invpcid descriptor bits 63:12"
	mov qword [rel desc], 7
	mov rax, 0x0000800000000000
	mov [rel desc + 8], rax
	xor eax, eax
	TRY .r7
	invpcid rax, [rel desc]
.r7:	CAUGHT 13, 0, "invpcid type 0, non-canonical address"
	mov eax, 1			; the address does not matter for type 1
	invpcid rax, [rel desc]

; --- CPL 3 ---
	lea rsi, [rel user]
	mov edx, 2
	call call_user64
	CAUGHT 13, 0, "invpcid at cpl 3"

; --- clearing PCIDE (allowed with any CR3) ---
	mov rax, cr4
	and eax, ~CR4_PCIDE
	mov cr4, rax
	mov rax, cr3
	EXPECTV64 rax, PML4 | 7, "cr3 keeps its low bits after clearing pcide"
	mov eax, PML4
	mov cr3, rax
	jmp pass64

user:
	mov eax, 2
	TRY .r
	invpcid rax, [rel desc]
.r:	int 0x80

align 16
desc:	dq 0, 0

GUEST_LIB
IDT_LIB
TRAP_LIB
GDT_TABLE
