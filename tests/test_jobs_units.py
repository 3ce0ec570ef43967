"""Pure parts of the producer side: reading, validation, chunking, batch ids, status, DLQ."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jobs.backfill import Decision, SourceObject, batch_id_for_object, decide, in_window
from jobs.chunking import Chunker, encode_record, inline_body, inline_size, staged_body
from jobs.dlq import DeadLetter, kept_attributes, parse_dead_letter
from jobs.progress import Progress
from jobs.reading import SourceError, open_source, read_records, resolve_format
from jobs.status import count_job
from jobs.validation import Validation, validate_and_spool
from schemas.ids import check_safe_id
from schemas.layout import results_name
from schemas.manifest import JobManifest, ManifestBatch
from schemas.messages import ScoreRequest, derive_batch_id
from schemas.uris import parse_s3_uri

OUTPUT = parse_s3_uri("s3://bucket/results")


def jsonl(*rows: object) -> bytes:
    return b"".join(
        (row if isinstance(row, bytes) else json.dumps(row).encode()) + b"\n" for row in rows
    )


def check(
    data: bytes,
    fmt: str = "jsonl",
    records_per_message: int = 1000,
    limit: int = 1_048_576,
    **kw: str,
) -> tuple[Validation, bytes]:
    spool = io.BytesIO()
    items = read_records(io.BytesIO(data), fmt, **kw)  # type: ignore[arg-type]
    result = validate_and_spool(items, fmt, Chunker("job", records_per_message, limit), spool)  # type: ignore[arg-type]
    return result, spool.getvalue()


# -- chunking ------------------------------------------------------------------------------


def test_inline_size_is_the_exact_size_of_the_body_sqs_receives() -> None:
    lines = [encode_record(f"r{i}", "caf\u00e9 \u2603 text " * i) for i in range(1, 30)]
    body = inline_body("job", "part-00007", lines)
    assert inline_size("job", "part-00007", len(lines), sum(map(len, lines))) == len(
        body.encode("utf-8")
    )
    request = ScoreRequest.model_validate_json(body)
    assert request.batch_id == "part-00007"
    assert request.records is not None and request.records[0] == {
        "id": "r1",
        "text": "café ☃ text ",
    }


def test_a_batch_goes_inline_up_to_the_limit_and_staged_one_byte_past_it() -> None:
    line = encode_record("r", "x" * 100)
    exact = inline_size("job", "part-00000", 3, 3 * len(line))
    for limit, inline in ((exact, True), (exact - 1, False)):
        chunker = Chunker("job", 3, limit)
        assert chunker.add(1, len(line)) is None
        assert chunker.add(2, len(line)) is None
        batch = chunker.add(3, len(line))
        assert batch is not None and batch.records == 3 and batch.inline is inline


def test_batches_are_cut_by_count_and_sized_by_their_own_records() -> None:
    data = jsonl(*({"id": f"r{i}", "text": "good " * (1 + 50 * (i >= 5))} for i in range(12)))
    result, _ = check(data, records_per_message=5, limit=700)
    assert [(b.batch_id, b.records, b.first_position, b.inline) for b in result.batches] == [
        ("part-00000", 5, 1, True),
        ("part-00001", 5, 6, False),
        ("part-00002", 2, 11, True),
    ]


def test_same_file_same_batch_ids_and_bytes() -> None:
    data = jsonl(*({"id": i, "text": f"text {i}"} for i in range(2500)))
    first, spool_1 = check(data, records_per_message=1000)
    second, spool_2 = check(data, records_per_message=1000)
    assert first.batches == second.batches
    assert [b.batch_id for b in first.batches] == ["part-00000", "part-00001", "part-00002"]
    assert spool_1 == spool_2
    assert json.loads(spool_1.splitlines()[0]) == {"id": "0", "text": "text 0"}


def test_characters_sqs_refuses_are_escaped() -> None:
    line = encode_record("r1", "odd \uffff char and caf\u00e9")
    assert "\uffff" not in line.decode() and json.loads(line)["text"].endswith("caf\u00e9")


def test_staged_body_is_a_valid_request() -> None:
    body = staged_body("job", "part-00001", "s3://bucket/results/job/_staging/part-00001.jsonl.gz")
    request = ScoreRequest.model_validate_json(body)
    assert request.input is not None and request.input.format == "jsonl"


# -- reading and validation ----------------------------------------------------------------


def test_problems_name_their_line_and_nothing_is_spooled() -> None:
    data = jsonl(
        {"id": "a", "text": "good"},
        b"{not json",
        {"id": "b"},
        b'{"id": "c", "text": "\xff\xfe"}',
        [1, 2],
        {"id": "", "text": "x"},
        {"text": "no id"},
    )
    result, _ = check(data)
    errors = result.errors(strict=False, allow_duplicates=False)
    assert errors[0].startswith("line 2 is not valid JSON")
    assert errors[1] == "line 3: 'text' is missing"
    assert errors[2].startswith("line 4 is not valid UTF-8")
    assert errors[3] == "line 5: a record must be a JSON object, not list"
    assert errors[4] == "line 6: id is empty"
    assert errors[5] == "line 7: 'id' is missing"
    assert result.problem_count == 6 and result.batches == [] and result.records == 0


def test_records_the_worker_rejects_are_warnings_unless_strict() -> None:
    data = jsonl({"id": "a", "text": "good"}, {"id": "b", "text": "  "}, {"id": "c", "text": 3})
    result, _ = check(data)
    assert result.errors(strict=False, allow_duplicates=False) == []
    assert result.warnings == ["line 2: text is empty", "line 3: text must be a string, not int"]
    assert result.records == 3
    assert result.errors(strict=True, allow_duplicates=False) == result.warnings


def test_duplicate_ids_across_the_file_are_found_with_their_lines() -> None:
    rows = [{"id": f"r{i % 4000}", "text": "t"} for i in range(4003)]
    result, _ = check(jsonl(*rows), records_per_message=1000)
    assert result.duplicate_count == 3
    assert result.duplicates[0] == "duplicate id 'r0' at line 1, line 4001"
    assert result.errors(strict=False, allow_duplicates=True) == []
    assert len(result.errors(strict=False, allow_duplicates=False)) == 3


def test_empty_file_is_an_error() -> None:
    result, _ = check(b"\n\n")
    assert result.errors(False, False) == ["the input holds no records"]


def test_csv_with_other_column_names_and_quoted_newlines() -> None:
    data = b'review,key,extra\n"good, ""really""\nfine",k1,x\nbad,k2,y\n'
    result, spool = check(data, "csv", id_field="key", text_field="review")
    assert result.records == 2 and result.errors(False, False) == []
    assert json.loads(spool.splitlines()[0]) == {"id": "k1", "text": 'good, "really"\nfine'}


def test_csv_problems() -> None:
    with pytest.raises(SourceError, match="lacks column"):
        check(b"id,body\n1,x\n", "csv")
    result, _ = check(b"id,text\n1,good\n2,a,b\n", "csv")
    assert result.errors(False, False) == ["CSV record 2 has 3 fields, the header has 2"]
    result, _ = check(b"id,text\n1,\xff bad bytes\n", "csv")
    assert result.errors(False, False) == ["CSV record 1: text is not valid UTF-8"]


def test_format_from_extension_or_flag(tmp_path: Path) -> None:
    assert resolve_format("a/b.JSONL.gz", None) == "jsonl"
    assert resolve_format("b.csv.gz", None) == "csv"
    assert resolve_format("b.txt", "csv") == "csv"
    with pytest.raises(SourceError, match="--format"):
        resolve_format("b.txt", None)
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl({"id": 1, "text": "good"})))
    with open_source(str(path)) as stream:
        items = list(read_records(stream, "jsonl"))
    assert [(i.position, i.id) for i in items] == [(1, "1")]  # type: ignore[union-attr]
    with pytest.raises(SourceError, match="no such file"), open_source(str(tmp_path / "x")):
        pass


def test_progress_is_a_few_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress("sending", 1000, stream=stream, interactive=False)
    for _ in range(100):
        progress.advance(10)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1].startswith("sending: 100% (1,000/1,000 records")
    jump = io.StringIO()
    progress = Progress("sending", 1000, stream=jump, interactive=False)
    progress.advance(450)
    progress.advance(550)
    assert [line.split(" (")[0] for line in jump.getvalue().splitlines()] == [
        "sending: 40%",
        "sending: 100%",
    ]


def test_progress_redraws_one_line_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress("sending", 10, stream=stream, interactive=True, min_interval=0)
    progress.advance(5)
    progress.close()
    assert stream.getvalue().count("\n") == 1 and "\r" in stream.getvalue()
    assert "sending:  50%" in stream.getvalue() and "5/10" in stream.getvalue()


# -- status counting, DLQ, backfill decisions ------------------------------------------------


def manifest(**extra: object) -> JobManifest:
    batches = [
        ManifestBatch(batch_id=f"part-{i:05d}", records=10, source="inline") for i in range(4)
    ]
    values: dict[str, object] = {
        "job_id": "j",
        "created": datetime.now(UTC),
        "kind": "submit",
        "input": "f.jsonl",
        "batches": batches,
        "total_records": 40,
    }
    return JobManifest.model_validate({**values, **extra})


def letter(body: dict[str, object] | str, reason: str = "why") -> DeadLetter:
    return parse_dead_letter(
        {
            "MessageId": "m-1",
            "ReceiptHandle": "h",
            "Body": body if isinstance(body, str) else json.dumps(body),
            "MessageAttributes": {"reason": {"DataType": "String", "StringValue": reason}},
            "Attributes": {"ApproximateReceiveCount": "2"},
        }
    )


def test_status_counts_done_pending_failed_and_records() -> None:
    meta = {"records-scored": "9", "records-rejected": "1", "model-version": "m1"}
    present = {results_name("part-00000"): meta, "part-00001.jsonl.gz": meta}
    dead = [
        letter({"job_id": "j", "batch_id": "part-00002"}, "NoSuchKey"),
        letter({"job_id": "other", "batch_id": "part-00003"}),
        letter("not json"),
    ]
    status = count_job(manifest(), OUTPUT, present, dead)
    assert (status.done, status.pending, [f.batch_id for f in status.failed]) == (
        2,
        1,
        ["part-00002"],
    )
    assert (status.records_scored, status.records_rejected) == (18, 2)
    assert status.failed[0].reason == "NoSuchKey"
    assert not status.finished and not status.complete
    every = {f"part-{i:05d}.jsonl.gz": meta for i in range(4)}
    assert count_job(manifest(), OUTPUT, every, dead).complete


def test_status_ignores_results_of_another_model_or_input_version() -> None:
    batch = ManifestBatch(batch_id="bf-1", records=0, source="s3://b/in/a.jsonl", input_etag="e2")
    job = manifest(batches=[batch], kind="backfill", model_version="m2", total_records=0)
    stale = {"bf-1.jsonl.gz": {"model-version": "m1", "input-etag": "e2"}}
    changed = {"bf-1.jsonl.gz": {"model-version": "m2", "input-etag": "e1"}}
    current = {"bf-1.jsonl.gz": {"model-version": "m2", "input-etag": "e2"}}
    assert count_job(job, OUTPUT, stale, []).pending == 1
    assert count_job(job, OUTPUT, changed, []).pending == 1
    assert count_job(job, OUTPUT, current, []).complete


def test_dead_letter_without_batch_id_gets_the_workers_derived_one() -> None:
    body = {"version": 1, "job_id": "j", "records": [{"id": "1", "text": "x"}]}
    assert letter(body).batch_id == derive_batch_id(body)
    assert (letter("{oops").job_id, letter("{oops").batch_id) == (None, None)
    kept = kept_attributes(
        {
            "reason": {"DataType": "String", "StringValue": "x"},
            "source_queue_url": {"DataType": "String", "StringValue": "u"},
            "source_message_id": {"DataType": "String", "StringValue": "m"},
            "team": {"DataType": "String", "StringValue": "a", "StringListValues": []},
        }
    )
    assert kept == {"team": {"DataType": "String", "StringValue": "a"}}


def obj(key: str, etag: str = "e1", when: datetime | None = None) -> SourceObject:
    return SourceObject(
        key, f"s3://inbox/{key}", etag, 10, when or datetime(2026, 1, 2, tzinfo=UTC)
    )


def test_backfill_batch_ids_are_safe_and_stable() -> None:
    first = batch_id_for_object("s3://inbox/data/2026/01/a.jsonl.gz")
    assert first == batch_id_for_object("s3://inbox/data/2026/01/a.jsonl.gz")
    assert first != batch_id_for_object("s3://inbox/data/2026/01/b.jsonl.gz")
    assert check_safe_id(first) == first and len(first) == 27


def test_backfill_decisions() -> None:
    def action(o: SourceObject, existing: dict[str, str] | None, force: bool = False) -> Decision:
        return decide(o, existing, "m2", force, parse_s3_uri("s3://inbox/out"))

    scored = {"model-version": "m2", "input-etag": "e1"}
    assert action(obj("a.jsonl"), None).action == "send"
    assert action(obj("a.jsonl"), scored).action == "skip"
    assert action(obj("a.jsonl"), scored, force=True).action == "send"
    assert action(obj("a.jsonl", etag="e2"), scored).action == "send"
    assert action(obj("a.jsonl"), {**scored, "model-version": "m1"}).action == "send"
    assert action(obj("a.parquet"), None).action == "ignore"
    assert action(obj("out/j/x.jsonl.gz"), None).action == "ignore"
    assert action(obj("b.csv.gz"), None).fmt == "csv"


def test_backfill_windows() -> None:
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert in_window(obj("a"), end_before="b") and not in_window(obj("b"), end_before="b")
    assert not in_window(obj("a", when=early), modified_since=datetime(2026, 1, 15, tzinfo=UTC))
    assert in_window(obj("a", when=late), modified_since=datetime(2026, 1, 15, tzinfo=UTC))
    assert not in_window(obj("a", when=late), modified_before=late)


@pytest.mark.parametrize("name", ["reviews.JSONL.GZ", "reviews.jsonl", "reviews.jsonl.gz"])
def test_submit_reads_gzip_by_its_magic_bytes_whatever_the_name(tmp_path: Path, name: str) -> None:
    import gzip

    path = tmp_path / name
    path.write_bytes(gzip.compress(b'{"id": "1", "text": "fine"}\n'))
    with open_source(str(path)) as stream:
        assert stream.read() == b'{"id": "1", "text": "fine"}\n'
