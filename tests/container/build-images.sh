#!/usr/bin/env bash
# `make image`: build the worker image (Dockerfile's `runtime` stage) and the compose stack's
# moto image (`moto` stage) on python:3.11-slim-bookworm, or on a stand-in built from Debian
# packages when that cannot be pulled (tests/container/standin-base.sh; see docs/deployment.md).
# Environment: IMAGE (scorer:local), MOTO_IMAGE (scorer-moto:local), PYTHON_IMAGE (to force a
# base), PUBLIC_BASE (python:3.11-slim-bookworm), STANDIN_BASE (scorer-python:3.11-bookworm).
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE=${IMAGE:-scorer:local}
MOTO_IMAGE=${MOTO_IMAGE:-scorer-moto:local}
PUBLIC_BASE=${PUBLIC_BASE:-python:3.11-slim-bookworm}
STANDIN_BASE=${STANDIN_BASE:-scorer-python:3.11-bookworm}
log() { echo "build-images.sh: $*" >&2; }

if ! docker info >/dev/null 2>&1; then
    log "no Docker daemon answers. As root, tests/container/dockerd.sh installs Debian's"
    log "docker.io and starts dockerd (CI's .ci/run does so)."
    exit 1
fi
if [ ! -f models/default/saved_model.pb ]; then
    log "models/default/ has no SavedModel: the image ships it (make model trains one)"
    exit 1
fi

if [ -z "${PYTHON_IMAGE:-}" ]; then
    if docker image inspect "$PUBLIC_BASE" >/dev/null 2>&1 \
        || timeout 120 docker pull --quiet "$PUBLIC_BASE" >/dev/null 2>&1; then
        PYTHON_IMAGE=$PUBLIC_BASE
    else
        log "$PUBLIC_BASE cannot be pulled here: building on the stand-in $STANDIN_BASE"
        bash tests/container/standin-base.sh "$STANDIN_BASE"
        PYTHON_IMAGE=$STANDIN_BASE
    fi
fi

build() {  # TARGET TAG
    local started=$SECONDS
    # The legacy builder: Debian's docker.io has no buildx. Host networking: the build's pip
    # reaches the package index the way the host does.
    DOCKER_BUILDKIT=0 docker build --quiet --network host \
        --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" --target "$1" -t "$2" . >/dev/null
    log "$2 ($1 on $PYTHON_IMAGE): built in $((SECONDS - started)) s," \
        "$(docker image inspect -f '{{.Size}}' "$2" | awk '{printf "%.0f MB", $1/1e6}')"
}
build runtime "$IMAGE"
build moto "$MOTO_IMAGE"
