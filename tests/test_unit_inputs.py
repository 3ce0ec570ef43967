"""Reading bulk input: JSON Lines and CSV, one record at a time, bad lines isolated."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from worker.inputs import InputError, iter_csv, iter_inline, iter_jsonl
from worker.record_checks import Record, RecordChecker, Rejected

MAX_LINE = 1024


def read_jsonl(data: bytes, max_line_bytes: int = MAX_LINE) -> list[tuple[int, Any] | Rejected]:
    return list(iter_jsonl(io.BytesIO(data), max_line_bytes))


def read_csv(data: bytes, id_field: str = "id", text_field: str = "text") -> list[Any]:
    return list(iter_csv(io.BytesIO(data), id_field, text_field))


def jsonl(*objects: Any) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in objects)


def test_inline_records_are_numbered_in_order() -> None:
    assert list(iter_inline(["a", {"id": 1}])) == [(0, "a"), (1, {"id": 1})]


# -- JSON Lines -----------------------------------------------------------------------------


def test_jsonl_yields_one_object_per_line() -> None:
    data = jsonl({"id": "a", "text": "x"}, {"id": "b", "text": "y"})
    assert read_jsonl(data) == [(0, {"id": "a", "text": "x"}), (1, {"id": "b", "text": "y"})]


def test_jsonl_skips_blank_lines_but_keeps_line_numbers() -> None:
    data = b'{"id": "a"}\n\n   \n\r\n{"id": "b"}\n'
    assert read_jsonl(data) == [(0, {"id": "a"}), (4, {"id": "b"})]


def test_jsonl_reads_a_last_line_without_newline() -> None:
    assert read_jsonl(b'{"id": "a"}\n{"id": "b"}') == [(0, {"id": "a"}), (1, {"id": "b"})]


def test_jsonl_reads_crlf_lines() -> None:
    assert read_jsonl(b'{"id": "a"}\r\n{"id": "b"}\r\n') == [(0, {"id": "a"}), (1, {"id": "b"})]


def test_jsonl_keeps_utf8_text() -> None:
    data = '{"id": "a", "text": "très bien ☕"}\n'.encode()
    assert read_jsonl(data) == [(0, {"id": "a", "text": "très bien ☕"})]


def test_empty_jsonl_has_no_records() -> None:
    assert read_jsonl(b"") == []
    assert read_jsonl(b"\n\n") == []


def test_jsonl_invalid_utf8_line_is_rejected_by_line_and_the_rest_read() -> None:
    data = b'{"id": "a"}\n{"id": "b", "text": "\xff\xfe"}\n{"id": "c"}\n'
    result = read_jsonl(data)
    assert result[0] == (0, {"id": "a"})
    assert isinstance(result[1], Rejected)
    assert result[1].index == 1
    assert "line 2" in result[1].error and "not valid UTF-8" in result[1].error
    assert result[2] == (2, {"id": "c"})


@pytest.mark.parametrize(
    "line",
    [b"{not json", b'{"id": "a",}', b"{'id': 'a'}", b'{"id": "a"} trailing', b'"unterminated'],
)
def test_jsonl_invalid_json_line_is_rejected(line: bytes) -> None:
    result = read_jsonl(line + b'\n{"id": "ok"}\n')
    assert isinstance(result[0], Rejected)
    assert "line 1 is not valid JSON" in result[0].error
    assert result[1] == (1, {"id": "ok"})


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_jsonl_nan_and_infinity_are_rejected(constant: bytes) -> None:
    result = read_jsonl(b'{"id": "a", "text": "t", "w": ' + constant + b"}\n")
    assert len(result) == 1
    assert isinstance(result[0], Rejected)
    assert "not valid JSON" in result[0].error


def test_jsonl_deeply_nested_line_is_rejected_not_a_crash() -> None:
    depth = 100_000
    data = b"[" * depth + b"]" * depth + b'\n{"id": "after"}\n'
    result = read_jsonl(data, max_line_bytes=4 * depth)
    assert isinstance(result[0], Rejected)
    assert result[0].index == 0
    assert "nested too deeply" in result[0].error
    assert result[1] == (1, {"id": "after"})


def test_jsonl_non_object_lines_are_passed_on_for_the_record_checker() -> None:
    assert read_jsonl(b'[1, 2]\n"text"\n') == [(0, [1, 2]), (1, "text")]


def test_jsonl_line_exactly_at_the_limit_is_read() -> None:
    line = b'"' + b"x" * (MAX_LINE - 2) + b'"'
    assert len(line) == MAX_LINE
    text = "x" * (MAX_LINE - 2)
    assert read_jsonl(line + b"\n" + line) == [(0, text), (1, text)]


@pytest.mark.parametrize("over", [1, 2, MAX_LINE, 10 * MAX_LINE + 3])
def test_jsonl_long_line_is_rejected_and_reading_resumes_at_the_next_line(over: int) -> None:
    long_line = b'{"id": "big", "text": "' + b"x" * (MAX_LINE + over) + b'"}'
    data = jsonl({"id": "a"}) + long_line + b"\n" + jsonl({"id": "b"})
    result = read_jsonl(data)
    assert result[0] == (0, {"id": "a"})
    assert isinstance(result[1], Rejected)
    assert result[1].index == 1
    assert f"line 2 is longer than {MAX_LINE} bytes" in result[1].error
    assert result[2] == (2, {"id": "b"})
    assert len(result) == 3


def test_jsonl_long_last_line_without_newline_is_rejected() -> None:
    data = jsonl({"id": "a"}) + b'"' + b"x" * (3 * MAX_LINE) + b'"'
    result = read_jsonl(data)
    assert result[0] == (0, {"id": "a"})
    assert isinstance(result[1], Rejected) and "longer than" in result[1].error
    assert len(result) == 2


# -- CSV ------------------------------------------------------------------------------------


def test_csv_header_names_the_columns_in_any_order_and_extra_columns_are_ignored() -> None:
    data = b"lang,text,id,stars\nen,Great,r1,5\nfr,Nul,r2,1\n"
    assert read_csv(data) == [
        (0, {"lang": "en", "text": "Great", "id": "r1", "stars": "5"}),
        (1, {"lang": "fr", "text": "Nul", "id": "r2", "stars": "1"}),
    ]
    checker = RecordChecker(64 * 1024)
    assert [checker.check(i, raw) for i, raw in read_csv(data)] == [
        Record(0, "r1", "Great"),
        Record(1, "r2", "Nul"),
    ]


def test_csv_quoted_fields_hold_commas_quotes_and_newlines() -> None:
    data = b'id,text\nr1,"Good, not great"\nr2,"She said ""wow"""\nr3,"line one\nline two"\n'
    assert read_csv(data) == [
        (0, {"id": "r1", "text": "Good, not great"}),
        (1, {"id": "r2", "text": 'She said "wow"'}),
        (2, {"id": "r3", "text": "line one\nline two"}),
    ]


