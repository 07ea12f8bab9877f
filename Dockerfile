# One image for the five CPS services; compose picks the service with SERVICE.
#
# Nothing is fetched from the network at build time: node_modules comes from the build context
# (run `npm ci` first, on a machine with the same libc and libvirt as the base, since
# @unraid/libvirt is a native addon). The base must bring Node >= 20 and every tool the services
# run: libvirt0 (the addon links against libvirt.so.0), libvirt-clients (virsh), qemu-utils
# (qemu-img), e2fsprogs (mkfs.ext4, debugfs), xorriso (cloud-init seeds), libguestfs-tools with a
# kernel in /boot (guestfish), iptables (guest isolation). `node:20-bookworm-slim` has Node only, and
# Debian 12's own nodejs is 18: build on a base that adds those, e.g. the one tests/compose/make-base.sh
# makes from Debian packages plus this machine's Node (docs/compose.md). The check below refuses a
# base that lacks any of them, rather than an image whose services fail on their first task.
ARG BASE=node:20-bookworm-slim
FROM ${BASE}

RUN node -e 'if (+process.versions.node.split(".")[0] < 20) { console.error("the base has Node " + process.version + "; the services need >= 20"); process.exit(1); }' && \
    for tool in qemu-img mkfs.ext4 debugfs xorriso guestfish virsh iptables ip6tables; do \
      command -v "$tool" >/dev/null || { echo "the base image lacks $tool (docs/compose.md)" >&2; exit 1; }; \
    done

# The label lets the compose test prune only the dangling images its own rebuilds leave.
LABEL org.cps.image="services"
WORKDIR /opt/cps
ENV NODE_ENV=production \
    CPS_DATA_DIR=/var/lib/cps

COPY package.json package-lock.json tsconfig.json ./
COPY node_modules ./node_modules
COPY packages ./packages
COPY openapi ./openapi
COPY services ./services
COPY cli ./cli

ARG SERVICE=coordinator
ENV SERVICE=${SERVICE}
# exec: node is PID 1 and receives docker's SIGTERM itself (each service shuts down cleanly on it).
CMD ["sh", "-c", "exec node --import tsx services/\"$SERVICE\"/src/main.ts"]
