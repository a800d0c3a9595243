#!/bin/sh
# check-cli.sh EXPECTED_STATUS STREAM EXPECTED_SUBSTRING COMMAND [ARGS...]
# Runs COMMAND with a 60 s timeout and fails unless it exits with EXPECTED_STATUS and the
# substring (case-insensitive) appears on STREAM: out (stdout), err (stderr) or any.
set -u
if [ $# -lt 4 ]; then
	echo "usage: $0 EXPECTED_STATUS out|err|any EXPECTED_SUBSTRING COMMAND [ARGS...]" >&2
	exit 2
fi
want_status=$1 stream=$2 want=$3
shift 3
dir=$(mktemp -d) || exit 2
trap 'rm -rf "$dir"' EXIT

timeout 60 "$@" >"$dir/out" 2>"$dir/err"
status=$?
echo "--- $* (status $status) ---"
echo "stdout:"; cat "$dir/out"
echo "stderr:"; cat "$dir/err"
echo "---"
case $stream in
out) files="$dir/out" ;;
err) files="$dir/err" ;;
any) files="$dir/out $dir/err" ;;
*) echo "check-cli.sh: bad stream '$stream'" >&2; exit 2 ;;
esac
if [ "$status" -ne "$want_status" ]; then
	echo "FAIL: exit status $status, expected $want_status" >&2
	exit 1
fi
# shellcheck disable=SC2086
if ! cat $files | grep -qiF -- "$want"; then
	echo "FAIL: $stream does not contain '$want'" >&2
	exit 1
fi
echo "PASS"
