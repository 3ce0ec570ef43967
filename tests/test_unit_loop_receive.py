"""The receive loop refills in batches: a ReceiveMessage per finished message cost more CPU
(worker and endpoint) than scoring a small message. Runs the real Worker against moto in-process;
the processor here only counts, so the test controls when each message finishes."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from loop_helpers import WAIT, Stats, make_worker

from worker.processing import BatchSummary
from worker.sqs import SqsQueue


class OneAtATimeProcessor:
    """Finishes one message per `finish_one()` call, in any order the worker started them."""

    def __init__(self) -> None:
        self.scorer = Stats()
        self._permits = threading.Semaphore(0)
        self._done = threading.Condition()
        self.finished = 0

    def process(self, body: str, abort: threading.Event | None = None) -> BatchSummary:
        if not self._permits.acquire(timeout=WAIT):
            raise TimeoutError("the test never let this message finish")
        with self._done:
            self.finished += 1
            self._done.notify_all()
        return BatchSummary("job", body, 1, 0, f"s3://b/results/job/{body}.jsonl.gz", None, 0.0)

    def finish_one(self) -> None:
        with self._done:
            target = self.finished + 1
            self._permits.release()
            assert self._done.wait_for(lambda: self.finished >= target, timeout=WAIT)


def test_receives_wait_for_half_the_slots_instead_of_one_call_per_finished_message(
    inprocess_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    stack = inprocess_stack
    for i in range(24):
        stack.send(f"m{i:02d}")
    queue = SqsQueue(stack.queue_url)
    asked: list[int] = []
    fetched: list[int] = []
    receive = queue.receive

    def counting_receive(max_messages: int, *args: Any) -> Any:
        asked.append(max_messages)
        messages = receive(max_messages, *args)
        fetched.append(len(messages))
        return messages

    queue.receive = counting_receive  # type: ignore[method-assign]
    processor = OneAtATimeProcessor()
    # Long polls, as deployed (0 would spin on an empty queue).
    worker = make_worker(
        queue, processor, wait_time_seconds=1, visibility_timeout=60, max_in_flight=8
    )
    runner = threading.Thread(target=worker.run)
    runner.start()
    for _ in range(24):  # each message finishes alone: the old loop asked for 1 each time
        processor.finish_one()
    runner.join(timeout=WAIT)

    assert not runner.is_alive()
    assert worker.counts["scored"] == 24
    assert min(asked) >= 4, asked  # half of max_in_flight
    receives_with_messages = [n for n in fetched if n]
    assert sum(receives_with_messages) == 24
    assert len(receives_with_messages) <= 1 + (24 - 8) // 4, fetched  # 8 first, then >= 4 each
