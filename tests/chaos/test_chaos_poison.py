"""Poison inputs: one worker process takes the whole corpus (and one message sent 100 times).

Each case ends where the contract says (the DLQ with its reason, or error lines beside the
results), the worker never exits, its peak memory stays bounded, and its logs name every
failure without ever printing review text or the AWS secret.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaos.fault_proxy import FaultProxy, ProxiedRequest
from chaos.harness import (
    SECRET_MARKER,
    ChaosWorker,
    OutputAudit,
    audit_outputs,
    make_stack,
    report_figures,
    send_all,
    wait_until,
)
from chaos.poison_corpus import (
    CSV_HEADER_LEAK_CASE,
    OTHER_BUCKET,
    POISON_ENV,
    Case,
    dlq_cases,
    error_cases,
    leak_cases,
    repeated_body,
)
from schemas.messages import derive_batch_id
from worker.log_events import LogEvent

pytestmark = pytest.mark.e2e

REPEATS = 100
MEMORY_BOUND_KIB = 1_500 * 1024


@dataclass
class PoisonRun:
    stack: Any
    cases: list[Case]
    worker: ChaosWorker
    dead: list[dict[str, Any]]
    audit: OutputAudit
    requests: list[ProxiedRequest]
    memory_kib: dict[str, int]
    repeated_key: str
    messages: int
    seconds: float


@pytest.fixture(scope="module")
def poison_run(moto_endpoint: str, tiny_model_dir: Path) -> Iterator[PoisonRun]:
    started = time.monotonic()
    stack = make_stack(moto_endpoint, visibility_timeout=60, max_receives=10)
    stack.s3.create_bucket(Bucket=OTHER_BUCKET)
    stack.s3.put_object(Bucket=OTHER_BUCKET, Key="inputs/a.jsonl", Body=b'{"id":"o","text":"x"}\n')
    cases = dlq_cases() + leak_cases() + error_cases()
    assert len({case.name for case in cases}) == len(cases)
    assert len({case.body for case in cases}) == len(cases)
    for case in cases:
        for key, data in case.objects.items():
            stack.put(key, data)
    bodies = [case.body for case in cases] + [repeated_body()] * REPEATS
    sent = send_all(stack, bodies)
    for case in cases:  # gone between the message and the read
        for key in case.vanish:
            stack.s3.delete_object(Bucket=stack.bucket, Key=key)
    repeated_key = f"results/poison-repeat/{derive_batch_id(json.loads(repeated_body()))}.jsonl.gz"
    with FaultProxy(moto_endpoint) as proxy:  # no faults: it only logs what the worker asks
        worker = ChaosWorker(
            {
                "AWS_ENDPOINT_URL": proxy.url,
                "SCORER_QUEUE_URL": stack.queue_url,
                "SCORER_OUTPUT_URI": stack.output_uri,
                "SCORER_ALLOWED_INPUT_URIS": f"s3://{stack.bucket}/inputs",
                "SCORER_MODEL_URI": str(tiny_model_dir),
                "SCORER_RETRY_DELAY_SECONDS": "0",
                **POISON_ENV,
            },
            name="poison-worker",
        )
        try:
            wait_until(
                [worker],
                lambda: (
                    worker.count(LogEvent.MESSAGE_DELETED) + worker.count(LogEvent.SENT_TO_DLQ)
                    >= sent
                ),
                120,
                "every poison message settled",
            )
            memory = worker.memory_kib()
            yield PoisonRun(
                stack=stack,
                cases=cases,
                worker=worker,
                dead=stack.dlq_messages(),
                audit=audit_outputs(stack),
                requests=proxy.snapshot(),
                memory_kib=memory,
                repeated_key=repeated_key,
                messages=sent,
                seconds=round(time.monotonic() - started, 1),
            )
        finally:
            worker.close()


def _reason(message: dict[str, Any]) -> str:
    return message["MessageAttributes"]["reason"]["StringValue"]


def test_corpus_is_large_and_varied(poison_run: PoisonRun) -> None:
    dlq = [case for case in poison_run.cases if case.dlq_reason]
    errors = [case for case in poison_run.cases if not case.dlq_reason]
    assert len(poison_run.cases) >= 40
    assert len(dlq) >= 30 and len(errors) >= 15


def test_each_poison_message_is_dead_lettered_with_its_reason(poison_run: PoisonRun) -> None:
    by_body = {message["Body"]: message for message in poison_run.dead}
    expected = [case for case in poison_run.cases if case.dlq_reason]
    assert len(poison_run.dead) == len(expected)
    for case in expected:
        assert case.body in by_body, f"{case.name}: not in the DLQ"
        reason = _reason(by_body[case.body])
        assert case.dlq_reason in reason, f"{case.name}: {reason!r}"
        attributes = by_body[case.body]["MessageAttributes"]
        assert attributes["source_queue_url"]["StringValue"] == poison_run.stack.queue_url
    assert poison_run.stack.depth() == 0


def test_each_bad_record_is_an_error_line_and_the_rest_is_scored(poison_run: PoisonRun) -> None:
    lines = poison_run.audit.lines_by_key
    for case in poison_run.cases:
        if case.dlq_reason:
            assert not any(f"/{case.name}." in key for key in lines), case.name
            continue
        assert case.results_key in lines, f"{case.name}: no results object"
        assert [line["id"] for line in lines[case.results_key]] == case.scored, case.name
        job, _, name = case.results_key.rpartition("/")
        errors_key = f"{job}/_errors/{name}"
        got = lines.get(errors_key, [])
        assert len(got) == len(case.errors), f"{case.name}: {got}"
        for line, (record_id, error, index) in zip(got, case.errors, strict=True):
            assert (line["id"], line["index"]) == (record_id, index), f"{case.name}: {line}"
            assert error in line["error"], f"{case.name}: {line}"
    assert poison_run.audit.partial == [] and poison_run.audit.metadata_mismatch == []


def test_a_message_sent_100_times_gives_one_key_identical_bytes_all_deleted(
    poison_run: PoisonRun,
) -> None:
    keys = [key for key in poison_run.audit.lines_by_key if key.startswith("results/poison-rep")]
    assert keys == [poison_run.repeated_key]
    assert [line["id"] for line in poison_run.audit.lines_by_key[keys[0]]] == [
        f"rep{i}" for i in range(20)
    ]
    puts = [
        r
        for r in poison_run.requests
        if r.method == "PUT" and r.key_path == f"/{poison_run.stack.bucket}/{keys[0]}"
    ]
    assert len({r.invocation for r in puts}) == REPEATS  # one upload per delivery
    assert len({r.body_sha256 for r in puts}) == 1, "rewrites of one key differ"
    deleted = [
        e
        for e in poison_run.worker.entries(LogEvent.MESSAGE_DELETED)
        if e.get("job_id") == "poison-repeat"
    ]
    assert len({e["message_id"] for e in deleted}) == REPEATS


def test_worker_never_exits_and_memory_stays_bounded(
    poison_run: PoisonRun, capsys: pytest.CaptureFixture[str]
) -> None:
    worker = poison_run.worker
    assert worker.process.poll() is None, "the worker exited"
    assert worker.count(LogEvent.WORKER_READY) == 1, "the worker restarted"
    assert (worker.health("/healthz") or (0,))[0] == 200
    assert poison_run.memory_kib["VmHWM"] < MEMORY_BOUND_KIB
    figures = {
        "scenario": "poison",
        "cases": len(poison_run.cases),
        "dlq_cases": sum(1 for case in poison_run.cases if case.dlq_reason),
        "error_line_cases": sum(1 for case in poison_run.cases if not case.dlq_reason),
        "messages": poison_run.messages,
        "dead_lettered": len(poison_run.dead),
        "error_lines": len(poison_run.audit.rejected_lines),
        "records_scored": sum(poison_run.audit.scored.values()),
        "worker_peak_rss_mib": round(poison_run.memory_kib["VmHWM"] / 1024),
        "worker_rss_mib_at_end": round(poison_run.memory_kib["VmRSS"] / 1024),
        "seconds": poison_run.seconds,
    }
    report_figures("poison", figures, capsys, write=False)


def test_logs_name_each_failure(poison_run: PoisonRun) -> None:
    logged = {e["message_id"]: e for e in poison_run.worker.entries(LogEvent.SENT_TO_DLQ)}
    for message in poison_run.dead:
        source = message["MessageAttributes"]["source_message_id"]["StringValue"]
        assert source in logged, "a dead-lettered message was not logged"
        assert logged[source]["reason"] == _reason(message)
    warnings = Counter(e.get("level") for e in poison_run.worker.logs)
    assert warnings["ERROR"] == 0


def test_every_stdout_line_is_one_json_object(poison_run: PoisonRun) -> None:
    assert poison_run.worker.mixed_lines == []


def test_logs_never_print_review_text_or_secret(poison_run: PoisonRun) -> None:
    output = poison_run.worker.all_output()
    assert SECRET_MARKER not in output
    leaked = [
        case.name
        for case in poison_run.cases
        if case.name != CSV_HEADER_LEAK_CASE and case.marker in output
    ]
    assert leaked == []


def test_csv_header_reason_does_not_echo_review_text(poison_run: PoisonRun) -> None:
    leak = next(case for case in poison_run.cases if case.name == CSV_HEADER_LEAK_CASE)
    assert leak.marker not in poison_run.worker.all_output()
    assert all(leak.marker not in _reason(message) for message in poison_run.dead)
