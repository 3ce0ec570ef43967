"""The model ceiling and core scaling: the serving signature alone, no AWS.

- ceiling: the SavedModel signature called directly (the worker's texts per call), with 1 thread
  and with one thread per core (the reference the worker's end-to-end speed is divided by);
- scaling: the worker's own BatchingScorer with 1 and with 2 scoring threads.

    python -m bench.scoring_speed [--model models/default] [--data ...test.jsonl.gz]
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    bench_arguments,
    load_reviews,
    print_table,
    score_on_threads,
    write_result,
)


def _ceiling(model: Any, texts: list[str], texts_per_call: int, threads: int) -> float:
    """Reviews/s with `threads` threads each calling the signature on its own chunks."""
    chunks = [texts[i : i + texts_per_call] for i in range(0, len(texts), texts_per_call)]
    model.score(chunks[0])  # warm-up (graph tracing, allocator)
    started = time.perf_counter()
    score_on_threads(model.score, chunks, threads)
    return len(texts) / (time.perf_counter() - started)


def _batching_scorer(model: Any, texts: list[str], texts_per_call: int, threads: int) -> float:
    """Reviews/s through the worker's BatchingScorer fed like the worker feeds it."""
    from worker.scoring import BatchingScorer

    scorer = BatchingScorer(model.score, texts_per_call, threads)
    scorer.score(texts[:texts_per_call])
    started = time.perf_counter()
    futures = [
        scorer.submit(texts[i : i + texts_per_call]) for i in range(0, len(texts), texts_per_call)
    ]
    for future in futures:
        future.result()
    seconds = time.perf_counter() - started
    scorer.close()
    return len(texts) / seconds


@functools.cache
def _model(model_dir: Path) -> Any:
    """The model, loaded once per process (TensorFlow's threading is set before it starts)."""
    from worker.model import configure_tensorflow, load_model

    configure_tensorflow(len(os.sched_getaffinity(0)))  # as the worker does on these CPUs
    return load_model(str(model_dir))


def model_ceiling(model_dir: Path, texts: list[str], texts_per_call: int = 256) -> float:
    """The reference for the worker's ratios: the signature alone, one thread per core."""
    return _ceiling(_model(model_dir), texts, texts_per_call, len(os.sched_getaffinity(0)))


class CeilingProcess:
    """The ceiling measured on request by a process confined to `cpus`, TensorFlow set up as
    the worker sets itself up there (one scoring thread per CPU). It loads the model once and
    sits idle between measurements, so it can be asked right before and after each worker run.
    """

    def __init__(self, model_dir: Path, data: Path, cpus: set[int], texts_per_call: int = 256):
        command = [sys.executable, "-m", "bench.scoring_speed", "--serve-ceiling"]
        command += ["--model", str(model_dir), "--data", str(data)]
        command += ["--texts-per-call", str(texts_per_call)]
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            preexec_fn=lambda: os.sched_setaffinity(0, cpus),
        )

    def measure(self) -> float:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write("measure\n")
        self._process.stdin.flush()
        for line in self._process.stdout:
            if line.startswith("{"):
                return float(json.loads(line)["ceiling"])
        raise RuntimeError("the ceiling process ended without an answer")

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        self._process.wait(timeout=60)


def _serve_ceiling(model_dir: Path, data: Path, texts_per_call: int, limit: int) -> None:
    texts = [row["text"] for row in load_reviews(data, limit)]
    _model(model_dir)
    for _ in sys.stdin:
        print(json.dumps({"ceiling": model_ceiling(model_dir, texts, texts_per_call)}), flush=True)


def run(
    model_dir: Path, data: Path, texts_per_call: int = 256, limit: int = 25_000
) -> dict[str, Any]:
    cores = len(os.sched_getaffinity(0))
    model = _model(model_dir)
    texts = [row["text"] for row in load_reviews(data, limit)]
    ceiling_1 = _ceiling(model, texts, texts_per_call, 1)
    ceiling_n = _ceiling(model, texts, texts_per_call, cores)
    scorer_1 = _batching_scorer(model, texts, texts_per_call, 1)
    scorer_2 = _batching_scorer(model, texts, texts_per_call, 2)
    result = {
        "model_version": model.version,
        "reviews": len(texts),
        "texts_per_call": texts_per_call,
        "cores": cores,
        "ceiling_1_thread": ceiling_1,
        "ceiling_all_cores": ceiling_n,
        "batching_scorer_1_thread": scorer_1,
        "batching_scorer_2_threads": scorer_2,
        "scaling_2_vs_1": scorer_2 / scorer_1,
    }
    print_table(
        f"Model ceiling and scaling ({len(texts):,} reviews, {texts_per_call} texts per call, "
        f"{cores} cores)",
        ["path", "threads", "reviews/s"],
        [
            ["SavedModel signature", 1, ceiling_1],
            ["SavedModel signature", cores, ceiling_n],
            ["worker BatchingScorer", 1, scorer_1],
            ["worker BatchingScorer", 2, scorer_2],
        ],
    )
    print(f"  2 scorers vs 1: {scorer_2 / scorer_1:.2f}x (bar: >= 1.6x)")
    write_result("scoring_speed", result)
    return result


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--texts-per-call", type=int, default=256)
    parser.add_argument("--limit", type=int, default=25_000)
    parser.add_argument(
        "--serve-ceiling",
        action="store_true",
        help="measure the ceiling (one thread per CPU of this process) for each line read "
        "from standard input; print {'ceiling': reviews/s} as JSON for each",
    )
    args = parser.parse_args()
    if args.serve_ceiling:
        _serve_ceiling(args.model, args.data, args.texts_per_call, args.limit)
        return
    run(args.model, args.data, args.texts_per_call, args.limit)


if __name__ == "__main__":
    main()
