; xsave64.asm - XSAVEC, XSAVES, XRSTORS and the compacted format, IA32_XSS, XGETBV ECX=1.
; CPUID.(0DH,1): XSAVEOPT/XSAVEC/XGETBV1/XSAVES, EBX = 576, no XSS bits; IA32_XSS reads 0,
; takes 0 and #GPs for any other bit; XSAVEC/XSAVES write XSTATE_BV = RFBM, XCOMP_BV = RFBM | bit
; 63 and leave the rest of the header and components outside RFBM alone; XRSTOR of a compacted
; image (XSTATE_BV[1] = 0 initializes XMM and sets MXCSR to 1F80H); #GP(0) for XCOMP_BV outside
; XCR0, XSTATE_BV outside XCOMP_BV, header bytes 63:16, XRSTORS of a standard image, and
; XSAVES/XRSTORS at CPL 3 (XSAVEC works there).
; Success: prints "OK xsave64" and exits 0 (status 1).

%define GUEST_NAME "xsave64"
%include "defs.inc"
%include "check.inc"
%include "lib.inc"
%include "gdt.inc"
%include "entry.inc"
%include "idt.inc"
%include "trap.inc"

BITS 16
ORG 0

RSP0     equ 0x88000
AREA     equ 0x40000			; 64-byte aligned XSAVE area (576 bytes)
MSR_XSS  equ 0xda0
HDR      equ AREA + 512

; FILL byte: the whole area
%macro FILL 1
	lea rdi, [AREA]
	mov ecx, 576
	mov al, %1
	rep stosb
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

; --- CPUID.(0DH,1) ---
	mov eax, 0xd
	mov ecx, 1
	cpuid
	and eax, 0xf
	EXPECT eax, 0xf, "cpuid.(0dh,1):eax xsaveopt xsavec xgetbv1 xsaves"
	EXPECT ebx, 576, "cpuid.(0dh,1):ebx size"
	EXPECT ecx, 0, "cpuid.(0dh,1):ecx xss bits"
	EXPECT edx, 0, "cpuid.(0dh,1):edx xss bits"

; --- IA32_XSS ---
	mov ecx, MSR_XSS
	rdmsr
	EXPECT eax, 0, "xss reads 0"
	xor eax, eax
	xor edx, edx
	wrmsr
	mov eax, 1 << 8
	TRY .x1
	wrmsr
.x1:	CAUGHT 13, 0, "xss bit 8"
	xor eax, eax
	mov edx, 1
	TRY .x2
	wrmsr
.x2:	CAUGHT 13, 0, "xss bit 32"

; --- enable x87 | SSE in XCR0 ---
	mov rax, cr4
	or eax, (1 << 18) | (1 << 9)	; OSXSAVE, OSFXSR
	mov cr4, rax
	xor ecx, ecx
	xor edx, edx
	mov eax, 3
	xsetbv
	mov ecx, 1
	xgetbv
	EXPECT eax, 3, "xgetbv ecx=1"
	EXPECT edx, 0, "xgetbv ecx=1 high"

; --- XSAVEC, RFBM = x87 | SSE ---
	mov rax, 0x1122334455667788
	movq xmm0, rax
	FILL 0xaa
	mov eax, 3
	xor edx, edx
	xsavec [AREA]
	EXPECTV64 [HDR], 3, "xsavec: xstate_bv"
	EXPECTV64 [HDR + 8], 0x8000000000000003, "xsavec: xcomp_bv"
	EXPECTV64 [HDR + 16], 0xaaaaaaaaaaaaaaaa, "xsavec: header bytes 16+ untouched"
	EXPECTV64 [HDR + 56], 0xaaaaaaaaaaaaaaaa, "xsavec: header bytes 56+ untouched"
	EXPECTV64 [AREA + 160], 0x1122334455667788, "xsavec: xmm0"
	EXPECTV64 [AREA + 0], 0x37f, "xsavec: fcw (and fsw, ftw, fop)"
	EXPECT dword [AREA + 24], 0x1f80, "xsavec: mxcsr"

; --- XSAVEC, RFBM = SSE only (EDX:EAX = -1 & ~1 masked by XCR0) ---
	FILL 0xaa
	mov eax, 0xfffffffe
	mov edx, 0xffffffff
	xsavec [AREA]
	EXPECTV64 [HDR], 2, "xsavec sse: xstate_bv"
	EXPECTV64 [HDR + 8], 0x8000000000000002, "xsavec sse: xcomp_bv"
	EXPECTV64 [AREA + 0], 0xaaaaaaaaaaaaaaaa, "xsavec sse: x87 area untouched"
	EXPECTV64 [AREA + 160], 0x1122334455667788, "xsavec sse: xmm0"

