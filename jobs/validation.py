"""Pass one of a submit: check every record and spool the good ones, before anything is sent.

The records are written compactly to a local spool file while the batches are planned, so a
file of any size is read once (from disk or S3), checked whole, and sent only if it passed;
memory holds the batch plan and an 8-byte hash per id (for duplicates across the whole file),
never the records.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from jobs.chunking import Chunker, PlannedBatch, encode_record
from jobs.reading import Format, InputRecord, Problem, where

#: How many problems, warnings or duplicates a report lists (all are counted).
SHOWN = 10


@dataclass
class Validation:
    """What pass one found: the batch plan, and every reason not to send (or to warn)."""

    fmt: Format
    records: int = 0
    batches: list[PlannedBatch] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    duplicates: list[str] = field(default_factory=list)
    duplicate_count: int = 0

    def errors(self, strict: bool, allow_duplicates: bool) -> list[str]:
        """Why this file must not be sent, given the policy; empty when it may be."""
        found = list(self.problems)
        if self.problem_count > len(self.problems):
            found.append(f"... and {self.problem_count - len(self.problems)} more problem(s)")
        if strict and self.warning_count:
            found += self.warnings
            if self.warning_count > len(self.warnings):
                found.append(f"... and {self.warning_count - len(self.warnings)} more rejected")
        if not allow_duplicates and self.duplicate_count:
            found += self.duplicates
            if self.duplicate_count > len(self.duplicates):
                found.append(f"... and {self.duplicate_count - len(self.duplicates)} more")
        if self.records == 0 and not self.problem_count:
            found.append("the input holds no records")
        return found


def _id_hash(record_id: str) -> int:
    digest = hashlib.blake2b(record_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def validate_and_spool(
    items: Iterable[InputRecord | Problem],
    fmt: Format,
    chunker: Chunker,
    spool: IO[bytes],
    on_record: Callable[[], None] | None = None,
) -> Validation:
    """Check all records, write the sendable ones to `spool` (one JSON line each), plan batches."""
    result = Validation(fmt=fmt)
    hashes = array("Q")
    positions = array("Q")
    for item in items:
        if on_record is not None:
            on_record()
        if isinstance(item, Problem):
            result.problem_count += 1
            if len(result.problems) < SHOWN:
                result.problems.append(item.message)
            continue
        if item.problem is not None:
            result.warning_count += 1
            if len(result.warnings) < SHOWN:
                result.warnings.append(f"{where(fmt, item.position)}: {item.problem}")
        hashes.append(_id_hash(item.id))
        positions.append(item.position)
        if result.problem_count:
            continue  # keep checking the rest of the file, but nothing will be sent
        line = encode_record(item.id, item.text)
        spool.write(line + b"\n")
        result.records += 1
        batch = chunker.add(item.position, len(line))
        if batch is not None:
            result.batches.append(batch)
    last = chunker.finish()
    if last is not None:
        result.batches.append(last)
    if result.problem_count:
        result.records = 0
        result.batches.clear()
    _find_duplicates(result, hashes, positions, spool)
    return result


def _find_duplicates(result: Validation, hashes: array, positions: array, spool: IO[bytes]) -> None:
    """Sort the id hashes; equal neighbours are duplicates (confirmed on the spooled ids)."""
    if len(hashes) < 2:
        return
    values = np.frombuffer(hashes, dtype=np.uint64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    repeated = np.nonzero(ordered[1:] == ordered[:-1])[0]
    if repeated.size == 0:
        return
    # Map each candidate's ordinal to its position; ids confirmed from the spool when present.
    groups: dict[int, list[int]] = {}
    for offset in repeated.tolist():
        for ordinal in (int(order[offset]), int(order[offset + 1])):
            bucket = groups.setdefault(int(ordered[offset]), [])
            if ordinal not in bucket:
                bucket.append(ordinal)
    ids = _ids_at(spool, {ordinal for bucket in groups.values() for ordinal in bucket})
    for bucket in groups.values():
        by_id: dict[str | None, list[int]] = {}
        for ordinal in sorted(bucket):
            by_id.setdefault(ids.get(ordinal), []).append(ordinal)
        for record_id, ordinals in by_id.items():
            if len(ordinals) < 2 and record_id is not None:
                continue  # a hash collision between different ids
            result.duplicate_count += len(ordinals) - 1
            if len(result.duplicates) < SHOWN:
                places = ", ".join(where(result.fmt, int(positions[o])) for o in ordinals[:5])
                name = "an id" if record_id is None else f"id {record_id!r}"
                result.duplicates.append(f"duplicate {name} at {places}")


def _ids_at(spool: IO[bytes], ordinals: set[int]) -> dict[int, str | None]:
    """The ids of the spooled records at these ordinals (none when nothing was spooled)."""
    found: dict[int, str | None] = {}
    if spool.tell() == 0 or not ordinals:
        return found
    end = spool.tell()
    spool.seek(0)
    for ordinal, line in enumerate(spool):
        if ordinal in ordinals:
            found[ordinal] = json.loads(line)["id"]
            if len(found) == len(ordinals):
                break
    spool.seek(end)
    return found
