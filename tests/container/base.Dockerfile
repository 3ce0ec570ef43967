# A stand-in for python:3.11-slim-bookworm, for machines that cannot pull from a public image
# registry: Debian bookworm (minbase, imported from debootstrap) with its python3 (3.11) and
# venv support. tests/container/standin-base.sh builds it; see docs/deployment.md.
ARG ROOTFS_IMAGE=scorer-debian:bookworm-minbase
FROM ${ROOTFS_IMAGE}

ENV LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive

# python3-venv brings ensurepip's bundled pip, which is all the project's Dockerfile uses
# (it creates a virtualenv); no system pip, no docs, no apt lists in the layer. Unpinned: the
# stand-in takes bookworm's current python3 (3.11.x), as python:3.11-slim takes the latest 3.11.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/info/*

# The build host's CA bundle: where the package index is reached through a TLS-inspecting
# proxy, pip trusts it only with that proxy's CA (PIP_CERT). On an ordinary host this is the
# same Mozilla bundle the ca-certificates package ships.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
