#!/usr/bin/env bash
# Makes a local base image for the CPS Dockerfile from Debian packages, for machines where no
# container registry is reachable: debootstrap a bookworm rootfs with Node and the runtime libraries
# the services need, then `docker import` it. Skips everything when the image already exists.
#
#   tests/compose/make-base.sh [IMAGE]     (default cps-base:test)
#
# Packages: nodejs (Debian's, v18), libvirt0 (the @unraid/libvirt addon links against it),
# qemu-utils (storage runs qemu-img), e2fsprogs (mkfs for data disks).
set -euo pipefail
image="${1:-cps-base:test}"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "make-base: $image already exists"
  exit 0
fi
# The mirror apt already uses here (deb822 .sources or a one-line sources.list).
mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
[[ -n "$mirror" ]] || mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
[[ -n "$mirror" ]] || { echo "make-base: no Debian mirror found in /etc/apt" >&2; exit 1; }
dir=$(mktemp -d /var/tmp/cps-base.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "make-base: debootstrap bookworm from $mirror (about 2 minutes)..."
debootstrap --variant=minbase --include=nodejs,libvirt0,qemu-utils,e2fsprogs,ca-certificates \
  bookworm "$dir" "$mirror" >/var/tmp/cps-base-debootstrap.log 2>&1 ||
  { tail -n 20 /var/tmp/cps-base-debootstrap.log >&2; exit 1; }
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar -C "$dir" -c . | docker import -c 'ENV LANG=C.UTF-8' - "$image" >/dev/null
echo "make-base: $image ready ($(docker run --rm "$image" node --version))"
