"""BatchingScorer: requests from many threads share model batches and each gets its own scores.

The score function here turns each text (a number) into that number, so every score says which
text it belongs to. Synchronisation is by events; a timeout only stops a broken test hanging.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from worker.scoring import BatchingScorer, ScoreFunction

WAIT = 10.0  # seconds before a stuck test gives up; never reached when the code works
MakeScorer = Callable[..., BatchingScorer]


class RecordingScore:
    """Scores "123" as 123.0; records each call's texts; can hold calls until released."""

    def __init__(self, fail_on: str | None = None, hold: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self.calls.append(list(texts))
        self.entered.set()
        if not self.release.wait(WAIT):
            raise TimeoutError("the test never released the score function")
        if self.fail_on is not None and self.fail_on in texts:
            raise ValueError(f"model failed on {self.fail_on}")
        return np.array([float(text) for text in texts], dtype=np.float32)

    @property
    def sizes(self) -> list[int]:
        with self._lock:
            return [len(call) for call in self.calls]


def numbers(start: int, count: int) -> list[str]:
    return [str(start + i) for i in range(count)]


def expected(texts: Sequence[str]) -> np.ndarray:
    return np.array([float(text) for text in texts], dtype=np.float32)


@pytest.fixture
def make_scorer() -> Iterator[MakeScorer]:
    made: list[BatchingScorer] = []

    def make(score: ScoreFunction, batch_size: int, threads: int) -> BatchingScorer:
        scorer = BatchingScorer(score, batch_size, threads)
        made.append(scorer)
        return scorer

    yield make
    for scorer in made:
        scorer.close()


def test_scores_come_back_in_order(make_scorer: MakeScorer) -> None:
    score = RecordingScore()
    scorer = make_scorer(score, batch_size=4, threads=2)
    texts = numbers(0, 11)  # three model batches, possibly finished out of order
    result = scorer.submit(texts).result(WAIT)
    np.testing.assert_array_equal(result, expected(texts))
    assert sorted(text for call in score.calls for text in call) == sorted(texts)


def test_slices_finishing_out_of_order_are_put_back_in_order(make_scorer: MakeScorer) -> None:
    first_slice_may_finish = threading.Event()

    def score(texts: list[str]) -> np.ndarray:
        if "0" in texts and not first_slice_may_finish.wait(WAIT):
            raise TimeoutError("the test never released the first slice")
        return expected(texts)

    scorer = make_scorer(score, batch_size=4, threads=2)
    request = scorer.submit(numbers(0, 8))  # slices 0-3 (held) and 4-7
    # Only the thread that scored 4-7 is free, so this resolving means 4-7 is stored.
    np.testing.assert_array_equal(scorer.submit(["100"]).result(WAIT), expected(["100"]))
    assert not request.done()
    first_slice_may_finish.set()
    np.testing.assert_array_equal(request.result(WAIT), expected(numbers(0, 8)))


def test_large_request_is_split_into_calls_of_at_most_batch_size(make_scorer: MakeScorer) -> None:
    score = RecordingScore()
    scorer = make_scorer(score, batch_size=256, threads=2)
    texts = numbers(0, 1000)
    np.testing.assert_array_equal(scorer.submit(texts).result(WAIT), expected(texts))
    assert max(score.sizes) <= 256
    assert sum(score.sizes) == 1000
    assert len(score.sizes) >= 4


def test_concurrent_requests_each_get_exactly_their_own_scores(make_scorer: MakeScorer) -> None:
    score = RecordingScore()
    scorer = make_scorer(score, batch_size=256, threads=2)
    rng = random.Random(20240611)
    requests = [numbers(number * 1000, rng.randint(1, 700)) for number in range(50)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(lambda texts: scorer.submit(texts).result(WAIT), r) for r in requests
        ]
        results = [future.result(WAIT) for future in futures]

    for texts, result in zip(requests, results, strict=True):
        np.testing.assert_array_equal(result, expected(texts))
    assert max(score.sizes) <= 256
    assert sum(score.sizes) == sum(len(texts) for texts in requests)  # each text scored once


def test_small_requests_submitted_together_are_merged(make_scorer: MakeScorer) -> None:
    score = RecordingScore(hold=True)
    scorer = make_scorer(score, batch_size=256, threads=2)
    first = scorer.submit(["0"])
    assert score.entered.wait(WAIT)  # one thread is now busy in the model

    requests = [numbers(number * 100, 10) for number in range(1, 11)]
    futures = [scorer.submit(texts) for texts in requests]
    score.release.set()

    np.testing.assert_array_equal(first.result(WAIT), expected(["0"]))
    for texts, future in zip(requests, futures, strict=True):
        np.testing.assert_array_equal(future.result(WAIT), expected(texts))
    assert score.calls[0] == ["0"]
    assert len(score.calls) - 1 <= 2, f"10 small requests took calls of sizes {score.sizes[1:]}"


def test_model_error_fails_the_affected_request_and_scoring_goes_on(
    make_scorer: MakeScorer,
) -> None:
    score = RecordingScore(fail_on="13")
    scorer = make_scorer(score, batch_size=8, threads=1)

    failed = scorer.submit(numbers(10, 5))
    with pytest.raises(ValueError, match="model failed on 13"):
        failed.result(WAIT)

    texts = numbers(100, 20)
    np.testing.assert_array_equal(scorer.submit(texts).result(WAIT), expected(texts))


def test_model_error_reaches_every_request_in_the_failed_batch(make_scorer: MakeScorer) -> None:
    score = RecordingScore(fail_on="13", hold=True)
    scorer = make_scorer(score, batch_size=64, threads=1)
    blocker = scorer.submit(["0"])
    assert score.entered.wait(WAIT)
    bad = scorer.submit(numbers(10, 5))  # holds "13"
    neighbour = scorer.submit(numbers(20, 5))  # merged into the same model call
    score.release.set()

    np.testing.assert_array_equal(blocker.result(WAIT), expected(["0"]))
    for future in (bad, neighbour):
        with pytest.raises(ValueError, match="model failed"):
            future.result(WAIT)
    assert len(score.calls) == 2
    np.testing.assert_array_equal(scorer.score(["7"]), expected(["7"]))


def test_empty_request_resolves_to_an_empty_array_without_a_model_call(
    make_scorer: MakeScorer,
) -> None:
    score = RecordingScore()
    scorer = make_scorer(score, batch_size=8, threads=1)
    result = scorer.submit([]).result(WAIT)
    assert isinstance(result, np.ndarray)
    assert result.shape == (0,)
    assert score.calls == []


def test_score_is_the_blocking_form_of_submit(make_scorer: MakeScorer) -> None:
    scorer = make_scorer(RecordingScore(), batch_size=8, threads=1)
    np.testing.assert_array_equal(scorer.score(["1", "2", "3"]), expected(["1", "2", "3"]))


def test_close_stops_the_scoring_threads() -> None:
    before = set(threading.enumerate())
    scorer = BatchingScorer(RecordingScore(), batch_size=8, threads=3)
    started = set(threading.enumerate()) - before
    assert len(started) == 3
    assert scorer.score(["1"])[0] == 1.0
    scorer.close()
    assert not any(thread.is_alive() for thread in started)


def test_submit_blocks_while_the_model_is_behind_then_resumes() -> None:
    """Backpressure: readers wait instead of piling texts up in memory ahead of the model."""
    import threading

    import numpy as np

    from worker.scoring import BatchingScorer

    started, release = threading.Event(), threading.Event()

    def slow(texts: list[str]) -> np.ndarray:
        started.set()
        release.wait(timeout=30)
        return np.zeros(len(texts), dtype=np.float32)

    scorer = BatchingScorer(slow, batch_size=2, threads=1, max_queued_batches=1)
    first = scorer.submit(["a", "b"])
    assert started.wait(timeout=10)  # taken into a model call: nothing queued any more
    second = scorer.submit(["c", "d"])  # fills the queue (2 texts)
    third_submitted = threading.Event()
    holder: list[object] = []

    def submit_third() -> None:
        holder.append(scorer.submit(["e"]))
        third_submitted.set()

    threading.Thread(target=submit_third, daemon=True).start()
    assert not third_submitted.wait(timeout=0.3), "submit did not wait for room"
    release.set()
    assert third_submitted.wait(timeout=10)
    assert first.result(timeout=10).tolist() == [0.0, 0.0]
    assert second.result(timeout=10).tolist() == [0.0, 0.0]
    scorer.close()


def test_warm_up_scores_a_full_batch_per_thread_and_leaves_the_counters_at_zero() -> None:
    score = RecordingScore()
    scorer = BatchingScorer(score, batch_size=4, threads=2)
    try:
        scorer.warm_up("7")
        assert [len(call) for call in score.calls] == [4, 4]
        assert (scorer.model_calls, scorer.texts_scored, scorer.busy_seconds) == (0, 0, 0.0)
        assert scorer.score(["1", "2"]).tolist() == [1.0, 2.0]
        assert scorer.model_calls == 1
    finally:
        scorer.close()


def test_try_submit_refuses_at_once_when_the_queue_is_full_and_admits_again_later() -> None:
    """What `scorer serve` sheds load with: an event loop must never wait for room."""
    score = RecordingScore(hold=True)
    scorer = BatchingScorer(score, batch_size=2, threads=1, max_queued_batches=1)
    try:
        first = scorer.try_submit(["1", "2"])
        assert first is not None and score.entered.wait(WAIT)  # in the model: queue empty
        second = scorer.try_submit(["3", "4"])  # fills the queue (2 texts)
        assert second is not None
        assert scorer.try_submit(["5"]) is None
        score.release.set()
        assert first.result(WAIT).tolist() == [1.0, 2.0]
        assert second.result(WAIT).tolist() == [3.0, 4.0]
        again = scorer.try_submit(["5"])
        assert again is not None and again.result(WAIT).tolist() == [5.0]
    finally:
        score.release.set()
        scorer.close()


def test_try_submit_admits_any_request_into_an_empty_queue() -> None:
    scorer = BatchingScorer(RecordingScore(), batch_size=2, threads=1, max_queued_batches=1)
    try:
        future = scorer.try_submit(numbers(0, 9))
        assert future is not None and future.result(WAIT).tolist() == list(range(9))
    finally:
        scorer.close()
