"""Create the local AWS resources of `docker compose up` in moto (or any endpoint boto3 reaches).

The queue `scorer-requests`, its dead-letter queue `scorer-requests-dlq` (redrive after 5
receives) and the bucket `scorer-results`, as infra/scorer.yaml creates them in AWS. Safe to run
again: existing resources are kept. Uses only boto3, so it runs in the scorer image:
`python infra/local_init.py` with AWS_ENDPOINT_URL pointing at moto.
"""

from __future__ import annotations

import json
import os

import boto3
from botocore.client import BaseClient

QUEUE_NAME = os.environ.get("SCORER_LOCAL_QUEUE", "scorer-requests")
DLQ_NAME = os.environ.get("SCORER_LOCAL_DLQ", "scorer-requests-dlq")
BUCKET_NAME = os.environ.get("SCORER_LOCAL_BUCKET", "scorer-results")
MAX_RECEIVE_COUNT = 5
VISIBILITY_TIMEOUT = os.environ.get("SCORER_VISIBILITY_TIMEOUT", "120")


def create_queues(sqs: BaseClient) -> tuple[str, str]:
    """The DLQ first, then the source queue whose redrive policy names it."""
    dlq_url = sqs.create_queue(
        QueueName=DLQ_NAME, Attributes={"MessageRetentionPeriod": "1209600"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    # set_queue_attributes, not create_queue attributes: create_queue refuses different
    # attributes for an existing queue, and a rerun must succeed.
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": VISIBILITY_TIMEOUT,
            "ReceiveMessageWaitTimeSeconds": "20",
        },
    )
    return queue_url, dlq_url


def create_bucket(s3: BaseClient) -> None:
    """The results bucket, encrypted and private like the real one."""
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if BUCKET_NAME not in existing:
        s3.create_bucket(Bucket=BUCKET_NAME)  # us-east-1: no LocationConstraint
    s3.put_bucket_encryption(
        Bucket=BUCKET_NAME,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=BUCKET_NAME,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def main() -> int:
    session = boto3.session.Session(region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    queue_url, dlq_url = create_queues(session.client("sqs"))
    create_bucket(session.client("s3"))
    print(f"queue {queue_url}\ndlq   {dlq_url}\nbucket s3://{BUCKET_NAME}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
