# One image for the five CPS services; compose picks the service with SERVICE.
#
# Nothing is fetched from the network at build time: node_modules comes from the build context
# (run `npm ci` first, on a machine with the same libc and libvirt as the base, since
# @unraid/libvirt is a native addon). The base must bring Node (18.19+ or 20) and the runtime
# libraries: libvirt0 (the addon links against libvirt.so.0), qemu-utils (storage runs qemu-img),
# e2fsprogs. `node:20-bookworm-slim` has Node only: build on a base that adds those packages, e.g.
# the one tests/compose/make-base.sh makes from Debian packages (docs/compose.md).
ARG BASE=node:20-bookworm-slim
FROM ${BASE}

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
