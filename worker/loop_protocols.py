"""What the loop needs of a queue and of a processor, and how a message can end.

`worker.loop.Worker` is written against these alone: `worker.sqs.SqsQueue` drives it on AWS,
`worker.memory_queue.MemoryQueue` in unit tests (as dramatiq's StubBroker does for its loop).
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Message:
    """One received message: the receipt handle is what settles it."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    attributes: dict[str, Any]


class MessageQueue(Protocol):
    """A source queue and the dead-letter queue its poison messages go to."""

    dlq_url: str | None

    def receive(
        self, max_messages: int, wait_seconds: int, visibility_timeout: int
    ) -> list[Message]: ...

    def delete_messages(self, messages: list[Message]) -> list[str | None]:
        """Per message, None or why its delete failed."""
        ...

    def change_visibility(self, message: Message, seconds: int) -> None: ...

    def send_to_dlq(self, message: Message, reason: str) -> None:
        """Copy to the DLQ with its reason, then delete from the source queue."""
        ...

    def depth(self) -> dict[str, int]:
        """`visible`, `in_flight` and `delayed` message counts."""
        ...


class ProcessedBatch(Protocol):
    job_id: str
    batch_id: str
    records_scored: int
    records_rejected: int
    results_uri: str
    seconds: float


class ScorerStats(Protocol):
    model_calls: int
    texts_scored: int
    busy_seconds: float


class MessageProcessor(Protocol):
    """Turns one message body into result objects; raises to say how it failed.

    `PoisonMessage` / `InputError`: dead-letter it; `BatchAborted`: it was asked to stop
    (`abort` set); anything else: transient, retry later.
    """

    scorer: ScorerStats

    def process(self, body: str, abort: threading.Event | None = None) -> ProcessedBatch: ...


class Outcome(enum.StrEnum):
    """How the loop settled a message (the EMF metric and the `stopped` counts use these)."""

    SCORED = "scored"
    DEAD_LETTERED = "dead_lettered"
    RETRIED = "retried"
    RELEASED = "released"
