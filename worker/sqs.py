"""The SQS side of the worker: receive, delete, extend visibility, dead-letter.

The loop talks to this small interface only, so it never builds SQS requests itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from worker.aws import sqs_client

log = logging.getLogger(__name__)

#: SQS caps one message attribute value (and the whole message) at this size; reasons are short.
MAX_REASON_CHARS = 1000
#: SQS allows at most this many message attributes; three are ours.
MAX_ATTRIBUTES = 10


@dataclass(frozen=True)
class Message:
    """One received SQS message."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    attributes: dict[str, Any]


class SqsQueue:
    """A source queue and the dead-letter queue its poison messages go to."""

    def __init__(self, queue_url: str, dlq_url: str | None = None) -> None:
        self.url = queue_url
        self._client = sqs_client()
        self.dlq_url = dlq_url or self.dlq_from_redrive_policy()

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
