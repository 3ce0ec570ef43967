"""End to end: submit, status, backfill and redrive against moto's HTTP server and the real worker.

The commands run in-process (as a user's shell would run them, via `worker.cli.main`); the
worker is the real `scorer work` process. `status --wait` is what waits for the worker: S3 is
the only signal of a finished batch, so polling it (with a short interval) is legitimate.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import Stack, StartWorker

from worker.cli import main
from worker.log_events import LogEvent

pytestmark = pytest.mark.e2e

POSITIVE = ["good", "great", "wonderful", "excellent", "love"]
NEGATIVE = ["bad", "awful", "boring", "terrible", "hate"]
FILLER = [
    "the",
    "film",
    "plot",
    "actor",
    "scene",
    "story",
    "music",
    "camera",
    "ending",
    "director",
    "script",
]


@contextmanager
def root_logging_restored() -> Iterator[None]:
    """`backfill` sends the root logger to stdout as JSON, as its own process would; in this
    process moto's server logs there too, so the test puts the root logger back after it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def review(rng: random.Random, words: int) -> str:
    picked = [rng.choice(FILLER) for _ in range(words)]
    for _ in range(3):
        picked[rng.randrange(words)] = rng.choice(POSITIVE + NEGATIVE)
    return " ".join(picked)


def flags(stack: Stack) -> list[str]:
    return ["--queue-url", stack.queue_url, "--output-uri", stack.output_uri]