; --- XRSTOR of a compacted image (header bytes 63:16 must be zero: XSAVEC leaves them) ---
	FILL 0
	mov eax, 3
	xor edx, edx
	xsavec [AREA]
	mov rax, 0x0102030405060708
	mov [AREA + 160], rax
	mov dword [AREA + 24], 0x1fc0
	pxor xmm0, xmm0
	mov eax, 3
	xor edx, edx
	xrstor [AREA]
	movq rax, xmm0
	EXPECTV64 rax, 0x0102030405060708, "xrstor compacted: xmm0 loaded"
	stmxcsr [rel mx]
	EXPECT dword [rel mx], 0x1fc0, "xrstor compacted: mxcsr loaded"
	mov qword [HDR], 1		; SSE in its initial configuration
	mov dword [AREA + 24], 0x1fa0
	mov eax, 3
	xor edx, edx
	xrstor [AREA]
	movq rax, xmm0
	EXPECTV64 rax, 0, "xrstor compacted, xstate_bv[1]=0: xmm0 zero"
	stmxcsr [rel mx]
	EXPECT dword [rel mx], 0x1f80, "xrstor compacted, xstate_bv[1]=0: mxcsr 1f80"

; --- compacted-form #GP(0) checks ---
	mov eax, 3
	xor edx, edx
	xsavec [AREA]
	mov rax, 0x8000000000000007	; XCOMP_BV bit 2 (AVX) not in XCR0
	mov [HDR + 8], rax
	mov eax, 3
	xor edx, edx
	TRY .g1
	xrstor [AREA]
.g1:	CAUGHT 13, 0, "xrstor: xcomp_bv outside xcr0"
	mov rax, 0x8000000000000001	; XSTATE_BV bit 1 not in XCOMP_BV
	mov [HDR + 8], rax
	mov qword [HDR], 3
	mov eax, 3
	xor edx, edx
	TRY .g2
	xrstor [AREA]
.g2:	CAUGHT 13, 0, "xrstor: xstate_bv outside xcomp_bv"
	mov rax, 0x8000000000000003
	mov [HDR + 8], rax
	mov byte [HDR + 40], 1
	mov eax, 3
	xor edx, edx
	TRY .g3
	xrstor [AREA]
.g3:	CAUGHT 13, 0, "xrstor: compacted header bytes 63:16"
	mov byte [HDR + 40], 0
	mov eax, 3
	xor edx, edx
	xrstor [AREA]

; --- XSAVES / XRSTORS at CPL 0 ---
	mov rax, 0x5555666677778888
	movq xmm0, rax
	FILL 0
	mov eax, 3
	xor edx, edx
	xsaves [AREA]
	EXPECTV64 [HDR], 3, "xsaves: xstate_bv"
	EXPECTV64 [HDR + 8], 0x8000000000000003, "xsaves: xcomp_bv"
	EXPECTV64 [AREA + 160], 0x5555666677778888, "xsaves: xmm0"
	pxor xmm0, xmm0
	mov eax, 3
	xor edx, edx
	xrstors [AREA]
	movq rax, xmm0
	EXPECTV64 rax, 0x5555666677778888, "xrstors: xmm0"
	FILL 0
	mov eax, 3
	xor edx, edx
	xsave [AREA]			; standard format
	TRY .g4
	xrstors [AREA]
.g4:	CAUGHT 13, 0, "xrstors of a standard image"

; --- CPL 3 ---
	lea rsi, [rel user]
	mov edx, 2
	call call_user64
	EXPECT qword [rel u_vec1], 13, "xsaves at cpl 3: #GP"
	EXPECT qword [rel u_vec2], 13, "xrstors at cpl 3: #GP"
	EXPECTV64 [HDR + 8], 0x8000000000000003, "xsavec at cpl 3"
	jmp pass64

user:
	mov eax, 3
	xor edx, edx
	TRY .u1
	xsaves [AREA]
.u1:	mov rax, [rel t_vec]
	mov [rel u_vec1], rax
	mov eax, 3
	xor edx, edx
	TRY .u2
	xrstors [AREA]
.u2:	mov rax, [rel t_vec]
	mov [rel u_vec2], rax
	mov qword [HDR + 8], 0
	mov eax, 3
	xor edx, edx
	xsavec [AREA]
	int 0x80

align 8
mx:	dq 0
u_vec1:	dq 0
u_vec2:	dq 0

GUEST_LIB
IDT_LIB
TRAP_LIB
GDT_TABLE
