; pf64.asm - page faults in long mode: the #PF error code (P/W/U/RSVD/I bits), CR2 and the
; saved RIP/CS, retry after the handler fixes the PTE (INVLPG), CR0.WP at CPL0 and CPL3,
; U/S, NX (EFER.NXE), reserved bits (PDE bit 13 of a 2 MiB page, PTE bit MAXPHYADDR, NX bit
; with EFER.NXE = 0) and the Accessed/Dirty bits the page walk sets.
;
; Test pages: PD[5] -> page table PT_TEST; virtual TPV(i) = 10 MiB + i * 4 KiB maps physical
; TPP(i) = 4 MiB + i * 4 KiB (also reachable through the identity map). PD[6] is a 2 MiB page
; (virtual 12 MiB -> physical 6 MiB). Needs -m 9 or more (the default is 64).
; Success: prints "OK pf64" and exits 0 (status 1); failure: "FAIL pf64: <check>" (status 3).

%define GUEST_NAME "pf64"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"

BITS 16
ORG 0

PT_TEST   equ 0x23000
%define TPV(i) (0xa00000 + (i) * 0x1000)
%define TPP(i) (0x400000 + (i) * 0x1000)
BIGV      equ 0xc00000
BIGP      equ 0x600000
RSP0      equ 0x88000

P   equ 1
RW  equ 2
US  equ 4
PS  equ 0x80
A   equ 0x20
D   equ 0x40
NX  equ 1 << 63

ERR_P    equ 1
ERR_W    equ 2
ERR_U    equ 4
ERR_RSVD equ 8
ERR_I    equ 16
ERR_RSVD_P equ ERR_RSVD | ERR_P		; SDM 4.7: RSVD is set only together with P

; SETPTE i, value64: writes PTE i (clobbers rax)
%macro SETPTE 2
	mov rax, %2
	mov [PT_TEST + (%1) * 8], rax
%endmacro

; ARM addr, value64: the #PF handler will store value at addr (one shot), then INVLPG CR2
%macro ARM 2
	mov qword [rel fix_addr], %1
	mov rax, %2
	mov [rel fix_val], rax
	mov qword [rel pf_count], 0
%endmacro

; PF_EXPECT err, cr2, "name": exactly one #PF happened with this error code and CR2 (clobbers
; rax, rdx)
%macro PF_EXPECT 3
	EXPECTV64 [rel pf_count], 1, %3, ": one #PF"
	EXPECTV64 [rel pf_err], %1, %3, ": error code"
	EXPECTV64 [rel pf_cr2], %2, %3, ": cr2"
%endmacro

; PTE_AD i, bits, "name": (PTE i & (A|D)) == bits
%macro PTE_AD 3
	mov rax, [PT_TEST + (%1) * 8]
	and eax, A | D
	EXPECT eax, %2, %3
%endmacro

start:
	ENTER_LONG64

; --- IDT, TSS ---
	call idt64_unexpected
	mov edi, 14
	lea rsi, [rel pf_handler]
	mov edx, 0x8e
	call idt64_set
	mov edi, 0x80
	lea rsi, [rel user_return64]
	mov edx, 0xee
	call idt64_set
	IDT64_LOAD
	mov qword [TSS_LIN + TSS64_RSP0], RSP0
	mov ax, SEL_TSS
	ltr ax

; --- test page table: PD[5] -> PT_TEST (all entries not present), PD[6] = bad 2 MiB page ---
	mov edi, PT_TEST
	xor eax, eax
	mov ecx, 512
	rep stosq
	mov qword [PD + 5 * 8], PT_TEST | P | RW | US
	mov qword [PD + 6 * 8], BIGP | P | RW | US | PS | (1 << 13)	; bit 13: reserved
	mov rax, cr3
	mov cr3, rax

; --- 1. not-present read at CPL0: error 0, CR2, RIP of the faulting instruction ---
	mov rax, 0x1111222233334444
	mov [TPP(0) + 0x10], rax
	SETPTE 0, TPP(0) | RW | US
	ARM PT_TEST + 0 * 8, TPP(0) | P | RW | US
	mov rbx, -1