def wait_for_job(stack: Stack, job_id: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    code = main(
        [
            "status",
            job_id,
            "--wait",
            "--interval",
            "0.3",
            "--timeout",
            "120",
            "--json",
            *flags(stack),
        ]
    )
    status = json.loads(capsys.readouterr().out)
    assert code == 0, status
    return status


def ids_in_output(stack: Stack, job_id: str) -> Counter[str]:
    seen: Counter[str] = Counter()
    for key in stack.keys(f"results/{job_id}/"):
        if key.endswith(".jsonl.gz") and "/_staging/" not in key:
            seen.update(line["id"] for line in stack.read_lines(key))
    return seen


def test_submit_20000_records_every_id_once_in_results_or_errors(
    http_stack: Stack, start_worker: StartWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(7)
    rows: list[dict[str, Any]] = [{"id": f"r{i}", "text": review(rng, 12)} for i in range(20_000)]
    bad = {123: "", 4567: "   ", 9999: "", 15000: "\n"}
    for index, text in bad.items():
        rows[index]["text"] = text
    rows[17777]["text"] = 42  # not a string: the worker rejects it on its own
    source = tmp_path / "reviews.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")

    worker = start_worker()
    assert main(["submit", str(source), "--job-id", "big", "--json", *flags(http_stack)]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert (summary["records"], summary["batches"], summary["inline"]) == (20_000, 20, 20)
    assert summary["messages_sent"] == 20 and summary["rejected_by_worker_expected"] == 5
    assert "line 124: text is empty" in captured.err

    status = wait_for_job(http_stack, "big", capsys)
    assert status["complete"] and status["success_marker"]
    assert (status["records_scored"], status["records_rejected"]) == (19_995, 5)
    seen = ids_in_output(http_stack, "big")
    assert set(seen) == {row["id"] for row in rows} and set(seen.values()) == {1}
    errors = [
        line
        for key in http_stack.keys("results/big/")
        if "/_errors/" in key
        for line in http_stack.read_lines(key)
    ]
    assert sorted(e["id"] for e in errors) == sorted(f"r{i}" for i in [*bad, 17777])
    assert "results/big/_SUCCESS" in http_stack.keys("results/")
    assert worker.terminate() == 0


def test_batches_too_big_for_a_message_go_through_s3(
    http_stack: Stack, start_worker: StartWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(11)
    # A gzip CSV in S3 with a 64 KiB message limit: every batch is staged.
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["review_id", "body", "stars"])
    csv_ids = [f"c{i}" for i in range(3000)]
    for record_id in csv_ids:
        writer.writerow([record_id, review(rng, 15) + ', "quoted"\nsecond line', "5"])
    uri = http_stack.put("inputs/upload/reviews.csv.gz", gzip.compress(buffer.getvalue().encode()))
    command = ["submit", uri, "--job-id", "csvjob", "--id-field", "review_id"]
    command += ["--text-field", "body", "--max-message-bytes", "65536", "--json"]
    assert main([*command, *flags(http_stack)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["batches"], summary["staged"], summary["inline"]) == (3, 3, 0)

    # SQS's real limit, 1 MiB: 1,000 reviews of ~1,300 characters do not fit, 500 do.
    long_rows = [{"id": f"L{i}", "text": review(rng, 190)[:1300]} for i in range(1500)]
    source = tmp_path / "long.jsonl.gz"
    source.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in long_rows).encode()))
    assert main(["submit", str(source), "--job-id", "longjob", "--json", *flags(http_stack)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["batches"], summary["staged"], summary["inline"]) == (2, 1, 1)
    manifest = json.loads(
        http_stack.s3.get_object(Bucket=http_stack.bucket, Key="results/longjob/_manifest.json")[
            "Body"
        ].read()
    )
    assert manifest["batches"][0]["source"].endswith("/longjob/_staging/part-00000.jsonl.gz")
    assert manifest["batches"][1]["source"] == "inline"

    worker = start_worker()
    for job_id, expected in (("csvjob", csv_ids), ("longjob", [r["id"] for r in long_rows])):
        status = wait_for_job(http_stack, job_id, capsys)
        assert status["records_scored"] == len(expected) and status["records_rejected"] == 0
        seen = ids_in_output(http_stack, job_id)
        assert set(seen) == set(expected) and set(seen.values()) == {1}
    first = http_stack.read_lines("results/csvjob/part-00000.jsonl.gz")[0]
    assert first["id"] == "c0" and first["model_version"] == "tiny-1"
    assert worker.terminate() == 0
    assert http_stack.dlq_messages() == []


def backfill(stack: Stack, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    capsys.readouterr()
    command = ["backfill", f"s3://{stack.bucket}/inputs/history", "--job-id", "nightly", *extra]
    with root_logging_restored():
        assert main([*command, *flags(stack)]) == 0
    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return next(entry for entry in logs if entry["message"].startswith("backfill "))


def test_backfill_reruns_enqueue_only_new_work(
    http_stack: Stack,
    start_worker: StartWorker,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SCORER_MODEL_URI", str(tiny_model_dir))  # model.json says tiny-1
    stack = http_stack
    stack.put("inputs/history/2026-01.jsonl", b'{"id": "a1", "text": "good"}\n')
    stack.put("inputs/history/2026-02.csv.gz", gzip.compress(b"id,text\nb1,bad\nb2,great\n"))
    stack.put("inputs/history/README.txt", b"not input")
    stack.put("inputs/historyx/2026-03.jsonl", b'{"id": "x", "text": "outside"}\n')

    dry = backfill(stack, capsys, "--dry-run")
    assert (dry["to_enqueue"], dry["ignored"], dry["enqueued"]) == (2, 1, 0)
    assert stack.depth() == 0

    worker = start_worker()
    first = backfill(stack, capsys)
    assert (first["enqueued"], first["already_scored"], first["model_version"]) == (2, 0, "tiny-1")
    status = wait_for_job(stack, "nightly", capsys)
    assert status["records_scored"] == 3 and status["batches"] == 2

    again = backfill(stack, capsys)
    assert (again["enqueued"], again["already_scored"]) == (0, 2)
    assert wait_for_job(stack, "nightly", capsys)["complete"]  # nothing to wait for

    stack.put("inputs/history/2026-01.jsonl", b'{"id": "a1", "text": "awful"}\n')  # changed
    changed = backfill(stack, capsys)
    assert (changed["enqueued"], changed["already_scored"]) == (1, 1)
    wait_for_job(stack, "nightly", capsys)

    forced = backfill(stack, capsys, "--force")
    assert forced["enqueued"] == 2
    wait_for_job(stack, "nightly", capsys)
    worker.wait_for_log(LogEvent.MESSAGE_DELETED, count=5)
    assert worker.terminate() == 0
    results = [k for k in stack.keys("results/nightly/") if k.endswith(".jsonl.gz")]
    assert len(results) == 2
    by_id = {line["id"]: line for key in results for line in stack.read_lines(key)}
    assert by_id["a1"]["label"] == "negative" and set(by_id) == {"a1", "b1", "b2"}


def test_redrive_brings_a_fixed_message_back_and_it_is_scored(
    http_stack: Stack, start_worker: StartWorker, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = http_stack
    body = {
        "version": 1,
        "job_id": "late",
        "batch_id": "b1",
        "input": {"uri": f"s3://{stack.bucket}/inputs/late.jsonl", "format": "jsonl"},
    }
    stack.send(body)
    worker = start_worker()
    worker.wait_for_log(LogEvent.SENT_TO_DLQ)

    assert main(["dlq", "list", "--json", "--queue-url", stack.queue_url]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (listed["job_id"], listed["batch_id"]) == ("late", "b1")
    assert "NoSuchKey" in listed["reason"]
    assert stack.depth(stack.dlq_url) == 1

    stack.put("inputs/late.jsonl", b'{"id": "z1", "text": "great great"}\n')
    assert main(["dlq", "redrive", "--json", "--queue-url", stack.queue_url]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["moved"] == 1 and result["method"] == "receive-send-delete"
    assert "500" in result["fallback_reason"]  # moto has no StartMessageMoveTask

    worker.wait_for_log(LogEvent.MESSAGE_DELETED)
    assert worker.terminate() == 0
    assert stack.read_lines("results/late/b1.jsonl.gz")[0]["label"] == "positive"
    assert stack.depth(stack.dlq_url) == 0 and stack.depth() == 0
