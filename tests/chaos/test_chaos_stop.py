"""Stop and scale-in: SIGTERM mid-batch, the heartbeat, and ECS task scale-in protection.

Worker A takes a long S3-input batch and is stopped with SIGTERM: it exits within the drain
timeout, writes nothing, and hands the message back. Worker B takes it over: the batch lasts
more than three visibility timeouts yet is received once (the heartbeat), is written whole,
and B's scale-in protection is on while busy and off once idle.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chaos.fake_ecs_agent import FakeEcsAgent
from chaos.harness import ChaosWorker, make_stack, report_figures
from worker.log_events import LogEvent

pytestmark = pytest.mark.e2e

DRAIN_TIMEOUT = 3
VISIBILITY_B = 1
BATCH_SECONDS = 3 * VISIBILITY_B + 1.5  # the model call alone outlasts three timeouts
RECORDS = 300


def test_sigterm_releases_a_long_batch_and_the_heartbeat_and_protection_hold(
    moto_endpoint: str,
    tiny_model_dir: Path,
    workers: list[ChaosWorker],
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = make_stack(moto_endpoint, visibility_timeout=30, max_receives=10)
    lines = [{"id": "slow-0", "text": f"sleep:{BATCH_SECONDS} good"}]
    lines += [{"id": f"slow-{i}", "text": "great fun"} for i in range(1, RECORDS)]
    uri = stack.put("inputs/stop/long.jsonl", "".join(json.dumps(r) + "\n" for r in lines).encode())
    stack.send(
        {
            "version": 1,
            "job_id": "stop",
            "batch_id": "long",
            "input": {"uri": uri, "format": "jsonl"},
        }
    )
    base = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "SCORER_QUEUE_URL": stack.queue_url,
        "SCORER_OUTPUT_URI": stack.output_uri,
        "SCORER_ALLOWED_INPUT_URIS": f"s3://{stack.bucket}/inputs",
        "SCORER_MODEL_URI": str(tiny_model_dir),
        "SCORER_DRAIN_TIMEOUT": str(DRAIN_TIMEOUT),
    }
    with FakeEcsAgent() as agent:
        a = ChaosWorker(
            {**base, "SCORER_VISIBILITY_TIMEOUT": "30", "ECS_AGENT_URI": f"{agent.url}/a"}, "a"
        )
        workers.append(a)
        a.wait_for_log(LogEvent.MESSAGE_RECEIVED, timeout=90)
        # B loads its model meanwhile; it can only get the message once A hands it back.
        b = ChaosWorker(
            {
                **base,
                "SCORER_VISIBILITY_TIMEOUT": str(VISIBILITY_B),
                "ECS_AGENT_URI": f"{agent.url}/b",
            },
            "b",
        )
        workers.append(b)
        stopped = time.monotonic()
        assert a.terminate(timeout=DRAIN_TIMEOUT + 10) == 0
        exit_seconds = time.monotonic() - stopped
        keys_at_exit = stack.keys()
        attributes = stack.sqs.get_queue_attributes(
            QueueUrl=stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]

        # Within the drain timeout (plus process exit), released, nothing written.
        assert exit_seconds < DRAIN_TIMEOUT + 2
        assert a.count(LogEvent.MESSAGE_RELEASED) == 1 and a.count(LogEvent.MESSAGE_DELETED) == 0, (
            "".join(a.raw[-12:])
        )
        assert keys_at_exit == []
        assert attributes["ApproximateNumberOfMessages"] == "1" or b.count(
            LogEvent.MESSAGE_RECEIVED
        )
        # A's heartbeat may not have asked for protection yet (it ticks every visibility/8
        # seconds, at most 5 s); if it did, it dropped it on the way out.
        assert agent.states("/a") in ([], [True, False]), "A must not stay protected"

        # B gets it well before A's 30 s visibility could have run out: it was released.
        b.wait_for_log(LogEvent.MESSAGE_RECEIVED, timeout=25)
        b.wait_for(lambda: agent.states("/b")[:1] == [True], 10, "B's protection on")
        assert b.count(LogEvent.MESSAGE_DELETED) == 0, "protection must be on while the batch runs"
        b.wait_for_log(LogEvent.MESSAGE_DELETED, timeout=60)
        b.wait_for_log("task protection disabled", timeout=20)
        protection_b = agent.states("/b")
        protection_a = agent.states("/a")
        assert b.terminate() == 0

    received = b.entries(LogEvent.MESSAGE_RECEIVED)
    extended = b.count(LogEvent.VISIBILITY_EXTENDED)
    assert len(received) == 1, "the heartbeat must keep the batch from a second delivery"
    assert received[0]["receives"] == 2  # once by A, once by B
    assert extended >= 3
    assert protection_b == [True, False]
    assert stack.keys() == ["results/stop/long.jsonl.gz"]
    results = stack.read_lines("results/stop/long.jsonl.gz")
    assert [r["id"] for r in results] == [r["id"] for r in lines]
    metadata = stack.s3.head_object(Bucket=stack.bucket, Key="results/stop/long.jsonl.gz")
    assert metadata["Metadata"]["records-scored"] == str(RECORDS)
    assert stack.depth() == 0 and stack.depth(stack.dlq_url) == 0
    batch = next(e for e in b.entries(LogEvent.BATCH_WRITTEN))
    report_figures(
        "stop",
        {
            "scenario": "stop",
            "sigterm_to_exit_seconds": round(exit_seconds, 2),
            "drain_timeout_seconds": DRAIN_TIMEOUT,
            "released": a.count(LogEvent.MESSAGE_RELEASED),
            "batch_seconds": batch["seconds"],
            "visibility_timeout_b": VISIBILITY_B,
            "visibility_extensions": extended,
            "receives_by_b": len(received),
            "protection_a": agent_states_text(protection_a),
            "protection_b": agent_states_text(protection_b),
        },
        capsys,
        write=False,
    )


def agent_states_text(states: list[bool]) -> str:
    return " -> ".join("on" if state else "off" for state in states)