.f1:	mov rbx, [TPV(0) + 0x10]
	PF_EXPECT 0, TPV(0) + 0x10, "not-present read"
	lea rax, [rel .f1]
	EXPECT [rel pf_rip], rax, "not-present read: saved rip"
	EXPECT qword [rel pf_cs], SEL_CODE64, "not-present read: saved cs"
	EXPECT64 rbx, 0x1111222233334444, "not-present read: value after retry"
	PTE_AD 0, A, "read sets A, not D"
	mov rax, [PD + 5 * 8]
	test eax, A
	CHECK nz, "walk sets A in the PDE"

; --- 2. CR0.WP = 0: CPL0 writes to a read-only page ---
	mov rax, cr0
	test eax, CR0_WP
	CHECK z, "cr0.wp clear after entry"
	SETPTE 2, TPP(2) | P | US
	mov qword [rel pf_count], 0
	mov dword [TPV(2) + 4], 0x600dcafe
	EXPECT qword [rel pf_count], 0, "wp=0: cpl0 write to read-only page faults"
	EXPECT dword [TPP(2) + 4], 0x600dcafe, "wp=0: write lands"
	PTE_AD 2, A | D, "wp=0 write sets A and D"

; --- 3. CR0.WP = 1: CPL0 write to a read-only page: error P|W ---
	mov rax, cr0
	or eax, CR0_WP
	mov cr0, rax
	SETPTE 1, TPP(1) | P | US
	ARM PT_TEST + 1 * 8, TPP(1) | P | RW | US
	mov dword [TPV(1) + 8], 0xabcd
	PF_EXPECT ERR_P | ERR_W, TPV(1) + 8, "wp=1 write to read-only"
	EXPECT dword [TPP(1) + 8], 0xabcd, "wp=1: write lands after retry"
	PTE_AD 1, A | D, "retried write sets A and D"
	; the page written with WP = 0 above is still read-only: now it faults
	ARM PT_TEST + 2 * 8, TPP(2) | P | RW | US
	mov dword [TPV(2) + 0xffc], 1
	PF_EXPECT ERR_P | ERR_W, TPV(2) + 0xffc, "wp=1 write to page cached with wp=0"

; --- 4. CPL3 write to a read-only page: error P|W|U ---
	SETPTE 3, TPP(3) | P | US
	ARM PT_TEST + 3 * 8, TPP(3) | P | RW | US
	lea rsi, [rel user_write_ro]
	mov edx, 2
	call call_user64
	PF_EXPECT ERR_P | ERR_W | ERR_U, TPV(3) + 0x20, "cpl3 write to read-only"
	EXPECT qword [rel pf_cs], SEL_UCODE64 | 3, "cpl3 write: saved cs"
	lea rax, [rel user_write_ro.f]
	EXPECT [rel pf_rip], rax, "cpl3 write: saved rip"
	EXPECT dword [TPP(3) + 0x20], 0x77, "cpl3 write lands after retry"
	EXPECT qword [rel user_frame], RSP0 - 5 * 8, "int 0x80 from ring 3 used RSP0"

; --- 5. CPL3 read of a supervisor page: error P|U ---
	mov dword [TPP(4) + 4], 0x12345678
	SETPTE 4, TPP(4) | P | RW
	ARM PT_TEST + 4 * 8, TPP(4) | P | RW | US
	lea rsi, [rel user_read_sup]
	mov edx, 2
	call call_user64
	PF_EXPECT ERR_P | ERR_U, TPV(4) + 4, "cpl3 read of supervisor page"
	EXPECT dword [rel user_result], 0x12345678, "cpl3 read: value after retry"

; --- 6. CPL3 write to a not-present page: error W|U ---
	SETPTE 9, 0
	ARM PT_TEST + 9 * 8, TPP(9) | P | RW | US
	lea rsi, [rel user_write_np]
	mov edx, 2
	call call_user64
	PF_EXPECT ERR_W | ERR_U, TPV(9) + 0x100, "cpl3 write to not-present page"
	EXPECT word [TPP(9) + 0x100], 0x4321, "cpl3 not-present write lands after retry"

