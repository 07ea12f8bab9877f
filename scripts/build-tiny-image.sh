#!/usr/bin/env bash
# Builds the built-in guest image `tiny`: Debian's cloud kernel plus a busybox initramfs whose /init
# (scripts/guest/) prints `cps-guest: up` and a tick a second on ttyS0 and gives a shell on tty1.
#
#   scripts/build-tiny-image.sh [--force]
#
# Output: $CPS_DATA_DIR/images/tiny/{vmlinuz,initrd.img,image.json}. Skips when the output is newer
# than this script and scripts/guest/. The kernel .deb is cached in $CPS_DATA_DIR/cache/kernel.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
guest="$here/guest"
data="${CPS_DATA_DIR:-/var/lib/cps}"
out="$data/images/tiny"
cache="$data/cache/kernel"
force=0
[[ "${1:-}" == "--force" ]] && force=1

say() { echo "build-tiny-image: $*"; }
die() { echo "build-tiny-image: error: $*" >&2; exit 1; }

if [[ $force == 0 && -s "$out/image.json" && -s "$out/vmlinuz" && -s "$out/initrd.img" ]] &&
   [[ -z "$(find "${BASH_SOURCE[0]}" "$guest" -newer "$out/image.json" -print -quit)" ]]; then
  say "tiny image up to date ($out)"
  exit 0
fi

busybox --list 2>/dev/null | grep -x depmod >/dev/null || die "busybox-static is missing (run scripts/setup.sh)"
for tool in cpio gzip dpkg-deb apt-get sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing (run scripts/setup.sh)"
done

# The exact kernel package the meta-package points at: a glob would download every version.
kernel_pkg() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
pkg=$(kernel_pkg)
if [[ -z "$pkg" ]]; then
  say "apt lists lack linux-image-cloud-amd64; running apt-get update"
  apt-get update -qq >/dev/null
  pkg=$(kernel_pkg)
fi

mkdir -p "$cache"
deb=""
if [[ -n "$pkg" ]]; then
  deb=$(ls -t "$cache/${pkg}_"*.deb 2>/dev/null | head -n1 || true)
  if [[ -z "$deb" ]]; then
    say "downloading $pkg"
    # As root apt would drop to _apt, who cannot write our cache; the download is verified by apt all the same.
    (cd "$cache" && apt-get download -qq -o APT::Sandbox::User=root "$pkg" >/dev/null)
    deb=$(ls -t "$cache/${pkg}_"*.deb | head -n1)
    # Keep only the kernel in use: each one is 26 MB.
    find "$cache" -maxdepth 1 -name 'linux-image-*.deb' ! -name "${pkg}_*" -delete
  fi
else
  deb=$(ls -t "$cache"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | head -n1 || true)
  [[ -n "$deb" ]] || die "cannot resolve the kernel package behind linux-image-cloud-amd64 and none is cached"
  say "using cached $(basename "$deb")"
fi

work=$(mktemp -d /tmp/cps-tiny.XXXXXX)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/kernel"
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-* | head -n1)
kver=${vmlinuz##*/vmlinuz-}
moddir="$work/kernel/lib/modules/$kver"
[[ -d "$moddir" ]] || die "no modules for $kver in $(basename "$deb")"

# --- initramfs tree --------------------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,root,etc,bootstrap,lib/modules/"$kver"}
ln -s bin "$root/sbin"
mkdir -p "$root/usr" && ln -s ../bin "$root/usr/bin" && ln -s ../bin "$root/usr/sbin"
cp /bin/busybox "$root/bin/busybox"
for applet in $(busybox --list); do
  [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
done
cp -a "$guest/." "$root/"
chmod 1777 "$root/tmp"

# Kernel modules the guest loads (virtio disks and net, the ACPI power button) plus what they need.
# The .deb ships no modules.dep (depmod runs at install), so make one with busybox's depmod.
busybox depmod -b "$work/kernel" "$kver"
declare -A need=()
for m in virtio_pci virtio_blk virtio_net button evdev; do
  line=$(grep -E "(^|/)$m\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" || true)
  [[ -n "$line" ]] || continue # built into this kernel
  for f in ${line/:/}; do need[$f]=1; done
done
for f in "${!need[@]}"; do
  dest="$root/lib/modules/$kver/$f"
  mkdir -p "$(dirname "$dest")"
  # busybox insmod cannot read compressed modules: unpack them here.
  case "$f" in
    *.ko.xz) xz -dc "$moddir/$f" > "${dest%.xz}" ;;
    *.ko.zst) zstd -qdc "$moddir/$f" > "${dest%.zst}" ;;
    *.ko.gz) gzip -dc "$moddir/$f" > "${dest%.gz}" ;;
    *) cp "$moddir/$f" "$dest" ;;
  esac
done
cp "$moddir/modules.builtin" "$root/lib/modules/$kver/" 2>/dev/null || true
busybox depmod -b "$root" "$kver"

# --- outputs, written beside and renamed into place so a running guest never sees half a file -----
# Ownership: root, mode 644, in 755 folders. libvirt's default dynamic_ownership (qemu.conf) chowns the
# kernel and initrd to libvirt-qemu while a domain uses them and gives them back to root when the last
# such domain stops (remember_owner keeps a per-file count in trusted.* xattrs, so guests sharing the
# image do not undo each other; checked by hand with two guests). Nothing needs turning off: the files
# are readable by anyone either way, and the rename below is unaffected by who owns the old file.
mkdir -p "$out"
chmod 755 "$data" "$data/images" "$out"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --owner=0:0 --quiet) | gzip -9n > "$out/.initrd.img.new"
install -m 644 "$vmlinuz" "$out/.vmlinuz.new"
chmod 644 "$out/.initrd.img.new"
mv -f "$out/.vmlinuz.new" "$out/vmlinuz"
mv -f "$out/.initrd.img.new" "$out/initrd.img"

size=$(( $(stat -c %s "$out/vmlinuz") + $(stat -c %s "$out/initrd.img") ))
sha=$(sha256sum "$out/initrd.img" | cut -d' ' -f1)
cat > "$out/.image.json.new" <<EOF
{
  "id": "tiny",
  "name": "tiny",
  "description": "Debian cloud kernel $kver with a busybox initramfs: shell on the screen and on ttyS0, 'cps-guest: tick N' each second on ttyS0, runs run.sh from a disk labelled CPSBOOT",
  "kind": "kernel",
  "cmdline": "console=tty0 console=ttyS0,115200 quiet rdinit=/init panic=-1",
  "sizeBytes": $size,
  "sha256": "$sha"
}
EOF
chmod 644 "$out/.image.json.new"
mv -f "$out/.image.json.new" "$out/image.json"
say "built tiny ($kver, $(( size / 1024 )) KiB) in $out"
