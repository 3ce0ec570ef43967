"""`scorer submit`: a file of any size onto the queue, as right-sized messages.

Two passes: the input is read once, checked whole and spooled to a temporary file (nothing is
sent for a file that fails); then the manifest is written and the batches are sent, inline
when the body fits the queue's size limit, else staged to S3 and sent as a pointer.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from jobs import queues
from jobs.chunking import Chunker, inline_body, staged_body
from jobs.manifest_io import write_manifest
from jobs.output import plural
from jobs.progress import Progress
from jobs.reading import Format, SourceError, open_source, read_records, resolve_format
from jobs.sending import MessageSender, Outgoing, SendReport
from jobs.settings import SQS_MAX_MESSAGE_BYTES
from jobs.validation import Validation, validate_and_spool
from schemas.layout import staging_location
from schemas.manifest import JobManifest, ManifestBatch
from schemas.messages import DLQ_RESERVE_BYTES, MAX_TEXT_BYTES
from schemas.uris import S3Location
from worker.aws import s3_client, sqs_client
from worker.terminal_text import printable


@dataclass(frozen=True)
class SubmitPlan:
    """Everything a submit needs, resolved from flags and settings."""

    source: str
    job_id: str
    queue_url: str
    output: S3Location
    staging: S3Location | None
    fmt: str | None = None
    id_field: str = "id"
    text_field: str = "text"
    records_per_message: int = 1000
    max_message_bytes: int = 1_048_576
    max_text_bytes: int = MAX_TEXT_BYTES
    strict: bool = False
    allow_duplicates: bool = False
    dry_run: bool = False

    def staged_location(self, batch_id: str) -> S3Location:
        """`{staging}/{job_id}/{batch_id}.jsonl.gz`, or `{output}/{job_id}/_staging/...`."""
        name = f"{batch_id}.jsonl.gz"
        if self.staging is not None:
            return self.staging.child(self.job_id, name)
        return staging_location(self.output, self.job_id, name)


@dataclass
class SubmitResult:
    exit_code: int
    validation: Validation | None
    report: SendReport | None
    staged_objects: int = 0
    staged_bytes: int = 0
    seconds: float = 0.0
    errors: list[str] | None = None

    def summary(self, plan: SubmitPlan) -> dict[str, Any]:
        batches = self.validation.batches if self.validation else []
        report = self.report or SendReport()
        return {
            "job_id": plan.job_id,
            "records": self.validation.records if self.validation else 0,
            "batches": len(batches),
            "inline": sum(1 for b in batches if b.inline),
            "staged": sum(1 for b in batches if not b.inline),
            "messages_sent": report.sent,
            "message_bytes_sent": report.bytes,
            "send_calls": report.calls,
            "entries_retried": report.retried_entries,
            "staged_bytes": self.staged_bytes,
            "failed": [{"batch_id": key, "error": error} for key, error in report.failed],
            "rejected_by_worker_expected": self.validation.warning_count if self.validation else 0,
            "seconds": round(self.seconds, 3),
            "dry_run": plan.dry_run,
        }


def run_submit(plan: SubmitPlan, err: IO[str] | None = None) -> SubmitResult:
    """Validate, write the manifest, send; returns 0 sent, 1 send failures, 2 bad input."""
    err = err if err is not None else sys.stderr
    started = time.perf_counter()
    sqs, s3 = sqs_client(), s3_client()
    # A batch is inline up to `limit`; a SendMessageBatch call may carry up to the queue's own.
    queue_limit = queues.max_message_bytes(sqs, plan.queue_url, SQS_MAX_MESSAGE_BYTES)
    # Below the queue's limit by the room the worker needs to dead-letter a batch with its
    # reason (the reason's attributes count toward the same limit).
    limit = min(plan.max_message_bytes, queue_limit - DLQ_RESERVE_BYTES)
    with tempfile.TemporaryFile(prefix="scorer-submit-") as spool:
        try:
            fmt = resolve_format(plan.source, plan.fmt)
            validation = _first_pass(plan, fmt, limit, spool, err)
        except SourceError as error:
            return SubmitResult(2, None, None, errors=[str(error)])
        errors = validation.errors(plan.strict, plan.allow_duplicates)
        if errors:
            return SubmitResult(2, validation, None, errors=errors)
        for warning in validation.warnings:
            print(f"warning: {warning} (the worker will write it to the errors file)", file=err)
        if validation.warning_count > len(validation.warnings):
            print(f"warning: ... {plural(validation.warning_count, 'record')} in all", file=err)
        for duplicate in validation.duplicates:
            print(f"warning: {duplicate} (sent anyway: --allow-duplicates)", file=err)
        if plan.dry_run:
            return SubmitResult(0, validation, None, seconds=time.perf_counter() - started)
        write_manifest(s3, plan.output, _manifest(plan, validation))
        result = _second_pass(plan, validation, queue_limit, spool, s3, sqs, err)
    result.seconds = time.perf_counter() - started
    return result


def _first_pass(
    plan: SubmitPlan, fmt: Format, limit: int, spool: IO[bytes], err: IO[str]
) -> Validation:
    progress = Progress("checking", None, stream=err)
    chunker = Chunker(plan.job_id, plan.records_per_message, limit)
    with open_source(plan.source) as stream:
        items = read_records(stream, fmt, plan.id_field, plan.text_field, plan.max_text_bytes)
        validation = validate_and_spool(items, fmt, chunker, spool, progress.advance)
    progress.close()
    return validation


def _manifest(plan: SubmitPlan, validation: Validation) -> JobManifest:
    return JobManifest(
        job_id=plan.job_id,
        created=datetime.now(UTC),
        kind="submit",
        input=plan.source,
        batches=[
            ManifestBatch(
                batch_id=batch.batch_id,
                records=batch.records,
                source="inline" if batch.inline else plan.staged_location(batch.batch_id).uri,
            )
            for batch in validation.batches
        ],
        total_records=validation.records,
    )


def _second_pass(
    plan: SubmitPlan,
    validation: Validation,
    request_limit: int,
    spool: IO[bytes],
    s3: Any,
    sqs: Any,
    err: IO[str],
) -> SubmitResult:
    progress = Progress("sending", validation.records, stream=err)
    records_of = {batch.batch_id: batch.records for batch in validation.batches}
    sender = MessageSender(
        sqs,
        plan.queue_url,
        max_request_bytes=request_limit,
        on_sent=lambda message: progress.advance(records_of[message.key]),
    )
    staged_objects = staged_bytes = 0
    spool.seek(0)
    for batch in validation.batches:
        lines = [spool.readline().rstrip(b"\n") for _ in range(batch.records)]
        if batch.inline:
            body = inline_body(plan.job_id, batch.batch_id, lines)
        else:
            location = plan.staged_location(batch.batch_id)
            staged_bytes += _stage(s3, location, lines)
            staged_objects += 1
            body = staged_body(plan.job_id, batch.batch_id, location.uri)
        sender.add(Outgoing(batch.batch_id, body))
    report = sender.close()
    progress.close()
    return SubmitResult(
        1 if report.failed else 0,
        validation,
        report,
        staged_objects=staged_objects,
        staged_bytes=staged_bytes,
    )


def _stage(s3: Any, location: S3Location, lines: list[bytes]) -> int:
    """Upload a chunk as gzip JSON Lines; mtime 0, so a rerun writes the same bytes."""
    data = gzip.compress(b"\n".join(lines) + b"\n", compresslevel=1, mtime=0)
    s3.put_object(
        Bucket=location.bucket, Key=location.key, Body=data, ContentType="application/gzip"
    )
    return len(data)


def describe(plan: SubmitPlan, result: SubmitResult, as_json: bool, out: IO[str]) -> None:
    """The final report: one JSON object, or a few human lines."""
    summary = result.summary(plan)
    if result.errors:
        summary["errors"] = result.errors
    if as_json:
        print(json.dumps(summary, sort_keys=True), file=out)
        return
    if result.errors:
        print(f"not submitted: {plan.source} has problems, nothing was sent:", file=out)
        for error in result.errors:
            print(f"  {printable(error, 500)}", file=out)
        return
    batches = plural(summary["batches"], "batch")
    split = f"{summary['inline']:,} inline, {summary['staged']:,} staged"
    if plan.dry_run:
        print(
            f"job {printable(plan.job_id)}: would send {plural(summary['records'], 'record')} in "
            f"{batches} ({split}); nothing sent (--dry-run)",
            file=out,
        )
        return
    print(
        f"job {printable(plan.job_id)}: sent {plural(summary['records'], 'record')} in {batches} "
        f"({split}) as {plural(summary['messages_sent'], 'message')} of "
        f"{summary['message_bytes_sent']:,} bytes in {summary['seconds']:.1f} s",
        file=out,
    )
    if summary["staged"]:
        print(f"  staged batches: {plan.staged_location('').uri.rsplit('/', 1)[0]}/", file=out)
    for failure in summary["failed"]:
        print(f"  not sent: {failure['batch_id']}: {printable(failure['error'])}", file=out)
    if summary["failed"]:
        print("  rerun the same submit: batches already sent are rewritten, not added", file=out)
