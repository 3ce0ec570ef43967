"""Scoring speed of the model: this model vs the previous one, and its signature vs Keras.

    python -m bench.model_speed [--model models/default] [--baseline git:b840b27]
                                [--data ../shared/data/imdb/test.jsonl.gz]

1. **Against the previous model** (the bar of issue 15: >= 2.0x on one thread at batch 256).
   Both SavedModels are loaded into one process and called through their serving signatures
   on the same reviews, in alternating rounds (A B, then B A, ...), so the machine's drift
   (10-25% within minutes here, shared cores) hits both alike; each round gives a ratio and
   the figure is their median. Once with one TensorFlow thread, once with one scoring thread
   per CPU (each thread calls the signature on its own batches, as the worker does), each in
   its own process because TensorFlow's threading is fixed when it starts. The previous model
   is read from git history (`git:REV` extracts `models/default` at REV into a temporary
   folder) or from a folder.
2. **Signature vs Keras** `model.predict`: the Keras model is rebuilt from the export itself
   (its reusable embedding module and Dense variables), so both paths run the same weights;
   the script checks that they agree first.

Prints tables and writes bench/results/model_speed.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench.common import DEFAULT_DATA, DEFAULT_MODEL, score_on_threads

log = logging.getLogger(__name__)
REPO = DEFAULT_MODEL.parent.parent
RESULTS = Path(__file__).parent / "results" / "model_speed.json"
# The commit that shipped imdb-ngram-20261126.70431a39, the model before issue 15.
PREVIOUS_MODEL = "git:b840b2746932e531b770825462b8467d7ee37b10"


def resolve_model(spec: str, scratch: Path) -> Path:
    """A model folder from `spec`: a path, or `git:REV` (models/default at that commit)."""
    if not spec.startswith("git:"):
        return Path(spec)
    rev = spec.removeprefix("git:")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", rev, "models/default"],
        check=True,
        capture_output=True,
    ).stdout
    target = scratch / rev
    target.mkdir(parents=True)
    archive_path = scratch / f"{rev}.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(target, filter="data")
    return target / "models" / "default"


def load_texts(data: str, count: int) -> list[str]:
    """A seeded random sample of the reviews (the file is sorted by label: not a prefix)."""
    from trainer.data import load_examples

    examples = load_examples(data, "test")
    order = np.random.default_rng(0).permutation(len(examples))[:count]
    return [examples.texts[i] for i in order]


def _version(model: Path) -> str | None:
    path = model / "model.json"
    return json.loads(path.read_text())["version"] if path.exists() else None


# --- 1. this model vs the previous one, measured in a child process per thread setting ---


def _pass_seconds(signature: Any, batches: list[Any], threads: int) -> tuple[float, float]:
    """(wall, CPU) seconds to score all `batches`, `threads` threads each taking the next one.

    CPU seconds are this process's: other processes on the machine do not add to them, so
    their ratio is the steadier figure on a shared machine (the wall ratio is the one a
    worker sees when it has its cores to itself).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    score_on_threads(lambda batch: signature(text=batch)["score"].numpy(), batches, threads)
    return time.perf_counter() - started, time.process_time() - cpu_started


def compare(
    models: dict[str, Path],
    texts: list[str],
    batch_sizes: Sequence[int],
    rounds: int,
    threads: int,
) -> list[dict[str, Any]]:
    """Per batch size: each model's median reviews/s and the median per-round ratio.

    Runs in a fresh process: TensorFlow is set to 1 intra-op thread and `threads` calls.
    """
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    signatures = {
        name: tf.saved_model.load(str(path)).signatures["serving_default"]
        for name, path in models.items()
    }
    new, old = list(signatures)
    rows = []
    for size in batch_sizes:
        batches = [tf.constant(texts[i : i + size]) for i in range(0, len(texts), size)]
        for signature in signatures.values():  # warm-up: tracing, allocator, every thread
            _pass_seconds(signature, batches[: 2 * threads], threads)
        seconds: dict[str, list[float]] = {new: [], old: []}
        cpu: dict[str, list[float]] = {new: [], old: []}
        for round_ in range(rounds):
            order = (new, old) if round_ % 2 == 0 else (old, new)
            for name in order:
                wall_s, cpu_s = _pass_seconds(signatures[name], batches, threads)
                seconds[name].append(wall_s)
                cpu[name].append(cpu_s)
        ratios = [o / n for n, o in zip(seconds[new], seconds[old], strict=True)]
        cpu_ratios = [o / n for n, o in zip(cpu[new], cpu[old], strict=True)]
        rows.append(
            {
                "threads": threads,
                "batch": size,
                "reviews_per_second": {
                    name: round(len(texts) / statistics.median(s), 1) for name, s in seconds.items()
                },
                "reviews_per_cpu_second": {
                    name: round(len(texts) / statistics.median(s), 1) for name, s in cpu.items()
                },
                "ratio_median": round(statistics.median(ratios), 3),
                "ratio_rounds": [round(r, 3) for r in ratios],
                "cpu_ratio_median": round(statistics.median(cpu_ratios), 3),
            }
        )
        log.info("threads %d, batch %d: %s", threads, size, rows[-1])
    return rows


def _child(args: argparse.Namespace) -> int:
    texts = load_texts(args.data, args.texts)
    models = {"model": args.model, "baseline": args.baseline_dir}
    rows = compare(models, texts, args.batch_sizes, args.rounds, args.child_threads)
    print(json.dumps(rows))
    return 0


