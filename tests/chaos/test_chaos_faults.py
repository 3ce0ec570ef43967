"""Faulty AWS: the worker talks to moto through a proxy answering 5xx, SlowDown and throttling,
dropping connections, cutting S3 bodies halfway and answering late.

Everything is scored exactly once, nothing reaches the DLQ, and the retrying is botocore's
(standard mode): the proxy sees every faulted attempt followed by attempt n+1 of the same
invocation, while the worker itself never receives a message twice.
"""

from __future__ import annotations

import gzip
import json
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaos.fault_proxy import S3_ERRORS, SQS_ERRORS, FaultPlan, FaultProxy, ProxiedRequest
from chaos.harness import (
    ChaosWorker,
    audit_outputs,
    expected_label,
    make_stack,
    report_figures,
    send_all,
    wait_until,
)
from worker.log_events import LogEvent

pytestmark = pytest.mark.e2e

FAULTS = FaultPlan(error_rate=0.10, reset_rate=0.05, delay_rate=0.10, max_delay=1.0)
WORDS = ["good", "great", "love", "bad", "awful", "movie", "cast", "story", "long", "short"]


@dataclass(frozen=True)
class FaultRun:
    name: str
    workers: int
    inline_messages: int
    inline_records: int
    s3_messages: int
    s3_records: int
    big_input_records: int  # one input large enough for a multipart result (0: none)
    timeout: float


SHORT = FaultRun("faults-short", 1, 20, 20, 12, 200, 0, 120)
LONG = FaultRun("faults-long", 2, 200, 100, 100, 500, 250_000, 900)


def build(stack: Any, run: FaultRun) -> tuple[list[str], dict[str, str]]:
    rng = random.Random(4242)
    bodies: list[str] = []
    labels: dict[str, str] = {}

    def make_records(prefix: str, count: int, random_ids: bool = False) -> list[dict[str, str]]:
        out = []
        for i in range(count):
            record_id = f"{prefix}-{uuid.UUID(int=rng.getrandbits(128)).hex if random_ids else i}"
            text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 10)))
            labels[record_id] = expected_label(text)
            out.append({"id": record_id, "text": text})
        return out

    for m in range(run.inline_messages):
        records = make_records(f"in{m}", run.inline_records)
        bodies.append(json.dumps({"version": 1, "job_id": "faults", "records": records}))
    inputs = [(f"s3m{m}", run.s3_records, False) for m in range(run.s3_messages)]
    if run.big_input_records:
        inputs.append(("big", run.big_input_records, True))
    for m, (name, count, random_ids) in enumerate(inputs):
        data = "".join(json.dumps(r) + "\n" for r in make_records(name, count, random_ids)).encode()
        key = f"inputs/faults/{name}.jsonl" + (".gz" if m % 2 else "")
        uri = stack.put(key, gzip.compress(data) if key.endswith(".gz") else data)
        bodies.append(
            json.dumps(
                {
                    "version": 1,
                    "job_id": "faults",
                    "batch_id": name,
                    "input": {"uri": uri, "format": "jsonl"},
                }
            )
        )
    return bodies, labels


def retry_evidence(requests: list[ProxiedRequest]) -> dict[str, int]:
    """Faulted attempts, and how many were followed by attempt n+1 of the same invocation."""
    attempts: dict[str, set[int]] = defaultdict(set)
    for request in requests:
        attempts[request.invocation].add(request.attempt)
    retryable = [
        r for r in requests if r.fault in S3_ERRORS or r.fault in SQS_ERRORS or r.fault == "reset"
    ]
    followed = sum(1 for r in retryable if r.attempt + 1 in attempts[r.invocation])
    return {
        "faulted_attempts": len(retryable),
        "faulted_attempts_retried_by_botocore": followed,
        "retried_attempts_seen": sum(1 for r in requests if r.attempt > 1),
        "max_attempt_seen": max((r.attempt for r in requests), default=0),
        "requests_without_sdk_attempt_header": sum(1 for r in requests if not r.max_attempts),
    }


def test_worker_retries_are_botocore_standard_mode() -> None:
    """Every AWS call of the worker goes through clients with botocore's retry policy."""
    from worker import aws

    aws._config.cache_clear()
    config = aws._config()
    assert config.retries["mode"] in ("standard", "adaptive")
    assert config.retries["max_attempts"] >= 3


