#!/bin/sh
# compare.sh GUEST_BIN NATIVE_BIN
# Runs the native twin and `softkvm run --flat GUEST_BIN` (softkvm from $SOFTKVM, else PATH)
# and fails unless the guest's stdout equals the native stdout byte for byte and the guest's
# exit status is the native one through isa-debug-exit: (status << 1) | 1. Exits 77 (skip)
# when the native twin dies of SIGILL (built for CPU features the host lacks).
set -u
if [ $# -ne 2 ]; then
	echo "usage: $0 GUEST_BIN NATIVE_BIN" >&2
	exit 2
fi
guest=$1 native=$2
vmm=${SOFTKVM:-softkvm}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

"$native" >"$tmp/native.out"
native_status=$?
if [ "$native_status" -eq 132 ]; then	# SIGILL: built for features this host lacks
	echo "SKIP: $native died of SIGILL (an instruction this host does not have)"
	exit 77
fi
timeout 120 "$vmm" run --flat "$guest" </dev/null >"$tmp/guest.out" 2>"$tmp/guest.err"
guest_status=$?
want_status=$(( (native_status << 1) | 1 ))

echo "native: $native (status $native_status, $(wc -c <"$tmp/native.out") bytes)"
echo "guest:  $vmm run --flat $guest (status $guest_status, $(wc -c <"$tmp/guest.out") bytes)"
fail=0
if ! cmp -s "$tmp/native.out" "$tmp/guest.out"; then
	echo "FAIL: outputs differ (--- native, +++ guest):"
	diff -u --label native --label guest "$tmp/native.out" "$tmp/guest.out" | head -n 100
	cmp "$tmp/native.out" "$tmp/guest.out"
	fail=1
fi
if [ "$guest_status" -eq 124 ]; then
	echo "FAIL: guest timed out after 120 s"
	fail=1
elif [ "$guest_status" -ne "$want_status" ]; then
	echo "FAIL: guest exit status $guest_status, expected $want_status"
	fail=1
fi
if [ -s "$tmp/guest.err" ]; then
	echo "--- softkvm stderr ---"
	head -n 50 "$tmp/guest.err"
fi
if [ "$fail" -ne 0 ]; then
	exit 1
fi
echo "--- output (identical) ---"
head -n 40 "$tmp/guest.out"
echo "PASS"
