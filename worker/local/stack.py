"""The stack a deployment creates, made on any endpoint boto3 reaches (moto locally).

A queue whose redrive policy names its dead-letter queue, and a private, encrypted results
bucket, as infra/scorer.yaml creates them in AWS. Safe to run again: what exists is kept and
its attributes set. Only boto3: `python -m worker.local.stack` runs in the scorer image (the
compose stack's `init`), with AWS_ENDPOINT_URL pointing at moto.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-east-1"


@dataclass
class Stack:
    """Clients and names of one stack, with the reads tests and tools keep asking for."""

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
        data = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]

    def keys(self, prefix: str = "results/") -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def dlq_messages(self) -> list[dict[str, Any]]:
        """Every DLQ message, received (and so hidden for 30 s): for tests, not for tools."""
        messages: list[dict[str, Any]] = []
        while True:
            received = self.sqs.receive_message(
                QueueUrl=self.dlq_url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not received:
                return messages
            messages.extend(received)

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
    queue: str = "scorer",
    dlq: str = "scorer-dlq",
    bucket: str = "scorer-test",
    wait_time_seconds: int = 0,
) -> Stack:
    """Queue (redrive to its DLQ after `max_receives`) + DLQ + bucket; idempotent."""
    make_client = make_client or (
        lambda service: boto3.client(service, region_name=REGION, endpoint_url=endpoint)
    )
    sqs, s3 = make_client("sqs"), make_client("s3")
    # 14 days, as the template keeps dead letters.
    dlq_url = sqs.create_queue(QueueName=dlq)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=dlq_url, Attributes={"MessageRetentionPeriod": "1209600"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    # set_queue_attributes, not create_queue's: create_queue refuses other attributes for an
    # existing queue, and a rerun must succeed.
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "ReceiveMessageWaitTimeSeconds": str(wait_time_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}
            ),
        },
    )
    create_bucket(s3, bucket)
    return Stack(endpoint, sqs, s3, queue_url, dlq_url, bucket)


def create_bucket(s3: Any, bucket: str) -> None:
    """The results bucket, encrypted and private like the real one."""
    existing = {item["Name"] for item in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)  # us-east-1: no LocationConstraint
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def main() -> int:
    """The compose stack's resources: names from SCORER_LOCAL_QUEUE / _DLQ / _BUCKET."""
    stack = create_stack(
        os.environ.get("AWS_ENDPOINT_URL"),
        visibility_timeout=int(os.environ.get("SCORER_VISIBILITY_TIMEOUT", "120")),
        queue=os.environ.get("SCORER_LOCAL_QUEUE", "scorer-requests"),
        dlq=os.environ.get("SCORER_LOCAL_DLQ", "scorer-requests-dlq"),
        bucket=os.environ.get("SCORER_LOCAL_BUCKET", "scorer-results"),
        wait_time_seconds=20,
    )
    print(f"queue {stack.queue_url}\ndlq   {stack.dlq_url}\nbucket s3://{stack.bucket}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
