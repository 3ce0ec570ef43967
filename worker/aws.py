"""boto3 clients with the retry policy every AWS call of the project shares.

The endpoint is boto3's own business (`AWS_ENDPOINT_URL`, or per-service variables): no code
path here knows about moto. Retries use botocore's standard mode, which backs off on
throttling and 5xx answers and retries dropped connections; we never loop on our own.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from worker.errors import ConfigError, setting_value

RETRY_MODES = ("standard", "adaptive", "legacy")


def retries_from_env() -> dict[str, Any]:
    """Standard mode, 8 retries, unless the user sets `AWS_RETRY_MODE` / `AWS_MAX_ATTEMPTS`.

    Read when the first client is built, not at import, so a bad value is a ConfigError
    naming the variable rather than a traceback from wherever the module was imported.
    """
    mode = os.environ.get("AWS_RETRY_MODE", "standard")
    if mode not in RETRY_MODES:
        raise ConfigError(
            f"invalid configuration: {setting_value('AWS_RETRY_MODE', mode)}: "
            f"use one of {', '.join(RETRY_MODES)}"
        )
    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "8")
    try:
        max_attempts = int(attempts)
    except ValueError:
        max_attempts = -1
    if not 0 <= max_attempts <= 100:
        raise ConfigError(
            f"invalid configuration: {setting_value('AWS_MAX_ATTEMPTS', attempts)}: "
            "must be a whole number of retries from 0 to 100"
        )
    return {"mode": mode, "max_attempts": max_attempts}


@cache
def _config() -> Config:
    return Config(
        retries=retries_from_env(),  # type: ignore[arg-type]  # a new dict: botocore rewrites it
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=50,
        tcp_keepalive=True,
    )


@cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def client(service: str) -> Any:
    """A thread-safe client (botocore clients are; sessions are not, hence one shared)."""
    return _session().client(service, config=_config())


def s3_client() -> Any:
    return client("s3")


def sqs_client() -> Any:
    return client("sqs")
