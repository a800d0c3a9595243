#!/usr/bin/env bash
# Builds the default guest from Debian packages: the stock linux-image-6.1 kernel (bzImage) and an
# initramfs with busybox-static, a short /init and the virtio modules.
#
#   tools/make-guest.sh [OUTDIR]     (default: $SKVM_GUEST_DIR or ~/.cache/softkvm/guest)
#
# Prints nothing but the output folder on stdout; the result is cached (rebuilt only when a
# package version or this script changes). Output: OUTDIR/bzImage, OUTDIR/initramfs.cpio.gz.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-${SKVM_GUEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/softkvm/guest}}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

need() { command -v "$1" >/dev/null || { echo "make-guest.sh: '$1' is missing (run tools/setup.sh)" >&2; exit 1; }; }
need apt-get; need dpkg-deb; need cpio; need gzip

# The versioned kernel package behind Debian's linux-image-amd64 metapackage (6.1 in bookworm).
if ! apt-cache show busybox-static >/dev/null 2>&1; then   # empty package lists: fetch them
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
fi
kpkg="$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-6\.1[^ ]*-amd64\)$/\1/p' | head -n1)"
if [ -z "$kpkg" ]; then
  kpkg="$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -n1)"
fi
[ -n "$kpkg" ] || { echo "make-guest.sh: no linux-image-6.1.*-amd64 package found (apt-get update?)" >&2; exit 1; }
kver="$(apt-cache policy "$kpkg" | sed -n 's/^ *Candidate: //p')"
bver="$(apt-cache policy busybox-static | sed -n 's/^ *Candidate: //p')"
stamp="$kpkg $kver busybox-static $bver $(sha256sum "$0" | cut -c1-16)"
if [ -f "$out/bzImage" ] && [ -f "$out/initramfs.cpio.gz" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "$out"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(
  cd "$work"
  # apt-get download runs as the _apt user when root: the folder must be writable by it
  chmod 777 "$work"
  apt-get download -q "$kpkg" busybox-static >&2
  dpkg-deb -x "$(ls "$kpkg"_*.deb)" kernel
  dpkg-deb -x "$(ls busybox-static_*.deb)" busybox
)
kdir="$(ls -d "$work"/kernel/lib/modules/* | head -n1)"
krel="$(basename "$kdir")"

root="$work/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,root,usr/bin,usr/sbin,lib/modules/"$krel"}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list-full); do
  [ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done
# virtio modules for later devices (block, net, console, PCI transport), with their dependencies
for m in virtio virtio_ring virtio_pci virtio_pci_modern_dev virtio_pci_legacy_dev virtio_blk \
         virtio_net net_failover failover virtio_console; do
  f="$(find "$kdir" -name "$m.ko*" | head -n1)"
  [ -n "$f" ] && cp "$f" "$root/lib/modules/$krel/"
done
cp "$here/guest-init.sh" "$root/init"
chmod 755 "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9) > "$out/initramfs.cpio.gz.tmp"
cp "$work/kernel/boot/vmlinuz-$krel" "$out/bzImage.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
mv "$out/bzImage.tmp" "$out/bzImage"
echo "$stamp" > "$out/stamp"
echo "$out"
