#!/bin/bash
# boot-test.sh SOFTKVM [NCPUS]: boots the default guest (tools/make-guest.sh) with --smp NCPUS
# (default 1) and "softkvm.test" on the command line; its /init prints a marker and powers off.
# Passes when the marker appears, softkvm exits with status 0, and the kernel log has no oops,
# panic, BUG or WARNING.
# The marker must report NCPUS CPUs. Exits 77 (CTest: skipped) only when the guest image cannot
# be built.
set -u
softkvm=$1
smp=${2:-1}
root="$(cd "$(dirname "$0")/../.." && pwd)"
guest="$("$root/tools/make-guest.sh")" || { echo "SKIP: the guest image could not be built"; exit 77; }
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
start=$EPOCHREALTIME
timeout 600 "$softkvm" run --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio.gz" \
	--append "console=ttyS0 softkvm.test" -m 256 --smp "$smp" </dev/null >"$log" 2>&1
status=$?
end=$EPOCHREALTIME
cat "$log"
echo "--- softkvm exited with status $status after $(echo "$start $end" | awk '{printf "%.1f", $2-$1}') s"
fail=0
grep -q "SOFTKVM-BOOT-OK" "$log" || { echo "FAIL: no boot marker from the guest's /init"; fail=1; }
grep -q "SOFTKVM-BOOT-OK.* cpus=$smp\b" "$log" || { echo "FAIL: the guest did not report $smp CPU(s)"; fail=1; }
[ "$status" -eq 0 ] || { echo "FAIL: exit status $status, expected 0 (poweroff)"; fail=1; }
if grep -E "Oops|Kernel panic|BUG:|WARNING:|Call Trace|lost interrupt|timer doesn't work|MP-BIOS bug|Marking TSC unstable" "$log"; then
	echo "FAIL: the kernel log shows a problem (lines above)"
	fail=1
fi
[ $fail -eq 0 ] && echo "PASS: booted to /init and powered off"
exit $fail
