"""The SQS side of the worker: receive, delete, extend visibility, dead-letter.

The loop talks to this small interface only, so it never builds SQS requests itself.
"""

from __future__ import annotations

import json
import logging
import queue as stdlib_queue
import re
import threading
import time
from concurrent.futures import Future
from typing import Any

from schemas.messages import SQS_MAX_MESSAGE_BYTES
from worker.aws import sqs_client
from worker.loop_protocols import Message, MessageQueue

__all__ = ["GroupedDeleter", "Message", "SqsQueue", "queue_depth"]

log = logging.getLogger(__name__)

#: Reasons are cut to this length everywhere (the DLQ attribute and the log line).
MAX_REASON_CHARS = 1000
#: SQS allows at most this many message attributes; three are ours.
MAX_ATTRIBUTES = 10
#: Characters SQS accepts in a message (its XML subset); others are escaped in our attributes.
_NOT_SQS_TEXT = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clip_reason(reason: str) -> str:
    """A reason as stored and logged: at most MAX_REASON_CHARS, only characters SQS accepts."""
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return _NOT_SQS_TEXT.sub(lambda match: f"\\u{ord(match.group()):04x}", reason)


def _attribute_size(name: str, value: dict[str, Any]) -> int:
    """What SQS counts toward the message size: name, data type and value, in bytes."""
    data = value.get("StringValue", value.get("BinaryValue", b""))
    size = len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)
    return len(name.encode()) + len(str(value.get("DataType", "")).encode()) + size


def _cut_to_bytes(text: str, size: int) -> str:
    return text.encode("utf-8")[: max(0, size)].decode("utf-8", errors="ignore")


def dead_letter_attributes(message: Message, reason: str, source_url: str) -> dict[str, Any]:
    """The producer's own attributes, then `reason`, `source_message_id` and `source_queue_url`
    as far as SQS's 1 MiB (body and attributes together) leaves room, in that order.

    Producers leave DLQ_RESERVE_BYTES free (`scorer submit` does), so all three fit in full;
    a message sent bigger still gets as much of its reason as fits.
    """
    kept = [
        (name, value)
        for name, value in message.attributes.items()
        if name not in ("reason", "source_message_id", "source_queue_url")
    ][: MAX_ATTRIBUTES - 3]
    attributes = {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in kept
    }
    room = SQS_MAX_MESSAGE_BYTES - len(message.body.encode("utf-8", "surrogatepass"))
    room -= sum(_attribute_size(name, value) for name, value in attributes.items())
    wanted = {
        "reason": clip_reason(reason),
        "source_message_id": message.message_id,
        "source_queue_url": source_url,
    }
    for name, text in wanted.items():
        overhead = _attribute_size(name, {"DataType": "String", "StringValue": ""})
        value = text if name == "reason" else text if len(text.encode()) + overhead <= room else ""
        value = _cut_to_bytes(value, room - overhead)
        if not value:
            continue
        attributes[name] = {"DataType": "String", "StringValue": value}
        room -= overhead + len(value.encode())
    return attributes


