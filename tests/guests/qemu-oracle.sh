#!/bin/sh
# qemu-oracle.sh BIN EXPECTED_STATUS EXPECTED_OUTPUT_SUBSTRING
# Runs a flat guest under QEMU TCG with the same contract as `softkvm run --flat` (loaded at
# 0x10000, real mode at 1000:0000, DS = ES = SS = 0x1000, SP = 0xFFF0; COM1 on stdout;
# isa-debug-exit at 0xf4), so a guest that fails in softkvm but passes here points at the
# engine, not the guest. A tiny 64 KiB "BIOS" made with nasm does the far jump.
# QEMU keeps running after a HLT with interrupts off, so EXPECTED_STATUS 0 (HLT) is accepted
# as "timed out after printing the expected output".
set -u
if [ $# -ne 3 ]; then
	echo "usage: $0 BIN EXPECTED_STATUS EXPECTED_OUTPUT_SUBSTRING" >&2
	exit 2
fi
bin=$1 want_status=$2 want_output=$3
qemu=${QEMU:-qemu-system-x86_64}
nasm=${NASM:-nasm}
dir=$(mktemp -d) || exit 2
trap 'rm -rf "$dir"' EXIT

cat >"$dir/bios.asm" <<'ASM'
BITS 16
ORG 0
	cli
	mov ax, 0x1000
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0xfff0
	jmp 0x1000:0
times 0xfff0 - ($ - $$) db 0
	jmp 0xf000:0			; reset vector
times 0x10000 - ($ - $$) db 0
ASM
"$nasm" -f bin -o "$dir/bios.bin" "$dir/bios.asm" || exit 2

limit=60
[ "$want_status" -eq 0 ] && limit=5
timeout "$limit" "$qemu" -accel tcg -cpu max -m 64 -nodefaults -display none -monitor none \
	-no-reboot -bios "$dir/bios.bin" -serial stdio \
	-device loader,file="$bin",addr=0x10000,force-raw=on \
	-device isa-debug-exit,iobase=0xf4,iosize=4 >"$dir/out" 2>&1 </dev/null
status=$?
echo "--- qemu: $bin (status $status) ---"
cat "$dir/out"
echo "---"
if [ "$want_status" -eq 0 ] && [ "$status" -eq 124 ]; then
	status=0
fi
if [ "$status" -ne "$want_status" ]; then
	echo "FAIL: exit status $status, expected $want_status" >&2
	exit 1
fi
if ! grep -qF -- "$want_output" "$dir/out"; then
	echo "FAIL: output does not contain '$want_output'" >&2
	exit 1
fi
echo "PASS"
