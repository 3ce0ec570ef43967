"""Small SQS questions the producer side asks: size limit, depth, ARN, which DLQ."""

from __future__ import annotations

from typing import Any

from worker.errors import ConfigError
from worker.sqs import SqsQueue, queue_depth

#: The queue's visible, in-flight and delayed counts: the worker's own reading of them.
depth = queue_depth


def attributes(sqs: Any, queue_url: str, *names: str) -> dict[str, str]:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(names)).get(
        "Attributes", {}
    )


def max_message_bytes(sqs: Any, queue_url: str, configured: int) -> int:
    """The smaller of the configured limit and the queue's own `MaximumMessageSize`."""
    value = attributes(sqs, queue_url, "MaximumMessageSize").get("MaximumMessageSize")
    return min(configured, int(value)) if value else configured


def queue_arn(sqs: Any, queue_url: str) -> str:
    return attributes(sqs, queue_url, "QueueArn")["QueueArn"]


def resolve_dlq(queue_url: str | None, dlq_url: str | None) -> str:
    """The configured DLQ, else the one the queue's redrive policy names (as the worker does)."""
    if dlq_url:
        return dlq_url
    if not queue_url:
        raise ConfigError("missing configuration: set SCORER_DLQ_URL or SCORER_QUEUE_URL")
    found = SqsQueue.connect(queue_url).dlq_url
    if not found:
        raise ConfigError(f"{queue_url} has no redrive policy: set SCORER_DLQ_URL or --dlq-url")
    return found
