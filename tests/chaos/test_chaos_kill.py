"""Kill -9 under load: three workers on one queue, one SIGKILLed and replaced every few seconds.

At the end every record id is in the results exactly once or in an errors file, the queue and
the DLQ are empty, and no result object is partial (a reader polling during the run never saw
one either).
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaos.harness import (
    NEGATIVE,
    POSITIVE,
    ChaosWorker,
    ResultReader,
    audit_outputs,
    expected_label,
    make_stack,
    report_figures,
    send_all,
    wait_until,
)
from worker.log_events import LogEvent

pytestmark = pytest.mark.e2e

WORDS = [*POSITIVE, *NEGATIVE, "film", "plot", "actors", "the", "was", "and", "ending", "music"]


@dataclass(frozen=True)
class KillPlan:
    name: str
    messages: int
    records_per_message: int
    sleep_per_message: float  # one `sleep:N` record per message: the batch takes that long
    kill_every: float  # seconds between kills: the one timed cadence of the suite
    max_kills: int
    timeout: float


SHORT = KillPlan("kill9-short", 30, 100, 0.5, 3.0, 3, 150)
LONG = KillPlan("kill9-long", 100, 500, 1.5, 5.0, 20, 900)


def build_batches(stack: Any, plan: KillPlan) -> tuple[list[str], dict[str, str], set[str]]:
    """Bodies to send, expected label per scorable id, and the ids that must be rejected."""
    rng = random.Random(20261)
    bodies: list[str] = []
    labels: dict[str, str] = {}
    rejected: set[str] = set()
    for m in range(plan.messages):
        records = []
        for i in range(plan.records_per_message):
            record_id = f"k{m:03d}-{i:05d}"
            if i == 0:
                text = f"sleep:{plan.sleep_per_message} good"
            elif i % 97 == 0:
                text = "   "  # empty text: an errors-file line, never a result
            else:
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
            records.append({"id": record_id, "text": text})
            if text.strip():
                labels[record_id] = expected_label(text)
            else:
                rejected.add(record_id)
        envelope: dict[str, Any] = {"version": 1, "job_id": "kill9", "batch_id": f"m{m:03d}"}
        if m % 2 == 0:
            envelope["records"] = records
        else:
            lines = "".join(json.dumps(record) + "\n" for record in records).encode()
            key = f"inputs/kill9/m{m:03d}.jsonl" + (".gz" if m % 4 == 1 else "")
            data = gzip.compress(lines) if key.endswith(".gz") else lines
            envelope["input"] = {"uri": stack.put(key, data), "format": "jsonl"}
        bodies.append(json.dumps(envelope))
    return bodies, labels, rejected


def held(worker: ChaosWorker) -> int:
    """Messages this worker received and has not settled yet (from its own log)."""
    settled = sum(
        worker.count(message)
        for message in ("message deleted", "sent to DLQ", "message released", "batch failed")
    )
    return worker.count(LogEvent.MESSAGE_RECEIVED) - settled


@pytest.mark.parametrize(
    "plan", [SHORT, pytest.param(LONG, marks=pytest.mark.chaos_long)], ids=lambda p: p.name
)
def test_kill9_under_load_loses_nothing_and_duplicates_nothing(
    plan: KillPlan,
    moto_endpoint: str,
    tiny_model_dir: Path,
    workers: list[ChaosWorker],
    long_run: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    # Each kill can add one receive to a message the victim held: a maxReceiveCount above the
    # number of kills means no kill can push a message into the DLQ by redrive.
    stack = make_stack(
        moto_endpoint, visibility_timeout=4, max_receives=max(10, plan.max_kills + 5)
    )
    bodies, labels, must_reject = build_batches(stack, plan)
    assert send_all(stack, bodies) == plan.messages
    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "SCORER_QUEUE_URL": stack.queue_url,
        "SCORER_OUTPUT_URI": stack.output_uri,
        "SCORER_ALLOWED_INPUT_URIS": f"s3://{stack.bucket}/inputs",
        "SCORER_MODEL_URI": str(tiny_model_dir),
        "SCORER_VISIBILITY_TIMEOUT": "4",
        "SCORER_RETRY_DELAY_SECONDS": "0",
        "SCORER_MAX_IN_FLIGHT": "4",
        "SCORER_SCORING_THREADS": "1",
    }

    def start() -> ChaosWorker:
        worker = ChaosWorker(env, name=f"worker-{len(workers)}")
        workers.append(worker)
        return worker

    def deleted_ids() -> set[str]:
        return {e["message_id"] for w in workers for e in w.entries(LogEvent.MESSAGE_DELETED)}

    def all_deleted() -> bool:
        return len(deleted_ids()) >= plan.messages

    dlq_checked = [0.0]

    def finished() -> bool:
        """All deleted, or the queue is empty (a worker killed between a delete and its log
        line leaves no "message deleted"), or something reached the DLQ (by redrive: no event
        for either, so poll). The audit below checks that every record has its result."""
        if all_deleted():
            return True
        if time.monotonic() - dlq_checked[0] < 2:
            return False
        dlq_checked[0] = time.monotonic()
        return stack.depth() == 0 or stack.depth(stack.dlq_url) > 0

    for _ in range(3):
        start()
    reader = ResultReader(stack)
    reader.start()
    kills = kills_mid_batch = 0
    try:
        while kills < plan.max_kills and not all_deleted():
            tick = time.monotonic() + plan.kill_every
            wait_until(workers, lambda t=tick: time.monotonic() >= t or all_deleted(), 60, "tick")
            if all_deleted():
                break
            live = [w for w in workers if w.process.poll() is None and w.ready()]
            if not live:
                continue  # all still loading the model: no kill this tick
            victim = max(live, key=held)
            kills_mid_batch += held(victim) > 0
            victim.process.kill()  # SIGKILL: no drain, no release, no goodbye
            victim.process.wait(timeout=30)
            kills += 1
            start()
        wait_until(workers, finished, plan.timeout, "every message to be deleted")
    finally:
        reader.stop()
    for worker in workers:
        if worker.process.poll() is None:
            assert worker.terminate(timeout=60) == 0

    audit = audit_outputs(stack)
    expected_ids = set(labels) | must_reject
    received = [e for w in workers for e in w.entries(LogEvent.MESSAGE_RECEIVED)]
    written = Counter(e["message_id"] for w in workers for e in w.entries(LogEvent.BATCH_WRITTEN))
    figures = {
        "scenario": plan.name,
        "records": len(expected_ids),
        "messages": plan.messages,
        "workers_started": len(workers),
        "kills_sigkill": kills,
        "kills_mid_batch": kills_mid_batch,
        "redeliveries": sum(1 for e in received if e["receives"] > 1),
        "max_receive_count": max(e["receives"] for e in received),
        "queue_max_receive_count": max(10, plan.max_kills + 5),
        "batches_rewritten": sum(count - 1 for count in written.values()),
        "records_scored": sum(audit.scored.values()),
        "records_rejected": sum(audit.rejected.values()),
        "result_objects": audit.results_objects,
        "concurrent_reads_checked": reader.reads,
        "partial_objects_seen": len(reader.bad) + len(audit.partial),
        "duplicates": len(audit.duplicates),
        "lost": len(audit.missing(expected_ids)),
        "dead_lettered": stack.depth(stack.dlq_url),
        "seconds": round(time.monotonic() - started, 1),
    }
    report_figures(plan.name, figures, capsys, write=long_run)

    # The queue and the DLQ are empty: every message ended in the results.
    assert stack.depth() == 0
    assert stack.depth(stack.dlq_url) == 0
    assert sum(w.count(LogEvent.SENT_TO_DLQ) for w in workers) == 0

    assert audit.partial == [], "result objects that do not decompress whole"
    assert audit.metadata_mismatch == [], "line counts that differ from records-scored"
    assert audit.orphan_errors == [], "errors objects without their results object"
    assert audit.results_objects == plan.messages
    assert audit.duplicates == []
    assert audit.missing(expected_ids) == []
    assert audit.unexpected(expected_ids) == []
    assert set(audit.rejected) == must_reject
    assert all(line["error"] == "text is empty" for line in audit.rejected_lines)
    assert set(audit.scored) == set(labels)
    wrong = [
        line["id"]
        for lines in audit.lines_by_key.values()
        for line in lines
        if "label" in line and line["label"] != labels[line["id"]]
    ]
    assert wrong == []
    assert reader.bad == [], "a concurrent reader saw a partial object"
    assert kills >= min(plan.max_kills, 1)
