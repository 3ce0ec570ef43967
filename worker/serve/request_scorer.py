"""One `POST /v1/score` request: check its records, score the good ones, answer with both.

The record rules and the batching are the worker's own (`RecordChecker`, `BatchingScorer`),
the result and error lines the contract's (`schemas.records`), so a review scores the same
here, in S3 and in `scorer score`. Nothing here blocks the event loop: a full scoring queue
is refused at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from schemas.records import error_line, result_lines
from worker.record_checks import Record, RecordChecker, Rejected
from worker.scoring import BatchingScorer


class Overloaded(Exception):
    """The scoring queue is full: the caller answers 503 and the client retries later."""


@dataclass
class ServeCounts:
    """What the server did, for its `stopped` log line and the benchmarks."""

    requests: int = 0
    records_scored: int = 0
    records_rejected: int = 0
    overloaded: int = 0


class RequestScorer:
    """Scores the records of requests on any number of concurrent event-loop tasks."""

    def __init__(
        self,
        scorer: BatchingScorer,
        model_version: str,
        threshold: float,
        max_text_bytes: int,
    ) -> None:
        self.scorer = scorer
        self.model_version = model_version
        self.threshold = threshold
        self.max_text_bytes = max_text_bytes
        self.counts = ServeCounts()

    async def score(self, records: Sequence[Any]) -> bytes:
        """The 200 body: `{"results": [...], "errors": [...]}`; raises Overloaded."""
        checker = RecordChecker(self.max_text_bytes)
        good: list[Record] = []
        errors: list[str] = []
        for index, raw in enumerate(records):
            checked = checker.check(index, raw)
            if isinstance(checked, Rejected):
                errors.append(error_line(checked.id, checked.error, checked.index))
            else:
                good.append(checked)
        lines: list[str] = []
        if good:
            future = self.scorer.try_submit([record.text for record in good])
            if future is None:
                self.counts.overloaded += 1
                raise Overloaded("the scoring queue is full")
            scores = await asyncio.wrap_future(future)
            ids = [record.id for record in good]
            lines = result_lines(ids, scores.tolist(), self.model_version, self.threshold)
        self.counts.requests += 1
        self.counts.records_scored += len(lines)
        self.counts.records_rejected += len(errors)
        body = '{"results":[' + ",".join(lines) + '],"errors":[' + ",".join(errors) + "]}"
        return body.encode("utf-8", errors="surrogatepass")  # as the S3 files are written