; --- 7. NX fetch (EFER.NXE = 1): error I|P at CPL0, I|P|U at CPL3 ---
	mov ecx, MSR_EFER
	rdmsr
	or eax, EFER_NXE
	wrmsr
	mov dword [TPP(5)], 0x5a5ab8	; mov eax, 0x5a5a ; ret
	mov dword [TPP(5) + 4], 0xc300
	SETPTE 5, TPP(5) | P | RW | US | NX
	ARM PT_TEST + 5 * 8, TPP(5) | P | RW | US
	xor eax, eax
	mov rbx, TPV(5)
	call rbx
	mov ebx, eax
	PF_EXPECT ERR_I | ERR_P, TPV(5), "nx fetch cpl0"
	EXPECT qword [rel pf_rip], TPV(5), "nx fetch: saved rip"
	EXPECT ebx, 0x5a5a, "nx fetch: code runs after retry"
	; reading the NX page is fine
	SETPTE 6, TPP(6) | P | RW | US | NX
	mov qword [rel pf_count], 0
	mov eax, [TPV(6)]
	EXPECT qword [rel pf_count], 0, "nx page is readable"
	; CPL3
	mov dword [TPP(10)], 0x5a5ab8
	mov dword [TPP(10) + 4], 0xc300
	SETPTE 10, TPP(10) | P | RW | US | NX
	ARM PT_TEST + 10 * 8, TPP(10) | P | RW | US
	lea rsi, [rel user_call_nx]
	mov edx, 2
	call call_user64
	PF_EXPECT ERR_I | ERR_P | ERR_U, TPV(10), "nx fetch cpl3"
	EXPECT dword [rel user_result], 0x5a5a, "nx fetch cpl3: code runs after retry"
	; not-present fetch: error I (NXE = 1)
	mov dword [TPP(7)], 0xc3
	SETPTE 7, TPP(7) | RW | US
	ARM PT_TEST + 7 * 8, TPP(7) | P | RW | US
	mov rbx, TPV(7)
	call rbx
	PF_EXPECT ERR_I, TPV(7), "not-present fetch"

; --- 8. Accessed / Dirty ---
	SETPTE 13, TPP(13) | P | RW | US
	PTE_AD 13, 0, "fresh pte: A and D clear"
	mov eax, [TPV(13)]
	PTE_AD 13, A, "read sets A only"
	mov [TPV(13) + 8], eax
	PTE_AD 13, A | D, "write after read sets D"
	; clearing A/D in memory without INVLPG: a write through the cached entry may not set them
	; again (allowed), but after INVLPG the walk sets them
	SETPTE 13, TPP(13) | P | RW | US
	invlpg [TPV(13)]
	mov byte [TPV(13) + 16], 1
	PTE_AD 13, A | D, "write after invlpg sets A and D"
	; a page-crossing write sets D on both pages
	SETPTE 14, TPP(14) | P | RW | US
	SETPTE 15, TPP(15) | P | RW | US
	mov dword [TPV(15) - 2], 0xffffffff
	PTE_AD 14, A | D, "page-crossing write: D on first page"
	PTE_AD 15, A | D, "page-crossing write: D on second page"
	; a page-crossing write whose second page is read-only faults before writing anything
	mov dword [TPP(16) - 4], 0
	SETPTE 16, TPP(16) | P | US
	ARM PT_TEST + 16 * 8, TPP(16) | P | RW | US
	mov rbx, TPV(16) - 2
	mov dword [rbx], 0x11223344
	PF_EXPECT ERR_P | ERR_W, TPV(16), "page-crossing write to read-only 2nd page"
	EXPECT dword [TPP(16) - 4], 0x33440000, "page-crossing write: lands after retry"