def test_csv_tolerates_a_utf8_bom() -> None:
    data = "\ufeffid,text\nr1,Très bien\n".encode()
    assert read_csv(data) == [(0, {"id": "r1", "text": "Très bien"})]


def test_csv_reads_crlf_line_endings() -> None:
    data = b'id,text\r\nr1,one\r\nr2,"two\r\nlines"\r\n'
    assert read_csv(data) == [
        (0, {"id": "r1", "text": "one"}),
        (1, {"id": "r2", "text": "two\r\nlines"}),
    ]


def test_csv_reads_a_last_row_without_newline() -> None:
    assert read_csv(b"id,text\nr1,one") == [(0, {"id": "r1", "text": "one"})]


def test_csv_blank_lines_are_skipped() -> None:
    result = read_csv(b"id,text\n\nr1,one\n\r\n\nr2,two\n\n")
    assert [raw for _, raw in result] == [{"id": "r1", "text": "one"}, {"id": "r2", "text": "two"}]


def test_csv_ragged_rows_are_rejected_with_their_id_and_later_rows_read() -> None:
    data = b"id,text\nr1,one,extra\nr2\nr3,three\n"
    result = read_csv(data)
    assert isinstance(result[0], Rejected)
    assert (result[0].index, result[0].id) == (0, "r1")
    assert "3 fields" in result[0].error and "header has 2" in result[0].error
    assert isinstance(result[1], Rejected)
    assert (result[1].index, result[1].id) == (1, "r2")
    assert result[2] == (2, {"id": "r3", "text": "three"})


def test_csv_ragged_row_without_its_id_column_is_rejected_without_id() -> None:
    result = read_csv(b"text,id\nonly text\n")
    assert len(result) == 1
    assert isinstance(result[0], Rejected)
    assert result[0].id is None


