#!/usr/bin/env bash
# Answers "can a guest really boot under KVM here, or only under TCG?" by booting the tiny image as
# transient libvirt domains and watching their serial logs for `cps-guest: up`. On some of these
# machines /dev/kvm exists but KVM guests hang in the firmware, so only a boot is proof.
#
#   scripts/probe-accel.sh
#
# Writes $CPS_DATA_DIR/accel.json: {"accelerator":"kvm"|"tcg","probedAt":"<iso>","detail":"..."}.
# Exits non-zero when neither KVM nor TCG boots the guest.
set -euo pipefail

data="${CPS_DATA_DIR:-/var/lib/cps}"
image="$data/images/tiny"
uri="${CPS_LIBVIRT_URI:-qemu:///system}"
wait_s="${CPS_PROBE_TIMEOUT:-25}"

say() { echo "probe-accel: $*"; }
die() { echo "probe-accel: error: $*" >&2; exit 1; }

[[ -s "$image/vmlinuz" && -s "$image/initrd.img" && -s "$image/image.json" ]] ||
  die "no tiny image in $image (run scripts/build-tiny-image.sh)"
cmdline=$(sed -n 's/.*"cmdline": *"\([^"]*\)".*/\1/p' "$image/image.json")
[[ -n "$cmdline" ]] || die "no cmdline in $image/image.json"
timeout 20 virsh -c "$uri" version >/dev/null 2>&1 || die "libvirt does not answer at $uri (run scripts/setup.sh)"
mkdir -p "$data/logs"

domains=()
cleanup() {
  for d in "${domains[@]}"; do timeout 30 virsh -c "$uri" destroy "$d" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# boot TYPE (kvm|qemu): sets $result to a phrase for accel.json; returns 0 when the guest came up.
boot() {
  local type=$1 label name log t0 t1 elapsed err
  label=$([[ $type == kvm ]] && echo kvm || echo tcg)
  name="cps-probe-$label-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
  log="$data/logs/probe-$label.serial"
  rm -f "$log"
  cat > "$data/logs/probe-$label.xml" <<EOF
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$image/vmlinuz</kernel>
    <initrd>$image/initrd.img</initrd>
    <cmdline>$cmdline cps.hostname=$name</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='pty'>
      <log file='$log' append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'/>
    <video><model type='vga'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
  t0=$(now_ms)
  if ! err=$(timeout 60 virsh -c "$uri" create "$data/logs/probe-$label.xml" 2>&1 >/dev/null); then
    result="$label: failed to start ($(echo "$err" | tr '\n' ' ' | sed 's/  */ /g; s/ $//' | cut -c1-200))"
    return 1
  fi
  domains+=("$name")
  while (( $(now_ms) - t0 < wait_s * 1000 )); do
    if grep -q 'cps-guest: up' "$log" 2>/dev/null; then
      t1=$(now_ms)
      elapsed=$(( t1 - t0 ))
      result="$label: booted in $(( elapsed / 1000 )).$(( elapsed % 1000 / 100 )) s"
      timeout 30 virsh -c "$uri" destroy "$name" >/dev/null 2>&1 || true
      return 0
    fi
    if ! timeout 20 virsh -c "$uri" domstate "$name" >/dev/null 2>&1; then
      result="$label: guest stopped before 'cps-guest: up' ($(tail -c 160 "$log" 2>/dev/null | tr -c '[:print:]' ' '))"
      return 1
    fi
    sleep 0.25
  done
  # Where did it stop? The last serial bytes (or the firmware line on the screen, which we cannot read here).
  local last
  last=$(tail -c 120 "$log" 2>/dev/null | tr -c '[:print:]' ' ' | sed 's/  */ /g; s/^ //; s/ $//')
  result="$label: hung (no 'cps-guest: up' within ${wait_s} s${last:+; serial ended with: $last})"
  # The screen shows how far the firmware got (e.g. SeaBIOS' "Booting from ROM..."): keep it for a person.
  if timeout 20 virsh -c "$uri" screenshot "$name" "$data/logs/probe-$label.png" >/dev/null 2>&1; then
    result="$result, screen in $data/logs/probe-$label.png"
  fi
  timeout 30 virsh -c "$uri" destroy "$name" >/dev/null 2>&1 || true
  return 1
}

kvm_ok=0
if [[ -e /dev/kvm ]]; then
  boot kvm && kvm_ok=1
  kvm_detail=$result
else
  kvm_detail="kvm: /dev/kvm absent"
fi
tcg_ok=0
boot qemu && tcg_ok=1
tcg_detail=$result

if (( kvm_ok )); then
  accel=kvm
elif (( tcg_ok )); then
  accel=tcg
else
  die "no guest boots here: $kvm_detail; $tcg_detail (serial logs: $data/logs/probe-*.serial)"
fi
(( tcg_ok )) || say "warning: TCG did not boot ($tcg_detail)"

detail="$kvm_detail; $tcg_detail"
detail=${detail//\\/\\\\}
detail=${detail//\"/\\\"}
printf '{"accelerator":"%s","probedAt":"%s","detail":"%s"}\n' \
  "$accel" "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)" "$detail" > "$data/accel.json.new"
chmod 644 "$data/accel.json.new"
mv -f "$data/accel.json.new" "$data/accel.json"
say "chose $accel ($detail)"
