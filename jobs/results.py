"""`scorer results`: every result (or error) line of a job, in batch order, streamed.

The job's batches come from its manifest (submit and backfill write one), else from the
results objects under the job prefix in key order. Each object is read as a stream and
decompressed line by line, so a job of millions of records needs the memory of one line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from isal import igzip

from jobs.manifest_io import read_manifest
from jobs.status import StatusReader
from schemas.layout import ERRORS_FOLDER, RESULTS_SUFFIX, result_locations, results_name
from schemas.uris import S3Location
from worker.terminal_text import printable

RESULT_FIELDS = ("id", "label", "score", "model_version")
ERROR_FIELDS = ("batch_id", "id", "error", "index")


@dataclass(frozen=True)
class JobObjects:
    """The objects to read, in batch order, and the batches that have no results yet."""

    found: bool
    objects: list[tuple[str, S3Location]]
    batches: int
    missing: list[str]


def batch_ids_from_listing(names: list[str]) -> list[str]:
    """Batch ids of the results objects among the names under a job prefix, in key order."""
    return sorted(
        name[: -len(RESULTS_SUFFIX)]
        for name in names
        if name.endswith(RESULTS_SUFFIX) and not name.startswith("_")
    )


def job_objects(s3: Any, output: S3Location, job_id: str, errors: bool) -> JobObjects:
    """The results (or errors) objects of a job, in the manifest's batch order."""
    reader = StatusReader(s3, None, output, None, None)
    listed = reader.list_job(job_id)
    manifest = read_manifest(s3, output, job_id)
    if manifest is not None:
        batch_ids = [batch.batch_id for batch in manifest.batches]
    else:
        batch_ids = batch_ids_from_listing(list(listed))
    errors_listed = reader.list_job(job_id, ERRORS_FOLDER) if errors else {}
    objects: list[tuple[str, S3Location]] = []
    missing: list[str] = []
    for batch_id in batch_ids:
        results_at, errors_at = result_locations(output, job_id, batch_id)
        name = results_name(batch_id)
        if name not in listed:
            missing.append(batch_id)
            continue
        if not errors:
            objects.append((batch_id, results_at))
        elif name in errors_listed:
            objects.append((batch_id, errors_at))
    return JobObjects(manifest is not None or bool(listed), objects, len(batch_ids), missing)


def object_lines(s3: Any, location: S3Location) -> Iterator[bytes]:
    """The lines of one gzip JSON Lines object, streamed (no newline at the end of each)."""
    body = s3.get_object(Bucket=location.bucket, Key=location.key)["Body"]
    try:
        with igzip.GzipFile(fileobj=body, mode="rb") as lines:
            for line in lines:
                yield line.rstrip(b"\n")
    finally:
        body.close()


class LineWriter:
    """Writes result or error rows as JSON Lines, CSV or an aligned table."""

    def __init__(self, out: IO[str], fmt: str, errors: bool) -> None:
        self.out = out
        self.fmt = fmt
        self.errors = errors
        self.fields = ERROR_FIELDS if errors else RESULT_FIELDS
        self.rows = 0
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(self.fields)
        elif fmt == "table":
            self._table_row(self._table_fields())

    def write(self, batch_id: str, line: bytes) -> None:
        self.rows += 1
        if self.fmt == "jsonl" and not self.errors:
            self.out.write(line.decode("utf-8") + "\n")  # the file's own bytes
            return
        row: dict[str, Any] = json.loads(line)
        if self.errors:
            row = {"batch_id": batch_id, **row}
        if self.fmt == "jsonl":
            self.out.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
        elif self._csv is not None:
            self._csv.writerow(["" if row.get(f) is None else row.get(f) for f in self.fields])
        else:
            self._table_row([_cell(row.get(field)) for field in self._table_fields()])

    def _table_fields(self) -> tuple[str, ...]:
        # The model version is the same on every line of a batch: the summary names it once.
        return self.fields if self.errors else ("id", "label", "score")

    def _table_row(self, cells: list[str] | tuple[str, ...]) -> None:
        widths = (18, 24, 60) if self.errors else (40, 9)
        padded = [
            (cell if len(cell) <= width else cell[: width - 1] + "…").ljust(width)
            for cell, width in zip(cells[:-1], widths, strict=False)
        ]
        self.out.write("  ".join([*padded, cells[-1]]).rstrip() + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6f}"
    return printable(value, 200)


def write_job_lines(s3: Any, objects: list[tuple[str, S3Location]], writer: LineWriter) -> None:
    """Every line of every object, in order, through `writer`."""
    for batch_id, location in objects:
        for line in object_lines(s3, location):
            if line:
                writer.write(batch_id, line)
