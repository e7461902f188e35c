#!/usr/bin/env bash
# Build the service images with podman on a machine that cannot pull base images.
#   scripts/build_images.sh [ingest|rebuild|classify ...]   (default: all three)
# The base is made locally, once: a debootstrap'd Debian bookworm with its python3.11 and pip,
# standing in for python:3.11-slim-bookworm (same Python minor, `python` and `pip` on PATH, pip
# free to install system-wide). It is for building and testing here, not for shipping: it has
# no security updates beyond the release and trusts the host's locally added CAs (see below).
# Then services/Dockerfile is built on it once per service, as localhost/audioval-<svc>:dev,
# with the service's build arguments from IMAGE_ARGS below.
# Idempotent: an existing base is reused (AUDIOVAL_REBUILD_BASE=1 remakes it), and podman's
# layer cache makes an unchanged image rebuild in seconds. Needs root (debootstrap, rootful
# podman) and scripts/setup.sh's container packages.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE="${AUDIOVAL_BASE_IMAGE:-localhost/audioval-base:bookworm}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Each image's SERVICE, PORT (the port its settings default to) and HOST: ingest and classify
# take traffic from beyond the task; rebuild's port serves health only, checked from inside.
declare -A IMAGE_ARGS=(
  [ingest]="--build-arg SERVICE=ingest --build-arg PORT=50051 --build-arg HOST=0.0.0.0"
  [rebuild]="--build-arg SERVICE=rebuild --build-arg PORT=50052 --build-arg HOST=127.0.0.1"
  [classify]="--build-arg SERVICE=classify --build-arg PORT=50053 --build-arg HOST=0.0.0.0"
)
SERVICES=("$@")
((${#SERVICES[@]})) || SERVICES=(ingest rebuild classify)
for svc in "${SERVICES[@]}"; do
  [ -n "${IMAGE_ARGS[$svc]:-}" ] || { echo "build_images: no service $svc (ingest|rebuild|classify)" >&2; exit 2; }
done

if [ "$(id -u)" -ne 0 ]; then
  echo "build_images: run as root (debootstrap and rootful podman)" >&2
  exit 2
fi
for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || { echo "build_images: $tool missing; run scripts/setup.sh" >&2; exit 2; }
done

# podman asks for nofile/nproc limits of 1048576, which a process without CAP_SYS_RESOURCE
# cannot raise to (runc: "error setting rlimit type 7: operation not permitted"); podman also
# caps its own nproc at kernel.pid_max. Ask for what this host allows instead.
read -r ULIMIT_FLAGS < <(scripts/podman_ulimits.sh)

make_base() {
  local work rootfs
  work="$(mktemp -d /var/tmp/audioval-base.XXXXXX)"
  # shellcheck disable=SC2064  # expand now: the trap must remove this run's directory
  trap "rm -rf '$work'" EXIT
  rootfs="$work/rootfs"
  echo "build_images: debootstrap bookworm -> $BASE_IMAGE" >&2
  debootstrap --variant=minbase --include=python3.11,python3-pip,python-is-python3,ca-certificates \
    bookworm "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; return 1; }
  # python:3.11-slim's pip installs into the system Python; Debian's refuses (PEP 668) unless
  # the marker is gone. The Dockerfile's `pip install uv` relies on the former.
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  # Hosts behind a TLS-intercepting proxy add its CA here; builds inside must trust it too.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/lib/apt/lists/*
  # uv verifies TLS against its bundled roots unless SSL_CERT_FILE names a bundle.
  tar -C "$rootfs" -c . | podman import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    - "$BASE_IMAGE" >/dev/null
}

if [ "${AUDIOVAL_REBUILD_BASE:-0}" = 1 ] || ! podman image exists "$BASE_IMAGE"; then
  make_base
fi

for svc in "${SERVICES[@]}"; do
  echo "build_images: services/Dockerfile ($svc) -> localhost/audioval-$svc:dev" >&2
  # --format docker keeps HEALTHCHECK (OCI image config has no field for it); the host's
  # network lets the builder reach PyPI without a bridge (no CNI/iptables setup needed).
  # shellcheck disable=SC2086  # ULIMIT_FLAGS and IMAGE_ARGS are lists of flags
  podman build --quiet --format docker --network=host $ULIMIT_FLAGS \
    --build-arg "PYTHON_IMAGE=$BASE_IMAGE" ${IMAGE_ARGS[$svc]} \
    -f services/Dockerfile -t "localhost/audioval-$svc:dev" . >/dev/null
done
