#!/usr/bin/env bash
# Makes a local base image for the CPS Dockerfile from Debian packages, for machines where no
# container registry is reachable: debootstrap a bookworm rootfs with the tools the services run,
# add the Node that runs this checkout, then `docker import` it. Skips everything when an image of
# that name was made from the same package list and the same Node; otherwise it is made again.
#
#   tests/compose/make-base.sh [IMAGE]     (default cps-base:test)
#
# Packages: libvirt0 (the @unraid/libvirt addon links against it), libvirt-clients (the provisioner
# runs virsh memtune/domstate), qemu-utils (storage runs qemu-img), e2fsprogs (mkfs.ext4, debugfs),
# xorriso (cloud-init seed ISOs), libguestfs-tools + linux-image-cloud-amd64 (guestfish copies a
# bootstrap into a disk; its appliance needs a kernel in /boot), iptables (the provisioner's guest
# isolation rule), libstdc++6 (Node); perl-openssl-defaults because debootstrap does not resolve the
# virtual perl-openssl-abi-3 that libguestfs' perl dependencies need. Debian 12's own nodejs is 18, and the services need >= 20: the
# base gets this machine's `node` binary (NODE_BIN, default the `node` on PATH) as /usr/local/bin/node.
set -euo pipefail
image="${1:-cps-base:test}"
packages="libvirt0,libvirt-clients,qemu-utils,e2fsprogs,xorriso,libguestfs-tools,linux-image-cloud-amd64,iptables,libstdc++6,ca-certificates,perl-openssl-defaults"
node_bin=$(readlink -f "${NODE_BIN:-$(command -v node)}")
[[ -x "$node_bin" ]] || { echo "make-base: no node binary (set NODE_BIN)" >&2; exit 1; }
node_version=$("$node_bin" --version)
case "$node_version" in v1[0-9].*|v[0-9].*) echo "make-base: $node_bin is $node_version; the services need Node >= 20" >&2; exit 1 ;; esac
# What the image was made from, kept as a label: a changed list or another Node makes it again.
stamp=$(printf '%s\n%s\n%s\n' "$packages" "$node_version" "$(sha256sum "$node_bin" | cut -d' ' -f1)" | sha256sum | cut -c1-16)
if [[ "$(docker image inspect -f '{{index .Config.Labels "org.cps.base"}}' "$image" 2>/dev/null || true)" == "$stamp" ]]; then
  echo "make-base: $image is up to date ($stamp)"
  exit 0
fi
# The mirror apt already uses here (deb822 .sources or a one-line sources.list).
mirror=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
[[ -n "$mirror" ]] || mirror=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -n1 || true)
[[ -n "$mirror" ]] || { echo "make-base: no Debian mirror found in /etc/apt" >&2; exit 1; }
dir=$(mktemp -d /var/tmp/cps-base.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "make-base: debootstrap bookworm from $mirror (several minutes: libguestfs is large)..."
# The downloaded .debs are kept for the next run (a changed list fetches only what is new).
mkdir -p /var/cache/cps-base-debs
debootstrap --variant=minbase --cache-dir=/var/cache/cps-base-debs --include="$packages" \
  bookworm "$dir" "$mirror" >/var/tmp/cps-base-debootstrap.log 2>&1 || {
  cp "$dir/debootstrap/debootstrap.log" /var/tmp/cps-base-debootstrap-detail.log 2>/dev/null || true
  tail -n 20 /var/tmp/cps-base-debootstrap.log >&2
  echo "make-base: details in /var/tmp/cps-base-debootstrap-detail.log" >&2
  exit 1
}
install -m 755 "$node_bin" "$dir/usr/local/bin/node"
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar -C "$dir" -c . | docker import -c 'ENV LANG=C.UTF-8' -c "LABEL org.cps.base=$stamp" - "$image" >/dev/null
echo "make-base: $image ready ($stamp, node $(docker run --rm "$image" node --version))"
