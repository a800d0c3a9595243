; The guest of test_irqchip: flat 32-bit protected-mode code loaded at guest-physical 0 and entered
; at 0x1000 (CS 0x08, DS/SS 0x10, set by the host) with EAX = the scenario number. Every vector has
; a stub that counts it in COUNTS[vector], records it in LAST and sends the EOI that EOIK[vector]
; asks for. Scenarios report values in RES[] and end with OUT 0xe0 (vCPU 0) or OUT 0xe1 (vCPU 1);
; OUT 0x11/0x12/0x13 ask the host to act (raise or lower an interrupt line) and continue.
BITS 32
ORG 0

COUNTS  equ 0x5000      ; dword per vector
EOIK    equ 0x5400      ; byte per vector: 0 none, 1 LAPIC, 2 master PIC, 3 slave + master PIC,
                        ; 4 x2APIC (WRMSR 0x80b)
RES     equ 0x5500      ; results, dwords
LAST    equ 0x55fc      ; last vector taken
FLAGS   equ 0x5600      ; +0 AP ready, +4 AP done, +8 AP started (word), +12 AP's CS (word)
GPF     equ 0x5700      ; #GPs taken by gp_skip
IDT     equ 0x6000
APIC    equ 0xfee00000
IOAPIC  equ 0xfec00000

; wait with interrupts enabled only inside STI;HLT until COUNTS[vector] >= n
%macro WAIT_COUNT 2
%%l: cli
    cmp dword [COUNTS + %1 * 4], %2
    jae %%ok
    sti
    hlt
    jmp %%l
%%ok:
%endmacro

%macro OUTB 2
    mov al, %2
    out %1, al
%endmacro

; both PICs: master base 0x20, slave base 0x28, everything masked
%macro PIC_INIT 0
    OUTB 0x20, 0x11
    OUTB 0x21, 0x20
    OUTB 0x21, 0x04
    OUTB 0x21, 0x01
    OUTB 0xa0, 0x11
    OUTB 0xa1, 0x28
    OUTB 0xa1, 0x02
    OUTB 0xa1, 0x01
    OUTB 0x21, 0xff
    OUTB 0xa1, 0xff
%endmacro

; IDT[13] -> gp_skip: a faulting (2-byte) RDMSR/WRMSR is skipped and counted in GPF
%macro GP_SKIP_ON 0
    mov eax, gp_skip
    mov [IDT + 13 * 8], ax
    shr eax, 16
    mov [IDT + 13 * 8 + 6], ax
%endmacro

; runs %2 (RDMSR or WRMSR); if it faulted, sets bit %1 of RES[2]
%macro TRY 2
    mov dword [GPF], 0
    %2
    cmp dword [GPF], 0
    je %%ok
    or dword [RES + 8], 1 << %1
%%ok:
%endmacro
%macro MSR_R 2         ; bit, MSR: EDX:EAX = the MSR
    mov ecx, %2
    TRY %1, rdmsr
%endmacro
%macro MSR_W 4         ; bit, MSR, EDX, EAX
    mov ecx, %2
    mov edx, %3
    mov eax, %4
    TRY %1, wrmsr
%endmacro

%macro IOREG_WRITE 2   ; IOAPIC register, value
    mov dword [IOAPIC], %1
    mov dword [IOAPIC + 0x10], %2
%endmacro
%macro IOREG_READ 1    ; eax = IOAPIC register
    mov dword [IOAPIC], %1
    mov eax, [IOAPIC + 0x10]
%endmacro

    times 0x1000 - ($ - $$) db 0
entry:
    lgdt [gdt_desc]
    mov ebx, eax
    ; the IDT: vector n -> stubs + 16 n, 32-bit interrupt gates
    xor ecx, ecx
.idt:
    mov eax, ecx
    shl eax, 4
    add eax, stubs
    mov edx, eax
    and eax, 0xffff
    or eax, 0x00080000
    mov [IDT + ecx * 8], eax
    and edx, 0xffff0000
    or edx, 0x8e00
    mov [IDT + ecx * 8 + 4], edx
    inc ecx
    cmp ecx, 256
    jb .idt
    lidt [idt_desc]
    jmp [scenarios + ebx * 4]

