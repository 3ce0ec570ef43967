"""Reading raw records from a message or a bulk object, one at a time, in bounded memory.

Yields `(index, raw)` pairs for `RecordChecker`, or a `Rejected` where a line or CSV record
cannot even be parsed. Raises `InputError` only when the input as a whole is unusable (a CSV
without the columns, a quote never closed, a size or line limit passed): that is a reason for
the DLQ, not for an error line.

Memory per input is bounded by the line and row caps below, whatever the bytes: a reader
never holds more than one capped line (JSON Lines) or one capped row (CSV). Every physical
line counts toward `max_lines`, blank ones included, so no input shape costs unbounded time.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from schemas.json_text import parse_json
from schemas.messages import MAX_TEXT_BYTES
from worker.record_checks import Rejected, check_id

RawRecords = Iterator[tuple[int, Any] | Rejected]

#: Columns a CSV header may have: a wider header (one line of commas) is not a data file.
MAX_CSV_COLUMNS = 1024
_BOM = b"\xef\xbb\xbf"
# csv's own per-field cap, checked after a row is parsed; rows are capped before parsing
# (`max_csv_row_bytes`), so this only needs to be out of their way.
csv.field_size_limit(64 * 1024 * 1024)


class InputError(Exception):
    """The input as a whole cannot be scored; the message goes to the DLQ with this reason."""


#: Kept for callers that parse one JSON Lines line or one body (see schemas.json_text).
parse_json_line = parse_json


#: Values orjson and `parse_json` read the same way, at the top level of a record.
_PLAIN_VALUES = frozenset({str, int, bool, type(None)})


def _fast_record(line: bytes) -> Any:
    """The line's record read by orjson (~2x faster, from the bytes), or None where only
    `parse_json` is exact: orjson reads integers past 64 bits as floats and nests up to 1,024
    levels, `parse_json` keeps long integers and stops at the recursion limit. A top-level
    object of strings, 64-bit integers, booleans and nulls reads the same in both; anything
    else (an error, a float, a nested value) is read again by `parse_json`."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if type(value) is not dict:
        return None
    for item in value.values():
        if type(item) not in _PLAIN_VALUES:
            return None
    return value


def max_jsonl_line_bytes(max_text_bytes: int) -> int:
    """The longest JSON line that can still hold a text at the limit: every character may be
    escaped as `\\uXXXX` (6 bytes), plus room for the id and other keys."""
    return 6 * max_text_bytes + 16 * 1024


def max_csv_row_bytes(max_text_bytes: int) -> int:
    """The longest CSV record that can still hold a text at the limit: every character may be
    a doubled quote, plus room for the id and other columns."""
    return 2 * max_text_bytes + 64 * 1024


def iter_inline(records: Iterable[Any]) -> RawRecords:
    yield from enumerate(records)


def iter_input(
    stream: IO[bytes],
    fmt: str,
    id_field: str,
    text_field: str,
    max_text_bytes: int,
    max_lines: int | None,
) -> RawRecords:
    """The reader for a bulk input's format, with the caps that fit `max_text_bytes`."""
    if fmt == "csv":
        return iter_csv(stream, id_field, text_field, max_csv_row_bytes(max_text_bytes), max_lines)
    return iter_jsonl(stream, max_jsonl_line_bytes(max_text_bytes), max_lines)


def _too_many_lines(max_lines: int) -> InputError:
    return InputError(f"input has more than {max_lines} lines (blank ones count): split it")


def iter_jsonl(stream: IO[bytes], max_line_bytes: int, max_lines: int | None = None) -> RawRecords:
    """One JSON object per line; blank lines are skipped but keep their line numbers."""
    index = -1
    while True:
        line = stream.readline(max_line_bytes + 1)
        if not line:
            return
        index += 1
        if max_lines is not None and index >= max_lines:
            raise _too_many_lines(max_lines)
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            _skip_rest_of_line(stream, max_line_bytes)
            yield Rejected(index, None, f"line {index + 1} is longer than {max_line_bytes} bytes")
            continue
        if line.isspace():  # `not line.strip()` without copying the line
            continue
        if index == 0 and line.startswith(_BOM):
            line = line[3:]  # a UTF-8 byte-order mark, as spreadsheet exports write
        record = _fast_record(line)
        if record is not None:
            yield index, record
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as error:
            yield Rejected(index, None, f"line {index + 1} is not valid UTF-8 ({error.reason})")
            continue
        try:
            yield index, parse_json(text)
        except RecursionError:
            yield Rejected(index, None, f"line {index + 1} is nested too deeply")
        except ValueError as error:
            yield Rejected(index, None, f"line {index + 1} is not valid JSON ({error})")


def _skip_rest_of_line(stream: IO[bytes], chunk: int) -> None:
    while True:
        piece = stream.readline(chunk)
        if not piece or piece.endswith(b"\n"):
            return


def unclosed_quote(line: int) -> InputError:
    return InputError(
        f"CSV: the quote opened on line {line} is never closed, so the records after it "
        "cannot be told apart"
    )


class _RowTooLong(Exception):
    """Raised through csv.reader when one record grows past the row cap."""