class SqsQueue:
    """A source queue and the dead-letter queue its poison messages go to.

    Building one does no I/O; `SqsQueue.connect` also looks the DLQ up in the redrive policy.
    """

    def __init__(self, queue_url: str, dlq_url: str | None = None, client: Any = None) -> None:
        self.url = queue_url
        self._client = client or sqs_client()
        self.dlq_url = dlq_url

    @classmethod
    def connect(cls, queue_url: str, dlq_url: str | None = None) -> SqsQueue:
        """The queue, its DLQ being `dlq_url` or else the one its redrive policy names."""
        queue = cls(queue_url, dlq_url)
        if queue.dlq_url is None:
            queue.dlq_url = queue.dlq_from_redrive_policy()
        return queue

    def dlq_from_redrive_policy(self) -> str | None:
        """The DLQ the queue's redrive policy names (the source of truth for where poison goes)."""
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["RedrivePolicy"]
        ).get("Attributes", {})
        policy = attributes.get("RedrivePolicy")
        if not policy:
            return None
        arn = json.loads(policy)["deadLetterTargetArn"]
        _, _, _, _, account, name = arn.split(":", 5)
        return self._client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
            "QueueUrl"
        ]

    def receive(
        self, max_messages: int, wait_seconds: int, visibility_timeout: int
    ) -> list[Message]:
        response = self._client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=visibility_timeout,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        return [
            Message(
                message_id=raw["MessageId"],
                receipt_handle=raw["ReceiptHandle"],
                body=raw["Body"],
                receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", 1)),
                attributes=raw.get("MessageAttributes", {}),
            )
            for raw in response.get("Messages", [])
        ]

    def delete(self, message: Message) -> None:
        self._client.delete_message(QueueUrl=self.url, ReceiptHandle=message.receipt_handle)

    def delete_messages(self, messages: list[Message]) -> list[str | None]:
        """DeleteMessageBatch (at most 10): per message, None or why its delete failed."""
        entries = [
            {"Id": str(i), "ReceiptHandle": message.receipt_handle}
            for i, message in enumerate(messages)
        ]
        answer = self._client.delete_message_batch(QueueUrl=self.url, Entries=entries)
        outcome: list[str | None] = [None] * len(messages)
        for failed in answer.get("Failed", []):
            outcome[int(failed["Id"])] = f"{failed.get('Code')}: {failed.get('Message', '')}"
        return outcome

    def change_visibility(self, message: Message, seconds: int) -> None:
        self._client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=message.receipt_handle, VisibilityTimeout=seconds
        )

    def send_to_dlq(self, message: Message, reason: str) -> None:
        """Copy the message to the DLQ with its reason, then delete it from the source queue.

        The copy keeps the body and the producer's attributes byte for byte, so a redrive after
        a fix replays it exactly; our attributes get the room SQS's size limit leaves beside
        them (`dead_letter_attributes`).
        """
        if not self.dlq_url:
            raise RuntimeError(
                "no dead-letter queue: give the queue a redrive policy or set SCORER_DLQ_URL"
            )
        attributes = dead_letter_attributes(message, reason, self.url)
        if "reason" not in attributes:
            log.error(
                "dead-lettering without a reason: the message leaves no room for one",
                extra={"message_id": message.message_id},
            )
        self._client.send_message(
            QueueUrl=self.dlq_url, MessageBody=message.body, MessageAttributes=attributes
        )
        self.delete(message)

    def depth(self) -> dict[str, int]:
        """Visible, in-flight and delayed counts (approximate, as SQS reports them)."""
        return queue_depth(self._client, self.url)


#: What `queue_depth` reports, by the SQS attribute it comes from.
_DEPTH_ATTRIBUTES = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}


def queue_depth(client: Any, queue_url: str) -> dict[str, int]:
    """Visible, in-flight and delayed counts of a queue (approximate, as SQS reports them)."""
    values = client.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(_DEPTH_ATTRIBUTES.values())
    ).get("Attributes", {})
    return {name: int(values.get(attribute, 0)) for name, attribute in _DEPTH_ATTRIBUTES.items()}


class GroupedDeleter:
    """Deletes finished messages ten to a DeleteMessageBatch call; each caller waits for its own.

    One request instead of ten: against moto (and in SQS's bill) requests, not bytes, are
    what a small message costs. A caller waits at most `window` seconds for others to join.
    """

    def __init__(self, queue: MessageQueue, window: float = 0.05) -> None:
        self._queue = queue
        self._window = window
        self._pending: stdlib_queue.Queue[tuple[Message, Future[None]]] = stdlib_queue.Queue()
        threading.Thread(target=self._run, name="deleter", daemon=True).start()

    def delete(self, message: Message) -> None:
        """Returns once the message is deleted; raises if SQS refused."""
        done: Future[None] = Future()
        self._pending.put((message, done))
        done.result()

    def _run(self) -> None:
        while True:
            group = [self._pending.get()]
            deadline = time.monotonic() + self._window
            while len(group) < 10:
                remaining = deadline - time.monotonic()
                try:
                    group.append(self._pending.get(timeout=max(0.0, remaining)))
                except stdlib_queue.Empty:
                    break
            try:
                outcome = self._queue.delete_messages([message for message, _ in group])
            except Exception as error:  # botocore already retried the call
                for _, done in group:
                    done.set_exception(error)
                continue
            for (_, done), problem in zip(group, outcome, strict=True):
                if problem is None:
                    done.set_result(None)
                else:
                    done.set_exception(RuntimeError(f"delete failed: {problem}"))
