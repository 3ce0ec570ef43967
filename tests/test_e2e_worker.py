"""End to end: the real `scorer work` process against moto's HTTP server on 127.0.0.1."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest
from conftest import Stack, StartWorker

from schemas.messages import derive_batch_id
from worker.log_events import LogEvent

pytestmark = pytest.mark.e2e


def records(*texts: str, prefix: str = "r") -> list[dict[str, str]]:
    return [{"id": f"{prefix}{i}", "text": text} for i, text in enumerate(texts)]


def test_inline_jsonl_and_csv_inputs_are_scored_in_order(
    http_stack: Stack, start_worker: StartWorker
) -> None:
    inline = records("a good film", "bad and boring", "great great fun", prefix="in")
    http_stack.send({"version": 1, "job_id": "job-1", "batch_id": "inline", "records": inline})
    jsonl = "".join(json.dumps(r) + "\n" for r in records("i love it", "awful", prefix="js"))
    jsonl += '{"id": "js-bad", "text": ""}\n'
    uri_jsonl = http_stack.put("inputs/part-1.jsonl.gz", gzip.compress(jsonl.encode()))
    http_stack.send(
        {
            "version": 1,
            "job_id": "job-1",
            "batch_id": "bulk-jsonl",
            "input": {"uri": uri_jsonl, "format": "jsonl"},
        }
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "id", "extra"])
    writer.writerow(['good, "really" good', "c0", "x"])
    writer.writerow(["bad\nover two lines", "c1", "y"])
    uri_csv = http_stack.put("inputs/part-2.csv", buffer.getvalue().encode())
    http_stack.send(
        {
            "version": 1,
            "job_id": "job-1",
            "batch_id": "bulk-csv",
            "input": {"uri": uri_csv, "format": "csv"},
        }
    )

    worker = start_worker()
    worker.wait_for_log(LogEvent.MESSAGE_DELETED, count=3)
    assert worker.terminate() == 0

    assert http_stack.keys() == [
        "results/job-1/_errors/bulk-jsonl.jsonl.gz",
        "results/job-1/bulk-csv.jsonl.gz",
        "results/job-1/bulk-jsonl.jsonl.gz",
        "results/job-1/inline.jsonl.gz",
    ]
    lines = http_stack.read_lines("results/job-1/inline.jsonl.gz")
    assert [line["id"] for line in lines] == ["in0", "in1", "in2"]
    assert [line["label"] for line in lines] == ["positive", "negative", "positive"]
    assert all(set(line) == {"id", "label", "score", "model_version"} for line in lines)
    assert {line["model_version"] for line in lines} == {"tiny-1"}
    csv_lines = http_stack.read_lines("results/job-1/bulk-csv.jsonl.gz")
    assert [(line["id"], line["label"]) for line in csv_lines] == [
        ("c0", "positive"),
        ("c1", "negative"),
    ]
    assert [line["id"] for line in http_stack.read_lines("results/job-1/bulk-jsonl.jsonl.gz")] == [
        "js0",
        "js1",
    ]
    assert http_stack.read_lines("results/job-1/_errors/bulk-jsonl.jsonl.gz") == [
        {"id": "js-bad", "error": "text is empty", "index": 2}
    ]
    metadata = http_stack.s3.head_object(
        Bucket=http_stack.bucket, Key="results/job-1/bulk-jsonl.jsonl.gz"
    )["Metadata"]
    assert metadata["model-version"] == "tiny-1"
    assert (metadata["records-scored"], metadata["records-rejected"]) == ("2", "1")
    assert http_stack.depth() == 0
    assert http_stack.dlq_messages() == []


POISON = {
    "not json": ("{not json", "not valid JSON"),
    "unknown field": (
        {"version": 1, "job_id": "j", "records": [{"id": "1", "text": "x"}], "extra": 1},
        "extra",
    ),
    "unsafe job id": (
        {"version": 1, "job_id": "../escape", "records": [{"id": "1", "text": "x"}]},
        "job_id",
    ),
    "both records and input": (
        {
            "version": 1,
            "job_id": "j",
            "records": [{"id": "1", "text": "x"}],
            "input": {"uri": "s3://scorer-test/inputs/a.jsonl", "format": "jsonl"},
        },
        "exactly one",
    ),
    "wrong version": (
        {"version": 2, "job_id": "j", "records": [{"id": "1", "text": "x"}]},
        "version",
    ),
    "input outside allowed prefixes": (
        {
            "version": 1,
            "job_id": "j",
            "input": {"uri": "s3://scorer-test/private/a.jsonl", "format": "jsonl"},
        },
        "outside SCORER_ALLOWED_INPUT_URIS",
    ),
    "input object missing": (
        {
            "version": 1,
            "job_id": "j",
            "input": {"uri": "s3://scorer-test/inputs/gone.jsonl", "format": "jsonl"},
        },
        "NoSuchKey",
    ),
    "csv without text column": (
        {
            "version": 1,
            "job_id": "j",
            "input": {"uri": "s3://scorer-test/inputs/nocol.csv", "format": "csv"},
        },
        "lacks column",
    ),
    "NaN in body": ('{"version": 1, "job_id": "j", "records": [{"id": "1", "text": NaN}]}', "NaN"),
}


def test_poison_messages_go_to_the_dlq_with_their_reason(
    http_stack: Stack, start_worker: StartWorker
) -> None:
    http_stack.put("inputs/nocol.csv", b"id,body\n1,hello\n")
    for body, _ in POISON.values():
        http_stack.send(body)
    worker = start_worker()
    worker.wait_for_log(LogEvent.SENT_TO_DLQ, count=len(POISON))
    # The worker carries on: a good message after all that poison is scored.
    http_stack.send({"version": 1, "job_id": "after", "batch_id": "b", "records": records("good")})
    worker.wait_for_log(LogEvent.MESSAGE_DELETED, count=1)
    assert worker.terminate() == 0

    dead = http_stack.dlq_messages()
    reasons = [m["MessageAttributes"]["reason"]["StringValue"] for m in dead]
    assert len(dead) == len(POISON)
    for name, (body, expected) in POISON.items():
        text = body if isinstance(body, str) else json.dumps(body)
        matching = [m for m in dead if m["Body"] == text]
        assert matching, f"{name}: body not found in the DLQ"
        reason = matching[0]["MessageAttributes"]["reason"]["StringValue"]
        assert expected in reason, f"{name}: {reason!r}"
    assert all(r for r in reasons)
    assert http_stack.depth() == 0
    assert http_stack.keys() == ["results/after/b.jsonl.gz"]


def test_killed_worker_loses_nothing_and_the_next_writes_the_same_key(
    http_stack: Stack, start_worker: StartWorker
) -> None:
    body = {"version": 1, "job_id": "crash", "records": records("sleep:4 good", "bad")}
    http_stack.send(body)
    first = start_worker(SCORER_VISIBILITY_TIMEOUT="2")
    first.wait_for_log(LogEvent.MESSAGE_RECEIVED)
    first.kill()  # SIGKILL mid-batch: no drain, no release
    assert http_stack.keys() == []

    second = start_worker(SCORER_VISIBILITY_TIMEOUT="2")
    second.wait_for_log(LogEvent.MESSAGE_DELETED, timeout=90)
    received = [e for e in second.logs if e.get("message") == LogEvent.MESSAGE_RECEIVED]
    assert received[0]["receives"] >= 2
    assert second.terminate() == 0

    key = f"results/crash/{derive_batch_id(body)}.jsonl.gz"
    assert http_stack.keys() == [key]
    assert [line["id"] for line in http_stack.read_lines(key)] == ["r0", "r1"]
    assert http_stack.depth() == 0


def test_heartbeat_keeps_a_slow_batch_from_a_second_worker(
    http_stack: Stack, start_worker: StartWorker
) -> None:
    # The batch takes more than three visibility timeouts; two workers poll the queue.
    first = start_worker(SCORER_VISIBILITY_TIMEOUT="2")
    second = start_worker(SCORER_VISIBILITY_TIMEOUT="2")
    for worker in (first, second):
        worker.wait_for(lambda w=worker: (w.health("/readyz") or (0,))[0] == 200, 60, "ready")
    http_stack.send(
        {"version": 1, "job_id": "slow", "batch_id": "b", "records": records("sleep:7 good")}
    )
    first.wait_for(
        lambda: first.count(LogEvent.MESSAGE_DELETED) + second.count(LogEvent.MESSAGE_DELETED) >= 1,
        timeout=60,
        what="the slow batch to finish",
    )
    receives = first.count(LogEvent.MESSAGE_RECEIVED) + second.count(LogEvent.MESSAGE_RECEIVED)
    extensions = first.count(LogEvent.VISIBILITY_EXTENDED) + second.count(
        LogEvent.VISIBILITY_EXTENDED
    )
    assert receives == 1
    assert extensions >= 3
    assert first.terminate() == 0 and second.terminate() == 0
    assert http_stack.keys() == ["results/slow/b.jsonl.gz"]


def test_sigterm_finishes_the_batch_in_flight_then_exits_0(
    http_stack: Stack, start_worker: StartWorker
) -> None:
    http_stack.send(
        {"version": 1, "job_id": "drain", "batch_id": "b", "records": records("sleep:3 good")}
    )
    worker = start_worker()
    worker.wait_for_log(LogEvent.MESSAGE_RECEIVED)
    assert worker.terminate() == 0
    # In this order: the signal came while the batch was in flight, and it still finished.
    assert worker.logged_in_order(
        LogEvent.SIGNAL_RECEIVED, LogEvent.MESSAGE_DELETED, LogEvent.STOPPED
    )
    assert worker.count(LogEvent.MESSAGE_RELEASED) == 0
    assert http_stack.keys() == ["results/drain/b.jsonl.gz"]
    assert http_stack.depth() == 0


def test_sigterm_releases_what_cannot_finish_within_the_drain_timeout(
    http_stack: Stack, start_worker: StartWorker
) -> None:
    http_stack.send(
        {"version": 1, "job_id": "release", "batch_id": "b", "records": records("sleep:8 good")}
    )
    worker = start_worker(SCORER_DRAIN_TIMEOUT="1")
    worker.wait_for_log(LogEvent.MESSAGE_RECEIVED)
    assert worker.terminate() == 0
    assert worker.logged_in_order(
        LogEvent.MESSAGE_RELEASED, LogEvent.DRAIN_TIMED_OUT, LogEvent.STOPPED
    )
    assert worker.count(LogEvent.MESSAGE_DELETED) == 0
    assert http_stack.keys() == []
    # Released with visibility 0: visible again at once for the next worker.
    visible = http_stack.sqs.get_queue_attributes(
        QueueUrl=http_stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert visible == "1"


def test_second_sigterm_exits_at_once(http_stack: Stack, start_worker: StartWorker) -> None:
    http_stack.send({"version": 1, "job_id": "j", "records": records("sleep:20 good")})
    worker = start_worker(SCORER_DRAIN_TIMEOUT="60")
    worker.wait_for_log(LogEvent.MESSAGE_RECEIVED)
    worker.process.send_signal(15)
    worker.wait_for_log(LogEvent.SIGNAL_RECEIVED)
    # 143 is the immediate exit: a drain ends with 0 (and would wait out the 20 s batch).
    assert worker.terminate(timeout=10) == 128 + 15
    assert worker.count(LogEvent.MESSAGE_DELETED) == 0 and worker.count(LogEvent.STOPPED) == 0


def test_health_endpoint_before_and_after_the_model_loads(
    http_stack: Stack, start_worker: StartWorker
) -> None:
    worker = start_worker()
    answers: list[tuple[int, int]] = []

    def observe() -> bool:
        live, ready = worker.health("/healthz"), worker.health("/readyz")
        if live and ready:
            answers.append((live[0], ready[0]))
        return bool(answers) and answers[-1] == (200, 200)

    worker.wait_for(observe, timeout=60, what="/readyz to answer 200")
    # Liveness answers from the start; readiness only once the model and queue are up.
    assert answers[0] == (200, 503)
    _, body = worker.health("/readyz") or (0, {})
    assert body["model_loaded"] and body["queue_reachable"]
    assert worker.terminate() == 0


def test_sigterm_while_the_model_loads_exits_0_without_receiving(
    http_stack: Stack, start_worker: StartWorker
) -> None:
    http_stack.send({"version": 1, "job_id": "job-early", "records": [{"id": "1", "text": "ok"}]})
    worker = start_worker()
    worker.wait_for_log(LogEvent.HEALTH_UP, timeout=60)  # logged before TensorFlow loads
    assert worker.terminate() == 0
    assert worker.count(LogEvent.STOPPED_BEFORE_RECEIVE) == 1
    assert worker.count(LogEvent.MESSAGE_RECEIVED) == 0
    visible = http_stack.sqs.get_queue_attributes(
        QueueUrl=http_stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert visible == "1"  # untouched, for a worker that gets to run
