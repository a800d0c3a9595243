#!/bin/bash
# bench/boot.sh [RUNS]: boots the default guest (tools/make-guest.sh: stock Debian kernel,
# busybox initramfs whose /init powers off at once) with softkvm and with QEMU's TCG
# (qemu-system-x86_64 -accel tcg), alternated, RUNS times each (default 3); prints every run,
# each median and the ratio softkvm/QEMU. Build first (tools/build.sh); softkvm is build/softkvm.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs=${1:-3}
softkvm="${SOFTKVM:-$root/build/softkvm}"
[ -x "$softkvm" ] || { echo "bench/boot.sh: $softkvm is missing (run tools/build.sh)" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || { echo "bench/boot.sh: qemu-system-x86_64 is missing (run tools/setup.sh)" >&2; exit 1; }
guest="$("$root/tools/make-guest.sh")"
append="console=ttyS0 softkvm.test"
mem=256

run_one() {   # prints the seconds from start to exit; fails unless the guest printed its marker
	local log start end
	log="$(mktemp)"
	start=$EPOCHREALTIME
	case $1 in
	softkvm) timeout 600 "$softkvm" run --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio.gz" \
			--append "$append" -m $mem </dev/null >"$log" 2>&1 || true ;;
	qemu) timeout 600 qemu-system-x86_64 -accel tcg -kernel "$guest/bzImage" \
			-initrd "$guest/initramfs.cpio.gz" -append "$append" -m $mem -nographic \
			-no-reboot </dev/null >"$log" 2>&1 || true ;;
	esac
	end=$EPOCHREALTIME
	if ! grep -q SOFTKVM-BOOT-OK "$log"; then
		echo "bench/boot.sh: $1 did not boot; last lines:" >&2
		tail -n 15 "$log" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
	echo "$start $end" | awk '{printf "%.3f\n", $2 - $1}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

s_times=() q_times=()
for i in $(seq 1 "$runs"); do
	t=$(run_one softkvm); s_times+=("$t"); echo "run $i: softkvm $t s"
	t=$(run_one qemu); q_times+=("$t"); echo "run $i: qemu-tcg $t s"
done
s_med=$(printf '%s\n' "${s_times[@]}" | median)
q_med=$(printf '%s\n' "${q_times[@]}" | median)
echo "boot to /init + poweroff, median of $runs: softkvm $s_med s, qemu-tcg $q_med s"
echo "ratio softkvm/qemu-tcg: $(echo "$s_med $q_med" | awk '{printf "%.2f", $1 / $2}')"
