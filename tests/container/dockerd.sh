#!/usr/bin/env bash
# Make sure a Docker daemon answers: install Debian's docker.io (and debootstrap, docker-compose)
# when missing, start dockerd in the background when none runs, wait until `docker info` works.
# Needs root for the install and the start; a daemon that already answers is left alone.
set -euo pipefail

log() { echo "dockerd.sh: $*" >&2; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
    exit 0
fi

logfile=${DOCKERD_LOG:-/var/log/scorer-dockerd.log}
log "starting dockerd (log: $logfile)"
# setsid: the daemon outlives this script and the make/CI step that called it.
setsid dockerd >"$logfile" 2>&1 < /dev/null &
for _ in $(seq 1 60); do
    if docker info >/dev/null 2>&1; then
        log "dockerd is up (pid $(cat /var/run/docker.pid 2>/dev/null || echo '?'))"
        exit 0
    fi
    sleep 1
done
log "dockerd did not answer within 60 s; last lines of $logfile:"
tail -n 20 "$logfile" >&2
exit 1
