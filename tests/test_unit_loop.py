"""The loop's settling paths, in milliseconds: the real `Worker` on an in-memory queue.

`MemoryQueue` keeps SQS's semantics (visibility, receive counts, newest receipt handle,
redrive after max receives); processors here are scripted by message body. Nothing waits on
the clock: the tests move a fake clock and wait for the events the loop causes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from loop_helpers import WAIT, Stats, make_worker

from worker.loop import Worker
from worker.loop_protocols import Outcome
from worker.memory_queue import MemoryQueue
from worker.processing import BatchAborted, BatchSummary, PoisonMessage


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ScriptedProcessor:
    """`ok*` bodies score, `poison*` are poison, `flaky*` fail, `block*` wait for `release`."""

    def __init__(self) -> None:
        self.scorer = Stats()
        self.started = threading.Event()
        self.release = threading.Event()
        self.attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def process(self, body: str, abort: threading.Event | None = None) -> BatchSummary:
        with self._lock:
            self.attempts[body] = self.attempts.get(body, 0) + 1
        if body.startswith("poison"):
            raise PoisonMessage("schema: records: Field required")
        if body.startswith("flaky"):
            raise ConnectionError("S3 is having a bad day")
        if body.startswith("block"):
            self.started.set()
            while not self.release.wait(timeout=0.01):
                if abort is not None and abort.is_set():
                    raise BatchAborted
        return BatchSummary("job", body, 2, 0, f"s3://b/results/job/{body}.jsonl.gz", None, 0.0)


@pytest.fixture(autouse=True)
def _no_emf_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(clock: FakeClock) -> MemoryQueue:
    return MemoryQueue(
        dlq=MemoryQueue(url="memory://dlq", clock=clock), max_receives=3, clock=clock
    )


@pytest.fixture
def running() -> Iterator[list[threading.Thread]]:
    threads: list[threading.Thread] = []
    yield threads
    for thread in threads:
        thread.join(timeout=WAIT)
        assert not thread.is_alive(), "the worker did not stop"


def start(worker: Worker, running: list[threading.Thread]) -> threading.Thread:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    running.append(thread)
    return thread


def start_on_a_blocked_message(
    queue: MemoryQueue, clock: FakeClock, running: list[threading.Thread], **settings: float
) -> tuple[Worker, ScriptedProcessor, threading.Thread]:
    """A long-running worker that has started processing `block-1` (it waits for `release`)."""
    queue.send("block-1")
    processor = ScriptedProcessor()
    worker = make_worker(
        queue, processor, clock, exit_when_idle=False, wait_time_seconds=1, **settings
    )
    thread = start(worker, running)
    assert processor.started.wait(WAIT)
    return worker, processor, thread


def test_scored_messages_are_deleted_and_counted(
    queue: MemoryQueue, clock: FakeClock, running: list[threading.Thread]
) -> None:
    for i in range(20):
        queue.send(f"ok-{i}")
    worker = make_worker(queue, ScriptedProcessor(), clock)
    start(worker, running).join(timeout=WAIT)

    assert queue.bodies() == []
    assert worker.outcome_counts() == {
        "scored": 20,
        "dead_lettered": 0,
        "retried": 0,
        "released": 0,
    }


def test_poison_goes_to_the_dlq_with_its_reason_and_leaves_the_queue(
    queue: MemoryQueue, clock: FakeClock, running: list[threading.Thread]
) -> None:
    queue.send("poison-1", {"trace": {"DataType": "String", "StringValue": "t-1"}})
    queue.send("ok-1")
    processor = ScriptedProcessor()
    worker = make_worker(queue, processor, clock)
    start(worker, running).join(timeout=WAIT)

    assert queue.bodies() == []
    assert queue.dlq is not None
    ((body, attributes),) = queue.dlq.stored()
    assert body == "poison-1"
    assert attributes["reason"]["StringValue"] == "schema: records: Field required"
    assert attributes["trace"]["StringValue"] == "t-1"  # the producer's attributes are kept
    assert processor.attempts["poison-1"] == 1  # never retried
    assert worker.counts[Outcome.DEAD_LETTERED] == 1
    assert worker.counts[Outcome.SCORED] == 1


def test_a_transient_failure_is_retried_until_the_redrive_policy_moves_it(
    queue: MemoryQueue, clock: FakeClock, running: list[threading.Thread]
) -> None:
    queue.send("flaky-1")
    processor = ScriptedProcessor()
    worker = make_worker(queue, processor, clock)
    start(worker, running).join(timeout=WAIT)

    assert processor.attempts["flaky-1"] == 3  # max_receives
    assert [change.seconds for change in queue.visibility_changes] == [0, 0, 0]  # retry delay
    assert queue.bodies() == []
    assert queue.dlq is not None
    assert queue.dlq.bodies() == ["flaky-1"]  # moved by the queue's redrive, not the worker
    assert worker.counts[Outcome.RETRIED] == 3
    assert worker.counts[Outcome.DEAD_LETTERED] == 0


def test_a_message_unfinished_at_the_drain_deadline_is_released_and_aborted(
    queue: MemoryQueue, clock: FakeClock, running: list[threading.Thread]
) -> None:
    worker, _, thread = start_on_a_blocked_message(queue, clock, running, drain_timeout=0.0)
    worker.stop()
    thread.join(timeout=WAIT)

    assert not worker.drained
    assert queue.wait_for(lambda: queue.depth()["visible"] == 1)  # back now, not after 30 s
    assert queue.visibility_changes[0].seconds == 0
    assert worker.wait_for_outcomes(lambda counts: counts[Outcome.RELEASED] == 1, WAIT)
    assert worker.counts[Outcome.SCORED] == 0


def test_the_heartbeat_keeps_a_long_message_invisible(
    queue: MemoryQueue, clock: FakeClock, running: list[threading.Thread]
) -> None:
    worker, processor, _ = start_on_a_blocked_message(queue, clock, running, visibility_timeout=2)

    clock.advance(1.2)  # past heartbeat_fraction of the 2 s timeout
    assert queue.wait_for(lambda: any(c.seconds == 2 for c in queue.visibility_changes))
    clock.advance(1.2)  # past the first receive's 2 s: visible again had nobody renewed it
    assert queue.receive(10, 0, 30) == []

    processor.release.set()
    assert queue.wait_for(lambda: queue.bodies() == [])
    worker.stop()
    running[0].join(timeout=WAIT)
    assert worker.counts[Outcome.SCORED] == 1