@pytest.mark.parametrize(
    "run", [SHORT, pytest.param(LONG, marks=pytest.mark.chaos_long)], ids=lambda r: r.name
)
def test_faulty_aws_scores_everything_and_dead_letters_nothing(
    run: FaultRun,
    moto_endpoint: str,
    tiny_model_dir: Path,
    workers: list[ChaosWorker],
    long_run: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    stack = make_stack(moto_endpoint, visibility_timeout=60, max_receives=10)
    bodies, labels = build(stack, run)
    assert send_all(stack, bodies) == len(bodies)
    with FaultProxy(moto_endpoint, FAULTS, seed=2026) as proxy:
        env = {
            "AWS_ENDPOINT_URL": proxy.url,
            "SCORER_QUEUE_URL": stack.queue_url,
            "SCORER_OUTPUT_URI": stack.output_uri,
            "SCORER_ALLOWED_INPUT_URIS": f"s3://{stack.bucket}/inputs",
            "SCORER_MODEL_URI": str(tiny_model_dir),
            "SCORER_VISIBILITY_TIMEOUT": "60",
            "SCORER_RETRY_DELAY_SECONDS": "0",
            "SCORER_PART_SIZE_BYTES": str(5 * 1024 * 1024),
            "SCORER_MAX_IN_FLIGHT": "4",
            "SCORER_SCORING_THREADS": "1" if run.workers > 1 else "2",
        }
        for index in range(run.workers):
            workers.append(ChaosWorker(env, name=f"worker-{index}"))

        def settled() -> int:
            return len(
                {
                    e["message_id"]
                    for w in workers
                    for message in ("message deleted", "sent to DLQ")
                    for e in w.entries(message)
                }
            )

        wait_until(workers, lambda: settled() >= len(bodies), run.timeout, "all messages settled")
        for worker in workers:
            assert worker.terminate(timeout=60) == 0
        requests = proxy.snapshot()

    dead = stack.dlq_messages()
    audit = audit_outputs(stack)
    evidence = retry_evidence(requests)
    injected = proxy.injected_by_kind()
    by_service = proxy.injected_by_service()
    received = [e for w in workers for e in w.entries(LogEvent.MESSAGE_RECEIVED)]
    worker_retries = sum(w.count(LogEvent.BATCH_FAILED) for w in workers)
    receive_failures = sum(w.count(LogEvent.RECEIVE_FAILED) for w in workers)
    resumes = [e for w in workers for e in w.entries("input stream broke, resuming")]
    object_gets = sum(1 for r in requests if r.operation == "GetObject" and r.attempt == 1)
    multipart_parts = sum(1 for r in requests if r.operation == "UploadPart" and r.fault is None)
    figures = {
        "scenario": run.name,
        "workers": run.workers,
        "messages": len(bodies),
        "records": len(labels),
        "fault_plan": {
            "error_rate": FAULTS.error_rate,
            "reset_rate": FAULTS.reset_rate,
            "delay_rate": FAULTS.delay_rate,
            "max_delay_seconds": FAULTS.max_delay,
        },
        "requests": {
            "s3": sum(1 for r in requests if r.service == "s3"),
            "sqs": sum(1 for r in requests if r.service == "sqs"),
        },
        "faults_injected": by_service,
        "faults_injected_total": sum(v for k, v in injected.items() if k != "delay"),
        "delays_injected": injected.get("delay", 0),
        **evidence,
        "body_resumes_range_get": len(resumes),
        "object_gets": object_gets,
        "multipart_parts_uploaded": multipart_parts,
        "worker_level_retries": worker_retries + receive_failures,
        "redeliveries": sum(1 for e in received if e["receives"] > 1),
        "records_scored": sum(audit.scored.values()),
        "duplicates": len(audit.duplicates),
        "lost": len(audit.missing(labels)),
        "dead_lettered": len(dead),
        "seconds": round(time.monotonic() - started, 1),
    }
    report_figures(run.name, figures, capsys, write=long_run)

    assert stack.depth() == 0
    assert dead == [], "a transient fault sent a message to the DLQ"
    assert audit.partial == [] and audit.metadata_mismatch == []
    assert audit.duplicates == []
    assert audit.missing(labels) == []
    assert audit.unexpected(labels) == []
    assert audit.rejected_lines == []
    assert all(
        line["label"] == labels[line["id"]]
        for lines in audit.lines_by_key.values()
        for line in lines
    )
    # Faults really happened, on both services.
    assert sum(by_service.get("s3", {}).values()) > 0 and sum(by_service.get("sqs", {}).values())
    assert evidence["faulted_attempts"] > 0
    # Every faulted attempt was retried by botocore as attempt n+1 of the same call...
    assert evidence["faulted_attempts_retried_by_botocore"] == evidence["faulted_attempts"]
    assert evidence["requests_without_sdk_attempt_header"] == 0
    # ...and the worker never had to: no message came back, no batch failed, no poll failed.
    assert max(e["receives"] for e in received) == 1
    assert worker_retries == 0 and receive_failures == 0
    # A body cut halfway is resumed by a Range GET pinned to the ETag, not re-read whole.
    assert len(resumes) == injected.get("cut_body", 0)
    if run.big_input_records:
        assert multipart_parts >= 2