scenarios:
    dd t_oneshot, t_periodic, t_deadline, t_ioapic, t_pic, t_pit, t_pit2, t_ipi_bsp, t_ipi_ap
    dd t_sipi_bsp, t_halt, t_wake, t_x2apic, t_x2_bsp, t_x2_ap

apic_on:
    mov dword [APIC + 0xf0], 0x1ff      ; SVR: enabled, spurious vector 0xff
    ret

done0:
    out 0xe0, al
    jmp done0

; ---- 0: LAPIC timer, one-shot ----
t_oneshot:
    call apic_on
    mov byte [EOIK + 0x40], 1
    mov dword [APIC + 0x3e0], 0xb        ; divide by 1
    mov dword [APIC + 0x320], 0x40       ; one-shot, vector 0x40
    mov dword [APIC + 0x380], 20000000   ; 20 ms
    mov eax, [APIC + 0x390]
    mov [RES + 0], eax                   ; TMCCT while counting
    WAIT_COUNT 0x40, 1
    mov eax, [APIC + 0x390]
    mov [RES + 4], eax                   ; TMCCT after expiry: 0
    mov eax, [APIC + 0x30]
    mov [RES + 8], eax                   ; version
    mov eax, [APIC + 0x20]
    mov [RES + 12], eax                  ; ID
    mov eax, [APIC + 0x120]
    mov [RES + 16], eax                  ; ISR 0x40..0x5f after the EOI
    mov ecx, 1000000
.spin:
    dec ecx
    jnz .spin
    mov eax, [COUNTS + 0x40 * 4]
    mov [RES + 20], eax                  ; still one interrupt
    mov eax, [APIC + 0xa0]
    mov [RES + 24], eax                  ; PPR
    jmp done0

; ---- 1: LAPIC timer, periodic ----
t_periodic:
    call apic_on
    mov byte [EOIK + 0x41], 1
    mov dword [APIC + 0x3e0], 0xb
    mov dword [APIC + 0x320], 0x20041    ; periodic, vector 0x41
    mov dword [APIC + 0x380], 500000     ; 0.5 ms
    WAIT_COUNT 0x41, 5
    mov dword [APIC + 0x320], 0x30041    ; masked
    mov dword [APIC + 0x380], 0          ; stopped
    mov eax, [COUNTS + 0x41 * 4]
    mov [RES + 0], eax
    jmp done0

; ---- 2: LAPIC timer, TSC-deadline ----
t_deadline:
    call apic_on
    mov byte [EOIK + 0x42], 1
    mov dword [APIC + 0x320], 0x40042    ; TSC-deadline, vector 0x42
    rdtsc
    add eax, 5000000                     ; 5 ms
    adc edx, 0
    mov ecx, 0x6e0
    wrmsr
    rdmsr
    or eax, edx
    mov [RES + 0], eax                   ; armed: nonzero
    WAIT_COUNT 0x42, 1
    mov ecx, 0x6e0
    rdmsr
    or eax, edx
    mov [RES + 4], eax                   ; fired: 0
    rdtsc
    sub eax, 1000                        ; already passed: fires at once
    sbb edx, 0
    mov ecx, 0x6e0
    wrmsr
    WAIT_COUNT 0x42, 2
    mov eax, [COUNTS + 0x42 * 4]
    mov [RES + 8], eax
    mov dword [APIC + 0x380], 1000       ; TMICT is ignored in TSC-deadline mode
    mov eax, [APIC + 0x380]
    mov [RES + 12], eax
    jmp done0

