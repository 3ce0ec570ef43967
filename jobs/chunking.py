"""Cutting a stream of records into batches and deciding how each travels. Pure, no I/O.

A batch (one message) holds up to `records_per_message` records and is named by its position
(`part-00000`, ...), so re-running the same submit gives the same batch ids and the worker
rewrites the same keys instead of creating different work. A batch whose message body fits the
queue's size limit goes inline; a larger one is staged in S3 and its message carries the
object's URI.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from schemas.messages import SCHEMA_VERSION

#: Characters SQS refuses in a body (it allows #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD and above);
#: json.dumps already escapes the control characters.
_SQS_UNSAFE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def encode_record(record_id: str, text: Any) -> bytes:
    """One record as compact JSON: `{"id","text"}` only, UTF-8, safe inside an SQS body."""
    line = json.dumps({"id": record_id, "text": text}, ensure_ascii=False, separators=(",", ":"))
    if not line.isascii() and _SQS_UNSAFE.search(line):
        line = json.dumps({"id": record_id, "text": text}, separators=(",", ":"))
    return line.encode("utf-8")


def batch_id_for(number: int) -> str:
    """`part-00000`, `part-00001`, ...: from the position alone, so reruns name batches alike."""
    return f"part-{number:05d}"


def _envelope(job_id: str, batch_id: str) -> tuple[bytes, bytes]:
    head = json.dumps(
        {"version": SCHEMA_VERSION, "job_id": job_id, "batch_id": batch_id},
        separators=(",", ":"),
    )
    return (head[:-1] + ',"records":[').encode("utf-8"), b"]}"


def inline_size(job_id: str, batch_id: str, records: int, record_bytes: int) -> int:
    """The exact UTF-8 size of the inline body of `records` records of `record_bytes` in all."""
    head, tail = _envelope(job_id, batch_id)
    return len(head) + record_bytes + max(0, records - 1) + len(tail)


def inline_body(job_id: str, batch_id: str, lines: list[bytes]) -> str:
    """The message body with the records inline (`lines` as made by `encode_record`)."""
    head, tail = _envelope(job_id, batch_id)
    return (head + b",".join(lines) + tail).decode("utf-8")


def staged_body(job_id: str, batch_id: str, uri: str) -> str:
    """The message body pointing at a staged JSON Lines chunk."""
    body = {
        "version": SCHEMA_VERSION,
        "job_id": job_id,
        "batch_id": batch_id,
        "input": {"uri": uri, "format": "jsonl"},
    }
    return json.dumps(body, separators=(",", ":"))


@dataclass(frozen=True)
class PlannedBatch:
    """One batch of a submit: which records (by order in the file), and how it travels."""

    number: int
    batch_id: str
    records: int
    record_bytes: int
    first_position: int
    inline: bool


class Chunker:
    """Feed record sizes in file order; it hands back each batch as it is completed."""

    def __init__(self, job_id: str, records_per_message: int, max_message_bytes: int) -> None:
        if records_per_message < 1:
            raise ValueError("records_per_message must be at least 1")
        self.job_id = job_id
        self.records_per_message = records_per_message
        self.max_message_bytes = max_message_bytes
        self._number = 0
        self._records = 0
        self._bytes = 0
        self._first = 0

    def add(self, position: int, encoded_bytes: int) -> PlannedBatch | None:
        if self._records == 0:
            self._first = position
        self._records += 1
        self._bytes += encoded_bytes
        return self._cut() if self._records == self.records_per_message else None

    def finish(self) -> PlannedBatch | None:
        return self._cut() if self._records else None

    def _cut(self) -> PlannedBatch:
        batch_id = batch_id_for(self._number)
        size = inline_size(self.job_id, batch_id, self._records, self._bytes)
        batch = PlannedBatch(
            number=self._number,
            batch_id=batch_id,
            records=self._records,
            record_bytes=self._bytes,
            first_position=self._first,
            inline=size <= self.max_message_bytes,
        )
        self._number += 1
        self._records = self._bytes = 0
        return batch
