"""What every benchmark shares: the reviews, moto's server, the worker process, results files."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import json
import os
import platform
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from worker.local.moto_server import LOCAL_CREDENTIALS, moto_process
from worker.local.worker_process import WorkerProcess, free_port

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO / "bench" / "results"
DEFAULT_DATA = REPO.parent / "shared" / "data" / "imdb" / "test.jsonl.gz"
DEFAULT_MODEL = REPO / "models" / "default"


__all__ = ["WorkerProcess", "free_port"]


def bench_arguments(description: str | None, prog: str | None = None) -> argparse.ArgumentParser:
    """A benchmark's command line: `--model` and `--data` (the reviews), then its own flags."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    return parser


def load_reviews(path: Path, limit: int | None = None) -> list[dict[str, str]]:
    """`{"id", "text"}` records from an IMDB-style JSON Lines file (labels dropped)."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open() as f:
        for line in f:
            row = json.loads(line)
            rows.append({"id": str(row["id"]), "text": row["text"]})
            if limit and len(rows) >= limit:
                break
    return rows


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def score_on_threads(score: Callable[[Any], object], batches: Sequence[Any], threads: int) -> None:
    """Score every batch once, `threads` threads each taking the next one (1: this thread)."""
    queue = list(range(len(batches)))
    lock = threading.Lock()

    def run() -> None:
        while True:
            with lock:
                if not queue:
                    return
                index = queue.pop()
            score(batches[index])

    if threads == 1:
        run()
        return
    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"measured": dt.datetime.now(dt.UTC).isoformat(), "machine": machine(), **payload}
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return path


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    cells = [header, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        print("  " + "  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def pin_process(pid: int, cpus: set[int]) -> None:
    """Move every thread of a running process onto `cpus` (new threads inherit it)."""
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(ProcessLookupError):  # a thread that just ended
            os.sched_setaffinity(int(task), cpus)


def split_cores() -> tuple[set[int], set[int]]:
    """(the worker's CPUs, the emulated AWS's CPUs): all but one, and the last one."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise RuntimeError("keeping the endpoint off the worker's cores needs 2 or more CPUs")
    return set(cpus[:-1]), {cpus[-1]}


@contextlib.contextmanager
def moto_server(cpus: set[int] | None = None) -> Iterator[str]:
    """moto's server as its own process (as the worker would see AWS: over HTTP), with the
    project's fixes (worker/local/moto_fixes.py); on `cpus` only when given."""
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    with moto_process(cpus) as endpoint:
        yield endpoint


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the peak resident set of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")
