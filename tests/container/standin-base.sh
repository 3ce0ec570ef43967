#!/usr/bin/env bash
# Build a local stand-in for the public python:3.11-slim-bookworm image, from Debian packages
# only (for hosts that reach apt's mirror and PyPI but no image registry):
#   1. debootstrap --variant=minbase bookworm, from the mirror apt already uses (~35 s);
#   2. `docker import` of that root filesystem as scorer-debian:bookworm-minbase;
#   3. base.Dockerfile on top: python3 (3.11), python3-venv, the host's CA bundle.
# Usage: standin-base.sh [IMAGE]  (default scorer-python:3.11-bookworm). An existing image is
# kept (delete it, or set STANDIN_REBUILD=1, to rebuild). Needs root and a running dockerd.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
image=${1:-scorer-python:3.11-bookworm}
rootfs_image=scorer-debian:bookworm-minbase
log() { echo "standin-base.sh: $*" >&2; }

if [ "${STANDIN_REBUILD:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
    log "$image exists; kept"
    exit 0
fi

mirror() {
    # The first Debian mirror apt is configured with (deb822 or one-line sources).
    local uri
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)
    if [ -z "$uri" ]; then
        uri=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n1 || true)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "${STANDIN_REBUILD:-0}" = 1 ] || ! docker image inspect "$rootfs_image" >/dev/null 2>&1; then
    log "debootstrap --variant=minbase bookworm from $(mirror)"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$(mirror)" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    tar -C "$work/rootfs" -c . | docker import - "$rootfs_image" >/dev/null
    rm -rf "$work/rootfs"
fi

mkdir "$work/context"
cp "$here/base.Dockerfile" "$work/context/Dockerfile"
cp "${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" "$work/context/ca-certificates.crt"
log "building $image"
DOCKER_BUILDKIT=0 docker build --quiet --network host \
    --build-arg ROOTFS_IMAGE="$rootfs_image" -t "$image" "$work/context" >/dev/null
log "built $image ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
