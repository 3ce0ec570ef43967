"""Turning one message into its result objects: parse, check, read, score, write.

This module knows the contract (schemas) and the storage layout, not SQS: the loop decides
what happens to the message from what `process` returns or raises.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from schemas.json_text import parse_json
from schemas.layout import result_locations
from schemas.messages import ScoreRequest, derive_batch_id
from schemas.records import error_line, result_lines
from schemas.uris import S3Location, parse_s3_uri
from worker.input_policy import InputPolicy
from worker.inputs import (
    InputError,
    iter_inline,
    iter_input,
)
from worker.record_checks import Record, RecordChecker, Rejected
from worker.s3 import GzipJsonlObject, open_input
from worker.scoring import BatchingScorer


class PoisonMessage(Exception):
    """The message can never be scored as it is: it goes to the DLQ with this reason."""


class BatchAborted(Exception):
    """The worker is stopping: the message is released to the queue unfinished."""


@dataclass(frozen=True)
class BatchSummary:
    job_id: str
    batch_id: str
    records_scored: int
    records_rejected: int
    results_uri: str
    errors_uri: str | None
    seconds: float


def describe_validation_error(error: ValidationError) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"]) or "body"
        problems.append(f"{where}: {item['msg']}")
    return "schema: " + "; ".join(problems)


def parse_request(body: str, max_records: int) -> tuple[ScoreRequest, str]:
    """The validated request and its batch id; PoisonMessage with a reason otherwise."""
    # Everything that walks the parsed body is inside the guard: parsing, validation and the
    # batch id's hash, which serialises the body again.
    try:
        try:
            data = parse_json(body)
        except ValueError as error:
            raise PoisonMessage(f"body is not valid JSON: {error}") from None
        if not isinstance(data, dict):
            raise PoisonMessage(f"body must be a JSON object, not {type(data).__name__}")
        try:
            request = ScoreRequest.model_validate(data)
        except ValidationError as error:
            raise PoisonMessage(describe_validation_error(error)) from None
        if request.records is not None and len(request.records) > max_records:
            raise PoisonMessage(
                f"{len(request.records)} records is over the limit of {max_records} per "
                "message: split the batch or use an S3 input"
            )
        return request, request.batch_id or derive_batch_id(data)
    except RecursionError:
        raise PoisonMessage("body is nested too deeply") from None


class BatchProcessor:
    """Scores one request end to end; safe to run for several messages at once."""

    def __init__(
        self,
        scorer: BatchingScorer,
        model_version: str,
        threshold: float,
        output: S3Location,
        allowed_inputs: list[S3Location],
        max_records_per_message: int,
        max_records_per_input: int,
        max_input_bytes: int,
        max_text_bytes: int,
        part_size: int,
        pipeline_depth: int = 4,
    ) -> None:
        self.scorer = scorer
        self.model_version = model_version
        self.threshold = threshold
        self.output = output
        self.allowed_inputs = allowed_inputs
        # The allowlist plus submit's staging area under the output (worker/input_policy.py).
        self.input_policy = InputPolicy(output, allowed_inputs)
        self.max_records_per_message = max_records_per_message
        self.max_records_per_input = max_records_per_input
        self.max_input_bytes = max_input_bytes
        self.max_text_bytes = max_text_bytes
        self.part_size = part_size
        self.pipeline_depth = pipeline_depth

    def process(self, body: str, abort: threading.Event | None = None) -> BatchSummary:
        started = time.perf_counter()
        request, batch_id = parse_request(body, self.max_records_per_message)
        source = request.input
        input_location = None
        if source is not None:
            input_location = parse_s3_uri(source.uri)
            refusal = self.input_policy.refusal(input_location)
            if refusal is not None:
                raise PoisonMessage(refusal)
        results_at, errors_at = result_locations(self.output, request.job_id, batch_id)
        results = GzipJsonlObject(results_at, self.part_size)
        errors = GzipJsonlObject(errors_at, self.part_size)
        metadata = {"model-version": self.model_version, "job-id": request.job_id}
        try:
            with ExitStack() as stack:
                if input_location is None:
                    raw = iter_inline(request.records or [])
                    checker = RecordChecker(self.max_text_bytes)
                else:
                    assert source is not None
                    stream, etag = stack.enter_context(
                        open_input(input_location, self.max_input_bytes)
                    )
                    metadata["input-etag"] = etag.strip('"')
                    checker = RecordChecker(self.max_text_bytes, source.id_field, source.text_field)
                    raw = iter_input(
                        stream,
                        source.format,
                        source.id_field,
                        source.text_field,
                        self.max_text_bytes,
                        max_lines=self.max_records_per_input,
                    )
                for records, scores in self._score_in_order(
                    self._checked(raw, checker, errors), abort
                ):
                    results.write_lines(self._result_lines(records, scores))
            metadata["records-scored"] = str(results.lines)
            metadata["records-rejected"] = str(errors.lines)
            # How long the batch took, for `scorer report`'s slowest batches.
            metadata["seconds"] = f"{time.perf_counter() - started:.3f}"
            # Errors first: a results object present means its batch is complete.
            if errors.lines:
                errors.upload(metadata)
            else:
                errors.discard()
            results.upload(metadata)
        except BaseException:
            results.discard()
            errors.discard()
            raise
        return BatchSummary(
            job_id=request.job_id,
            batch_id=batch_id,
            records_scored=results.lines,
            records_rejected=errors.lines,
            results_uri=results_at.uri,
            errors_uri=errors_at.uri if errors.lines else None,
            seconds=time.perf_counter() - started,
        )

    def _result_lines(self, records: list[Record], scores: np.ndarray) -> list[str]:
        ids = [record.id for record in records]
        return result_lines(ids, scores.tolist(), self.model_version, self.threshold)

    def _checked(
        self,
        raw: Iterator[tuple[int, Any] | Rejected],
        checker: RecordChecker,
        errors: GzipJsonlObject,
    ) -> Iterator[list[Record]]:
        """Chunks of good records (one model batch each); bad ones go to `errors` as they come."""
        chunk: list[Record] = []
        count = 0
        for item in raw:
            count += 1
            if count > self.max_records_per_input:
                raise InputError(
                    f"input has more than {self.max_records_per_input} records: split it"
                )
            checked = item if isinstance(item, Rejected) else checker.check(*item)
            if isinstance(checked, Rejected):
                errors.write_line(error_line(checked.id, checked.error, checked.index))
                continue
            chunk.append(checked)
            if len(chunk) == self.scorer.batch_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _score_in_order(
        self, chunks: Iterator[list[Record]], abort: threading.Event | None
    ) -> Iterator[tuple[list[Record], np.ndarray]]:
        """Keep a few chunks in the scorer at once (all cores busy), yield them in input order."""
        window: deque[tuple[list[Record], Future[np.ndarray]]] = deque()
        for chunk in chunks:
            if abort is not None and abort.is_set():
                raise BatchAborted("worker is stopping")
            window.append((chunk, self.scorer.submit([record.text for record in chunk])))
            if len(window) >= self.pipeline_depth:
                records, future = window.popleft()
                yield records, future.result()
        while window:
            records, future = window.popleft()
            yield records, future.result()


def request_summary(body: str) -> dict[str, Any]:
    """Ids for logging a message we could not parse fully (never the review text)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        key: repr(data[key])[1:-1][:130]
        for key in ("job_id", "batch_id")
        if isinstance(data.get(key), str)
    }