class _CsvLines:
    """Physical lines (split at `\\n` only) for csv.reader, with the row and line caps.

    csv.reader pulls lines until a record is complete; a quoted field may span lines, so the
    cap is on the bytes of the record being read (`start_row` resets it), checked before a
    line is handed over. A bare `\\r` stays inside its line, where the strict reader rejects
    it, instead of silently ending the record as universal newlines would.
    """

    def __init__(self, stream: IO[bytes], max_row_bytes: int, max_lines: int | None) -> None:
        self._stream = stream
        self._max_row_bytes = max_row_bytes
        self._max_lines = max_lines
        self.lines = 0
        self.row_first_line = 1
        self._row_bytes = 0
        self._row_quotes = 0

    def start_row(self) -> None:
        self._row_bytes = 0
        self._row_quotes = 0
        self.row_first_line = self.lines + 1

    def _skip_to_end_of_record(self, line: bytes) -> None:
        """Read past an over-long record without keeping it: to the first line end outside
        quotes (an even count of `"` so far, as RFC 4180 doubles quotes inside a field)."""
        while not line.endswith(b"\n") or self._row_quotes % 2:
            starts_a_line = line.endswith(b"\n")
            line = self._stream.readline(64 * 1024)
            if not line:
                if self._row_quotes % 2:
                    raise unclosed_quote(self.row_first_line)
                return
            if starts_a_line:
                self.lines += 1
                if self._max_lines is not None and self.lines > self._max_lines:
                    raise _too_many_lines(self._max_lines)
            self._row_quotes += line.count(b'"')

    def __iter__(self) -> _CsvLines:
        return self

    def __next__(self) -> str:
        line = self._stream.readline(self._max_row_bytes - self._row_bytes + 1)
        if not line:
            raise StopIteration
        self.lines += 1
        if self._max_lines is not None and self.lines > self._max_lines:
            raise _too_many_lines(self._max_lines)
        self._row_bytes += len(line)
        self._row_quotes += line.count(b'"')
        if self._row_bytes > self._max_row_bytes:
            self._skip_to_end_of_record(line)
            raise _RowTooLong
        if self.lines == 1 and line.startswith(_BOM):
            line = line[3:]
            if not line:  # a file of just the byte-order mark
                raise StopIteration
        # Undecodable bytes become surrogates: the record checker rejects that record only.
        return line.decode("utf-8", errors="surrogateescape")


def _describe_csv_error(error: csv.Error) -> str:
    text = str(error)
    if text.startswith("new-line character seen in unquoted field"):
        return "a carriage return inside an unquoted field (quote the field)"
    return text


def iter_csv(
    stream: IO[bytes],
    id_field: str,
    text_field: str,
    max_row_bytes: int = max_csv_row_bytes(MAX_TEXT_BYTES),
    max_lines: int | None = None,
) -> RawRecords:
    """RFC 4180 CSV with a header row; quoted fields may hold commas, quotes and newlines.

    Strict: a record that breaks the format (text after a closing quote, a bare `\\r`, a
    record over `max_row_bytes`) becomes an error line and reading resumes at the next line;
    a quote still open at the end of the file is an InputError, since the records after it
    cannot be told apart. A row whose field count differs from the header's is rejected on
    its own. Undecodable bytes are kept as surrogates so the record checker rejects only
    that record.
    """
    lines = _CsvLines(stream, max_row_bytes, max_lines)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except _RowTooLong:
        raise InputError(f"CSV header is longer than {max_row_bytes} bytes") from None
    except csv.Error as error:
        raise InputError(f"CSV header is malformed: {_describe_csv_error(error)}") from None
    if len(header) > MAX_CSV_COLUMNS:
        raise InputError(f"CSV header has {len(header)} columns, over {MAX_CSV_COLUMNS}")
    missing = [name for name in (id_field, text_field) if name not in header]
    if missing:
        # Name the columns asked for, never the row read as the header: in a file without
        # a header row (or JSON Lines declared as CSV) that row is review text.
        raise InputError(
            f"CSV header lacks column(s) {', '.join(map(repr, missing))} "
            f"(it has {len(header)} column(s))"
        )
    id_column = header.index(id_field)
    index = -1
    while True:
        lines.start_row()
        try:
            row = next(reader)
        except StopIteration:
            return
        except _RowTooLong:
            index += 1
            where = _line_span(lines)
            yield Rejected(
                index, None, f"record {index + 1} ({where}) is over {max_row_bytes} bytes"
            )
            continue
        except csv.Error as error:
            if str(error) == "unexpected end of data":
                raise unclosed_quote(lines.row_first_line) from None
            index += 1
            where = _line_span(lines)
            yield Rejected(
                index,
                None,
                f"record {index + 1} ({where}) is malformed: {_describe_csv_error(error)}",
            )
            continue
        if not row or row == [""]:
            continue
        index += 1
        if len(row) != len(header):
            record_id = check_id(row[id_column])[0] if id_column < len(row) else None
            problem = f"record {index + 1} has {len(row)} fields, the header has {len(header)}"
            yield Rejected(index, record_id, problem)
            continue
        yield index, dict(zip(header, row, strict=True))


def _line_span(lines: _CsvLines) -> str:
    first, last = lines.row_first_line, lines.lines
    return f"line {first}" if first >= last else f"lines {first}-{last}"
