# syntax=docker/dockerfile:1
# The scorer images, all on python:3.11-slim (or a stand-in built from Debian packages, see
# docs/deployment.md: `make image` picks it when no registry is reachable).
#
#   runtime (the default, last stage): `scorer work` with TensorFlow CPU, what ships to ECS.
#   moto: moto's server with the project's fixes (worker/local), the compose stack's AWS.
#
# Each image is a `*-build` stage that fills a virtualenv at /opt/venv (both start from `venv`:
# an empty virtualenv and pyproject.toml) and a final stage that copies only that venv onto a
# fresh base, so pip's caches, the build context and TensorFlow's C++ headers never reach what
# ships. A new image (another command, other extras) is one more such pair; `runtime` stays
# last so `docker build .` builds the worker.
#
# tests/test_infra_docker.py runs the `venv` and `build` stages' RUN commands verbatim in a
# fresh virtualenv (VIRTUAL_ENV and PATH pointed elsewhere, COPY emulated), so keep them plain
# POSIX sh that only uses $VIRTUAL_ENV and the working directory.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS venv

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /src

RUN python -m venv "$VIRTUAL_ENV"
# Dependencies first, from pyproject.toml alone: the layers that install them (~1.3 GB for the
# worker, mostly TensorFlow) are rebuilt only when the dependency list changes.
COPY pyproject.toml ./


FROM venv AS build

RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install --no-cache-dir -r requirements.txt

# Then the code: every package pyproject's [tool.setuptools.packages.find] includes (a test
# checks the two lists match). --no-deps: everything it needs is installed above; the `train` and `dev`
# extras (tf-keras, tensorflow-hub, matplotlib, moto, ...) are never installed.
COPY README.md ./
COPY worker ./worker
COPY schemas ./schemas
COPY trainer ./trainer
COPY jobs ./jobs
# After `pip check`, drop what serving never loads: TensorFlow's C++ headers, libclang (62 MB:
# a dependency of TensorFlow's code generators, imported by nothing at run time) and the
# installers themselves (the image never installs anything).
RUN pip install --no-cache-dir --no-deps . \
    && pip check \
    && rm -rf "$VIRTUAL_ENV"/lib/python3.11/site-packages/tensorflow/include \
    && pip uninstall --yes --quiet libclang setuptools wheel pip


# moto's server with the project's fixes, for the compose stack: the `local` extra exactly as
# pyproject.toml pins it (one moto version for tests, bench, demo and compose), then the
# package itself for worker.local (imported without TensorFlow).
FROM venv AS moto-build

RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['local']))" > requirements.txt \
    && pip install --no-cache-dir -r requirements.txt
COPY README.md ./
COPY worker ./worker
RUN pip install --no-cache-dir --no-deps . \
    && pip uninstall --yes --quiet setuptools wheel pip


FROM ${PYTHON_IMAGE} AS moto

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN groupadd --system --gid 10001 moto \
    && useradd --system --uid 10001 --gid moto --no-create-home --shell /usr/sbin/nologin moto
COPY --from=moto-build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 5000
ENTRYPOINT ["python", "-m", "worker.local.moto_server", "--host", "0.0.0.0"]
CMD ["--port", "5000"]


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="scorer" \
      org.opencontainers.image.description="Queue-driven batch sentiment scorer: SQS in, TensorFlow SavedModel, S3 out." \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    TF_CPP_MIN_LOG_LEVEL=2 \
    SCORER_MODEL_URI=/app/models/default \
    SCORER_HEALTH_PORT=8080 \
    SCORER_SERVE_PORT=8000

# A fixed numeric uid/gid so `USER` works with runAsNonRoot-style checks and volume ownership.
RUN groupadd --system --gid 10001 scorer \
    && useradd --system --uid 10001 --gid scorer --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin scorer

COPY --from=build /opt/venv /opt/venv
# The shipped model: read-only for the worker (owned by root).
COPY models/default /app/models/default

WORKDIR /app
USER 10001:10001
# 8080: the worker's /healthz; 8000: `scorer serve` (POST /v1/score).
EXPOSE 8080 8000

# GET /healthz on the worker's health port (SCORER_HEALTH_PORT: the receive loop is alive), or
# on the server's port (SCORER_SERVE_PORT) for `scorer serve`. Plain Python (the slim image has
# no curl), exec form (no shell needed): urlopen raises on a refused connection or a non-2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request\nports = [os.environ.get('SCORER_HEALTH_PORT') or '8080', os.environ.get('SCORER_SERVE_PORT')]\nfor port in filter(None, ports):\n    try:\n        urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)\n        raise SystemExit(0)\n    except OSError:\n        pass\nraise SystemExit(1)"]

# `docker run IMAGE` starts the worker; `docker run IMAGE score "a great film"` (or an ECS
# command override such as `backfill s3://... --job-id ...`) runs another subcommand, and
# `docker run -p 8000:8000 IMAGE serve` the HTTP API (docs/serving.md).
ENTRYPOINT ["scorer"]
CMD ["work"]
