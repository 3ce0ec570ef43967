"""What every chaos scenario shares: workers with both output streams kept, the output audit
(every record exactly once in the results or an errors file, no partial object), and the
figures a long run prints and writes to `tests/chaos/results/`.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import threading
import time
import urllib.request
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from worker.local.worker_process import SCORER, WorkerProcess, free_port
from worker.log_events import LogEvent

RESULTS_DIR = Path(__file__).parent / "results"
REGION = "us-east-1"
#: The credentials every chaos worker and client uses; the secret is a marker the logs must
#: never show.
ACCESS_KEY = "chaos-access-key"
SECRET_MARKER = "CHAOS-SECRET-d41d8cd98f00b204"
POSITIVE = ("good", "great", "love")
NEGATIVE = ("bad", "awful")


def long_runs_enabled(config: Any) -> bool:
    option = False
    with contextlib.suppress(ValueError):
        option = bool(config.getoption("--chaos-long", default=False))
    return option or os.environ.get("SCORER_CHAOS_LONG") == "1"


def boto_client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_MARKER,
    )


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def make_stack(endpoint: str, visibility_timeout: int = 30, max_receives: int = 10) -> Any:
    """A fresh queue + DLQ (redrive after `max_receives`) + bucket on a reset moto server."""
    from worker.local.stack import create_stack

    reset_moto(endpoint)
    return create_stack(
        endpoint, visibility_timeout, max_receives, lambda service: boto_client(service, endpoint)
    )


def send_all(stack: Any, bodies: Iterable[str]) -> int:
    """Send bodies ten at a time (SendMessageBatch) and return how many were sent."""
    batch: list[dict[str, str]] = []
    sent = 0

    def flush() -> None:
        nonlocal sent
        if not batch:
            return
        answer = stack.sqs.send_message_batch(QueueUrl=stack.queue_url, Entries=batch)
        assert not answer.get("Failed"), answer.get("Failed")
        sent += len(batch)
        batch.clear()

    size = 0
    for body in bodies:
        if len(batch) == 10 or size + len(body.encode()) > 900_000:
            flush()
            size = 0
        batch.append({"Id": str(len(batch)), "MessageBody": body})
        size += len(body.encode())
    flush()
    return sent


def expected_label(text: str) -> str:
    """What the tiny test model answers: positive unless negative words outnumber positive."""
    words = text.lower().split()
    positive = sum(words.count(word) for word in POSITIVE)
    negative = sum(words.count(word) for word in NEGATIVE)
    return "positive" if positive >= negative else "negative"


class ChaosWorker(WorkerProcess):
    """`scorer work` with stdout *and* stderr kept, credentials set to the secret marker."""

    def __init__(self, env: dict[str, str], name: str = "worker") -> None:
        self.name = name
        self.health_port = free_port()
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SCORER_", "AWS_", "ECS_"))
        }
        full_env = {
            **inherited,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_MARKER,
            "AWS_DEFAULT_REGION": REGION,
            "SCORER_HEALTH_PORT": str(self.health_port),
            "SCORER_HEALTH_HOST": "127.0.0.1",
            "SCORER_WAIT_TIME_SECONDS": "1",
            **env,
        }
        self.logs: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.stderr: list[str] = []
        self.mixed_lines: list[str] = []
        self._changed = threading.Condition()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            [SCORER, "work"],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="backslashreplace",
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._err_reader.start()

    def _read(self) -> None:
        """Like WorkerProcess._read, but a line holding several JSON objects (two threads'
        writes interleaved on stdout) yields each of them, and is counted in `mixed_lines`."""
        assert self.process.stdout is not None
        decoder = json.JSONDecoder()
        for line in self.process.stdout:
            objects: list[dict[str, Any]] = []
            position, text = 0, line.strip()
            while position < len(text):
                try:
                    value, end = decoder.raw_decode(text, position)
                except ValueError:
                    break  # a line TensorFlow printed itself
                if isinstance(value, dict):
                    objects.append(value)
                position = end
                while position < len(text) and text[position].isspace():
                    position += 1
            with self._changed:
                self.raw.append(line)
                self.logs.extend(objects)
                if len(objects) > 1:
                    self.mixed_lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def entries(self, message: str) -> list[dict[str, Any]]:
        with self._changed:
            return [entry for entry in self.logs if entry.get("message") == message]

    def ready(self) -> bool:
        return self.count(LogEvent.WORKER_READY) > 0

    def all_output(self) -> str:
        if self.process.poll() is not None:
            self._reader.join(timeout=5)
            self._err_reader.join(timeout=5)
        return "".join(self.raw) + "".join(self.stderr)

    def memory_kib(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) of the worker process, from /proc."""
        out: dict[str, int] = {}
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "VmHWM"):
                    out[name] = int(value.split()[0])
        return out


