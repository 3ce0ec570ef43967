"""Shared fixtures: a tiny real SavedModel, moto (in-process and HTTP), AWS resources."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from moto_fixes import apply_all as apply_moto_fixes
from tiny_model import build_tiny_model
from worker_process import WorkerProcess

REGION = "us-east-1"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(autouse=True)
def _aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy credentials, and no SCORER_* or endpoint leaking in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith("SCORER_") or name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    from worker import aws

    aws.client.cache_clear()
    aws._session.cache_clear()
    yield
    aws.client.cache_clear()
    aws._session.cache_clear()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's real HTTP server on 127.0.0.1, for the end-to-end tests."""
    from moto.server import ThreadedMotoServer

    apply_moto_fixes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Stack:
    """A queue with a redrive policy to its DLQ, and a bucket: what a deployment creates."""

    endpoint: str | None
    sqs: Any
    s3: Any
    queue_url: str
    dlq_url: str
    bucket: str = "scorer-test"

    @property
    def output_uri(self) -> str:
        return f"s3://{self.bucket}/results"

    def send(self, body: dict[str, Any] | str) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=text)

    def put(self, key: str, data: bytes) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return f"s3://{self.bucket}/{key}"

    def read_lines(self, key: str) -> list[dict[str, Any]]:
        import gzip

        data = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]

    def keys(self, prefix: str = "results/") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def dlq_messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)

    def depth(self, url: str | None = None) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


def create_stack(
    endpoint: str | None,
    visibility_timeout: int = 30,
    max_receives: int = 5,
    make_client: Callable[[str], Any] | None = None,
) -> Stack:
    """Queue (redrive to its DLQ after `max_receives`) + DLQ + bucket `scorer-test`."""
    make_client = make_client or (
        lambda service: boto3.client(service, region_name=REGION, endpoint_url=endpoint)
    )
    sqs, s3 = make_client("sqs"), make_client("s3")
    dlq_url = sqs.create_queue(QueueName="scorer-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName="scorer",
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
            ),
        },
    )["QueueUrl"]
    s3.create_bucket(Bucket="scorer-test")
    return Stack(endpoint, sqs, s3, queue_url, dlq_url)


@pytest.fixture
def http_stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """A fresh stack on the moto HTTP server (state reset first); boto3 finds it by env."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return create_stack(moto_endpoint)


StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def start_worker(http_stack: Stack, tiny_model_dir: Path) -> Iterator[StartWorker]:
    """Starts real `scorer work` processes on `http_stack` with the tiny model; stops them all."""
    started: list[WorkerProcess] = []

    def start(**settings: str) -> WorkerProcess:
        env = {
            "AWS_ENDPOINT_URL": str(http_stack.endpoint),
            "SCORER_QUEUE_URL": http_stack.queue_url,
            "SCORER_OUTPUT_URI": http_stack.output_uri,
            # Staged chunks of `scorer submit` live under the output prefix by default.
            "SCORER_ALLOWED_INPUT_URIS": f"s3://{http_stack.bucket}/inputs,{http_stack.output_uri}",
            "SCORER_MODEL_URI": str(tiny_model_dir),
            "SCORER_VISIBILITY_TIMEOUT": "30",
            "SCORER_RETRY_DELAY_SECONDS": "0",
            **settings,
        }
        worker = WorkerProcess(env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()


@pytest.fixture
def inprocess_stack() -> Iterator[Stack]:
    """A fresh stack on moto in-process (no sockets), for unit tests of the AWS edges."""
    from moto import mock_aws

    apply_moto_fixes()
    with mock_aws():
        yield create_stack(None)
