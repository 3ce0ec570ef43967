"""The message -> result objects path, against moto in-process with the tiny real model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import MakeProcessor, Stack

from schemas.uris import parse_s3_uri
from worker.inputs import InputError
from worker.model import ModelLoadError, load_model
from worker.processing import BatchProcessor, PoisonMessage


@pytest.fixture
def processor(make_processor: MakeProcessor) -> BatchProcessor:
    return make_processor()  # 100 records a message, 1,000 lines or 1 MiB an input


def body(**fields: object) -> str:
    return json.dumps({"version": 1, "job_id": "job", **fields})


def test_many_records_keep_input_order_across_model_batches(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    texts = [("good " * (i % 3)) + ("bad " * (i % 2)) + f"n{i}" for i in range(37)]
    records = [{"id": f"id-{i}", "text": t} for i, t in enumerate(texts)]
    summary = processor.process(body(batch_id="b", records=records))
    lines = inprocess_stack.read_lines("results/job/b.jsonl.gz")
    assert summary.records_scored == 37 and summary.records_rejected == 0
    assert [line["id"] for line in lines] == [f"id-{i}" for i in range(37)]
    expected = processor.scorer.score(texts)
    assert [line["score"] for line in lines] == [round(float(s), 6) for s in expected]


def test_redelivery_writes_identical_bytes_at_the_same_key(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    message = body(records=[{"id": "a", "text": "great"}, {"id": "b", "text": ""}])
    first = processor.process(message)
    data = inprocess_stack.s3.get_object(Bucket="scorer-test", Key=first.results_uri[17:])
    before = data["Body"].read()
    second = processor.process(message)
    after = inprocess_stack.s3.get_object(Bucket="scorer-test", Key=second.results_uri[17:])
    assert first.results_uri == second.results_uri and first.errors_uri == second.errors_uri
    assert after["Body"].read() == before


def test_bad_records_go_to_the_errors_file_and_the_rest_is_scored(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    records = [
        {"id": "ok", "text": "good"},
        {"id": "ok", "text": "repeated id"},
        {"text": "no id"},
        {"id": "big", "text": "x" * (64 * 1024 + 1)},
        {"id": "null", "text": None},
        "not an object",
    ]
    processor.process(body(batch_id="b", records=records))
    assert [line["id"] for line in inprocess_stack.read_lines("results/job/b.jsonl.gz")] == ["ok"]
    errors = inprocess_stack.read_lines("results/job/_errors/b.jsonl.gz")
    assert [(e["index"], e["id"]) for e in errors] == [
        (1, "ok"),
        (2, None),
        (3, "big"),
        (4, "null"),
        (5, None),
    ]
    assert all(e["error"] for e in errors)


def test_a_message_of_only_bad_records_still_publishes_its_results_object(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    """An empty results object (a valid gzip stream of no lines) says the batch is done."""
    summary = processor.process(body(batch_id="bad", records=[{"id": "x", "text": " "}]))
    assert (summary.records_scored, summary.records_rejected) == (0, 1)
    assert inprocess_stack.read_lines("results/job/bad.jsonl.gz") == []
    assert [e["id"] for e in inprocess_stack.read_lines("results/job/_errors/bad.jsonl.gz")] == [
        "x"
    ]


def test_a_message_without_bad_records_writes_no_errors_object(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    summary = processor.process(body(batch_id="good", records=[{"id": "x", "text": "fine"}]))
    assert summary.errors_uri is None
    listing = inprocess_stack.s3.list_objects_v2(
        Bucket="scorer-test", Prefix="results/job/_errors/"
    )
    assert "results/job/_errors/good.jsonl.gz" not in [
        o["Key"] for o in listing.get("Contents", [])
    ]


def test_gzip_bomb_is_cut_off_at_the_byte_limit(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    bomb = gzip.compress(b"x" * (4 * 1024 * 1024))  # 4 MiB in ~4 KiB
    uri = inprocess_stack.put("inputs/bomb.jsonl.gz", bomb)
    with pytest.raises(InputError, match="more than 1048576 bytes"):
        processor.process(body(input={"uri": uri, "format": "jsonl"}))
    assert inprocess_stack.keys() == []


def test_records_over_the_per_input_limit_fail_the_whole_input(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    lines = "".join(json.dumps({"id": str(i), "text": "good"}) + "\n" for i in range(1001))
    uri = inprocess_stack.put("inputs/many.jsonl", lines.encode())
    with pytest.raises(InputError, match=r"more than 1000 (lines|records)"):
        processor.process(body(input={"uri": uri, "format": "jsonl"}))
    assert inprocess_stack.keys() == []


def test_corrupt_gzip_input_is_a_permanent_error(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    uri = inprocess_stack.put("inputs/broken.jsonl.gz", gzip.compress(b'{"id": 1}\n')[:-6])
    with pytest.raises(InputError, match="not a valid gzip stream"):
        processor.process(body(input={"uri": uri, "format": "jsonl"}))


def test_inline_record_limit_is_a_poison_message(processor: BatchProcessor) -> None:
    records = [{"id": str(i), "text": "good"} for i in range(101)]
    with pytest.raises(PoisonMessage, match="over the limit of 100"):
        processor.process(body(records=records))


def test_prefix_lookalike_bucket_path_is_refused(processor: BatchProcessor) -> None:
    uri = "s3://scorer-test/inputs-private/a.jsonl"
    with pytest.raises(PoisonMessage, match="outside SCORER_ALLOWED_INPUT_URIS"):
        processor.process(body(input={"uri": uri, "format": "jsonl"}))


def test_model_loads_from_an_s3_prefix(
    tiny_model_dir: Path, inprocess_stack: Stack, tmp_path: Path
) -> None:
    for path in tiny_model_dir.rglob("*"):
        if path.is_file():
            key = f"models/tiny/{path.relative_to(tiny_model_dir)}"
            inprocess_stack.s3.upload_file(str(path), inprocess_stack.bucket, key)
    model = load_model("s3://scorer-test/models/tiny", cache_dir=tmp_path / "cache")
    assert model.version == "tiny-1"
    assert model.score(["good", "bad"]).tolist()[0] > 0.5


def test_model_folder_without_model_json_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    (copy / "model.json").unlink()
    with pytest.raises(ModelLoadError, match=r"model\.json"):
        load_model(str(copy))


def test_an_input_stream_that_breaks_midway_resumes_where_it_stopped(
    inprocess_stack: Stack,
) -> None:
    """A reset connection in the middle of a body resumes with a Range GET, losing nothing."""
    from botocore.exceptions import ResponseStreamingError

    from worker import s3 as s3_module

    data = b"".join(f"line {i}\n".encode() for i in range(20_000))
    inprocess_stack.put("inputs/big.jsonl", data)
    location = parse_s3_uri("s3://scorer-test/inputs/big.jsonl")
    response = inprocess_stack.s3.get_object(Bucket="scorer-test", Key="inputs/big.jsonl")

    class BreaksAfter:
        """The first body: the connection drops after 50,000 bytes."""

        def __init__(self, body: object) -> None:
            self.body, self.sent = body, 0

        def read(self, size: int = -1) -> bytes:
            if self.sent >= 50_000:
                raise ResponseStreamingError(error="Connection reset by peer")
            chunk = self.body.read(min(size, 50_000 - self.sent))  # type: ignore[attr-defined]
            self.sent += len(chunk)
            return chunk

        def close(self) -> None:
            self.body.close()  # type: ignore[attr-defined]

    response["Body"] = BreaksAfter(response["Body"])
    body = s3_module._ResumableBody(location, response, max_resumes=1)
    received = b""
    while chunk := body.read(8192):
        received += chunk
    assert received == data

    # The same through the gzip reader the worker uses, which fills buffers (readinto).
    from isal import igzip

    inprocess_stack.put("inputs/big.jsonl.gz", gzip.compress(data, compresslevel=0))
    location = parse_s3_uri("s3://scorer-test/inputs/big.jsonl.gz")
    response = inprocess_stack.s3.get_object(Bucket="scorer-test", Key="inputs/big.jsonl.gz")
    response["Body"] = BreaksAfter(response["Body"])
    body = s3_module._ResumableBody(location, response, max_resumes=1)
    assert igzip.IGzipFile(fileobj=body).read() == data


def test_a_text_under_the_limit_is_scored_however_its_json_line_is_escaped(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    text = "good " + "\x01" * 50_000  # ~50 KB of text, ~300 KB once JSON-escaped
    line = json.dumps({"id": "escaped", "text": text}) + "\n"
    uri = inprocess_stack.put("inputs/escaped.jsonl", line.encode())
    summary = processor.process(body(batch_id="e", input={"uri": uri, "format": "jsonl"}))
    assert (summary.records_scored, summary.records_rejected) == (1, 0)