; ---- 3: IOAPIC, GSI 4 edge and GSI 5 level ----
t_ioapic:
    call apic_on
    OUTB 0x21, 0xff                      ; the PIC stays out of it
    OUTB 0xa1, 0xff
    mov byte [EOIK + 0x51], 1
    IOREG_WRITE 0x18, 0x51               ; pin 4: vector 0x51, fixed, edge, physical
    IOREG_WRITE 0x19, 0x00000000         ; destination APIC ID 0
    IOREG_READ 0x01
    mov [RES + 0], eax                   ; version
    out 0x11, al                         ; host: pulse GSI 4
    WAIT_COUNT 0x51, 1
    IOREG_WRITE 0x1a, 0x8052             ; pin 5: vector 0x52, level
    IOREG_WRITE 0x1b, 0x00000000
    out 0x12, al                         ; host: GSI 5 high
    WAIT_COUNT 0x52, 1                   ; (no EOI from the stub)
    IOREG_READ 0x1a
    mov [RES + 4], eax                   ; remote IRR set
    mov eax, [APIC + 0x1a0]
    mov [RES + 8], eax                   ; TMR 0x40..0x5f: bit 0x12
    out 0x13, al                         ; host: GSI 5 low
    mov dword [APIC + 0xb0], 0           ; EOI: broadcast to the IOAPIC
    IOREG_READ 0x1a
    mov [RES + 12], eax                  ; remote IRR clear
    mov eax, [COUNTS + 0x52 * 4]
    mov [RES + 16], eax                  ; not delivered again (line low)
    IOREG_READ 0x19
    mov [RES + 20], eax
    jmp done0

; ---- 4: the PIC pair ----
t_pic:
    PIC_INIT
    mov byte [EOIK + 0x23], 2
    mov byte [EOIK + 0x2a], 3
    OUTB 0x21, 0xf7                      ; unmask IRQ 3
    in al, 0x21
    mov [RES + 0], eax
    out 0x11, al                         ; host: pulse GSI 3
    WAIT_COUNT 0x23, 1
    OUTB 0x20, 0x0b                      ; OCW3: read ISR
    in al, 0x20
    movzx eax, al
    mov [RES + 4], eax
    OUTB 0x21, 0xf3                      ; unmask IRQ 2 (cascade) and 3
    OUTB 0xa1, 0xfb                      ; unmask IRQ 10
    out 0x12, al                         ; host: pulse GSI 10
    WAIT_COUNT 0x2a, 1
    mov eax, [LAST]
    mov [RES + 8], eax
    OUTB 0xa0, 0x0b
    in al, 0xa0
    movzx eax, al
    mov [RES + 12], eax                  ; slave ISR after the EOI
    OUTB 0x21, 0xff
    OUTB 0xa1, 0xff
    mov eax, [COUNTS + 0x23 * 4]
    mov [RES + 16], eax
    jmp done0

; ---- 5: PIT channel 0, mode 2, through the PIC ----
t_pit:
    PIC_INIT
    mov byte [EOIK + 0x20], 2
    OUTB 0x21, 0xfe                      ; unmask IRQ 0
    OUTB 0x43, 0x34                      ; channel 0, lobyte/hibyte, mode 2
    OUTB 0x40, 0x9c                      ; 11932: 10 ms
    OUTB 0x40, 0x2e
    WAIT_COUNT 0x20, 3
    OUTB 0x43, 0x00                      ; latch channel 0
    in al, 0x40
    mov bl, al
    in al, 0x40
    mov bh, al
    movzx ebx, bx
    mov [RES + 0], ebx
    OUTB 0x21, 0xff
    mov eax, [COUNTS + 0x20 * 4]
    mov [RES + 4], eax
    jmp done0

; ---- 6: PIT channel 2 gate and OUT2 through port 0x61 ----
t_pit2:
    in al, 0x61
    and al, 0xfc                         ; gate low, speaker off
    out 0x61, al
    OUTB 0x43, 0xb0                      ; channel 2, lobyte/hibyte, mode 0
    OUTB 0x42, 0xff                      ; 0xffff: 55 ms
    OUTB 0x42, 0xff
    in al, 0x61
    movzx eax, al
    mov [RES + 0], eax                   ; OUT2 low while counting
    or al, 1
    out 0x61, al                         ; gate high
    mov ecx, 100000000
.poll:
    in al, 0x61
    test al, 0x20
    jnz .high
    dec ecx
    jnz .poll
.high:
    mov [RES + 4], ecx                   ; nonzero: OUT2 rose
    movzx eax, al
    mov [RES + 8], eax
    OUTB 0x43, 0xe8                      ; read-back: status of channel 2
    in al, 0x42
    movzx eax, al
    mov [RES + 12], eax
    jmp done0

; ---- 7, 8: an IPI from vCPU 0 to vCPU 1 ----
t_ipi_bsp:
    call apic_on
