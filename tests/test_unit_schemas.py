"""The request contract: ids, S3 URIs, the message envelope, and where results land."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.ids import check_safe_id
from schemas.layout import result_locations
from schemas.messages import ScoreRequest, derive_batch_id
from schemas.records import ErrorRecord, ResultRecord
from schemas.uris import S3Location, parse_s3_uri
from worker.processing import PoisonMessage, parse_request

MAX_RECORDS = 100


def inline_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": 1,
        "job_id": "job-1",
        "records": [{"id": "r1", "text": "great"}, {"id": "r2", "text": "awful"}],
    }
    body.update(fields)
    return body


def parse(body: dict[str, Any] | str, max_records: int = MAX_RECORDS) -> tuple[ScoreRequest, str]:
    text = body if isinstance(body, str) else json.dumps(body)
    return parse_request(text, max_records)


def poison_reason(body: dict[str, Any] | str, max_records: int = MAX_RECORDS) -> str:
    with pytest.raises(PoisonMessage) as caught:
        parse(body, max_records)
    reason = str(caught.value)
    assert reason, "a dead-lettered message must carry a reason"
    return reason


# -- ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["job-1", "a.b_c-D9", "x", "A" * 128, "v1.2"])
def test_safe_id_accepts_letters_digits_dash_underscore_dot(value: str) -> None:
    assert check_safe_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        ".",
        "..",
        "a..b",
        "../etc",
        "a/b",
        "a\\b",
        "a b",
        "é",
        "a\x00",
        "a\tb",
        "A" * 129,
        "job:1",
        "%2e%2e",
    ],
)
def test_safe_id_rejects_anything_else(value: str) -> None:
    with pytest.raises(ValueError):
        check_safe_id(value)


@pytest.mark.parametrize("value", ["abc\n", "A" * 128 + "\n"])
def test_safe_id_rejects_a_trailing_newline(value: str) -> None:
    with pytest.raises(ValueError):
        check_safe_id(value)


@pytest.mark.parametrize("field", ["job_id", "batch_id"])
def test_job_or_batch_id_with_a_trailing_newline_fails_the_schema(field: str) -> None:
    assert field in poison_reason(inline_body(**{field: "job-1\n"}))


@pytest.mark.parametrize("field", ["job_id", "batch_id"])
@pytest.mark.parametrize("value", ["../x", "a/b", "", "A" * 129, "a b", 7])
def test_unsafe_job_or_batch_id_fails_the_schema(field: str, value: object) -> None:
    reason = poison_reason(inline_body(**{field: value}))
    assert reason.startswith("schema:")
    assert field in reason


# -- S3 URIs --------------------------------------------------------------------------------


def test_parse_s3_uri_splits_bucket_and_key() -> None:
    assert parse_s3_uri("s3://my-bucket/in/part-1.jsonl") == S3Location(
        "my-bucket", "in/part-1.jsonl"
    )
    assert parse_s3_uri("s3://my-bucket") == S3Location("my-bucket", "")
    assert parse_s3_uri("s3://my-bucket/") == S3Location("my-bucket", "")


@pytest.mark.parametrize(
    "uri",
    [
        "https://my-bucket/key",
        "S3://my-bucket/key",
        "s3:/my-bucket/key",
        "my-bucket/key",
        "s3://My-Bucket/key",
        "s3://my_bucket/key",
        "s3://ab/key",
        "s3://" + "a" * 64 + "/key",
        "s3://-bucket/key",
        "s3:///key",
        "s3://my-bucket/in/../secret",
        "s3://my-bucket/../secret",
        "s3://my-bucket/in/./x",
        "s3://my-bucket/in/a\nb",
        "s3://my-bucket/in/a\x00b",
        "s3://my-bucket/in/a\x7f",
    ],
)
def test_parse_s3_uri_rejects_bad_uris(uri: str) -> None:
    with pytest.raises(ValueError):
        parse_s3_uri(uri)


def test_contains_has_folder_semantics() -> None:
    prefix = parse_s3_uri("s3://b-1/in")
    assert prefix.contains(parse_s3_uri("s3://b-1/in/x.jsonl"))
    assert prefix.contains(parse_s3_uri("s3://b-1/in/deep/x.jsonl"))
    assert not prefix.contains(parse_s3_uri("s3://b-1/input/x.jsonl"))
    assert not prefix.contains(parse_s3_uri("s3://b-2/in/x.jsonl"))
    assert not prefix.contains(parse_s3_uri("s3://b-1/x.jsonl"))


def test_contains_ignores_a_trailing_slash_on_the_prefix() -> None:
    prefix = S3Location("b-1", "in/")
    assert prefix.contains(S3Location("b-1", "in/x.jsonl"))
    assert not prefix.contains(S3Location("b-1", "input/x.jsonl"))


def test_bucket_root_contains_every_key_of_its_bucket_only() -> None:
    root = parse_s3_uri("s3://b-1")
    assert root.contains(parse_s3_uri("s3://b-1/any/key"))
    assert not root.contains(parse_s3_uri("s3://b-2/any/key"))


def test_child_joins_with_single_slashes() -> None:
    assert S3Location("b-1", "out").child("job", "x.jsonl.gz").key == "out/job/x.jsonl.gz"
    assert S3Location("b-1", "out/").child("/job/", "/x").key == "out/job/x"
    assert S3Location("b-1", "").child("job", "x").uri == "s3://b-1/job/x"


def test_uri_round_trips() -> None:
    assert S3Location("b-1", "a/b").uri == "s3://b-1/a/b"
    assert S3Location("b-1", "").uri == "s3://b-1"


# -- the request envelope -------------------------------------------------------------------


def test_inline_request_parses_with_its_batch_id() -> None:
    request, batch_id = parse(inline_body(batch_id="batch-7"))
    assert request.job_id == "job-1"
    assert batch_id == "batch-7"
    assert request.records == [{"id": "r1", "text": "great"}, {"id": "r2", "text": "awful"}]
    assert request.input is None


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_input_request_parses(fmt: str) -> None:
    body = {
        "version": 1,
        "job_id": "job-1",
        "batch_id": "b1",
        "input": {"uri": "s3://in-bucket/data/part.x/", "format": fmt},
    }
    request, _ = parse(body)
    assert request.records is None
    assert request.input is not None
    assert request.input.format == fmt
    assert request.input.uri == "s3://in-bucket/data/part.x"
    assert (request.input.id_field, request.input.text_field) == ("id", "text")


def test_input_request_takes_custom_field_names() -> None:
    source = {"uri": "s3://in-bucket/a.csv", "format": "csv", "id_field": "k", "text_field": "t"}
    request, _ = parse({"version": 1, "job_id": "j", "input": source})
    assert request.input is not None
    assert (request.input.id_field, request.input.text_field) == ("k", "t")


@pytest.mark.parametrize(
    ("source", "where"),
    [
        ({"uri": "http://in-bucket/a.jsonl", "format": "jsonl"}, "input.uri"),
        ({"uri": "s3://in-bucket/../a.jsonl", "format": "jsonl"}, "input.uri"),
        ({"uri": "s3://in-bucket/a.xml", "format": "xml"}, "input.format"),
        ({"uri": "s3://in-bucket/a.jsonl"}, "input.format"),
        ({"uri": "s3://in-bucket/a.jsonl", "format": "jsonl", "gzip": True}, "input.gzip"),
    ],
)
def test_bad_input_reference_fails_the_schema(source: dict[str, Any], where: str) -> None:
    reason = poison_reason({"version": 1, "job_id": "j", "input": source})
    assert where in reason


def test_records_and_input_together_are_rejected() -> None:
    body = inline_body(input={"uri": "s3://in-bucket/a.jsonl", "format": "jsonl"})
    assert "exactly one of 'records' or 'input'" in poison_reason(body)


def test_neither_records_nor_input_is_rejected() -> None:
    assert "exactly one of 'records' or 'input'" in poison_reason({"version": 1, "job_id": "j"})


def test_empty_records_are_rejected() -> None:
    assert "records" in poison_reason(inline_body(records=[]))


@pytest.mark.parametrize("field", ["priority", "Job_id", "callback"])
def test_unknown_fields_are_rejected(field: str) -> None:
    assert field in poison_reason(inline_body(**{field: "x"}))


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_only_schema_version_1_is_accepted(version: object) -> None:
    assert "version" in poison_reason(inline_body(version=version))


def test_missing_job_id_is_rejected() -> None:
    body = inline_body()
    del body["job_id"]
    assert "job_id" in poison_reason(body)


def test_records_must_be_a_list() -> None:
    assert "records" in poison_reason(inline_body(records={"id": "a", "text": "b"}))


def test_records_are_kept_loose_for_per_record_checking() -> None:
    records = [{"id": "a", "text": "ok"}, "not an object", {"id": None}]
    request, _ = parse(inline_body(records=records))
    assert request.records == records


# -- the derived batch id -------------------------------------------------------------------


def test_derived_batch_id_is_stable_for_the_same_body() -> None:
    body = json.dumps(inline_body())
    first = parse_request(body, MAX_RECORDS)[1]
    assert parse_request(body, MAX_RECORDS)[1] == first
    assert check_safe_id(first) == first  # usable as an S3 key segment


def test_derived_batch_id_ignores_formatting_and_key_order() -> None:
    compact = json.dumps(inline_body(), separators=(",", ":"))
    reordered = json.dumps(dict(reversed(list(inline_body().items()))), indent=2)
    assert parse(compact)[1] == parse(reordered)[1]


@pytest.mark.parametrize(
    "changed",
    [
        inline_body(job_id="job-2"),
        inline_body(records=[{"id": "r1", "text": "great"}, {"id": "r2", "text": "awful!"}]),
        inline_body(records=[{"id": "r1", "text": "great"}]),
        inline_body(records=[{"id": "r2", "text": "awful"}, {"id": "r1", "text": "great"}]),
    ],
)
def test_derived_batch_id_differs_for_a_different_body(changed: dict[str, Any]) -> None:
    assert parse(changed)[1] != parse(inline_body())[1]


def test_derived_batch_id_matches_derive_batch_id() -> None:
    body = inline_body()
    assert parse(body)[1] == derive_batch_id(body)


def test_explicit_batch_id_wins_over_the_derived_one() -> None:
    assert parse(inline_body(batch_id="mine"))[1] == "mine"


def test_lone_surrogate_in_a_record_does_not_break_the_batch() -> None:
    body = inline_body(records=[{"id": "r1", "text": "\ud800"}, {"id": "r2", "text": "fine"}])
    text = json.dumps(body)  # ensure_ascii: the surrogate travels as the escape \ud800
    request, batch_id = parse_request(text, MAX_RECORDS)
    assert request.records is not None and len(request.records) == 2
    assert check_safe_id(batch_id) == batch_id


# -- bodies that are not a request at all ---------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_poison(constant: str) -> None:
    body = '{"version": 1, "job_id": "j", "records": [{"id": "a", "text": "b", "x": %s}]}'
    reason = poison_reason(body % constant)
    assert "not valid JSON" in reason
    assert constant in reason


def test_deeply_nested_body_is_poison_not_a_crash() -> None:
    depth = 100_000
    body = '{"version": 1, "job_id": "j", "records": ' + "[" * depth + "]" * depth + "}"
    assert "nested too deeply" in poison_reason(body)


@pytest.mark.parametrize(("body", "kind"), [("[]", "list"), ('"x"', "str"), ("1", "int")])
def test_non_object_body_is_poison(body: str, kind: str) -> None:
    reason = poison_reason(body)
    assert "must be a JSON object" in reason
    assert kind in reason


@pytest.mark.parametrize("body", ["", "{", "{'version': 1}", "not json", '{"version": 1,}'])
def test_invalid_json_is_poison(body: str) -> None:
    assert "not valid JSON" in poison_reason(body)


def test_record_count_at_the_limit_is_accepted() -> None:
    records = [{"id": str(i), "text": "t"} for i in range(5)]
    request, _ = parse(inline_body(records=records), max_records=5)
    assert request.records is not None and len(request.records) == 5


def test_record_count_over_the_limit_is_poison() -> None:
    records = [{"id": str(i), "text": "t"} for i in range(6)]
    reason = poison_reason(inline_body(records=records), max_records=5)
    assert "6 records" in reason
    assert "limit of 5" in reason


def test_record_limit_does_not_apply_to_bulk_input() -> None:
    body = {"version": 1, "job_id": "j", "input": {"uri": "s3://in-b/a.jsonl", "format": "jsonl"}}
    request, _ = parse(body, max_records=1)
    assert request.input is not None


# -- output locations and output lines ------------------------------------------------------


def test_result_locations_are_job_then_batch_under_the_output_prefix() -> None:
    results, errors = result_locations(parse_s3_uri("s3://out-b/results"), "job-1", "b-9")
    assert results.uri == "s3://out-b/results/job-1/b-9.jsonl.gz"
    assert errors.uri == "s3://out-b/results/job-1/_errors/b-9.jsonl.gz"


def test_result_locations_at_the_bucket_root() -> None:
    results, errors = result_locations(parse_s3_uri("s3://out-b"), "j", "b")
    assert (results.key, errors.key) == ("j/b.jsonl.gz", "j/_errors/b.jsonl.gz")


def test_result_record_has_exactly_four_fields_in_order() -> None:
    line = ResultRecord(id="a", label="positive", score=0.75, model_version="v1")
    assert list(json.loads(line.model_dump_json())) == ["id", "label", "score", "model_version"]


@pytest.mark.parametrize(
    "fields",
    [
        {"label": "neutral", "score": 0.5},
        {"label": "positive", "score": 1.5},
        {"label": "negative", "score": -0.1},
        {"label": "positive", "score": 0.5, "extra": 1},
    ],
)
def test_result_record_rejects_bad_lines(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ResultRecord(id="a", model_version="v1", **fields)


def test_error_record_allows_a_missing_id_but_not_a_negative_index() -> None:
    assert ErrorRecord(id=None, error="id is missing", index=0).id is None
    with pytest.raises(ValidationError):
        ErrorRecord(id="a", error="x", index=-1)


@pytest.mark.parametrize("version", [True, "1", 1.5, 2])
def test_version_must_be_the_number_1(version: object) -> None:
    assert "version" in poison_reason(inline_body(version=version))


def test_version_1_0_is_the_number_1_as_json_schema_says() -> None:
    """JSON has one number type: the published schema's `const: 1` accepts 1.0, so must we."""
    request, _ = parse('{"version": 1.0, "job_id": "j", "records": [{"id": "a", "text": "t"}]}')
    assert request.version == 1


def test_out_of_range_numbers_are_not_json_we_accept() -> None:
    assert "JSON" in poison_reason('{"version": 1, "job_id": "j", "records": [1e999]}')


def test_bucket_names_with_consecutive_dots_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_s3_uri("s3://my..bucket/key")


def test_model_info_is_one_contract_for_the_trainer_and_every_reader(tmp_path: Path) -> None:
    from schemas.model_info import MODEL_INFO_FILE
    from worker.model import ModelLoadError, read_model_info

    shipped = read_model_info(Path(__file__).parent.parent / "models" / "default" / MODEL_INFO_FILE)
    assert shipped.version.startswith("imdb-ngram-") and 0 <= shipped.threshold <= 1
    assert shipped.metrics and "test" in shipped.metrics  # extra facts are kept, not dropped

    bad = tmp_path / MODEL_INFO_FILE
    bad.write_text('{"version": "v1", "threshold": 1.5}')
    with pytest.raises(ModelLoadError, match=r"threshold: Input should be less than or equal"):
        read_model_info(bad)
    bad.write_text('{"threshold": 0.5}')
    with pytest.raises(ModelLoadError, match="version: Field required"):
        read_model_info(bad)
