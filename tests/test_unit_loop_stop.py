"""An idle worker stops within `docker stop`'s 10 s and strands nothing.

A stop cannot cancel a long poll under way, so it waits for it: messages SQS hands to a poll
that returns after the signal go straight back (visibility 0), and the poll is short enough by
default for the whole stop to fit in Docker's and ECS's grace period. Runs the real Worker
against moto in-process; the receive is gated so the test decides when the poll returns.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from loop_helpers import WAIT, Stats, make_worker

from worker.loop import Worker
from worker.settings import WorkerSettings
from worker.sqs import SqsQueue

DOCKER_STOP_TIMEOUT = 10  # `docker stop`'s default grace period before SIGKILL
SHUTDOWN_ALLOWANCE = 3  # drain of an idle worker, health server, interpreter exit


class NeverCalledProcessor:
    """A message handed to processing after the stop would be a bug."""

    scorer = Stats()

    def process(self, body: str, abort: threading.Event | None = None) -> Any:
        raise AssertionError(f"processed {body!r} after the stop")


def _worker(queue: SqsQueue) -> Worker:
    return make_worker(
        queue,
        NeverCalledProcessor(),
        wait_time_seconds=1,
        visibility_timeout=300,  # a stranded message would stay hidden for the whole test
        exit_when_idle=False,
    )


def test_a_poll_that_returns_after_the_stop_hands_its_messages_back_at_once(
    inprocess_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    stack = inprocess_stack
    queue = SqsQueue(stack.queue_url)
    polling = threading.Event()  # the worker's receive is under way
    poll_may_return = threading.Event()  # the test lets SQS answer
    receive = queue.receive

    def gated_receive(*args: Any) -> Any:
        polling.set()
        assert poll_may_return.wait(WAIT)
        return receive(*args)

    queue.receive = gated_receive  # type: ignore[method-assign]
    worker = _worker(queue)
    exit_codes: list[int] = []
    runner = threading.Thread(target=lambda: exit_codes.append(worker.run()))
    runner.start()
    assert polling.wait(WAIT)

    worker.stop()  # SIGTERM while the long poll waits on an empty queue
    for i in range(3):  # ... and then messages arrive: this poll hands them to the worker
        stack.send(f"late-{i}")
    poll_may_return.set()
    runner.join(WAIT)

    assert not runner.is_alive()
    assert exit_codes == [0]
    counts = worker.outcome_counts()
    assert counts["released"] == 0 and counts["scored"] == 0  # never handed to processing
    # Visible again now, though the poll asked for 300 s: received a second time at once.
    again = stack.sqs.receive_message(
        QueueUrl=stack.queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", [])
    assert sorted(m["Body"] for m in again) == ["late-0", "late-1", "late-2"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in again} == {"2"}


def test_the_default_long_poll_lets_an_idle_worker_stop_within_docker_stop() -> None:
    """The stop waits out the poll under way, so the default wait bounds an idle stop."""
    default = WorkerSettings.model_fields["wait_time_seconds"].default
    assert default + SHUTDOWN_ALLOWANCE <= DOCKER_STOP_TIMEOUT
    assert default > 0  # 0 would turn the idle loop into a busy one
