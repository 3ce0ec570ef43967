"""Sending messages with SendMessageBatch: 10 at a time, failed entries retried.

A SendMessageBatch call can succeed while some of its entries fail (the per-entry `Failed`
list, e.g. throttling inside SQS); botocore retries whole calls, not entries, so that part is
ours: entries that failed through no fault of ours are sent again, a bounded number of times
with backoff. SQS also caps the sum of a call's bodies at 1 MiB, so big messages go fewer per
call. Sending the same batch twice is harmless: the worker writes the same keys.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jobs.settings import SQS_MAX_MESSAGE_BYTES

MAX_ENTRIES = 10


@dataclass(frozen=True)
class Outgoing:
    """A message to send; `key` names it in reports (a batch id)."""

    key: str
    body: str
    attributes: dict[str, Any] | None = None

    @property
    def size(self) -> int:
        """Bytes SQS counts against its limit: the body plus each attribute's name, type, value."""
        total = len(self.body.encode("utf-8"))
        for name, value in (self.attributes or {}).items():
            total += len(name.encode()) + len(value.get("DataType", "").encode())
            if "StringValue" in value:
                total += len(value["StringValue"].encode("utf-8"))
            if "BinaryValue" in value:
                total += len(value["BinaryValue"])
        return total


@dataclass
class SendReport:
    sent: int = 0
    bytes: int = 0
    calls: int = 0
    retried_entries: int = 0
    sent_keys: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


class MessageSender:
    """Buffers messages and sends them in SendMessageBatch calls; `close` sends the rest."""

    def __init__(
        self,
        client: Any,
        queue_url: str,
        max_request_bytes: int = SQS_MAX_MESSAGE_BYTES,
        attempts: int = 5,
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        on_sent: Callable[[Outgoing], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.queue_url = queue_url
        self.max_request_bytes = max_request_bytes
        self.attempts = max(1, attempts)
        self.backoff_seconds = backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.on_sent = on_sent
        self.sleep = sleep
        self.report = SendReport()
        self._group: list[Outgoing] = []
        self._group_bytes = 0

    def add(self, message: Outgoing) -> None:
        size = message.size
        if self._group and (
            len(self._group) == MAX_ENTRIES or self._group_bytes + size > self.max_request_bytes
        ):
            self.flush()
        self._group.append(message)
        self._group_bytes += size

    def flush(self) -> None:
        if self._group:
            group, self._group, self._group_bytes = self._group, [], 0
            self._send(group)

    def close(self) -> SendReport:
        self.flush()
        return self.report

    def _send(self, group: list[Outgoing]) -> None:
        pending = {f"m{i}": message for i, message in enumerate(group)}
        last_error: dict[str, str] = {}
        for attempt in range(1, self.attempts + 1):
            entries = []
            for entry_id, message in pending.items():
                entry: dict[str, Any] = {"Id": entry_id, "MessageBody": message.body}
                if message.attributes:
                    entry["MessageAttributes"] = message.attributes
                entries.append(entry)
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            self.report.calls += 1
            for success in response.get("Successful", []):
                message = pending.pop(success["Id"])
                self.report.sent += 1
                self.report.bytes += message.size
                self.report.sent_keys.append(message.key)
                if self.on_sent is not None:
                    self.on_sent(message)
            for failure in response.get("Failed", []):
                reason = f"{failure.get('Code', '?')}: {failure.get('Message', '')}".strip()
                if failure.get("SenderFault") and failure["Id"] in pending:
                    # Our fault (too big, invalid characters): sending again cannot help.
                    self.report.failed.append((pending.pop(failure["Id"]).key, reason))
                else:
                    last_error[failure["Id"]] = reason
            if not pending:
                return
            if attempt < self.attempts:
                self.report.retried_entries += len(pending)
                delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
                self.sleep(delay * random.uniform(0.5, 1.0))
        for entry_id, message in pending.items():
            reason = last_error.get(entry_id, "not acknowledged")
            self.report.failed.append((message.key, f"{reason} (after {self.attempts} attempts)"))
