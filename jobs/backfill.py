"""`scorer backfill`: rescore what is already in S3, one message per object, cheaply re-runnable.

Each object's batch id is a hash of its URI, so a rerun names the same results object; an
object is skipped when that object exists, was made by the current model version and from
the object's current ETag. A nightly run therefore enqueues only new or changed inputs, and
a run after a model change rescores everything once.

Large objects are not split: one message per object, and one worker streams it (the worker's
limits are SCORER_MAX_RECORDS_PER_INPUT and SCORER_MAX_INPUT_BYTES). Keep objects under about
1 GiB so a job spreads over many workers; bigger ones are logged as a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from jobs.manifest_io import write_manifest
from jobs.reading import format_for_name
from jobs.sending import MessageSender, Outgoing, SendReport
from jobs.status import StatusReader, is_current
from schemas.layout import results_name
from schemas.manifest import JobManifest, ManifestBatch
from schemas.messages import SCHEMA_VERSION
from schemas.model_info import MODEL_INFO_FILE
from schemas.uris import S3Location, parse_s3_uri
from worker.errors import ConfigError
from worker.model import read_model_info

log = logging.getLogger(__name__)

LARGE_OBJECT_BYTES = 1024**3


@dataclass(frozen=True)
class SourceObject:
    key: str
    uri: str
    etag: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class Decision:
    """What happens to one object: `send`, `skip` (already scored) or `ignore` (not input)."""

    obj: SourceObject
    action: Literal["send", "skip", "ignore"]
    why: str
    batch_id: str | None = None
    fmt: str | None = None


def batch_id_for_object(uri: str) -> str:
    """`bf-` + 24 hex digits of sha256 of the object's URI: a SafeId, the same on every run."""
    return "bf-" + hashlib.sha256(uri.encode("utf-8")).hexdigest()[:24]


def in_window(
    obj: SourceObject,
    end_before: str | None = None,
    modified_since: datetime | None = None,
    modified_before: datetime | None = None,
) -> bool:
    """The key and last-modified filters (`--start-after` is given to S3's listing itself)."""
    if end_before is not None and obj.key >= end_before:
        return False
    if modified_since is not None and obj.last_modified < modified_since:
        return False
    return modified_before is None or obj.last_modified < modified_before


def decide(
    obj: SourceObject,
    existing: dict[str, str] | None,
    model_version: str,
    force: bool,
    output: S3Location,
) -> Decision:
    """Pure: send, skip or ignore one object, given its results object's metadata (or None)."""
    if obj.key.endswith("/"):
        return Decision(obj, "ignore", "a folder marker")
    try:
        location = parse_s3_uri(obj.uri)
    except ValueError as error:  # the worker would refuse the message: say so here instead
        return Decision(obj, "ignore", f"unusable key: {error}")
    if output.contains(location):
        return Decision(obj, "ignore", "under the output prefix")
    fmt = format_for_name(obj.key)
    if fmt is None:
        return Decision(obj, "ignore", "not .jsonl, .jsonl.gz, .csv or .csv.gz")
    batch_id = batch_id_for_object(obj.uri)
    if not force and existing is not None and is_current(existing, model_version, obj.etag):
        return Decision(obj, "skip", f"already scored by {model_version}", batch_id, fmt)
    why = "forced" if force and existing is not None else "new or changed"
    if existing is not None and not force:
        why = "scored by another model version or from another version of the object"
    return Decision(obj, "send", why, batch_id, fmt)


def list_objects(s3: Any, prefix: S3Location, start_after: str | None) -> Iterator[SourceObject]:
    """Objects under the prefix (folder semantics), in key order, from after `start_after`."""
    key_prefix = prefix.key.rstrip("/") + "/" if prefix.key else ""
    arguments: dict[str, Any] = {"Bucket": prefix.bucket, "Prefix": key_prefix}
    if start_after:
        arguments["StartAfter"] = start_after
    for page in s3.get_paginator("list_objects_v2").paginate(**arguments):
        for item in page.get("Contents", []):
            yield SourceObject(
                key=item["Key"],
                uri=f"s3://{prefix.bucket}/{item['Key']}",
                etag=item.get("ETag", "").strip('"'),
                size=int(item.get("Size", 0)),
                last_modified=item["LastModified"],
            )