def compare_in_children(
    model: Path, baseline: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """One child process with 1 thread, one with a thread per CPU."""
    rows = []
    for threads in dict.fromkeys([1, len(os.sched_getaffinity(0))]):
        argv = [sys.executable, "-m", "bench.model_speed", "--model", str(model)]
        argv += ["--baseline-dir", str(baseline), "--data", str(args.data)]
        argv += ["--texts", str(args.texts), "--rounds", str(args.rounds)]
        argv += ["--batch-sizes", *map(str, args.batch_sizes), "--child-threads", str(threads)]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
        if done.returncode:
            raise SystemExit(f"the {threads}-thread comparison failed:\n{done.stderr[-3000:]}")
        rows += json.loads(done.stdout.strip().splitlines()[-1])
    return rows


# --- 2. the signature vs Keras model.predict, same model, same weights ---


def _batches(texts: Sequence[str], size: int) -> list[Any]:
    import tensorflow as tf

    return [tf.constant(list(texts[i : i + size]), tf.string) for i in range(0, len(texts), size)]


def _rate(run: Callable[[Any], Any], batches: list[Any], repeats: int) -> float:
    """Best-of-`repeats` reviews per second over all batches (after one warm-up batch)."""
    run(batches[0])
    n = sum(int(b.shape[0]) for b in batches)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for batch in batches:
            run(batch)
        best = min(best, time.perf_counter() - started)
    return n / best


def signature_vs_keras(
    model_dir: Path, texts: Sequence[str], batch_sizes: Sequence[int], repeats: int
) -> list[dict[str, Any]]:
    import tensorflow as tf

    from trainer.export import load_scorer, score_texts
    from trainer.model import load_keras_model

    signature = load_scorer(model_dir)
    keras_model = load_keras_model(model_dir)
    probe = list(texts[:512])
    keras_scores = tf.sigmoid(keras_model.predict(tf.constant(probe), verbose=0)[:, 0]).numpy()
    diff = float(np.max(np.abs(score_texts(signature, probe) - keras_scores)))
    log.info("signature vs Keras on %d texts: max |score difference| %.2g", len(probe), diff)
    if diff > 1e-5:
        raise SystemExit(f"the two paths disagree (max diff {diff:.3g}): not the same model")

    paths: dict[str, Callable[[Any], Any]] = {
        "savedmodel signature": lambda b: signature(text=b)["score"].numpy(),
        "keras model.predict": lambda b: keras_model.predict(
            b, batch_size=int(b.shape[0]), verbose=0
        ),
    }
    rows = []
    for size in batch_sizes:
        batches = _batches(texts, size)
        for name, run in paths.items():
            rate = _rate(run, batches, repeats)
            rows.append({"path": name, "batch": size, "reviews_per_second": round(rate, 1)})
            log.info("%s, batch %d: %.0f reviews/s", name, size, rate)
    return rows


def print_tables(
    comparison: list[dict[str, Any]], keras: list[dict[str, Any]], names: tuple[str, str]
) -> None:
    print(f"\nThis model ({names[0]}) vs the previous one ({names[1]}), reviews/s")
    print(
        "| threads | batch | this model | previous | ratio (median of rounds) | rounds "
        "| CPU-time ratio |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in comparison:
        rates = r["reviews_per_second"]
        rounds = ", ".join(f"{x:.2f}" for x in r["ratio_rounds"])
        print(
            f"| {r['threads']} | {r['batch']} | {rates['model']:,.0f} | {rates['baseline']:,.0f} "
            f"| **{r['ratio_median']:.2f}x** | {rounds} | {r['cpu_ratio_median']:.2f}x |"
        )
    sizes = sorted({r["batch"] for r in keras})
    print("\nSignature vs Keras, this model, reviews/s")
    print("| path | " + " | ".join(f"batch {s}" for s in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for name in dict.fromkeys(r["path"] for r in keras):
        rates = {r["batch"]: r["reviews_per_second"] for r in keras if r["path"] == name}
        print(f"| {name} | " + " | ".join(f"{rates[s]:,.0f}/s" for s in sizes) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.model_speed",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument(
        "--baseline",
        default=PREVIOUS_MODEL,
        help="the model to compare with: a folder, or git:REV for models/default at REV "
        "(default: the model before issue 15)",
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--texts", type=int, default=2048, help="reviews per pass")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds per setting")
    parser.add_argument("--repeats", type=int, default=3, help="Keras comparison: best of")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--baseline-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.child_threads:
        return _child(args)

    with tempfile.TemporaryDirectory(prefix="scorer-baseline-") as scratch:
        baseline = resolve_model(args.baseline, Path(scratch))
        names = (_version(args.model) or str(args.model), _version(baseline) or str(baseline))
        if names[0] == names[1]:
            raise SystemExit(f"--model and --baseline are the same version ({names[0]})")
        comparison = compare_in_children(args.model, baseline, args)

    import tensorflow as tf

    texts = load_texts(args.data, 8192)
    keras = signature_vs_keras(args.model, texts, args.batch_sizes, args.repeats)
    print_tables(comparison, keras, names)

    report = {
        "model": str(args.model),
        "version": names[0],
        "baseline": args.baseline,
        "baseline_version": names[1],
        "texts": args.texts,
        "rounds": args.rounds,
        "comparison": comparison,
        "results": keras,
        "tensorflow": tf.__version__,
        "cpus": len(os.sched_getaffinity(0)),
        "machine": platform.machine(),
        "measured": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
