"""The SQS side of the worker: receive, delete, extend visibility, dead-letter.

The loop talks to this small interface only, so it never builds SQS requests itself.
"""

from __future__ import annotations

import json
import logging
import queue as stdlib_queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from worker.aws import sqs_client
from worker.loop_protocols import Message, MessageQueue

__all__ = ["BatchedDeleter", "Message", "SqsQueue"]

log = logging.getLogger(__name__)

#: SQS caps one message attribute value (and the whole message) at this size; reasons are short.
MAX_REASON_CHARS = 1000
#: SQS allows at most this many message attributes; three are ours.
MAX_ATTRIBUTES = 10


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

    def delete_batch(self, messages: list[Message]) -> list[str | None]:
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

        The copy keeps the body byte for byte, so a redrive after a fix replays it exactly.
        """
        if not self.dlq_url:
            raise RuntimeError(
                "no dead-letter queue: give the queue a redrive policy or set SCORER_DLQ_URL"
            )
        kept = [
            (name, value)
            for name, value in message.attributes.items()
            if name not in ("reason", "source_message_id", "source_queue_url")
        ][: MAX_ATTRIBUTES - 3]
        attributes = {
            name: {
                k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")
            }
            for name, value in kept
        }
        attributes["reason"] = {"DataType": "String", "StringValue": reason[:MAX_REASON_CHARS]}
        attributes["source_message_id"] = {"DataType": "String", "StringValue": message.message_id}
        attributes["source_queue_url"] = {"DataType": "String", "StringValue": self.url}
        self._client.send_message(
            QueueUrl=self.dlq_url, MessageBody=message.body, MessageAttributes=attributes
        )
        self.delete(message)

    def depth(self) -> dict[str, int]:
        """Visible and in-flight counts (approximate, as SQS reports them)."""
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {
            "visible": int(attributes.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        }


class BatchedDeleter:
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
            batch = [self._pending.get()]
            deadline = time.monotonic() + self._window
            while len(batch) < 10:
                remaining = deadline - time.monotonic()
                try:
                    batch.append(self._pending.get(timeout=max(0.0, remaining)))
                except stdlib_queue.Empty:
                    break
            try:
                outcome = self._queue.delete_batch([message for message, _ in batch])
            except Exception as error:  # botocore already retried the call
                for _, done in batch:
                    done.set_exception(error)
                continue
            for (_, done), problem in zip(batch, outcome, strict=True):
                if problem is None:
                    done.set_result(None)
                else:
                    done.set_exception(RuntimeError(f"delete failed: {problem}"))
