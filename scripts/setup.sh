#!/usr/bin/env bash
# Makes this machine (Debian 12, as root; systemd need not run) ready to run CPS, or with --for-tests
# to run its whole test suite. Safe to run again: every step checks first, so a second run takes seconds.
#
#   scripts/setup.sh [--for-tests] [--reprobe]
#
# Steps: Debian packages, virtlogd + libvirtd, /dev/kvm access, loopback multicast, npm packages,
# the data dir ($CPS_DATA_DIR, default /var/lib/cps), the `tiny` guest image, the KVM probe.
set -euo pipefail

for_tests=0
reprobe=0
for arg in "$@"; do
  case "$arg" in
    --for-tests) for_tests=1 ;;
    --reprobe) reprobe=1 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*"; }
die() { echo "setup: error: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (it installs Debian packages and starts libvirtd)"
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
data="${CPS_DATA_DIR:-/var/lib/cps}"
export CPS_DATA_DIR="$data"
uri=qemu:///system

# Two set-ups at once would race apt, npm ci and the image build.
exec 9>/tmp/cps-setup.lock
flock -w 900 9 || die "another scripts/setup.sh holds /tmp/cps-setup.lock"

# --- Debian packages ---------------------------------------------------------------------------
packages=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-clients libvirt-dev dnsmasq-base
  busybox-static cpio e2fsprogs xorriso iproute2 procps curl libguestfs-tools linux-image-cloud-amd64
  xinput xprintidle) # the owner's desktop input, where an X session is there (owner first)
(( for_tests )) && packages+=(chromium bind9 bind9-utils bind9-dnsutils docker.io docker-compose debootstrap websockify xvfb xdotool
  mmdebstrap gpgv) # scripts/build-image.sh: the debian-12-server image
# A machine without Node gets Debian's (v18: enough to run the services; the test tools want >= 20).
command -v node >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) == installed ]] || missing+=("$p")
done
if (( ${#missing[@]} )); then
  say "installing ${#missing[@]} Debian packages (${missing[*]})..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >/tmp/cps-setup-apt.log 2>&1 ||
    { tail -n 30 /tmp/cps-setup-apt.log >&2; die "apt-get install failed (full log: /tmp/cps-setup-apt.log)"; }
else
  say "Debian packages already installed (${#packages[@]})"
fi

# --- libvirt -------------------------------------------------------------------------------------
# Without virtlogd every domain start waits ~50 s and then fails; without systemd nobody starts either.
mkdir -p /var/log/libvirt /run/libvirt
# Ask the daemons' sockets, not the process list: test hosts in network namespaces run their own.
virtlogd_up() { timeout 10 virt-admin -c virtlogd:///system version >/dev/null 2>&1; }
libvirt_up() { timeout 10 virsh -c "$uri" version >/dev/null 2>&1; }
wait_up() { for _ in $(seq 1 60); do "$1" && return 0; sleep 0.5; done; return 1; }
if virtlogd_up; then
  say "virtlogd already running"
else
  say "starting virtlogd"
  virtlogd -d 9>&- || true # exits non-zero if one already holds /run/virtlogd.pid but is slow to answer
  wait_up virtlogd_up || die "virtlogd does not answer after 30 s"
fi
if libvirt_up; then
  say "libvirtd already running"
else
  say "starting libvirtd"
  libvirtd -d 9>&- || true # 9>&-: a daemon must not keep our lock
  wait_up libvirt_up || die "libvirtd does not answer at $uri after 30 s (see /var/log/libvirt/)"
  say "libvirtd answers at $uri"
fi

if [[ -e /dev/kvm ]]; then
  # libvirt's qemu runs as libvirt-qemu (group kvm): let it open /dev/kvm at all.
  if chgrp kvm /dev/kvm 2>/dev/null && chmod 660 /dev/kvm; then
    say "/dev/kvm present (group kvm, mode 660); the probe decides whether guests can use it"
  else
    say "warning: could not give /dev/kvm to group kvm; KVM guests will fail and the probe will choose TCG"
  fi
else
  say "/dev/kvm absent: guests run under TCG"
fi

# --- network -------------------------------------------------------------------------------------
# PEP's multicast runs on loopback on a one-node CPS; Linux brings lo up without MULTICAST.
if ip link show lo | grep -q MULTICAST; then
  say "loopback multicast already on"
else
  if ip link set lo multicast on; then
    say "loopback multicast turned on"
  else
    say "warning: could not turn on multicast on lo (no CAP_NET_ADMIN?): discovery will not find peers"
  fi
fi

# --- npm -----------------------------------------------------------------------------------------
command -v npm >/dev/null || die "npm is missing: install Node.js 20 (package.json: engines.node >= 20.19)"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say "installing npm packages (npm ci)..."
  # Same lock as the project's `npm install` calls: npm ci deletes node_modules first.
  flock /tmp/cps-npm.lock npm ci --no-audit --no-fund --loglevel=error >/tmp/cps-setup-npm.log 2>&1 ||
    { tail -n 30 /tmp/cps-setup-npm.log >&2; die "npm ci failed (full log: /tmp/cps-setup-npm.log)"; }
else
  say "npm packages up to date"
fi

# --- data dir, guest image, probe ------------------------------------------------------------------
mkdir -p "$data/images" "$data/disks" "$data/logs"
# libvirt's qemu (libvirt-qemu) must traverse to the image; disks get labelled per domain by libvirt.
chmod 755 "$data" "$data/images"
say "data dir $data"

bash "$repo/scripts/build-tiny-image.sh" | sed 's/^build-tiny-image: /setup: /'

if (( !reprobe )) && [[ -s "$data/accel.json" && "$data/accel.json" -nt "$data/images/tiny/image.json" ]]; then
  say "accelerator already probed: $(sed -n 's/.*"accelerator":"\([a-z]*\)".*/\1/p' "$data/accel.json") (--reprobe to boot the probe again)"
else
  say "probing the accelerator (boots the tiny guest under KVM and TCG, up to ~35 s)..."
  bash "$repo/scripts/probe-accel.sh" | sed 's/^probe-accel: /setup: /'
fi
say "done"