.wait:
    pause
    cmp dword [FLAGS + 0], 1
    jne .wait
    mov dword [APIC + 0x310], 1 << 24    ; destination APIC ID 1
    mov dword [APIC + 0x300], 0x61       ; fixed, physical, vector 0x61
    mov eax, [APIC + 0x300]
    mov [RES + 0], eax
.done:
    pause
    cmp dword [FLAGS + 4], 1
    jne .done
    jmp done0

t_ipi_ap:
    call apic_on
    mov byte [EOIK + 0x61], 1
    mov dword [FLAGS + 0], 1
    WAIT_COUNT 0x61, 1
    mov eax, [APIC + 0x20]
    mov [RES + 32], eax                  ; the AP's APIC ID
    mov dword [FLAGS + 4], 1
.out:
    out 0xe1, al
    jmp .out

; ---- 9: INIT + SIPI start vCPU 1 at the trampoline (0x8000) ----
t_sipi_bsp:
    call apic_on
    mov dword [APIC + 0x310], 1 << 24
    mov dword [APIC + 0x300], 0x4500     ; INIT, level assert
    mov dword [APIC + 0x300], 0x4608     ; SIPI, vector 8
.wait:
    pause
    cmp word [FLAGS + 8], 0x1234
    jne .wait
    jmp done0

; ---- 10: HLT with interrupts off (the host takes the vCPU back) ----
t_halt:
    cli
    hlt
    mov dword [RES + 0], 0x600d
    jmp done0

; ---- 11: halted with IF=1 until another host thread raises GSI 4 ----
t_wake:
    call apic_on
    OUTB 0x21, 0xff
    OUTB 0xa1, 0xff
    mov byte [EOIK + 0x51], 1
    IOREG_WRITE 0x18, 0x51
    IOREG_WRITE 0x19, 0x00000000
    mov dword [FLAGS + 16], 1            ; the host's thread may raise the line now
    WAIT_COUNT 0x51, 1
    mov eax, [COUNTS + 0x51 * 4]
    mov [RES + 0], eax
    jmp done0

; ---- 12: x2APIC mode on vCPU 0: the APIC base rules, the MSRs, which accesses #GP ----
t_x2apic:
    GP_SKIP_ON
    MSR_R 0, 0x802                       ; x2APIC MSRs outside x2APIC mode: #GP
    MSR_W 1, 0x1b, 0, 0xfee00500         ; EXTD without ENABLE: #GP
    MSR_W 2, 0x1b, 0, 0xfee00d00         ; xAPIC -> x2APIC
    MSR_R 3, 0x802
    mov [RES + 0], eax                   ; x2APIC ID
    MSR_R 4, 0x80d
    mov [RES + 4], eax                   ; LDR
    MSR_W 5, 0x80f, 0, 0x1ff             ; SVR: enabled
    mov byte [EOIK + 0x70], 4
    mov byte [EOIK + 0x71], 4
    MSR_W 6, 0x83f, 0, 0x70              ; SELF_IPI, vector 0x70
    WAIT_COUNT 0x70, 1
    MSR_W 7, 0x830, 0, 0x1071            ; ICR: fixed, physical, to ID 0 (itself); busy: ignored
    WAIT_COUNT 0x71, 1
    MSR_R 8, 0x830
    mov [RES + 12], eax                  ; ICR
    mov [RES + 16], edx
    MSR_R 9, 0x80e                       ; no DFR
    MSR_R 10, 0x831                      ; no ICR2
    MSR_R 11, 0x809                      ; no ARBPRI
    MSR_R 12, 0x83f                      ; SELF_IPI is write-only
    MSR_W 13, 0x802, 0, 5                ; the ID is read-only
    MSR_W 14, 0x80d, 0, 1                ; the LDR too
    MSR_W 15, 0x803, 0, 0                ; and the version
    MSR_W 16, 0x830, 0, 0x2071           ; ICR bit 13: reserved
    MSR_W 17, 0x808, 1, 0                ; TPR bits 63:32: reserved
    MSR_W 18, 0x828, 0, 1                ; ESR: only 0
    MSR_W 19, 0x83f, 0, 0x170            ; SELF_IPI: a vector only
    MSR_W 20, 0x828, 0, 0
    mov dword [APIC + 0x80], 0x50        ; MMIO is ignored in x2APIC mode
    mov eax, [APIC + 0x30]
    mov [RES + 20], eax                  ; ... and reads all ones
    MSR_R 21, 0x808
    mov [RES + 24], eax                  ; TPR
    MSR_W 22, 0x1b, 0, 0xfee00900        ; x2APIC -> xAPIC: #GP
    MSR_W 23, 0x1b, 0, 0xfee00100        ; x2APIC -> disabled
    MSR_W 24, 0x1b, 0, 0xfee00d00        ; disabled -> x2APIC: #GP
    MSR_W 25, 0x1b, 0, 0xfee00900        ; disabled -> xAPIC
    MSR_R 26, 0x808
    mov eax, [APIC + 0x30]
    mov [RES + 28], eax                  ; MMIO again: the version
    jmp done0

