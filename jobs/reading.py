"""Reading a submit's input (local path or s3:// URI, JSON Lines or CSV, `.gz` too) as records.

Parsing reuses the worker's own readers (`worker.inputs`) and record rules (`check_id`,
`RecordChecker`), so what submit accepts is what the worker scores. Problems come in two
kinds: `Problem` (the file is broken at that line: not JSON, not UTF-8, a missing column, an
unusable id) stops the submit; `InputRecord.problem` (the worker will reject the record on its
own, e.g. empty text) is a warning, and the record ends in the job's errors file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from schemas.messages import MAX_TEXT_BYTES
from schemas.uris import parse_s3_uri
from worker.inputs import InputError, iter_csv, iter_jsonl, max_jsonl_line_bytes
from worker.record_checks import RecordChecker, Rejected, check_id

Format = Literal["jsonl", "csv"]
_EXTENSIONS: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
#: Reading an input to submit has no decompressed-size cap (the worker's guard is for S3 jobs).
_UNLIMITED = 1 << 62


class SourceError(Exception):
    """The input cannot be read at all (missing, unknown format, a CSV without the columns)."""


@dataclass(frozen=True, slots=True)
class InputRecord:
    """A record to send. `problem` is the worker's reason when it will reject the record."""

    position: int
    id: str
    text: Any
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """A line that makes the whole file unfit to submit; `message` names the line."""

    position: int
    message: str


def format_for_name(name: str) -> Format | None:
    """`jsonl` or `csv` from a file name or key (`.gz` looked through), else None."""
    lowered = name.lower()
    if lowered.endswith(".gz"):
        lowered = lowered[: -len(".gz")]
    for extension, fmt in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return fmt
    return None


def resolve_format(name: str, given: str | None) -> Format:
    if given is not None:
        return "csv" if given == "csv" else "jsonl"
    fmt = format_for_name(name)
    if fmt is None:
        raise SourceError(f"cannot tell the format of {name}: use .jsonl/.csv (.gz) or --format")
    return fmt


@contextmanager
def open_source(source: str) -> Iterator[IO[bytes]]:
    """A byte stream of a local file or an S3 object, gunzipped when it starts with gzip's
    magic bytes (whatever its name says), as the worker reads its inputs."""
    if source.startswith("s3://"):
        from worker.s3 import open_input

        try:
            location = parse_s3_uri(source)
        except ValueError as error:
            raise SourceError(str(error)) from None
        try:
            with open_input(location, _UNLIMITED) as (stream, _etag):
                yield stream
        except InputError as error:
            raise SourceError(str(error)) from None
        return
    path = Path(source)
    if not path.is_file():
        raise SourceError(f"{source}: no such file")
    from worker.s3 import decoded_input

    try:
        with path.open("rb") as raw, decoded_input(raw, _UNLIMITED, source) as stream:
            yield stream
    except InputError as error:
        raise SourceError(str(error)) from None


def where(fmt: Format, position: int) -> str:
    """How a message names a record: its line in JSON Lines, its number after a CSV header."""
    return f"line {position}" if fmt == "jsonl" else f"CSV record {position}"


def read_records(
    stream: IO[bytes],
    fmt: Format,
    id_field: str = "id",
    text_field: str = "text",
    max_text_bytes: int = MAX_TEXT_BYTES,
) -> Iterator[InputRecord | Problem]:
    """Records in file order, each checked as the worker will check it."""
    if fmt == "csv":
        raw_records = iter_csv(stream, id_field, text_field)
    else:
        raw_records = iter_jsonl(stream, max_jsonl_line_bytes(max_text_bytes))
    try:
        for item in raw_records:
            if isinstance(item, Rejected):
                message = item.error
                if fmt == "csv":  # the worker's wording ("record 3 has ...") lacks the kind
                    message = f"CSV {message}"
                yield Problem(item.index + 1, message)
                continue
            index, raw = item
            yield _check(fmt, index + 1, raw, id_field, text_field, max_text_bytes)
    except InputError as error:
        raise SourceError(str(error)) from None


def _check(
    fmt: Format, position: int, raw: Any, id_field: str, text_field: str, max_text_bytes: int
) -> InputRecord | Problem:
    at = where(fmt, position)
    if not isinstance(raw, dict):
        return Problem(position, f"{at}: a record must be a JSON object, not {type(raw).__name__}")
    if id_field not in raw:
        return Problem(position, f"{at}: '{id_field}' is missing")
    record_id, id_problem = check_id(raw[id_field])
    if id_problem is not None or record_id is None:
        return Problem(position, f"{at}: {id_problem}")
    if text_field not in raw:
        return Problem(position, f"{at}: '{text_field}' is missing")
    text = raw[text_field]
    if isinstance(text, str):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return Problem(position, f"{at}: text is not valid UTF-8")
    # A fresh checker for the text rules alone (the id passed above; duplicates are checked
    # file-wide, not per checker).
    checked = RecordChecker(max_text_bytes).check(0, {"id": "-", "text": text})
    problem = checked.error if isinstance(checked, Rejected) else None
    return InputRecord(position, record_id, text, problem)
