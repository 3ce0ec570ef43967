"""The dead-letter queue from the producer's side: look without consuming, and redrive.

Looking (`peek`) receives messages with a short visibility timeout, so each is seen once, then
makes them visible again at once: nothing is consumed. Redrive prefers SQS's own message move
task; where the endpoint lacks it (moto answers 500) it falls back to receive, send to the
source queue, then delete from the DLQ: a crash in between leaves a duplicate at worst, which
the worker's deterministic result keys make harmless.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from jobs import queues
from jobs.sending import MessageSender, Outgoing
from schemas.json_text import parse_json
from schemas.messages import derive_batch_id

log = logging.getLogger(__name__)

#: Attributes the worker adds when it dead-letters a message; a redriven message drops them.
WORKER_DLQ_ATTRIBUTES = ("reason", "source_message_id", "source_queue_url")
_MOVE_TASK_DONE = ("COMPLETED", "CANCELLED", "FAILED")


@dataclass(frozen=True)
class DeadLetter:
    """A DLQ message and what its body and attributes say about it."""

    message_id: str
    receipt_handle: str
    body: str
    job_id: str | None
    batch_id: str | None
    reason: str | None
    receive_count: int
    attributes: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "job_id": self.job_id,
            "batch_id": self.batch_id,
            "reason": self.reason,
            "receive_count": self.receive_count,
        }


def parse_dead_letter(raw: dict[str, Any]) -> DeadLetter:
    """Ids from the body; a body without `batch_id` gets the one the worker derived for it."""
    body = raw.get("Body", "")
    job_id = batch_id = None
    try:
        # The worker's own parser, so ids come out as the worker saw them; any body at all
        # (nested past the recursion limit, huge numbers) leaves the ids unknown, never raises.
        data = parse_json(body)
        if isinstance(data, dict):
            given = data.get("batch_id")
            batch_id = given if isinstance(given, str) else None
            if given is None:
                batch_id = derive_batch_id(data)
            job_id = data.get("job_id") if isinstance(data.get("job_id"), str) else None
    except (ValueError, RecursionError):
        job_id = batch_id = None
    attributes = raw.get("MessageAttributes", {}) or {}
    reason = attributes.get("reason", {}).get("StringValue")
    count = int(raw.get("Attributes", {}).get("ApproximateReceiveCount", 0))
    return DeadLetter(
        message_id=raw["MessageId"],
        receipt_handle=raw["ReceiptHandle"],
        body=body,
        job_id=job_id,
        batch_id=batch_id,
        reason=reason,
        receive_count=count,
        attributes=attributes,
    )


def _receive(sqs: Any, url: str, count: int, hold_seconds: int, wait_seconds: int) -> list[Any]:
    return sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(10, count)),
        VisibilityTimeout=hold_seconds,
        WaitTimeSeconds=wait_seconds,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])


def peek(
    sqs: Any,
    dlq_url: str,
    limit: int | None = None,
    hold_seconds: int = 30,
    wait_seconds: int = 1,
) -> list[DeadLetter]:
    """Every message of the DLQ (up to `limit`), left visible again afterwards.

    Stops once it has as many as the queue reports, so an empty DLQ costs one call.
    """
    expected = queues.depth(sqs, dlq_url)["visible"]
    wanted = expected if limit is None else min(limit, expected)
    seen: dict[str, DeadLetter] = {}
    try:
        while len(seen) < wanted:
            received = _receive(sqs, dlq_url, wanted - len(seen), hold_seconds, wait_seconds)
            if not received:
                break
            for raw in received:
                letter = parse_dead_letter(raw)
                seen.setdefault(letter.message_id, letter)
    finally:
        release(sqs, dlq_url, [letter.receipt_handle for letter in seen.values()])
    return list(seen.values())


def release(sqs: Any, url: str, receipt_handles: list[str]) -> None:
    """Make received messages visible again at once."""
    for start in range(0, len(receipt_handles), 10):
        group = receipt_handles[start : start + 10]
        response = sqs.change_message_visibility_batch(
            QueueUrl=url,
            Entries=[
                {"Id": f"m{i}", "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(group)
            ],
        )
        for failure in response.get("Failed", []):
            log.warning("could not release a DLQ message", extra={"error": failure})


def kept_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """The message's own attributes, without the worker's DLQ bookkeeping."""
    return {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in attributes.items()
        if name not in WORKER_DLQ_ATTRIBUTES
    }


@dataclass
class RedriveResult:
    method: str
    moved: int
    failed: list[tuple[str, str]]
    fallback_reason: str | None = None


def redrive(
    sqs: Any,
    queue_url: str,
    dlq_url: str,
    max_messages: int | None = None,
    native: bool = True,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> RedriveResult:
    """Move DLQ messages back to the queue: SQS's move task when possible, else by hand."""
    fallback_reason = None
    if native and max_messages is None:
        try:
            return _redrive_with_move_task(sqs, queue_url, dlq_url, poll_seconds, sleep)
        except (ClientError, BotoCoreError, NotImplementedError) as error:
            fallback_reason = f"{type(error).__name__}: {error}"[:300]
            log.info(
                "message move task unavailable, moving messages one by one",
                extra={"error": fallback_reason},
            )
    result = _redrive_by_hand(sqs, queue_url, dlq_url, max_messages)
    result.fallback_reason = fallback_reason
    return result


