"""Keeping the model busy: requests from many messages are merged into fixed-size batches.

Message threads `submit` lists of texts and get a Future; `scoring_threads` threads pull from
one queue, concatenate requests up to `batch_size` texts, call the model once, and hand each
request its slice of the scores. One model call per thread at a time, one thread per core.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

ScoreFunction = Callable[[list[str]], np.ndarray]


@dataclass
class _Request:
    texts: Sequence[str]
    future: Future[np.ndarray] = field(default_factory=Future)
    offset: int = 0  # texts already taken into a model batch
    # Slices of one request may be scored by different threads and finish out of order.
    parts: dict[int, np.ndarray] = field(default_factory=dict)
    done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_scores(self, start: int, scores: np.ndarray) -> None:
        with self.lock:
            self.parts[start] = scores
            self.done += len(scores)
            finished = self.done == len(self.texts)
        if finished and not self.future.done():
            ordered = [self.parts[key] for key in sorted(self.parts)]
            self.future.set_result(np.concatenate(ordered))


class BatchingScorer:
    """Scores texts from any thread, in shared model batches of at most `batch_size`."""

    def __init__(
        self,
        score: ScoreFunction,
        batch_size: int,
        threads: int,
        max_queued_batches: int | None = None,
    ) -> None:
        self._score = score
        self.batch_size = batch_size
        # Backpressure: `submit` blocks while this many texts wait. Readers that run far
        # ahead of the model only compete with it for the GIL and the cores (profiled: 16
        # messages parsing at once scored S3 inputs ~15% slower than 4).
        self._max_queued = batch_size * (max_queued_batches or 2 * threads + 2)
        self._queued = 0
        self._room = threading.Condition()
        self._pending: queue.Queue[_Request | None] = queue.Queue()
        self._lock = threading.Lock()  # guards taking slices of the head request
        self._head: _Request | None = None
        self._threads = [
            threading.Thread(target=self._run, name=f"scorer-{i}", daemon=True)
            for i in range(threads)
        ]
        self._stats_lock = threading.Lock()
        self.texts_scored = 0
        self.model_calls = 0
        self.busy_seconds = 0.0
        for thread in self._threads:
            thread.start()

    def submit(self, texts: Sequence[str]) -> Future[np.ndarray]:
        """Queue texts; the future resolves to their scores in order."""
        future = self._enqueue(texts, block=True)
        assert future is not None
        return future

    def try_submit(self, texts: Sequence[str]) -> Future[np.ndarray] | None:
        """`submit` without waiting for room: None when the queue is full.

        For callers that must not block (an event loop) and shed load instead.
        """
        return self._enqueue(texts, block=False)

    def _has_room(self) -> bool:
        # An empty queue always admits a request, however large: no deadlock.
        return self._queued == 0 or self._queued < self._max_queued

    def _enqueue(self, texts: Sequence[str], block: bool) -> Future[np.ndarray] | None:
        request = _Request(texts)
        if not texts:
            request.future.set_result(np.zeros(0, dtype=np.float32))
            return request.future
        with self._room:
            if block:
                self._room.wait_for(self._has_room)
            elif not self._has_room():
                return None
            self._queued += len(texts)
            if self._queued < self._max_queued:
                self._room.notify()  # room left: pass the wake-up on to the next waiter
        self._pending.put(request)
        return request.future

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.submit(texts).result()

    def warm_up(self, text: str = "A warm-up review, neither good nor bad. " * 25) -> None:
        """One full batch per scoring thread, at once, before the first message.

        The first calls of each thread pay for TensorFlow's lazy set-up and allocator growth
        (measured: the first 25,000 reviews took ~1 CPU-second more than the next); a worker
        that says it is ready should score at full speed from its first message.
        """
        futures = [self.submit([text] * self.batch_size) for _ in self._threads]
        for future in futures:
            future.result()
        with self._stats_lock:
            self.texts_scored = self.model_calls = 0
            self.busy_seconds = 0.0

    def close(self) -> None:
        for _ in self._threads:
            self._pending.put(None)
        for thread in self._threads:
            thread.join(timeout=30)

    def _take_batch(self) -> list[tuple[_Request, int, int]] | None:
        """Slices (request, start, end) totalling at most batch_size texts; None to stop."""
        with self._lock:
            taken: list[tuple[_Request, int, int]] = []
            room = self.batch_size
            while room > 0:
                if self._head is None:
                    try:
                        # Block only for the first slice; afterwards take what is waiting.
                        item = self._pending.get(block=not taken)
                    except queue.Empty:
                        break
                    if item is None:
                        if taken:
                            self._pending.put(None)
                            break
                        return None
                    self._head = item
                request = self._head
                start = request.offset
                end = min(len(request.texts), start + room)
                taken.append((request, start, end))
                request.offset = end
                room -= end - start
                if end == len(request.texts):
                    self._head = None
            return taken

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            texts = [text for request, start, end in batch for text in request.texts[start:end]]
            with self._room:
                self._queued -= len(texts)
                # Wake one waiter, which wakes the next while room is left: notify_all woke
                # every blocked message thread per batch to find the room taken (profiled).
                self._room.notify()
            started = time.perf_counter()
            try:
                scores = self._score(texts)
            except BaseException as error:
                for request, _, _ in batch:
                    if not request.future.done():
                        request.future.set_exception(error)
                continue
            with self._stats_lock:
                self.busy_seconds += time.perf_counter() - started
                self.model_calls += 1
                self.texts_scored += len(texts)
            position = 0
            for request, start, end in batch:
                request.add_scores(start, scores[position : position + end - start])
                position += end - start
