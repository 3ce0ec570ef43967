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

#: Standard mode, 8 attempts, unless the user sets `AWS_RETRY_MODE` / `AWS_MAX_ATTEMPTS`.
_RETRIES = {
    "mode": os.environ.get("AWS_RETRY_MODE", "standard"),
    "max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS", "8")),
}


@cache
def _config() -> Config:
    return Config(
        retries=dict(_RETRIES),  # type: ignore[arg-type]  # a copy: botocore rewrites it
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
