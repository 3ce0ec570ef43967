"""An in-memory queue with SQS's semantics, for testing the loop without AWS or moto.

What the loop relies on, as SQS does it: a received message is invisible for its visibility
timeout and comes back after it; each receive counts (`receive_count`) and gets a new receipt
handle, and only the newest handle settles it; past the redrive policy's `max_receives` a
message moves to the dead-letter queue instead of being received again; long polls return as
soon as a message is visible. The clock is injectable, so a test moves time instead of sleeping.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from worker.loop_protocols import Message


class ReceiptHandleInvalid(Exception):
    """The handle is not the newest of a message still in the queue (SQS refuses it too)."""


@dataclass
class _Stored:
    message_id: str
    body: str
    attributes: dict[str, Any]
    visible_at: float = 0.0
    receive_count: int = 0
    receipt_handle: str | None = None


@dataclass
class VisibilityChange:
    """A ChangeMessageVisibility the queue accepted, in order: what heartbeat tests read."""

    message_id: str
    seconds: int
    at: float


@dataclass
class MemoryQueue:
    """A source queue; `dlq` is its dead-letter queue (redrive after `max_receives`)."""

    url: str = "memory://scorer"
    dlq: MemoryQueue | None = None
    max_receives: int | None = None
    clock: Callable[[], float] = time.monotonic
    visibility_changes: list[VisibilityChange] = field(default_factory=list)
    _messages: dict[str, _Stored] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def dlq_url(self) -> str | None:
        return self.dlq.url if self.dlq is not None else None

    # -- what producers and tests do ------------------------------------------------------

    def send(self, body: str, attributes: dict[str, Any] | None = None) -> str:
        with self._changed:
            message_id = f"m-{next(self._ids)}"
            self._messages[message_id] = _Stored(message_id, body, dict(attributes or {}))
            self._changed.notify_all()
            return message_id

    def bodies(self) -> list[str]:
        with self._changed:
            return [stored.body for stored in self._messages.values()]

    def stored(self) -> list[tuple[str, dict[str, Any]]]:
        """(body, attributes) of every message still in the queue, visible or not."""
        with self._changed:
            return [(m.body, m.attributes) for m in self._messages.values()]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Block until `predicate()` holds after some change to this queue (or time out)."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout=timeout)

    # -- the MessageQueue protocol --------------------------------------------------------

    def receive(
        self, max_messages: int, wait_seconds: int, visibility_timeout: int
    ) -> list[Message]:
        deadline = time.monotonic() + wait_seconds
        with self._changed:
            while True:
                received = self._take_visible(max(1, min(10, max_messages)), visibility_timeout)
                remaining = deadline - time.monotonic()
                if received or remaining <= 0:
                    return received
                self._changed.wait(timeout=remaining)

    def _take_visible(self, limit: int, visibility_timeout: int) -> list[Message]:
        now = self.clock()
        taken: list[Message] = []
        for stored in list(self._messages.values()):
            if len(taken) == limit:
                break
            if stored.visible_at > now:
                continue
            if self.max_receives is not None and stored.receive_count >= self.max_receives:
                del self._messages[stored.message_id]  # SQS's redrive: never received again
                if self.dlq is not None:
                    self.dlq.send(stored.body, stored.attributes)
                continue
            stored.receive_count += 1
            stored.receipt_handle = f"{stored.message_id}#{stored.receive_count}"
            stored.visible_at = now + visibility_timeout
            taken.append(
                Message(
                    message_id=stored.message_id,
                    receipt_handle=stored.receipt_handle,
                    body=stored.body,
                    receive_count=stored.receive_count,
                    attributes=dict(stored.attributes),
                )
            )
        return taken

    def _current(self, message: Message) -> _Stored:
        stored = self._messages.get(message.message_id)
        if stored is None or stored.receipt_handle != message.receipt_handle:
            raise ReceiptHandleInvalid(message.receipt_handle)
        return stored

    def delete_messages(self, messages: list[Message]) -> list[str | None]:
        outcome: list[str | None] = []
        with self._changed:
            for message in messages:
                try:
                    self._current(message)
                except ReceiptHandleInvalid:
                    outcome.append("ReceiptHandleIsInvalid")
                    continue
                del self._messages[message.message_id]
                outcome.append(None)
            self._changed.notify_all()
        return outcome

    def change_visibility(self, message: Message, seconds: int) -> None:
        with self._changed:
            stored = self._current(message)
            stored.visible_at = self.clock() + seconds
            self.visibility_changes.append(
                VisibilityChange(message.message_id, seconds, self.clock())
            )
            self._changed.notify_all()

    def send_to_dlq(self, message: Message, reason: str) -> None:
        if self.dlq is None:
            raise RuntimeError("no dead-letter queue")
        with self._changed:
            self._current(message)
        self.dlq.send(
            message.body,
            {**message.attributes, "reason": {"DataType": "String", "StringValue": reason}},
        )
        self.delete_messages([message])

    def depth(self) -> dict[str, int]:
        with self._changed:
            now = self.clock()
            visible = sum(1 for m in self._messages.values() if m.visible_at <= now)
            return {"visible": visible, "in_flight": len(self._messages) - visible, "delayed": 0}
