#!/usr/bin/env bash
# Fetches Linux 6.1's KVM selftests from Debian's linux-source-6.1 package and builds them,
# unmodified, into a cache outside git.
#
#   tools/selftests/build.sh [OUTDIR]   (default: $SKVM_SELFTESTS_DIR or ~/.cache/softkvm/selftests)
#
# Prints only the folder holding the built tests on stdout (OUTDIR/kvm, laid out as in the kernel
# tree: top-level tests and x86_64/). Cached: rebuilt only when the package version or this
# script changes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-${SKVM_SELFTESTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/softkvm/selftests}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
for tool in rsync make gcc xz bc; do
  if ! command -v "$tool" >/dev/null; then
    echo "selftests/build.sh: installing rsync make gcc xz-utils bc" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq >&2
    $SUDO apt-get install -y -qq --no-install-recommends rsync make gcc xz-utils bc >&2
    break
  fi
done
if ! apt-cache show linux-source-6.1 >/dev/null 2>&1; then   # empty package lists: fetch them
  $SUDO apt-get update -qq >&2
fi
ver="$(apt-cache policy linux-source-6.1 | sed -n 's/^ *Candidate: //p')"
[ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "selftests/build.sh: package linux-source-6.1 not found" >&2; exit 1; }
stamp="linux-source-6.1 $ver $(cat "$0" "$here/compat.h" | sha256sum | cut -c1-16)"
if [ -x "$out/kvm/x86_64/sync_regs_test" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$out/kvm"
  exit 0
fi

src="$out/src"
if [ ! -d "$src/linux/tools/testing/selftests/kvm" ] || [ "$(cat "$out/src.stamp" 2>/dev/null)" != "$ver" ]; then
  rm -rf "$src" && mkdir -p "$src"
  chmod 777 "$src"   # apt-get download runs as the _apt user when root
  (cd "$src" && apt-get download -q linux-source-6.1 >&2)
  dpkg-deb -x "$src"/linux-source-6.1_*.deb "$src/pkg"
  tarball="$(ls "$src"/pkg/usr/src/linux-source-6.1.tar.* | head -n1)"
  # only what the selftests need: top-level build files, headers, arch/x86, scripts, tools
  mkdir -p "$src/linux"
  tar -xf "$tarball" -C "$src/linux" --strip-components=1 \
    --wildcards '*/Makefile' '*/Kbuild' '*/Kconfig*' '*/include/*' '*/arch/x86/*' '*/scripts/*' \
    '*/tools/*' >&2
  rm -rf "$src/pkg" "$src"/linux-source-6.1_*.deb
  echo "$ver" > "$out/src.stamp"
fi
linux="$src/linux"
jobs="$(nproc)"
make -C "$linux" -s headers_install INSTALL_HDR_PATH="$linux/usr" >&2
make -C "$linux/tools/testing/selftests/kvm" -s -j"$jobs" EXTRA_CFLAGS="-include $here/compat.h" >&2

rm -rf "$out/kvm"
mkdir -p "$out/kvm/x86_64"
kdir="$linux/tools/testing/selftests/kvm"
# executables only (the build leaves objects and the library beside them)
find "$kdir" -maxdepth 1 -type f -perm -u+x -exec cp {} "$out/kvm/" \;
find "$kdir/x86_64" -maxdepth 1 -type f -perm -u+x -exec cp {} "$out/kvm/x86_64/" \;
echo "$stamp" > "$out/stamp"
echo "$out/kvm"
