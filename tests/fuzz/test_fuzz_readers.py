"""Property-based fuzzing of the input readers and the record checker.

Properties, for any bytes: no exception escapes but InputError (the input as a whole goes to
the DLQ with that reason); every input line or record is accounted for (results + errors =
records in the input, each index once, in order); what is read back is what was written.
Memory is covered in test_input_memory.py (RSS of the large cases, in a subprocess).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from fuzz import strategies
from fuzz.strategies import unicode_text
from schemas.records import MAX_ID_CHARS
from worker.inputs import InputError, iter_csv, iter_jsonl, max_csv_row_bytes
from worker.record_checks import Record, RecordChecker, Rejected
from worker.s3 import decoded_input

MAX_TEXT = 64 * 1024
LINE_CAP = 512  # small, so the long-line path is exercised often
ROW_CAP = max_csv_row_bytes(MAX_TEXT)

texts = unicode_text(max_size=40)
ids = st.one_of(
    unicode_text(min_size=1, max_size=12),
    st.integers(min_value=-(10**12), max_value=10**12),
)
json_values = strategies.json_values(texts, max_size=4, max_leaves=20)
raw_records = st.one_of(
    st.fixed_dictionaries({"id": ids, "text": texts}),
    st.fixed_dictionaries({"id": json_values, "text": json_values}),
    json_values,
)


def read_all(data: bytes, reader: Any) -> list[tuple[int, Any] | Rejected]:
    """Through the worker's byte path (gzip by magic bytes) and a reader."""
    with decoded_input(io.BytesIO(data), 1 << 30, "s3://fuzz/input") as stream:  # type: ignore[arg-type]
        return list(reader(stream))


def assert_each_index_once_in_order(items: list[tuple[int, Any] | Rejected]) -> list[int]:
    indexes = [item.index if isinstance(item, Rejected) else item[0] for item in items]
    assert indexes == sorted(set(indexes)), indexes
    return indexes


# -- JSON Lines ------------------------------------------------------------------------------

jsonl_lines = st.lists(
    st.one_of(
        raw_records.map(lambda value: json.dumps(value).encode()),
        raw_records.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
        st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
        st.integers(1, 3 * LINE_CAP).map(lambda n: b"[" * n),  # nesting, long lines
        st.sampled_from([b"", b"   ", b"\r", b"NaN", b"1e999", b"9" * 5000, b"\xef\xbb\xbf{}"]),
    ),
    max_size=30,
)


@given(lines=jsonl_lines, crlf=st.booleans(), gzipped=st.booleans(), final_newline=st.booleans())
def test_jsonl_every_non_blank_line_is_a_record_or_an_error(
    lines: list[bytes], crlf: bool, gzipped: bool, final_newline: bool
) -> None:
    data = (b"\r\n" if crlf else b"\n").join(lines) + (b"\n" if final_newline and lines else b"")
    data = gzip.compress(data) if gzipped else data
    items = read_all(data, lambda s: iter_jsonl(s, LINE_CAP))
    physical = data if not gzipped else gzip.decompress(data)
    non_blank = [i for i, line in enumerate(physical.split(b"\n")) if line.strip()]
    assert assert_each_index_once_in_order(items) == non_blank
    checker = RecordChecker(MAX_TEXT)
    checked = [i if isinstance(i, Rejected) else checker.check(*i) for i in items]
    results = sum(isinstance(c, Record) for c in checked)
    errors = sum(isinstance(c, Rejected) for c in checked)
    assert results + errors == len(non_blank)


@given(lines=st.lists(st.sampled_from([b"", b" ", b"\r", b'{"id":"a","text":"t"}']), max_size=40))
def test_jsonl_blank_lines_count_toward_the_line_limit(lines: list[bytes]) -> None:
    data = b"\n".join(lines) + b"\n"
    limit = 10
    try:
        items = list(iter_jsonl(io.BytesIO(data), LINE_CAP, max_lines=limit))
    except InputError as error:
        assert len(lines) > limit and "more than 10 lines" in str(error)
        return
    assert len(lines) <= limit
    assert len(items) == sum(1 for line in lines if line.strip())


# -- CSV -------------------------------------------------------------------------------------