@pytest.mark.parametrize(
    ("header", "missing"), [(b"id,body", "'text'"), (b"key,text", "'id'"), (b"a,b", "'id', 'text'")]
)
def test_csv_header_without_a_needed_column_is_an_input_error(header: bytes, missing: str) -> None:
    with pytest.raises(InputError) as caught:
        read_csv(header + b"\nr1,x\n")
    assert missing in str(caught.value)


def test_csv_custom_column_names() -> None:
    data = b"review_id,body\n7,Fine\n"
    assert read_csv(data, "review_id", "body") == [(0, {"review_id": "7", "body": "Fine"})]
    with pytest.raises(InputError, match="'body'"):
        read_csv(b"review_id,text\n7,Fine\n", "review_id", "body")


@pytest.mark.parametrize("data", [b"", "\ufeff".encode()])
def test_empty_csv_has_no_records(data: bytes) -> None:
    assert read_csv(data) == []


def test_csv_header_only_has_no_records() -> None:
    assert read_csv(b"id,text\n") == []


def test_csv_invalid_utf8_in_a_field_rejects_only_that_record() -> None:
    data = b"id,text\nr1,good\nr2,bad \xff\xfe bytes\nr3,also good\n"
    checker = RecordChecker(64 * 1024)
    results = [checker.check(i, raw) for i, raw in read_csv(data)]
    assert results[0] == Record(0, "r1", "good")
    assert isinstance(results[1], Rejected)
    assert (results[1].index, results[1].id) == (1, "r2")
    assert "not valid UTF-8" in results[1].error
    assert results[2] == Record(2, "r3", "also good")


def test_csv_leaves_the_underlying_stream_open() -> None:
    stream = io.BytesIO(b"id,text\nr1,x\n")
    assert list(iter_csv(stream, "id", "text")) == [(0, {"id": "r1", "text": "x"})]
    assert not stream.closed


def test_jsonl_tolerates_a_utf8_bom_on_the_first_line() -> None:
    stream = io.BytesIO(b'\xef\xbb\xbf{"id": "a", "text": "t"}\n{"id": "b", "text": "u"}\n')
    assert list(iter_jsonl(stream, 1024)) == [
        (0, {"id": "a", "text": "t"}),
        (1, {"id": "b", "text": "u"}),
    ]


# -- plain records are read by orjson (inputs._fast_record): the same records as parse_json --

TRICKY_LINES = [
    b'{"id": "a", "text": "plain"}',
    b'{"id": 12345678901234567890123, "text": "an id past 64 bits stays exact"}',
    b'{"id": 18446744073709551615, "text": "the largest 64-bit id"}',
    b'{"id": -9223372036854775809, "text": "below the smallest"}',
    b'{"id": 7.0, "text": "a float id"}',
    b'{"id": 1e400, "text": "out of range"}',
    b'{"id": "b", "text": "t", "extra": ' + b"[" * 995 + b"]" * 995 + b"}",
    b'{"id": "c", "text": "t", "extra": ' + b"[" * 1020 + b"]" * 1020 + b"}",
    b'{"id": "d", "text": "lone \\ud800 half"}',
    b'{"id": "e", "text": "raw \x01 control"}',
    b'{"id": "f", "text": "invalid \xff utf-8"}',
    b'{"id": "g", "text": "escaped \\u2028 and \xe2\x80\xa9 separators"}',
    b'{"id": "h", "text": "dup", "text": "last wins"}',
    b'{"id": "i", "text": "t", "n": null, "b": true, "x": "9"}',
    b'{"id": "j", "text": "t"} trailing',
    b'["not", "an", "object"]',
    b"123456789012345678901234567890",
    b'{"id": "k", "text": "t", "w": NaN}',
]


@pytest.mark.parametrize("line", TRICKY_LINES)
def test_a_jsonl_line_reads_as_parse_json_reads_it(line: bytes) -> None:
    from schemas.json_text import parse_json

    try:
        expected: Any = (0, parse_json(line.decode("utf-8")))
    except UnicodeDecodeError:
        expected = "not valid UTF-8"
    except RecursionError:
        expected = "nested too deeply"
    except ValueError:
        expected = "not valid JSON"
    (result,) = read_jsonl(line + b"\n", max_line_bytes=64 * 1024)
    if isinstance(expected, str):
        assert isinstance(result, Rejected) and expected in result.error
    else:
        assert result == expected
        if isinstance(expected[1], dict):  # 7 and 7.0 are equal: the types must be too
            assert list(map(type, result[1].values())) == list(map(type, expected[1].values()))
