#!/usr/bin/env bash
# Runs Linux's KVM selftests (built by tools/selftests/build.sh) on softkvm through the
# LD_PRELOAD shim: one line per test (PASS / FAIL / SKIP / TIMEOUT) and a total.
#
#   tools/selftests/run.sh [-t SECONDS] [-v] [-l LIST] [-f EXPECTED] [-c] [TEST...]
#
#   TEST       test names (e.g. sync_regs_test, x86_64/cpuid_test, or just cpuid_test);
#              default: every x86_64 selftest in the build
#   -t         time limit per test (default 120 s)
#   -v         print each failing test's output
#   -l LIST    write one "RESULT name seconds" line per test to LIST
#   -f FILE    run the tests FILE names, one per line ('#' comments); these must PASS, a SKIP
#              fails too unless the line says 'skip-ok' (the host may lack what it needs)
#   -c         for CTest: exit 77 (skipped) when the selftests are not built
# Environment: SOFTKVM_PRELOAD (default build/libsoftkvm-preload.so), SKVM_SELFTESTS_DIR.
# Exit status: 0 when no test failed or timed out.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
limit=120 verbose=0 list="" expected="" ctest=0
while getopts "t:vl:f:ch" o; do
  case $o in
    t) limit=$OPTARG ;;
    v) verbose=1 ;;
    l) list=$OPTARG ;;
    f) expected=$OPTARG ;;
    c) ctest=1 ;;
    *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
done
shift $((OPTIND - 1))

preload="${SOFTKVM_PRELOAD:-$root/build/libsoftkvm-preload.so}"
[ -f "$preload" ] || { echo "selftests/run.sh: $preload: no such file (build softkvm first)" >&2; exit 2; }
preload="$(cd "$(dirname "$preload")" && pwd)/$(basename "$preload")"
dir="${SKVM_SELFTESTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/softkvm/selftests}/kvm"
if [ ! -d "$dir/x86_64" ]; then
  echo "selftests/run.sh: $dir: no selftests (run tools/selftests/build.sh)" >&2
  [ $ctest -eq 1 ] && exit 77
  exit 2
fi

# Default set: every test built for x86_64 (top-level generic tests and x86_64/).
tests=("$@")
declare -A skip_ok=()
if [ -n "$expected" ]; then
  while read -r name flag _; do
    [ -z "$name" ] || [ "${name#\#}" != "$name" ] && continue
    tests+=("$name")
    [ "$flag" = skip-ok ] && skip_ok[$name]=1
  done < "$expected"
fi
if [ ${#tests[@]} -eq 0 ]; then
  while read -r f; do tests+=("${f#"$dir"/}"); done < <(find "$dir" -maxdepth 2 -type f -perm -u+x ! -name '*.sh' | sort)
fi

[ -n "$list" ] && : > "$list"
pass=0 fail=0 skip=0 t0=$(date +%s)
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for t in "${tests[@]}"; do
  exe="$dir/$t"
  [ -x "$exe" ] || exe="$dir/x86_64/$t"
  [ -x "$exe" ] || { echo "selftests/run.sh: $t: no such test" >&2; exit 2; }
  name="${exe#"$dir"/}"
  s=$(date +%s.%N)
  # ASan-built shims must not insist on coming first in the link order.
  (cd "$(dirname "$exe")" && ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$preload" \
     timeout -k 5 "$limit" "$exe") >"$log" 2>&1 </dev/null
  rc=$?
  secs=$(awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  case $rc in
    0) res=PASS; pass=$((pass + 1)) ;;
    4) res=SKIP; skip=$((skip + 1))   # KSFT_SKIP: a failure when the list expects a PASS
       if [ -n "$expected" ] && [ -z "${skip_ok[$t]:-}" ]; then res="SKIP!"; fail=$((fail + 1)); fi ;;
    124|137) res=TIMEOUT; fail=$((fail + 1)) ;;
    *) res=FAIL; fail=$((fail + 1)) ;;
  esac
  why=""
  if [ "$res" != PASS ] && [ "$res" != TIMEOUT ]; then
    why="$(grep -m1 -E 'Assertion|Requirement|failed|Illegal|error|Unhandled|unsupported|not supported' "$log" | cut -c1-110)"
    [ -n "$why" ] || why="$(tail -n1 "$log" | cut -c1-110)"
  fi
  printf '%-7s %-40s %6ss  %s\n' "$res" "$name" "$secs" "$why"
  [ -n "$list" ] && echo "$res $name $secs" >> "$list"
  if [ $verbose -eq 1 ] && [ "$res" != PASS ] && [ "$res" != SKIP ]; then sed 's/^/    | /' "$log" | tail -n 40; fi
done
echo "selftests: $pass passed, $fail failed, $skip skipped of ${#tests[@]} in $(( $(date +%s) - t0 )) s"
[ $fail -eq 0 ]