csv_texts = unicode_text(max_size=60)


def write_csv(rows: list[tuple[str, str]], terminator: str) -> bytes:
    """As a spreadsheet exports: with `\n` line ends, every field quoted (csv.writer would
    leave a `\r` unquoted then, which no reader can tell from a line end)."""
    out = io.StringIO()
    quoting = csv.QUOTE_MINIMAL if terminator == "\r\n" else csv.QUOTE_ALL
    writer = csv.writer(out, lineterminator=terminator, quoting=quoting)
    writer.writerow(["id", "text"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@given(
    rows=st.lists(st.tuples(st.integers(0, 10**6).map(str), csv_texts), max_size=25),
    terminator=st.sampled_from(["\r\n", "\n"]),
    gzipped=st.booleans(),
)
def test_csv_written_by_a_csv_writer_reads_back_exactly(
    rows: list[tuple[str, str]], terminator: str, gzipped: bool
) -> None:
    data = write_csv(rows, terminator)
    data = gzip.compress(data) if gzipped else data
    items = read_all(data, lambda s: iter_csv(s, "id", "text", ROW_CAP))
    assert [(raw["id"], raw["text"]) for _, raw in items] == rows  # type: ignore[index]
    assert_each_index_once_in_order(items)


corruptions = st.sampled_from(
    [
        b'"quoted"trailing',  # text after a closing quote
        b"bare\rcarriage",  # a carriage return inside an unquoted field
        b'x"y',  # a quote inside an unquoted field (csv keeps it)
        b"a,b,c",  # ragged: too many fields
        b"\xff\xfe",  # undecodable bytes
    ]
)


@given(
    rows=st.lists(st.tuples(st.integers(0, 10**6).map(str), csv_texts), min_size=1, max_size=15),
    where=st.integers(0, 14),
    corruption=corruptions,
)
def test_csv_one_broken_record_costs_one_error_line_and_nothing_else(
    rows: list[tuple[str, str]], where: int, corruption: bytes
) -> None:
    rows = [(row_id, text or "t") for row_id, text in rows]
    lines = write_csv(rows, "\n").split(b"\n")  # header, data..., "" (csv quotes any \n)
    assume(all(b'"' not in line or line.count(b'"') % 2 == 0 for line in lines))  # one per line
    where = 1 + where % len(rows)
    lines[where] = b"broken," + corruption
    items = read_all(b"\n".join(lines), lambda s: iter_csv(s, "id", "text", ROW_CAP))
    indexes = assert_each_index_once_in_order(items)
    assert indexes == list(range(len(rows)))
    for position, item in enumerate(items):
        if position == where - 1:
            continue
        assert item == (position, {"id": rows[position][0], "text": rows[position][1]})


@given(body=st.binary(max_size=400), gzipped=st.booleans())
def test_csv_any_bytes_after_a_header_are_records_errors_or_one_input_error(
    body: bytes, gzipped: bool
) -> None:
    data = b"id,text\n" + body
    data = gzip.compress(data) if gzipped else data
    try:
        items = read_all(data, lambda s: iter_csv(s, "id", "text", 64))
    except InputError as error:
        assert "CSV" in str(error)
        return
    indexes = assert_each_index_once_in_order(items)
    assert indexes == list(range(len(indexes)))
    assert len(items) <= body.count(b"\n") + 1  # a record takes at least one line
    checker = RecordChecker(MAX_TEXT)
    for item in items:
        checked = item if isinstance(item, Rejected) else checker.check(*item)
        assert isinstance(checked, Record | Rejected)


# -- The record checker ----------------------------------------------------------------------


@given(raw=raw_records)
def test_record_checker_accepts_or_rejects_any_value_and_never_raises(raw: Any) -> None:
    checked = RecordChecker(MAX_TEXT).check(7, raw)
    assert checked.index == 7
    if isinstance(checked, Record):
        assert checked.text.strip() and len(checked.text.encode()) <= MAX_TEXT
        assert checked.id.strip() and len(checked.id) <= MAX_ID_CHARS
        assert checked.id.isprintable() or " " in checked.id or not checked.id.isascii()
    else:
        assert checked.error
