#!/usr/bin/env bash
# README line 1: installs the dependencies, builds softkvm, builds the default guest (stock Debian
# kernel + busybox initramfs, tools/make-guest.sh) and boots it to a busybox shell on this
# terminal. 'poweroff' in the guest (or Ctrl-A x) ends it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
tools/build.sh
guest="$(tools/make-guest.sh)"
exec build/softkvm run --kernel "$guest/bzImage" --initrd "$guest/initramfs.cpio.gz" \
	--append "console=ttyS0" -m 512
