"""The published JSON Schema says what the worker enforces, message by message.

One corpus of messages goes through the worker's validation (`parse_request`, default
limits) and through a standard JSON Schema validator (`jsonschema`, draft 2020-12) with
schemas/json/score-request.schema.json; every verdict must be the same. A producer in
another language that validates with the schema therefore never sends what the worker
dead-letters, and never holds back what it would score.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fuzz.verdicts import schema_accepts, worker_accepts

GOOD_RECORD = {"id": "r1", "text": "fine"}
S3 = "s3://in-bucket/data/a.jsonl"


def inline(**fields: Any) -> dict[str, Any]:
    return {"version": 1, "job_id": "job-1", "records": [GOOD_RECORD], **fields}


def bulk(**input_fields: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "job_id": "job-1",
        "input": {"uri": S3, "format": "jsonl", **input_fields},
    }


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


CORPUS: dict[str, tuple[Any, bool]] = {
    # (body, accepted)
    "inline": (inline(), True),
    "bulk": (bulk(), True),
    "bulk csv with columns": (bulk(format="csv", id_field="k", text_field="t"), True),
    "records empty": (inline(records=[]), False),
    "records 10,000": (inline(records=[GOOD_RECORD] * 10_000), True),
    "records 10,001": (inline(records=[GOOD_RECORD] * 10_001), False),
    "records of anything (checked one by one)": (inline(records=[1, None, "x", [2]]), True),
    "records not a list": (inline(records={"id": "a"}), False),
    "records null": (inline(records=None), False),
    "both records and input": ({**bulk(), "records": [GOOD_RECORD]}, False),
    "neither records nor input": (without(inline(), "records"), False),
    "input null": ({**without(inline(), "records"), "input": None}, False),
    "records with input null": ({**inline(), "input": None}, False),
    "input with records null": ({**bulk(), "records": None}, False),
    "version 1.0": (inline(version=1.0), True),
    "version true": (inline(version=True), False),
    'version "1"': (inline(version="1"), False),
    "version 2": (inline(version=2), False),
    "version missing": (without(inline(), "version"), False),
    "unknown field": (inline(priority=3), False),
    "job_id missing": (without(inline(), "job_id"), False),
    "job_id null": (inline(job_id=None), False),
    "job_id number": (inline(job_id=7), False),
    "job_id ..": (inline(job_id=".."), False),
    "job_id .": (inline(job_id="."), False),
    "job_id a..b": (inline(job_id="a..b"), False),
    "job_id ../x": (inline(job_id="../x"), False),
    "job_id a/b": (inline(job_id="a/b"), False),
    "job_id with a trailing newline": (inline(job_id="job\n"), False),
    "job_id empty": (inline(job_id=""), False),
    "job_id 128 characters": (inline(job_id="j" * 128), True),
    "job_id 129 characters": (inline(job_id="j" * 129), False),
    "job_id non-ASCII letter": (inline(job_id="jöb"), False),
    "job_id fullwidth dot": (inline(job_id="a\uff0e\uff0e"), False),
    "job_id a.": (inline(job_id="a."), True),
    "job_id .a": (inline(job_id=".hidden"), True),
    "job_id a.b-c_d": (inline(job_id="a.b-c_d"), True),
    "batch_id null": (inline(batch_id=None), True),
    "batch_id ..": (inline(batch_id=".."), False),
    "batch_id x.errors": (inline(batch_id="x.errors"), True),
    "batch_id with a newline": (inline(batch_id="a\nb"), False),
    "uri http": (bulk(uri="http://in-bucket/a.jsonl"), False),
    "uri S3 upper-case scheme": (bulk(uri="S3://in-bucket/a.jsonl"), False),
    "uri bucket only": (bulk(uri="s3://in-bucket"), True),
    "uri trailing slash": (bulk(uri="s3://in-bucket/a/"), True),
    "uri double slash": (bulk(uri="s3://in-bucket//a.jsonl"), True),
    "uri .. segment": (bulk(uri="s3://in-bucket/../a.jsonl"), False),
    "uri . segment": (bulk(uri="s3://in-bucket/./a.jsonl"), False),
    "uri ending in ..": (bulk(uri="s3://in-bucket/a/.."), False),
    "uri ... segment (a name)": (bulk(uri="s3://in-bucket/.../a"), True),
    "uri ..a segment (a name)": (bulk(uri="s3://in-bucket/..a/b"), True),
    "uri bucket upper case": (bulk(uri="s3://In-Bucket/a"), False),
    "uri bucket with ..": (bulk(uri="s3://in..bucket/a"), False),
    "uri bucket too short": (bulk(uri="s3://ab/a"), False),
    "uri bucket 63 characters": (bulk(uri=f"s3://{'b' * 63}/a"), True),
    "uri bucket 64 characters": (bulk(uri=f"s3://{'b' * 64}/a"), False),
    "uri bucket ending in -": (bulk(uri="s3://bucket-/a"), False),
    "uri with a newline in the key": (bulk(uri="s3://in-bucket/a\nb"), False),
    "uri with a trailing newline": (bulk(uri="s3://in-bucket/a\n"), False),
    "uri with DEL": (bulk(uri="s3://in-bucket/a\x7f"), False),
    "uri with a space and Unicode": (bulk(uri="s3://in-bucket/my file é.jsonl"), True),
    "uri a number": (bulk(uri=5), False),
    "format xml": (bulk(format="xml"), False),
    "format missing": ({**bulk(), "input": {"uri": S3}}, False),
    "input extra field": (bulk(gzip=True), False),
    "id_field empty": (bulk(id_field=""), False),
    "id_field 256 characters": (bulk(id_field="k" * 256), True),
    "id_field 257 characters": (bulk(id_field="k" * 257), False),
    "text_field empty": (bulk(text_field=""), False),
    "text_field a number": (bulk(text_field=3), False),
    "input a string": ({**without(inline(), "records"), "input": S3}, False),
    "body an array": ([inline()], False),
    "body a string": ("job", False),
    "body null": (None, False),
    "record id of 4,301 digits (a record-level matter)": (
        '{"version":1,"job_id":"j","records":[{"id":' + "9" * 4301 + ',"text":"t"}]}',
        True,
    ),
    "job_id of 4,301 digits": ('{"version":1,"job_id":' + "9" * 4301 + ',"records":[1]}', False),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_worker_and_json_schema_give_the_same_verdict(name: str) -> None:
    body, accepted = CORPUS[name]
    text = body if isinstance(body, str) and body.startswith("{") else json.dumps(body)
    worker_verdict, reason = worker_accepts(text)
    schema_verdict = schema_accepts(text)
    assert schema_verdict is not None
    assert worker_verdict == accepted, f"worker: {reason}"
    assert schema_verdict[0] == accepted, f"JSON Schema: {schema_verdict[1]}"


def test_the_corpus_covers_every_property_of_the_request() -> None:
    from schemas.messages import InputRef, ScoreRequest

    named = " ".join(CORPUS)
    for field in [*ScoreRequest.model_fields, *InputRef.model_fields]:
        assert field in named, f"no case for {field}"
