"""Property-based fuzzing of the message schema.

Properties, for any body: the worker's validation ends in a request or a PoisonMessage with a
reason (no other exception escapes, whatever the nesting, numbers or encoding), and the
published JSON Schema gives the same verdict as the worker (tests/fuzz/verdicts.py).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fuzz import strategies
from fuzz.strategies import json_scalars, unicode_text
from fuzz.verdicts import schema_accepts, worker_accepts

texts = unicode_text(max_size=20)
id_chars = st.sampled_from([*"abcXYZ019._-/\\ \n\t\x00é\uff0e\u2028", "..", "."])
ids = st.one_of(
    st.lists(id_chars, min_size=0, max_size=8).map("".join),
    st.sampled_from(["j" * 128, "j" * 129, ".", "..", "a.", ".a"]),
    st.integers(),
    st.none(),
)
uri_parts = st.sampled_from(
    ["s3://", "S3://", "http://", "in-bucket", "In-Bucket", "ab", "a..b", "b" * 64, "/", "//",
     ".", "..", "...", "..a", "key.jsonl", " ", "é", "\n", "\x7f", "\x00", "-"]
)  # fmt: skip
uris = st.one_of(
    st.lists(uri_parts, max_size=6).map("".join),
    st.builds(lambda rest: "s3://in-bucket/" + rest, st.lists(uri_parts, max_size=4).map("".join)),
    st.integers(),
)
json_values = strategies.json_values(texts, max_size=3, max_leaves=10)
input_refs = st.one_of(
    st.fixed_dictionaries(
        {"uri": uris, "format": st.sampled_from(["jsonl", "csv", "xml", 1])},
        optional={
            "id_field": st.one_of(texts, st.just("k" * 257)),
            "text_field": st.one_of(texts, st.integers()),
            "gzip": st.booleans(),
        },
    ),
    json_values,
)
records = st.one_of(
    st.lists(json_values, max_size=4),
    st.integers(0, 3).map(lambda n: [{"id": "a", "text": "t"}] * (10_000 + n - 1)),
    json_values,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "version": st.one_of(st.sampled_from([1, 1.0, 2, True, "1", None]), json_scalars(texts)),
        "job_id": ids,
        "batch_id": ids,
        "records": records,
        "input": input_refs,
        "extra": json_values,
    },
)


def assert_same_verdict(body: str) -> None:
    accepted, reason = worker_accepts(body)
    schema = schema_accepts(body)
    if schema is None:
        assert not accepted  # not JSON: the worker refuses it too
        return
    assert schema[0] == accepted, f"worker: {accepted} ({reason}); JSON Schema: {schema}"


@given(message=messages)
def test_worker_and_json_schema_agree_on_any_message(message: dict[str, Any]) -> None:
    assert_same_verdict(json.dumps(message))


@given(depth=st.integers(1, 3000), with_batch_id=st.booleans(), dicts=st.booleans())
def test_any_nesting_is_a_request_or_a_reason(depth: int, with_batch_id: bool, dicts: bool) -> None:
    inner = '{"a":' * depth + "1" + "}" * depth if dicts else "[" * depth + "]" * depth
    batch = '"batch_id":"b",' if with_batch_id else ""
    assert_same_verdict('{"version":1,"job_id":"j",' + batch + '"records":[' + inner + "]}")


@given(body=st.one_of(st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace")), texts))
def test_any_text_is_a_request_or_a_reason(body: str) -> None:
    assert_same_verdict(body)


@given(digits=st.integers(1, 6000), where=st.sampled_from(["id", "text", "version", "job_id"]))
def test_long_integers_are_a_verdict_not_a_crash(digits: int, where: str) -> None:
    number = "9" * digits
    record = {"id": "a", "text": "t"}
    fields = {"version": "1", "job_id": '"j"', "records": json.dumps([record])}
    if where in ("id", "text"):
        fields["records"] = fields["records"].replace(f'"{record[where]}"', number, 1)
    else:
        fields[where] = number
    assert_same_verdict("{" + ",".join(f'"{k}":{v}' for k, v in fields.items()) + "}")
