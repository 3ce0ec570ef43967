"""The poison corpus: bad messages and bad inputs, each with the outcome the contract gives it.

A case ends either in the DLQ (`reason` holds a substring) or as a results object plus error
lines (id, error substring, index). Every review text carries the case's marker, which the
worker's logs must never show.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

from worker.inputs import max_jsonl_line_bytes

MARK = "RVWTXT"  # + case name: appears only inside review texts
BUCKET = "scorer-test"
OTHER_BUCKET = "other-team-bucket"
#: A JSON line longer than this is rejected whole (its id unread) at the default text limit.
LONGEST_LINE = max_jsonl_line_bytes(128 * 1024)
#: The worker env this corpus assumes (small enough for the bomb and the records limit).
POISON_ENV = {
    "SCORER_MAX_INPUT_BYTES": str(64 * 1024 * 1024),
    "SCORER_MAX_RECORDS_PER_INPUT": "1000",
}


@dataclass
class Case:
    name: str
    body: str
    dlq_reason: str | None = None  # DLQ outcome when set
    errors: list[tuple[str | None, str, int]] = field(default_factory=list)
    scored: list[str] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)  # S3 objects to put first
    vanish: list[str] = field(default_factory=list)  # keys deleted after sending

    @property
    def marker(self) -> str:
        return f"{MARK}-{self.name}"

    @property
    def results_key(self) -> str:
        return f"results/poison/{self.name}.jsonl.gz"


def _text(case: str, words: str = "good") -> str:
    return f"{words} {MARK}-{case}"


def _envelope(name: str, **fields: Any) -> str:
    return json.dumps({"version": 1, "job_id": "poison", "batch_id": name, **fields})


def _inline(name: str, records: list[Any]) -> str:
    return _envelope(name, records=records)


def _s3(name: str, key: str, fmt: str = "jsonl", **extra: Any) -> str:
    return _envelope(name, input={"uri": f"s3://{BUCKET}/{key}", "format": fmt, **extra})


def _jsonl(*lines: Any) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines
    )


def gzip_bomb(decompressed_gib: int = 4) -> bytes:
    """A few MB of concatenated gzip members that inflate to `decompressed_gib` GiB of zeros."""
    member = gzip.compress(b"\0" * (8 * 1024 * 1024), compresslevel=9)
    return member * (decompressed_gib * 128)


def dlq_cases() -> list[Case]:
    def dlq(name: str, body: str, reason: str, **kw: Any) -> Case:
        return Case(name, body, dlq_reason=reason, **kw)

    good = [{"id": "1", "text": _text("x")}]
    valid = {"version": 1, "job_id": "poison"}
    deep = "[" * 100_000 + "]" * 100_000
    ok_line = _jsonl({"id": "a", "text": "good"})
    cases = [
        dlq("not-json", "{not json " + _text("not-json"), "body is not valid JSON"),
        dlq("body-array", json.dumps([{"id": "1", "text": _text("body-array")}]), "not list"),
        dlq("body-string", json.dumps(_text("body-string")), "not str"),
        dlq("body-number", "42", "not int"),
        dlq("body-null", "null", "not NoneType"),
        dlq("body-whitespace", "   ", "not valid JSON"),
        dlq("nested-body", deep, "nested too deeply"),
        dlq(
            "nested-records",
            '{"version": 1, "job_id": "j", "records": ' + deep + "}",
            "nested too deeply",
        ),
        dlq("nan", '{"version": 1, "job_id": "j", "records": [{"id": "1", "text": NaN}]}', "NaN"),
        dlq(
            "infinity", '{"version":1,"job_id":"j","records":[{"id":"1","text":-Infinity}]}', "Inf"
        ),
        dlq("huge-number", '{"version": 1e999, "job_id": "j", "records": []}', "out of range"),
        dlq("unknown-field", json.dumps({**valid, "records": good, "colour": "red"}), "Extra"),
        dlq("version-2", json.dumps({**valid, "version": 2, "records": good}), "version"),
        dlq("version-string", json.dumps({**valid, "version": "1", "records": good}), "version"),
        dlq("version-true", json.dumps({**valid, "version": True, "records": good}), "version"),
        dlq("version-missing", json.dumps({"job_id": "p", "records": good}), "version"),
        dlq(
            "both-sources",
            json.dumps(
                {
                    **valid,
                    "records": good,
                    "input": {"uri": f"s3://{BUCKET}/inputs/a.jsonl", "format": "jsonl"},
                }
            ),
            "exactly one",
        ),
        dlq("neither-source", json.dumps(valid), "exactly one"),
        dlq("records-null", json.dumps({**valid, "records": None}), "must not be null"),
        dlq("input-null", json.dumps({**valid, "input": None}), "must not be null"),
        dlq("records-empty", json.dumps({**valid, "records": []}), "must not be empty"),
        dlq("records-not-list", json.dumps({**valid, "records": _text("rnl")}), "records"),
        dlq(
            "too-many-records",
            json.dumps({**valid, "records": [{"id": i, "text": "ok"} for i in range(10_001)]}),
            "10001 records is over the limit of 10000",
        ),
        dlq("job-id-null", json.dumps({**valid, "job_id": None, "records": good}), "job_id"),
        dlq("job-id-missing", json.dumps({"version": 1, "records": good}), "job_id"),
        dlq("job-id-traversal", json.dumps({**valid, "job_id": "../x", "records": good}), "job_id"),
        dlq("job-id-slash", json.dumps({**valid, "job_id": "a/b", "records": good}), "job_id"),
        dlq("job-id-too-long", json.dumps({**valid, "job_id": "j" * 129, "records": good}), "job"),
        dlq("job-id-unicode", json.dumps({**valid, "job_id": "j\u00f6b", "records": good}), "job"),
        dlq("batch-id-ctrl", json.dumps({**valid, "batch_id": "b\n1", "records": good}), "batch"),
        dlq("batch-id-dotdot", json.dumps({**valid, "batch_id": "..", "records": good}), "batch"),
        dlq(
            "input-outside-prefix",
            _envelope("x", input={"uri": f"s3://{BUCKET}/private/a.jsonl", "format": "jsonl"}),
            "outside SCORER_ALLOWED_INPUT_URIS",
            objects={"private/a.jsonl": ok_line},
        ),
        dlq(
            "input-other-bucket",
            _envelope("x", input={"uri": f"s3://{OTHER_BUCKET}/inputs/a.jsonl", "format": "jsonl"}),
            "outside SCORER_ALLOWED_INPUT_URIS",
        ),
        dlq(
            "input-prefix-lookalike",
            _envelope("x", input={"uri": f"s3://{BUCKET}/inputs-evil/a.jsonl", "format": "jsonl"}),
            "outside SCORER_ALLOWED_INPUT_URIS",
            objects={"inputs-evil/a.jsonl": ok_line},
        ),
        dlq(
            "input-dotdot",
            _envelope(
                "x", input={"uri": f"s3://{BUCKET}/inputs/../private/a.jsonl", "format": "jsonl"}
            ),
            "'..' segments are not allowed",
        ),
        dlq(
            "input-not-s3",
            _envelope("x", input={"uri": "https://example.com/a.jsonl", "format": "jsonl"}),
            "not an s3:// URI",
        ),
        dlq("input-bad-format", _s3("x", "inputs/p/ok.jsonl", fmt="xml"), "input.format"),
        dlq(
            "input-vanished",
            _s3("vanished", "inputs/p/vanished.jsonl"),
            "NoSuchKey",
            objects={"inputs/p/vanished.jsonl": _jsonl({"id": "v", "text": _text("vanished")})},
            vanish=["inputs/p/vanished.jsonl"],
        ),
        dlq(
            "gzip-bomb",
            _s3("bomb", "inputs/p/bomb.jsonl.gz"),
            "holds more than 67108864 bytes",
            objects={"inputs/p/bomb.jsonl.gz": gzip_bomb()},
        ),
        dlq(
            "corrupt-gzip",
            _s3("corrupt", "inputs/p/corrupt.jsonl.gz"),
            "not a valid gzip stream",
            objects={"inputs/p/corrupt.jsonl.gz": b"\x1f\x8b\x08\x00garbage" + bytes(range(256))},
        ),
        dlq(
            "truncated-gzip",
            _s3("truncated", "inputs/p/truncated.jsonl.gz"),
            "not a valid gzip stream",
            objects={
                "inputs/p/truncated.jsonl.gz": gzip.compress(
                    _jsonl(*({"id": str(i), "text": _text("truncated")} for i in range(200)))
                )[:-40]
            },
        ),
        dlq(
            "csv-without-text-column",
            _s3("nocol", "inputs/p/nocol.csv", fmt="csv"),
            "lacks column(s) 'text'",
            objects={"inputs/p/nocol.csv": f"id,body\n1,{_text('nocol')}\n".encode()},
        ),
        dlq(
            "input-over-records-limit",
            _s3("manyrec", "inputs/p/manyrec.jsonl"),
            "more than 1000 lines",
            objects={
                "inputs/p/manyrec.jsonl": _jsonl(
                    *({"id": str(i), "text": "ok"} for i in range(1001))
                )
            },
        ),
    ]
    return cases


#: The case whose DLQ reason echoes the CSV header, i.e. the first line of the file.
CSV_HEADER_LEAK_CASE = "csv-declared-jsonl-content"


def leak_cases() -> list[Case]:
    return [
        Case(
            CSV_HEADER_LEAK_CASE,
            _s3("wrongfmt-csv", "inputs/p/wrongfmt.jsonl", fmt="csv"),
            dlq_reason="lacks column(s)",
            objects={
                "inputs/p/wrongfmt.jsonl": _jsonl({"id": "w0", "text": _text(CSV_HEADER_LEAK_CASE)})
            },
        )
    ]


def error_cases() -> list[Case]:
    def case(name: str, body: str, errors: list[Any], scored: list[str], **kw: Any) -> Case:
        return Case(name, body, errors=errors, scored=scored, **kw)

    def t(name: str, words: str = "good") -> str:
        return _text(name, words)

    big = "great " * (900 * 1024 // 6)
    cases = [
        case(
            "utf8-jsonl-line",
            _s3("utf8-jsonl-line", "inputs/p/utf8.jsonl"),
            [(None, "line 2 is not valid UTF-8", 1)],
            ["u0", "u2"],
            objects={
                "inputs/p/utf8.jsonl": _jsonl(
                    {"id": "u0", "text": t("utf8-jsonl-line")},
                    b'{"id": "u1", "text": "caf\xe9 \xff ' + t("utf8-jsonl-line").encode() + b'"}',
                    {"id": "u2", "text": t("utf8-jsonl-line", "bad")},
                )
            },
        ),
        case(
            "utf8-csv-field",
            _s3("utf8-csv-field", "inputs/p/utf8.csv", fmt="csv"),
            [("c1", "text is not valid UTF-8", 1)],
            ["c0", "c2"],
            objects={
                "inputs/p/utf8.csv": b"id,text\nc0,"
                + t("utf8-csv-field").encode()
                + b"\nc1,bad \xff\xfe "
                + t("utf8-csv-field").encode()
                + b"\nc2,"
                + t("utf8-csv-field").encode()
                + b"\n"
            },
        ),
        case(
            "review-900kib",
            _inline(
                "review-900kib",
                [
                    {"id": "h0", "text": big + t("review-900kib")},
                    {"id": "h1", "text": t("review-900kib")},
                ],
            ),
            [("h0", "over the limit of 131072", 0)],
            ["h1"],
        ),
        case(
            "nested-line",
            _s3("nested-line", "inputs/p/nested.jsonl"),
            [(None, "line 2 is nested too deeply", 1)],
            ["n0"],
            objects={
                "inputs/p/nested.jsonl": _jsonl(
                    {"id": "n0", "text": t("nested-line")}, b"[" * 100_000 + b"]" * 100_000
                )
            },
        ),
        case(
            "nan-line",
            _s3("nan-line", "inputs/p/nan.jsonl"),
            [(None, "line 1 is not valid JSON (NaN", 0), (None, "line 2 is not valid JSON", 1)],
            ["f2"],
            objects={
                "inputs/p/nan.jsonl": b'{"id": "f0", "text": NaN}\n'
                b'{"id": "f1", "text": "x", "score": Infinity}\n'
                + _jsonl({"id": "f2", "text": t("nan-line")})
            },
        ),
        case(
            "null-id-and-text",
            _inline(
                "null-id-and-text",
                [
                    {"id": None, "text": t("null-id-and-text")},
                    {"id": "n1", "text": None},
                    {"id": "n2", "text": t("null-id-and-text")},
                    None,
                ],
            ),
            [
                (None, "id is missing", 0),
                ("n1", "text must be a string, not null", 1),
                (None, "record must be an object, not NoneType", 3),
            ],
            ["n2"],
        ),
        case(
            "id-control-chars",
            _inline(
                "id-control-chars",
                [
                    {"id": "a\nb", "text": t("id-control-chars")},
                    {"id": "tab\there", "text": t("id-control-chars")},
                    {"id": "del\x7f", "text": t("id-control-chars")},
                    {"id": "ok", "text": t("id-control-chars")},
                ],
            ),
            [
                (None, "control characters", 0),
                (None, "control characters", 1),
                (None, "control characters", 2),
            ],
            ["ok"],
        ),
        case(
            # Record ids never become key segments: path-like ids are data, scored verbatim.
            "id-path-like",
            _inline(
                "id-path-like",
                [
                    {"id": "../../etc/passwd", "text": t("id-path-like")},
                    {"id": "/abs/id", "text": t("id-path-like")},
                    {"id": "a\\b", "text": t("id-path-like")},
                    {"id": "%2e%2e%2f", "text": t("id-path-like")},
                ],
            ),
            [],
            ["../../etc/passwd", "/abs/id", "a\\b", "%2e%2e%2f"],
        ),
        case(
            "csv-ragged-row",
            _s3("csv-ragged-row", "inputs/p/ragged.csv", fmt="csv"),
            [
                ("r1", "record 2 has 3 fields, the header has 2", 1),
                ("lonely", "record 3 has 1 fields, the header has 2", 2),
            ],
            ["r0", "r3"],
            objects={
                "inputs/p/ragged.csv": (
                    f"id,text\nr0,{t('csv-ragged-row')}\nr1,{t('csv-ragged-row')},extra\n"
                    f'lonely\nr3,"{t("csv-ragged-row")}, with a comma"\n'
                ).encode()
            },
        ),
        case(
            "jsonl-declared-csv-content",
            _s3("jsonl-declared-csv-content", "inputs/p/wrongfmt.csv"),
            [(None, "line 1 is not valid JSON", 0), (None, "line 2 is not valid JSON", 1)],
            [],
            objects={
                "inputs/p/wrongfmt.csv": f"id,text\nw0,{t('jsonl-declared-csv-content')}\n".encode()
            },
        ),
        case(
            "empty-jsonl",
            _s3("empty-jsonl", "inputs/p/empty.jsonl"),
            [],
            [],
            objects={"inputs/p/empty.jsonl": b""},
        ),
        case(
            "empty-jsonl-gz",
            _s3("empty-jsonl-gz", "inputs/p/empty.jsonl.gz"),
            [],
            [],
            objects={"inputs/p/empty.jsonl.gz": gzip.compress(b"")},
        ),
        case(
            "empty-csv",
            _s3("empty-csv", "inputs/p/empty.csv", fmt="csv"),
            [],
            [],
            objects={"inputs/p/empty.csv": b""},
        ),
        case(
            "bom-jsonl",
            _s3("bom-jsonl", "inputs/p/bom.jsonl"),
            [],
            ["b0", "b1"],
            objects={
                "inputs/p/bom.jsonl": b"\xef\xbb\xbf"
                + _jsonl({"id": "b0", "text": t("bom-jsonl")}, {"id": "b1", "text": t("bom-jsonl")})
            },
        ),
        case(
            "bom-csv",
            _s3("bom-csv", "inputs/p/bom.csv", fmt="csv"),
            [],
            ["b0"],
            objects={"inputs/p/bom.csv": b"\xef\xbb\xbfid,text\nb0," + t("bom-csv").encode()},
        ),
        case(
            "record-oddities",
            _inline(
                "record-oddities",
                [
                    {"id": "d0", "text": t("record-oddities")},
                    {"id": "d0", "text": t("record-oddities")},
                    t("record-oddities"),
                    {"id": "t0", "text": 42},
                    {"id": True, "text": t("record-oddities")},
                    {"id": "x" * 513, "text": t("record-oddities")},
                    {"id": "e0", "text": "   "},
                    {"id": "m0"},
                    {"id": 123, "text": t("record-oddities")},
                    {"id": "extra", "text": t("record-oddities"), "lang": "en"},
                ],
            ),
            [
                ("d0", "duplicate id", 1),
                (None, "record must be an object, not str", 2),
                ("t0", "text must be a string, not int", 3),
                (None, "id must be a string", 4),
                (None, "longer than 512", 5),
                ("e0", "text is empty", 6),
                ("m0", "'text' is missing", 7),
            ],
            ["d0", "123", "extra"],
        ),
        case(
            "lone-surrogates",
            '{"version": 1, "job_id": "poison", "batch_id": "lone-surrogates", "records": ['
            '{"id": "s0", "text": "\\ud800 ' + t("lone-surrogates") + '"}, '
            '{"id": "\\udc80", "text": "' + t("lone-surrogates") + '"}, '
            '{"id": "s2", "text": "' + t("lone-surrogates") + '"}]}',
            [("s0", "text is not valid UTF-8", 0), (None, "id is not valid Unicode", 1)],
            ["s2"],
        ),
        case(
            "long-lines-s3",
            _s3("long-lines-s3", "inputs/p/long.jsonl.gz"),
            [(None, "line 1 is longer than", 0), ("L1", "over the limit of 131072", 1)],
            ["L2"],
            objects={
                "inputs/p/long.jsonl.gz": gzip.compress(
                    _jsonl(
                        {"id": "L0", "text": "good " * (LONGEST_LINE // 5) + t("long-lines-s3")},
                        {"id": "L1", "text": "good " * 30_000 + t("long-lines-s3")},
                        {"id": "L2", "text": t("long-lines-s3")},
                    )
                )
            },
        ),
    ]
    return cases


def repeated_body() -> str:
    """One body sent 100 times: no batch_id, so the key is derived from the content."""
    return json.dumps(
        {
            "version": 1,
            "job_id": "poison-repeat",
            "records": [{"id": f"rep{i}", "text": _text("repeat", "great")} for i in range(20)],
        }
    )
