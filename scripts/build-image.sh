#!/usr/bin/env bash
# Builds a CPS guest image from Debian's packages (services/storage/src/image-build.ts, the same
# code `cps image build NAME` runs through storage): mmdebstrap, mkfs.ext4 -d, qemu-img convert -c.
#
#   scripts/build-image.sh debian-12-server
#
# Output: $CPS_DATA_DIR/images/NAME/. An unchanged input (the recipe and the mirror's package lists)
# is not rebuilt: the second run takes seconds. Needs root, mmdebstrap, qemu-utils, e2fsprogs, curl, gpgv.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# node itself (not npx): a signal to this script reaches the build, which then removes its work.
exec node --import tsx services/storage/src/build-image-main.ts "$@"