; ---- 13, 14: x2APIC IPIs from vCPU 0 to vCPU 1, physical and logical (cluster) ----
x2apic_on:
    mov ecx, 0x1b
    rdmsr
    or eax, 0xc00
    wrmsr
    mov ecx, 0x80f
    mov eax, 0x1ff
    xor edx, edx
    wrmsr
    ret

t_x2_bsp:
    call x2apic_on
.wait:
    pause
    cmp dword [FLAGS + 0], 1
    jne .wait
    mov ecx, 0x830
    mov edx, 1                           ; x2APIC ID 1
    mov eax, 0x62                        ; fixed, physical
    wrmsr
    mov edx, 2                           ; cluster 0, CPU bit 1
    mov eax, 0x863                       ; fixed, logical
    wrmsr
    mov edx, 0x10002                     ; cluster 1: nobody
    mov eax, 0x864
    wrmsr
.done:
    pause
    cmp dword [FLAGS + 4], 1
    jne .done
    jmp done0

t_x2_ap:
    call x2apic_on
    mov byte [EOIK + 0x62], 4
    mov byte [EOIK + 0x63], 4
    mov ecx, 0x802
    rdmsr
    mov [RES + 32], eax                  ; x2APIC ID
    mov ecx, 0x80d
    rdmsr
    mov [RES + 36], eax                  ; LDR
    mov dword [FLAGS + 0], 1
    WAIT_COUNT 0x62, 1
    WAIT_COUNT 0x63, 1
    mov dword [FLAGS + 4], 1
.out:
    out 0xe1, al
    jmp .out

gp_skip:
    add esp, 4                           ; the error code
    add dword [esp], 2
    inc dword [GPF]
    iret

gdt:
    dq 0
    dq 0x00cf9b000000ffff                ; 0x08: flat 32-bit code
    dq 0x00cf93000000ffff                ; 0x10: flat data
gdt_desc:
    dw 23
    dd gdt
idt_desc:
    dw 256 * 8 - 1
    dd IDT

isr_common:
    push eax
    push edx
    mov eax, [esp + 8]
    lock inc dword [COUNTS + eax * 4]
    mov [LAST], eax
    movzx edx, byte [EOIK + eax]
    cmp edx, 4
    je .x2apic
    cmp edx, 1
    jne .pic
    mov dword [APIC + 0xb0], 0
    jmp .out
.pic:
    cmp edx, 2
    jb .out
    mov al, 0x20
    je .master
    out 0xa0, al
.master:
    out 0x20, al
.out:
    pop edx
    pop eax
    add esp, 4
    iret
.x2apic:
    push ecx
    mov ecx, 0x80b
    xor eax, eax
    xor edx, edx
    wrmsr
    pop ecx
    jmp .out

    align 16
stubs:
%assign i 0
%rep 256
    push dword i
    jmp near isr_common
    align 16
%assign i i + 1
%endrep

; ---- the AP's SIPI trampoline: vector 8, CS 0x0800, IP 0 ----
    times 0x8000 - ($ - $$) db 0
BITS 16
ap_start:
    mov word [FLAGS + 8], 0x1234
    mov ax, cs
    mov [FLAGS + 12], ax
.out:
    out 0xe1, al
    jmp .out
