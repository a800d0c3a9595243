#!/bin/sh
# check-guest.sh BIN EXPECTED_STATUS EXPECTED_OUTPUT_SUBSTRING
# Runs `softkvm run --flat BIN` (softkvm from $SOFTKVM, else PATH) with a 60 s timeout and
# fails unless it exits with EXPECTED_STATUS and its output contains the substring.
set -u
if [ $# -ne 3 ]; then
	echo "usage: $0 BIN EXPECTED_STATUS EXPECTED_OUTPUT_SUBSTRING" >&2
	exit 2
fi
bin=$1 want_status=$2 want_output=$3
vmm=${SOFTKVM:-softkvm}
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT

timeout 60 "$vmm" run --flat "$bin" >"$out" 2>&1
status=$?
echo "--- $vmm run --flat $bin (status $status) ---"
cat "$out"
echo "---"
if [ "$status" -eq 124 ]; then
	echo "FAIL: timed out after 60 s" >&2
	exit 1
fi
if [ "$status" -ne "$want_status" ]; then
	echo "FAIL: exit status $status, expected $want_status" >&2
	exit 1
fi
if ! grep -qF -- "$want_output" "$out"; then
	echo "FAIL: output does not contain '$want_output'" >&2
	exit 1
fi
echo "PASS"