def _move_task_client() -> Any:
    """No retries: an endpoint without move tasks answers 500, and we fall back at once."""
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=30)
    return boto3.session.Session().client("sqs", config=config)


def _redrive_with_move_task(
    sqs: Any, queue_url: str, dlq_url: str, poll_seconds: float, sleep: Callable[[float], None]
) -> RedriveResult:
    source_arn = queues.queue_arn(sqs, dlq_url)
    destination_arn = queues.queue_arn(sqs, queue_url)
    handle = _move_task_client().start_message_move_task(
        SourceArn=source_arn, DestinationArn=destination_arn
    )["TaskHandle"]
    log.info("message move task started", extra={"task_handle": handle})
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        task = tasks[0] if tasks else {}
        if task.get("Status") in _MOVE_TASK_DONE:
            moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
            failed = []
            if task["Status"] != "COMPLETED":
                failed = [(handle, f"{task['Status']}: {task.get('FailureReason', '')}")]
            return RedriveResult("move-task", moved, failed)
        sleep(poll_seconds)


def _redrive_by_hand(
    sqs: Any, queue_url: str, dlq_url: str, max_messages: int | None
) -> RedriveResult:
    # Only what is there now: a message that fails again and comes back is not looped over.
    budget = queues.depth(sqs, dlq_url)["visible"]
    if max_messages is not None:
        budget = min(budget, max_messages)
    moved = 0
    failed: list[tuple[str, str]] = []
    while moved + len(failed) < budget:
        received = _receive(sqs, dlq_url, budget - moved - len(failed), 120, 1)
        if not received:
            break
        letters = {letter.message_id: letter for letter in map(parse_dead_letter, received)}
        sender = MessageSender(sqs, queue_url)
        for letter in letters.values():
            sender.add(Outgoing(letter.message_id, letter.body, kept_attributes(letter.attributes)))
        report = sender.close()
        sent = report.sent_keys
        # Sent first, deleted second: a crash here leaves a duplicate, never a loss.
        for start in range(0, len(sent), 10):
            group = sent[start : start + 10]
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": f"m{i}", "ReceiptHandle": letters[message_id].receipt_handle}
                    for i, message_id in enumerate(group)
                ],
            )
        moved += len(sent)
        failed.extend(report.failed)
        release(sqs, dlq_url, [letters[key].receipt_handle for key, _ in report.failed])
        for message_id in sent:
            log.info("message redriven", extra={"message_id": message_id})
    return RedriveResult("receive-send-delete", moved, failed)
