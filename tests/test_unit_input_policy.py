"""Which inputs a message may name: the allowlist plus `scorer submit`'s staging area, never
other results under the output prefix; and the template refuses allowlist entries that would
grant more than they say."""

from __future__ import annotations

import re

import pytest
from test_infra_cloudformation import load_template

from schemas.uris import parse_s3_uri
from worker.input_policy import InputPolicy, is_staged_input

OUTPUT = parse_s3_uri("s3://results-bucket/results")
POLICY = InputPolicy(OUTPUT, [parse_s3_uri("s3://reviews/incoming")])


@pytest.mark.parametrize(
    "uri",
    [
        "s3://results-bucket/results/job-1/_staging/part-00000.jsonl.gz",
        "s3://results-bucket/results/job-1/_staging/deeper/part.jsonl",
        "s3://reviews/incoming/day-1.jsonl",
    ],
)
def test_staged_batches_and_allowlisted_inputs_are_readable(uri: str) -> None:
    assert POLICY.refusal(parse_s3_uri(uri)) is None


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("s3://results-bucket/results/job-1/part-00000.jsonl.gz", "results are never read"),
        ("s3://results-bucket/results/job-1/_manifest.json", "results are never read"),
        ("s3://results-bucket/results/_staging/x.jsonl", "results are never read"),
        ("s3://results-bucket/results/job-1/_staging/", "results are never read"),
        ("s3://results-bucket/elsewhere/x.jsonl", "outside SCORER_ALLOWED_INPUT_URIS"),
        ("s3://reviews/incoming-2/x.jsonl", "outside SCORER_ALLOWED_INPUT_URIS"),
        ("s3://reviews-2/incoming/x.jsonl", "outside SCORER_ALLOWED_INPUT_URIS"),
    ],
)
def test_other_objects_are_refused_with_a_reason(uri: str, reason: str) -> None:
    refusal = POLICY.refusal(parse_s3_uri(uri))
    assert refusal is not None and reason in refusal


def test_an_allowlist_entry_over_the_output_prefix_does_not_open_results() -> None:
    """The README once advised adding SCORER_OUTPUT_URI to the allowlist: still safe."""
    policy = InputPolicy(OUTPUT, [OUTPUT])
    results = parse_s3_uri("s3://results-bucket/results/other-job/part-00000.jsonl.gz")
    assert "results are never read" in (policy.refusal(results) or "")
    staged = parse_s3_uri("s3://results-bucket/results/job/_staging/part-00000.jsonl.gz")
    assert policy.refusal(staged) is None


def test_staging_area_under_an_output_at_the_bucket_root() -> None:
    output = parse_s3_uri("s3://results-bucket")
    assert is_staged_input(output, parse_s3_uri("s3://results-bucket/job/_staging/a.jsonl"))
    assert not is_staged_input(output, parse_s3_uri("s3://results-bucket/job/a.jsonl"))
    assert not is_staged_input(output, parse_s3_uri("s3://other/job/_staging/a.jsonl"))


def _matches(parameter: str, value: str) -> bool:
    """CloudFormation applies AllowedPattern to each entry of a CommaDelimitedList."""
    spec = load_template()["Parameters"][parameter]
    entries = value.split(",") if spec["Type"] == "CommaDelimitedList" else [value]
    return all(re.fullmatch(spec["AllowedPattern"], entry) for entry in entries)


@pytest.mark.parametrize("value", ["", "my-reviews/", "my-reviews/incoming/", "a.b-c/x/y z/"])
def test_input_prefixes_accept_bucket_and_folder_entries(value: str) -> None:
    assert _matches("InputPrefixes", value)
    assert _matches("InputPrefixes", f"{value},other-bucket/batch/" if value else value)


@pytest.mark.parametrize(
    "value",
    [
        "bkt",  # would grant arn:aws:s3:::bkt* (every bucket named bkt...)
        "bkt/incoming",  # would grant bkt/incoming* (incoming-2/, incomings/...)
        "bkt*/",
        "bkt/in*/",
        "bkt/${aws:username}/",
        "s3://bkt/in/",
        "my-reviews/incoming/,bkt",
    ],
)
def test_input_prefixes_refuse_entries_that_grant_more_than_they_name(value: str) -> None:
    assert not _matches("InputPrefixes", value)


def test_staging_and_backfill_locations_are_folders() -> None:
    assert _matches("StagingPrefix", "staging/")
    assert not _matches("StagingPrefix", "staging")
    assert not _matches("StagingPrefix", "")
    assert _matches("BackfillKeyPrefix", "") and _matches("BackfillKeyPrefix", "incoming/2026/")
    assert not _matches("BackfillKeyPrefix", "incoming")
    assert not _matches("BackfillBucketName", "bkt*")
