"""Checking one input record on its own: a bad record becomes an error line, never a lost batch.

Pure functions, no I/O: the rules a producer must follow are all here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from schemas.json_text import LongInteger
from schemas.records import MAX_ID_CHARS


@dataclass(slots=True)
class Record:
    """A record fit to score. Not frozen: a frozen dataclass costs 3x to build (0.43 vs
    0.14 us), and one is built per review; nothing changes a Record after the check."""

    index: int
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that goes to the errors file, with why."""

    index: int
    id: str | None
    error: str


_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _has_control_chars(value: str) -> bool:
    return _CONTROL_CHARS.search(value) is not None


def check_id(raw: Any) -> tuple[str | None, str | None]:
    """(id, None) when usable, else (None, reason). Integers are accepted and stringified."""
    if isinstance(raw, bool) or raw is None:
        return None, "id is missing" if raw is None else "id must be a string"
    if isinstance(raw, LongInteger):
        return None, f"id is an integer of {len(raw)} characters, over {MAX_ID_CHARS}"
    if isinstance(raw, int):
        raw = str(raw)
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        raw = str(int(raw))
    if not isinstance(raw, str):
        return None, f"id must be a string, not {type(raw).__name__}"
    if not raw.strip():
        return None, "id is empty"
    if len(raw) > MAX_ID_CHARS:
        return None, f"id is longer than {MAX_ID_CHARS} characters"
    if _has_control_chars(raw):
        return None, "id contains control characters"
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        return None, "id is not valid Unicode"
    return raw, None


def _is_plain_id(raw: Any) -> bool:
    """The usual id, which `check_id` would return unchanged: a printable ASCII string (no
    control characters), not all spaces, not too long. Checked without the regex and the
    encode that other ids need (the worker checks one per review)."""
    return (
        type(raw) is str
        and 0 < len(raw) <= MAX_ID_CHARS
        and raw.isascii()
        and raw.isprintable()
        and not raw.isspace()
    )


_MISSING = object()


class RecordChecker:
    """Checks records of one batch in order, remembering ids to reject later repeats."""

    def __init__(self, max_text_bytes: int, id_field: str = "id", text_field: str = "text") -> None:
        self.max_text_bytes = max_text_bytes
        self.id_field = id_field
        self.text_field = text_field
        self._seen: set[str] = set()

    def check(self, index: int, raw: Any) -> Record | Rejected:
        if not isinstance(raw, dict):
            return Rejected(index, None, f"record must be an object, not {type(raw).__name__}")
        record_id = raw.get(self.id_field)
        if not _is_plain_id(record_id):
            record_id, problem = check_id(record_id)
            if problem is not None:
                if self.id_field not in raw:
                    problem = f"'{self.id_field}' is missing"
                return Rejected(index, None, problem)
        assert record_id is not None
        if record_id in self._seen:
            return Rejected(index, record_id, "duplicate id: an earlier record of the batch has it")
        self._seen.add(record_id)
        text = raw.get(self.text_field, _MISSING)
        if text is _MISSING:
            return Rejected(index, record_id, f"'{self.text_field}' is missing")
        if type(text) is not str:  # a str subclass is a LongInteger: digits, not text
            kind = "null" if text is None else type(text).__name__
            kind = "int" if isinstance(text, LongInteger) else kind
            return Rejected(index, record_id, f"text must be a string, not {kind}")
        if not text or text.isspace():  # `not text.strip()`, without copying the text
            return Rejected(index, record_id, "text is empty")
        if text.isascii():  # the common case, without encoding every review
            size = len(text)
        else:
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError:
                return Rejected(index, record_id, "text is not valid UTF-8")
        if size > self.max_text_bytes:
            return Rejected(
                index, record_id, f"text is {size} bytes, over the limit of {self.max_text_bytes}"
            )
        return Record(index, record_id, text)