; --- 9. reserved bits (QEMU 7.2 TCG reports them without P: see QEMU_QUIRKS in pf_handler) ---
	mov ecx, MSR_EFER
	rdmsr
	and eax, ~EFER_NXE
	wrmsr
	; NX bit (63) while EFER.NXE = 0 is reserved
	SETPTE 12, TPP(12) | P | RW | US | NX
	ARM PT_TEST + 12 * 8, TPP(12) | P | RW | US
	mov eax, [TPV(12) + 0x30]
	PF_EXPECT ERR_RSVD_P, TPV(12) + 0x30, "nx bit with efer.nxe=0"
	; bit 13 of a 2 MiB PDE is reserved
	ARM PD + 6 * 8, BIGP | P | RW | US | PS
	mov eax, [BIGV + 0x1234]
	PF_EXPECT ERR_RSVD_P, BIGV + 0x1234, "reserved bit 13 in 2 MiB pde"
	mov rax, [PD + 6 * 8]
	and eax, A | D
	EXPECT eax, A, "2 MiB page read sets A, not D"
	mov byte [BIGV + 0x1fffff], 1
	mov rax, [PD + 6 * 8]
	and eax, A | D
	EXPECT eax, A | D, "2 MiB page write sets D"
	; bit MAXPHYADDR of a PTE is reserved (write: error RSVD|W|P)
	mov eax, 0x80000008
	cpuid
	movzx ecx, al
	cmp ecx, 52
	jae .no_maxphy
	mov rbx, TPP(11) | P | RW | US
	mov [PT_TEST + 11 * 8], rbx
	bts rbx, rcx
	mov [PT_TEST + 11 * 8], rbx
	ARM PT_TEST + 11 * 8, TPP(11) | P | RW | US
	mov dword [TPV(11) + 0x40], 3
	PF_EXPECT ERR_RSVD_P | ERR_W, TPV(11) + 0x40, "reserved bit maxphyaddr in pte"
	EXPECT dword [TPP(11) + 0x40], 3, "maxphyaddr: write lands after retry"
.no_maxphy:

	jmp pass64

; --- #PF handler: records error code, CR2, RIP, CS; applies the armed fix; retries ---
pf_handler:
	push rax
	push rbx
	mov rax, cr2
	mov [rel pf_cr2], rax
	mov rax, [rsp + 16]
%ifdef QEMU_QUIRKS
	; QEMU 7.2 TCG (target/i386/tcg/sysemu/excp_helper.c, do_fault_rsvd) pushes RSVD without
	; P; accept that as RSVD|P
	test eax, ERR_RSVD
	jz .q
	or eax, ERR_P
.q:
%endif
	mov [rel pf_err], rax
	mov rax, [rsp + 24]
	mov [rel pf_rip], rax
	mov rax, [rsp + 32]
	mov [rel pf_cs], rax
	inc qword [rel pf_count]
	cmp qword [rel pf_count], 1
	jne .again
	mov rbx, [rel fix_addr]
	test rbx, rbx
	jz .unexpected
	mov rax, [rel fix_val]
	mov [rbx], rax
	mov qword [rel fix_addr], 0
	mov rax, cr2
	invlpg [rax]
	pop rbx
	pop rax
	add rsp, 8
	iretq
.unexpected:
	lea rsi, [rel .msg1]
	jmp fail64
.again:
	lea rsi, [rel .msg2]
	jmp fail64
.msg1:	db "unexpected #PF", 0
.msg2:	db "#PF again after the fix", 0

; --- ring-3 code ---
user_write_ro:
.f:	mov dword [TPV(3) + 0x20], 0x77
	int 0x80
user_read_sup:
	mov eax, [TPV(4) + 4]
	mov [rel user_result], eax
	int 0x80
user_write_np:
	mov word [TPV(9) + 0x100], 0x4321
	int 0x80
user_call_nx:
	xor eax, eax
	mov rbx, TPV(10)
	call rbx
	mov [rel user_result], eax
	int 0x80

GUEST_LIB
IDT_LIB
GDT_TABLE

align 8
pf_count:	dq 0
pf_err:		dq 0
pf_cr2:		dq 0
pf_rip:		dq 0
pf_cs:		dq 0
fix_addr:	dq 0
fix_val:	dq 0
user_result:	dq 0
