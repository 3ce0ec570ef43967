"""The worker image as ECS runs it, against moto on the host (--network host, 127.0.0.1 only).

Ready and healthy (Docker's own HEALTHCHECK, the image's command), a message scored, and the
two stops ECS and `docker stop` make: SIGTERM while a batch is being scored (it finishes or is
handed back; exit 0) and SIGTERM while idle (exit 0 before `docker stop`'s 10 s run out, which
would end in SIGKILL and 137; no message left invisible).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from container.dockerutil import IMAGE, Container, docker, free_port, http_status, report, wait_for
from worker.local.stack import Stack, create_stack
from worker.log_events import LogEvent

pytestmark = pytest.mark.container

BUSY_RECORDS = 200_000  # a batch that takes the worker some seconds to score
WORDS = ["great", "awful", "moving", "boring", "brilliant", "dull", "funny", "a mess"]


@pytest.fixture
def stack(host_moto: str) -> Stack:
    name = f"c-{uuid.uuid4().hex[:8]}"
    return create_stack(
        host_moto, visibility_timeout=120, queue=name, dlq=f"{name}-dlq", bucket=name
    )


StartWorker = Callable[..., tuple[Container, int]]


@pytest.fixture
def start_worker(host_moto: str, stack: Stack, containers: list[Container]) -> StartWorker:
    def start(**env: str) -> tuple[Container, int]:
        port = free_port()
        settings = {
            "AWS_ENDPOINT_URL": host_moto,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "SCORER_QUEUE_URL": stack.queue_url,
            "SCORER_OUTPUT_URI": stack.output_uri,
            "SCORER_ALLOWED_INPUT_URIS": f"s3://{stack.bucket}/inputs",
            "SCORER_HEALTH_HOST": "127.0.0.1",
            "SCORER_HEALTH_PORT": str(port),
            # The image's HEALTHCHECK also probes `scorer serve`'s port; with the host's network
            # that could be someone else's server, so only the worker's port counts here.
            "SCORER_SERVE_PORT": "",
            **env,
        }
        flags = [item for key, value in settings.items() for item in ("-e", f"{key}={value}")]
        # The image's HEALTHCHECK command, checked every second instead of every 30 s.
        run = docker(
            "run", "-d", "--network", "host", "--health-interval", "1s",
            "--health-start-period", "120s", *flags, IMAGE,
        )  # fmt: skip
        container = Container(run.stdout.strip())
        containers.append(container)
        return container, port

    return start


def _wait_ready(container: Container, port: int) -> float:
    started = time.monotonic()
    wait_for(
        lambda: (
            http_status(f"http://127.0.0.1:{port}/readyz") == 200
            or container.state()["Status"] != "running"
        ),
        "/readyz",
    )
    assert container.state()["Status"] == "running", container.logs()
    return time.monotonic() - started


def _exit_code(container: Container) -> int:
    state = container.state()
    assert state["Status"] == "exited", state
    return int(state["ExitCode"])  # type: ignore[call-overload]


def _queue_counts(stack: Stack) -> dict[str, int]:
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return {
        "visible": int(attributes["ApproximateNumberOfMessages"]),
        "invisible": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    }


def _count(container: Container, message: str) -> int:
    return sum(1 for event in container.log_events() if event.get("message") == message)


def _health(container: Container) -> str:
    health: Any = container.state().get("Health") or {}
    return str(health.get("Status"))


def _timed_stop(container: Container, seconds: int | None = None) -> float:
    started = time.monotonic()
    args = ["stop"] + ([] if seconds is None else ["-t", str(seconds)])
    docker(*args, container.id, timeout=200)
    return time.monotonic() - started


def test_worker_is_ready_scores_turns_healthy_and_a_busy_stop_exits_0(
    stack: Stack, start_worker: StartWorker
) -> None:
    worker, port = start_worker()
    ready_seconds = _wait_ready(worker, port)

    records = [
        {"id": "r1", "text": "A wonderful film, moving and beautifully acted."},
        {"id": "r2", "text": "A dreadful, boring mess. I walked out."},
    ]
    stack.send({"version": 1, "job_id": "img", "batch_id": "inline", "records": records})
    wait_for(
        lambda: "results/img/inline.jsonl.gz" in stack.keys("results/img/"), "the inline results"
    )
    lines = stack.read_lines("results/img/inline.jsonl.gz")
    assert [(line["id"], line["label"]) for line in lines] == [
        ("r1", "positive"),
        ("r2", "negative"),
    ]
    wait_for(lambda: _health(worker) == "healthy", "Docker's HEALTHCHECK to pass")

    # A batch big enough to be under way when SIGTERM comes.
    body = "".join(
        json.dumps({"id": f"b{i}", "text": f"{WORDS[i % 8]} and {WORDS[(i * 3) % 8]} film {i}"})
        + "\n"
        for i in range(BUSY_RECORDS)
    )
    uri = stack.put("inputs/busy.jsonl.gz", gzip.compress(body.encode(), compresslevel=1))
    stack.send(
        {
            "version": 1,
            "job_id": "img",
            "batch_id": "busy",
            "input": {"uri": uri, "format": "jsonl"},
        }
    )
    wait_for(lambda: _count(worker, "message received") == 2, "the busy batch received")
    stop_seconds = _timed_stop(worker, 60)  # as ECS: SIGTERM, SIGKILL after the grace period
    code = _exit_code(worker)
    events = worker.log_events()
    finished = "results/img/busy.jsonl.gz" in stack.keys("results/img/")
    released = any(e.get("message") == LogEvent.MESSAGE_RELEASED for e in events)
    report(
        "worker_busy_stop",
        {
            "ready_seconds": round(ready_seconds, 1),
            "stop_seconds": round(stop_seconds, 1),
            "exit_code": code,
            "batch": "finished" if finished else "released" if released else "lost",
            "records": BUSY_RECORDS,
        },
    )
    assert code == 0, worker.logs()[-3000:]
    assert finished or released, worker.logs()[-3000:]
    counts = _queue_counts(stack)
    assert counts["invisible"] == 0
    assert counts["visible"] == (0 if finished else 1)


def test_an_idle_worker_stops_with_exit_0_within_docker_stop_and_strands_nothing(
    stack: Stack, start_worker: StartWorker
) -> None:
    (idle, idle_port), (late, late_port) = start_worker(), start_worker()  # start side by side
    for worker, port in ((idle, idle_port), (late, late_port)):
        _wait_ready(worker, port)
        wait_for(lambda w=worker: w.logged("worker ready"), "the receive loop")

    # `docker stop`: SIGTERM, then SIGKILL (exit 137) if the worker is still up after 10 s.
    idle_seconds = _timed_stop(idle)
    idle_code = _exit_code(idle)

    # A message sent just after the signal is taken by the poll under way: it must come
    # straight back, not stay invisible for the 120 s visibility timeout.
    started = time.monotonic()
    stopping = subprocess.Popen(["docker", "stop", late.id], stdout=subprocess.DEVNULL)
    wait_for(lambda: late.logged("signal received, draining"), "SIGTERM to arrive", 10)
    stack.send({"version": 1, "job_id": "img", "batch_id": "late", "records": []})
    assert stopping.wait(timeout=60) == 0
    late_seconds = time.monotonic() - started
    late_code = _exit_code(late)
    counts = _queue_counts(stack)
    report(
        "worker_idle_stop",
        {
            "idle_stop_seconds": round(idle_seconds, 1),
            "idle_exit_code": idle_code,
            "late_message_stop_seconds": round(late_seconds, 1),
            "late_message_exit_code": late_code,
            "late_message_released": late.logged("message released"),
        },
    )
    assert idle_code == 0, idle.logs()[-3000:]
    assert late_code == 0, late.logs()[-3000:]
    assert counts == {"visible": 1, "invisible": 0}
    assert not late.logged("message received")  # handed back, never started