def wait_until(
    workers: list[ChaosWorker], predicate: Any, timeout: float, what: str, tick: float = 0.5
) -> None:
    """Block until predicate() holds, re-checking whenever any of `workers` logs a line.

    Workers come and go (a kill loop), so this waits on the newest worker's log condition with
    a short bound and re-checks; it never sleeps blindly.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {w.name}\n" + "".join(w.raw[-8:]) for w in workers[-3:])
            raise AssertionError(f"timed out waiting for {what}:\n{tails}")
        live = [w for w in workers if w.process.poll() is None] or workers
        with live[-1]._changed:
            live[-1]._changed.wait(timeout=tick)


# -- the output audit ---------------------------------------------------------------------


@dataclass
class OutputAudit:
    """What S3 holds under the output prefix, checked object by object."""

    results_objects: int = 0
    errors_objects: int = 0
    scored: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    rejected_lines: list[dict[str, Any]] = field(default_factory=list)
    lines_by_key: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    partial: list[str] = field(default_factory=list)
    metadata_mismatch: list[str] = field(default_factory=list)
    orphan_errors: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> list[str]:
        both = self.scored + self.rejected
        return sorted(record_id for record_id, count in both.items() if count > 1)

    def missing(self, expected: Iterable[str]) -> list[str]:
        seen = set(self.scored) | set(self.rejected)
        return sorted(set(expected) - seen)

    def unexpected(self, expected: Iterable[str]) -> list[str]:
        return sorted((set(self.scored) | set(self.rejected)) - set(expected))


def read_object_lines(stack: Any, key: str) -> tuple[list[dict[str, Any]] | None, dict[str, str]]:
    """(lines, metadata); lines is None when the object does not decompress whole."""
    response = stack.s3.get_object(Bucket=stack.bucket, Key=key)
    data = response["Body"].read()
    try:
        text = gzip.decompress(data).decode("utf-8", errors="surrogateescape")
        lines = [json.loads(line) for line in text.splitlines()]
    except (OSError, EOFError, zlib.error, ValueError):
        return None, response.get("Metadata", {})
    return lines, response.get("Metadata", {})


def audit_outputs(stack: Any, prefix: str = "results/") -> OutputAudit:
    audit = OutputAudit()
    keys = stack.keys(prefix)
    for key in keys:
        lines, metadata = read_object_lines(stack, key)
        if lines is None:
            audit.partial.append(key)
            continue
        audit.lines_by_key[key] = lines
        if "/_errors/" in key:
            audit.errors_objects += 1
            if metadata.get("records-rejected") != str(len(lines)):
                audit.metadata_mismatch.append(key)
            if key.replace("/_errors/", "/") not in keys:
                audit.orphan_errors.append(key)
            for line in lines:
                audit.rejected_lines.append({**line, "key": key})
                if line.get("id") is not None:
                    audit.rejected[line["id"]] += 1
        else:
            audit.results_objects += 1
            if metadata.get("records-scored") != str(len(lines)):
                audit.metadata_mismatch.append(key)
            for line in lines:
                audit.scored[line["id"]] += 1
    return audit


class ResultReader(threading.Thread):
    """A reader polling the output prefix while chaos runs: it must never see half an object.

    Reading S3 as a consumer does is the point here (there is no event for "an object
    appeared"), so this polls on a short stop-event wait between sweeps.
    """

    def __init__(self, stack: Any, prefix: str = "results/", period: float = 0.5) -> None:
        super().__init__(name="result-reader", daemon=True)
        self.stack = stack
        self.prefix = prefix
        self.period = period
        self.stop_event = threading.Event()
        self.reads = 0
        self.bad: list[str] = []

    def run(self) -> None:
        while not self.stop_event.wait(self.period):
            try:
                keys = self.stack.keys(self.prefix)
            except Exception:  # moto busy: try again on the next sweep
                continue
            for key in keys:
                try:
                    lines, metadata = read_object_lines(self.stack, key)
                except Exception:  # deleted or replaced between list and get: not ours
                    continue
                self.reads += 1
                wanted = metadata.get(
                    "records-rejected" if "/_errors/" in key else "records-scored"
                )
                if lines is None or wanted != str(len(lines)):
                    self.bad.append(key)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)


# -- figures ------------------------------------------------------------------------------


def report_figures(name: str, figures: dict[str, Any], capsys: Any, write: bool) -> None:
    """Print the figures (past pytest's capture) and, for long runs, write them as JSON."""
    text = json.dumps(figures, indent=2, sort_keys=True)
    with capsys.disabled():
        print(f"\n== chaos figures: {name} ==\n{text}")
    if write:
        RESULTS_DIR.mkdir(exist_ok=True)
        (RESULTS_DIR / f"{name}.json").write_text(text + "\n", encoding="utf-8")
