"""`scorer status`: how far a job is, from its manifest, its result objects and the DLQ.

A batch is done when its results object exists (the worker writes it last, so it means the
batch is complete) and, for a backfill, carries the manifest's model version and input ETag;
failed when a message of it sits in the DLQ; pending otherwise. Listing the job prefix is one
paginated call; only results objects not seen before are HEADed, for their record counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobs import queues
from jobs.dlq import DeadLetter, peek
from jobs.manifest_io import read_manifest, write_success
from schemas.layout import SUCCESS_NAME, job_prefix, results_name
from schemas.manifest import JobManifest
from schemas.uris import S3Location


@dataclass(frozen=True)
class ListedObject:
    etag: str
    size: int


@dataclass
class FailedBatch:
    batch_id: str
    message_id: str
    reason: str | None


@dataclass
class JobStatus:
    job_id: str
    kind: str
    input: str
    batches: int
    done: int
    pending: int
    failed: list[FailedBatch]
    records_expected: int
    records_scored: int
    records_rejected: int
    queue: dict[str, int] = field(default_factory=dict)
    dlq: dict[str, int] = field(default_factory=dict)
    success_marker: bool = False

    @property
    def finished(self) -> bool:
        """Nothing left to wait for: every batch is done or dead-lettered."""
        return self.pending == 0

    @property
    def complete(self) -> bool:
        """Every batch has its results: what `_SUCCESS` stands for."""
        return self.done == self.batches

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(finished=self.finished, complete=self.complete)
        return data


def is_current(metadata: dict[str, str], model_version: str | None, input_etag: str | None) -> bool:
    """Results count unless made by another model version or from another version of the input.

    The same rule decides what a backfill skips and what `status` counts as done.
    """
    if model_version is not None and metadata.get("model-version") != model_version:
        return False
    return input_etag is None or metadata.get("input-etag") == input_etag


def count_job(
    manifest: JobManifest,
    output: S3Location,
    present: dict[str, dict[str, str]],
    dead: list[DeadLetter],
) -> JobStatus:
    """Pure: classify each batch from the results present (name -> metadata) and the DLQ."""
    failed_by_batch = {
        letter.batch_id: letter
        for letter in dead
        if letter.job_id == manifest.job_id and letter.batch_id is not None
    }
    done = scored = rejected = 0
    failed: list[FailedBatch] = []
    for batch in manifest.batches:
        metadata = present.get(results_name(batch.batch_id))
        if metadata is not None and is_current(metadata, manifest.model_version, batch.input_etag):
            done += 1
            scored += int(metadata.get("records-scored", 0))
            rejected += int(metadata.get("records-rejected", 0))
        elif batch.batch_id in failed_by_batch:
            letter = failed_by_batch[batch.batch_id]
            failed.append(FailedBatch(batch.batch_id, letter.message_id, letter.reason))
    return JobStatus(
        job_id=manifest.job_id,
        kind=manifest.kind,
        input=manifest.input,
        batches=len(manifest.batches),
        done=done,
        pending=len(manifest.batches) - done - len(failed),
        failed=failed,
        records_expected=manifest.total_records,
        records_scored=scored,
        records_rejected=rejected,
    )


class StatusReader:
    """Reads a job's state; remembers object metadata between polls (keyed by ETag)."""

    def __init__(
        self, s3: Any, sqs: Any, output: S3Location, queue_url: str | None, dlq_url: str | None
    ) -> None:
        self.s3 = s3
        self.sqs = sqs
        self.output = output
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self._metadata: dict[tuple[str, str], dict[str, str]] = {}
        self.heads = 0

    def list_job(self, job_id: str, folder: str | None = None) -> dict[str, ListedObject]:
        """The objects directly under the job prefix (or its `folder`, e.g. `_errors`), by name."""
        prefix = job_prefix(self.output, job_id).key.rstrip("/") + "/"
        if folder:
            prefix += folder + "/"
        found: dict[str, ListedObject] = {}
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.output.bucket, Prefix=prefix, Delimiter="/"):
            for item in page.get("Contents", []):
                name = item["Key"][len(prefix) :]
                found[name] = ListedObject(item.get("ETag", "").strip('"'), item.get("Size", 0))
        return found

    def metadata(self, key: str, etag: str) -> dict[str, str]:
        cached = self._metadata.get((key, etag))
        if cached is None:
            response = self.s3.head_object(Bucket=self.output.bucket, Key=key)
            self.heads += 1
            cached = dict(response.get("Metadata", {}))
            self._metadata[(key, etag)] = cached
        return cached

    def read(self, manifest: JobManifest) -> JobStatus:
        listed = self.list_job(manifest.job_id)
        prefix = job_prefix(self.output, manifest.job_id).key.rstrip("/") + "/"
        wanted = {results_name(b.batch_id) for b in manifest.batches}
        present = {
            name: self.metadata(prefix + name, item.etag)
            for name, item in listed.items()
            if name in wanted
        }
        dead: list[DeadLetter] = []
        dlq_depth: dict[str, int] = {}
        if self.dlq_url:
            dlq_depth = queues.depth(self.sqs, self.dlq_url)
            if dlq_depth["visible"] and len(present) < len(wanted):
                dead = peek(self.sqs, self.dlq_url)
        status = count_job(manifest, self.output, present, dead)
        status.dlq = dlq_depth
        if self.queue_url:
            status.queue = queues.depth(self.sqs, self.queue_url)
        status.success_marker = SUCCESS_NAME in listed
        return status


def success_summary(status: JobStatus) -> dict[str, Any]:
    return {
        "job_id": status.job_id,
        "batches": status.batches,
        "records_scored": status.records_scored,
        "records_rejected": status.records_rejected,
        "completed": datetime.now(UTC).isoformat(),
    }


def follow(
    reader: StatusReader,
    job_id: str,
    wait: bool,
    interval: float,
    timeout: float | None,
    on_poll: Callable[[JobStatus], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[JobStatus | None, str]:
    """Read the job (until finished, with `wait`); write `_SUCCESS` once it is complete.

    Returns the last status and one of: `complete`; `failed` (finished, some batches in the
    DLQ); `running` (without `wait`); `timeout`; `missing` (no manifest).
    """
    manifest = read_manifest(reader.s3, reader.output, job_id)
    if manifest is None:
        return None, "missing"
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status = reader.read(manifest)
        if status.complete and not status.success_marker:
            write_success(reader.s3, reader.output, job_id, success_summary(status))
            status.success_marker = True
        if on_poll is not None:
            on_poll(status)
        if status.complete:
            return status, "complete"
        if status.finished:
            return status, "failed"
        if not wait:
            return status, "running"
        if deadline is not None and time.monotonic() >= deadline:
            return status, "timeout"
        pause = interval if deadline is None else min(interval, deadline - time.monotonic())
        sleep(max(0.0, pause))
