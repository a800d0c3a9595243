#!/usr/bin/env bash
# Installs every build and test dependency of softkvm from Debian (idempotent, non-interactive).
set -euo pipefail
PKGS=(build-essential cmake nasm pkg-config libzydis-dev linux-libc-dev qemu-system-x86 cpio gzip liblzma-dev rsync xz-utils bc)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
