"""Reading raw records from a message or a bulk object, one at a time, in bounded memory.

Yields `(index, raw)` pairs for `RecordChecker`, or a `Rejected` where a line cannot even be
parsed. Raises `InputError` only when the input as a whole is unusable (a CSV without the
columns, a size limit passed): that is a reason for the DLQ, not for an error line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator
from typing import IO, Any

from worker.records import Rejected, check_id

RawRecords = Iterator[tuple[int, Any] | Rejected]


#: Fields longer than this stop the whole CSV (a runaway quote would otherwise swallow the
#: rest of the file into one field); texts over the record limit are rejected one by one.
CSV_FIELD_LIMIT = 16 * 1024 * 1024
csv.field_size_limit(CSV_FIELD_LIMIT)


class InputError(Exception):
    """The input as a whole cannot be scored; the message goes to the DLQ with this reason."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range for a number")
    return value


#: One decoder for every line: `json.loads` with hooks builds a new decoder per call.
_STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def parse_json_line(line: str) -> Any:
    """Strict JSON: no NaN/Infinity (nor 1e999), bounded nesting (the recursion limit)."""
    return _STRICT_DECODER.decode(line)


def max_jsonl_line_bytes(max_text_bytes: int) -> int:
    """The longest JSON line that can still hold a text at the limit: every character may be
    escaped as `\\uXXXX` (6 bytes), plus room for the id and other keys."""
    return 6 * max_text_bytes + 16 * 1024


def iter_inline(records: Iterable[Any]) -> RawRecords:
    yield from enumerate(records)


def iter_jsonl(stream: IO[bytes], max_line_bytes: int) -> RawRecords:
    """One JSON object per line; blank lines are skipped but keep their line numbers."""
    index = -1
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        index += 1
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            _skip_rest_of_line(stream, max_line_bytes)
            yield Rejected(index, None, f"line {index + 1} is longer than {max_line_bytes} bytes")
            continue
        if not line.strip():
            continue
        if index == 0 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a UTF-8 byte-order mark, as spreadsheet exports write
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            yield Rejected(index, None, f"line {index + 1} is not valid UTF-8 ({error.reason})")
            continue
        try:
            yield index, parse_json_line(text)
        except RecursionError:
            yield Rejected(index, None, f"line {index + 1} is nested too deeply")
        except ValueError as error:
            yield Rejected(index, None, f"line {index + 1} is not valid JSON ({error})")


def _skip_rest_of_line(stream: IO[bytes], chunk: int) -> None:
    while True:
        piece = stream.readline(chunk)
        if not piece or piece.endswith(b"\n"):
            return


def iter_csv(stream: IO[bytes], id_field: str, text_field: str) -> RawRecords:
    """RFC 4180 CSV with a header row; quoted fields may hold commas, quotes and newlines.

    Undecodable bytes are kept as surrogates so the record checker rejects only that record.
    A row whose field count differs from the header's is rejected on its own.
    """
    text_stream = io.TextIOWrapper(
        stream, encoding="utf-8-sig", errors="surrogateescape", newline=""
    )
    reader = csv.reader(text_stream)
    try:
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InputError(f"CSV header is malformed: {error}") from None
        missing = [name for name in (id_field, text_field) if name not in header]
        if missing:
            # Name the columns asked for, never the row read as the header: in a file without
            # a header row (or JSON Lines declared as CSV) that row is review text.
            raise InputError(
                f"CSV header lacks column(s) {', '.join(map(repr, missing))} "
                f"(it has {len(header)} column(s))"
            )
        index = -1
        while True:
            index += 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise InputError(f"CSV record {index + 1} is malformed: {error}") from None
            if not row or row == [""]:
                index -= 1
                continue
            if len(row) != len(header):
                id_column = header.index(id_field)
                record_id = check_id(row[id_column])[0] if id_column < len(row) else None
                problem = f"record {index + 1} has {len(row)} fields, the header has {len(header)}"
                yield Rejected(index, record_id, problem)
                continue
            yield index, dict(zip(header, row, strict=True))
    finally:
        text_stream.detach()