def current_model_version(s3: Any, model_uri: str) -> str:
    """The `version` in model.json beside the model the workers load (local or s3://)."""
    if not model_uri.startswith("s3://"):
        return read_model_info(Path(model_uri) / MODEL_INFO_FILE).version
    location = parse_s3_uri(model_uri).child(MODEL_INFO_FILE)
    body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    with tempfile.TemporaryDirectory(prefix="scorer-model-card-") as folder:
        path = Path(folder) / MODEL_INFO_FILE
        path.write_bytes(body)
        return read_model_info(path).version


def request_body(job_id: str, decision: Decision, id_field: str, text_field: str) -> str:
    source: dict[str, Any] = {"uri": decision.obj.uri, "format": decision.fmt}
    if id_field != "id":
        source["id_field"] = id_field
    if text_field != "text":
        source["text_field"] = text_field
    body = {
        "version": SCHEMA_VERSION,
        "job_id": job_id,
        "batch_id": decision.batch_id,
        "input": source,
    }
    return json.dumps(body, separators=(",", ":"))


@dataclass
class BackfillResult:
    decisions: list[Decision]
    report: SendReport | None

    def counts(self) -> dict[str, int]:
        counts = {"send": 0, "skip": 0, "ignore": 0}
        for decision in self.decisions:
            counts[decision.action] += 1
        return counts


def run_backfill(
    s3: Any,
    sqs: Any,
    prefix: S3Location,
    job_id: str,
    output: S3Location,
    queue_url: str | None,
    model_version: str,
    *,
    start_after: str | None = None,
    end_before: str | None = None,
    modified_since: datetime | None = None,
    modified_before: datetime | None = None,
    force: bool = False,
    dry_run: bool = False,
    id_field: str = "id",
    text_field: str = "text",
    large_object_bytes: int = LARGE_OBJECT_BYTES,
) -> BackfillResult:
    objects = [
        obj
        for obj in _until(list_objects(s3, prefix, start_after), end_before)
        if in_window(obj, end_before, modified_since, modified_before)
    ]
    reader = StatusReader(s3, sqs, output, None, None)
    listed = reader.list_job(job_id)
    job_key = output.child(job_id).key.rstrip("/") + "/"
    decisions = []
    for obj in objects:
        name = results_name(batch_id_for_object(obj.uri))
        item = listed.get(name)
        existing = None if item is None else reader.metadata(job_key + name, item.etag)
        decision = decide(obj, existing, model_version, force, output)
        decisions.append(decision)
        _log_decision(decision, dry_run, large_object_bytes)
    result = BackfillResult(decisions, None)
    if dry_run:
        return result
    manifest = JobManifest(
        job_id=job_id,
        created=datetime.now(UTC),
        kind="backfill",
        input=prefix.uri,
        batches=[
            ManifestBatch(batch_id=d.batch_id, records=0, source=d.obj.uri, input_etag=d.obj.etag)
            for d in decisions
            if d.batch_id is not None
        ],
        total_records=0,
        model_version=model_version,
    )
    write_manifest(s3, output, manifest)
    if any(d.action == "send" for d in decisions):
        if queue_url is None:
            raise ConfigError("missing configuration: set SCORER_QUEUE_URL or pass --queue-url")
        sender = MessageSender(sqs, queue_url)
        for decision in decisions:
            if decision.action == "send" and decision.batch_id is not None:
                body = request_body(job_id, decision, id_field, text_field)
                sender.add(Outgoing(decision.batch_id, body))
        result.report = sender.close()
    return result


def _until(objects: Iterable[SourceObject], end_before: str | None) -> Iterator[SourceObject]:
    """Stop listing at `end_before`: keys come in order, nothing after it can match."""
    for obj in objects:
        if end_before is not None and obj.key >= end_before:
            return
        yield obj


def _log_decision(decision: Decision, dry_run: bool, large_object_bytes: int) -> None:
    fields = {"uri": decision.obj.uri, "batch_id": decision.batch_id, "why": decision.why}
    if decision.action == "ignore":
        log.info("object skipped", extra=fields)
    elif decision.action == "skip":
        log.debug("object already scored", extra=fields)
    else:
        log.info("would enqueue" if dry_run else "object to enqueue", extra=fields)
        if decision.obj.size > large_object_bytes:
            log.warning(
                "large object: one worker scores it alone; split it to spread the work",
                extra={"uri": decision.obj.uri, "bytes": decision.obj.size},
            )
