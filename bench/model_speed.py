"""Scoring speed: the exported serving signature vs Keras `model.predict`, same texts, same run.

    python -m bench.model_speed [--model models/default] [--data ../shared/data/imdb/test.jsonl.gz]

The Keras model is rebuilt from the export itself (its reusable embedding module and Dense
variables), so both paths run the same weights; the script checks that they agree first.
Prints a table and writes bench/results/model_speed.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

from trainer.data import load_examples
from trainer.export import load_scorer, score_texts
from trainer.model import load_keras_model

log = logging.getLogger(__name__)
RESULTS = Path(__file__).parent / "results" / "model_speed.json"


def _batches(texts: Sequence[str], size: int) -> list[tf.Tensor]:
    return [tf.constant(list(texts[i : i + size]), tf.string) for i in range(0, len(texts), size)]


def _rate(run: Callable[[tf.Tensor], Any], batches: list[tf.Tensor], repeats: int) -> float:
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


def measure(
    model_dir: Path, texts: Sequence[str], batch_sizes: Sequence[int], repeats: int
) -> list[dict[str, Any]]:
    signature = load_scorer(model_dir)
    keras_model = load_keras_model(model_dir)
    probe = list(texts[:512])
    keras_scores = tf.sigmoid(keras_model.predict(tf.constant(probe), verbose=0)[:, 0]).numpy()
    diff = float(np.max(np.abs(score_texts(signature, probe) - keras_scores)))
    log.info("signature vs Keras on %d texts: max |score difference| %.2g", len(probe), diff)
    if diff > 1e-5:
        raise SystemExit(f"the two paths disagree (max diff {diff:.3g}): not the same model")

    paths: dict[str, Callable[[tf.Tensor], Any]] = {
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


def print_table(rows: list[dict[str, Any]]) -> None:
    sizes = sorted({r["batch"] for r in rows})
    names = list(dict.fromkeys(r["path"] for r in rows))
    print("| path | " + " | ".join(f"batch {s}" for s in sizes) + " |")
    print("| --- |" + " --- |" * len(sizes))
    for name in names:
        rates = {r["batch"]: r["reviews_per_second"] for r in rows if r["path"] == name}
        print(f"| {name} | " + " | ".join(f"{rates[s]:,.0f}/s" for s in sizes) + " |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.model_speed", description=__doc__)
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--data", default="../shared/data/imdb/test.jsonl.gz")
    parser.add_argument("--texts", type=int, default=8192, help="how many reviews to score")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=3, help="best of this many passes")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    examples = load_examples(args.data, "test")
    # The file is sorted by label: take a seeded random sample, not a prefix.
    order = np.random.default_rng(0).permutation(len(examples))[: args.texts]
    texts = [examples.texts[i] for i in order]
    rows = measure(args.model, texts, args.batch_sizes, args.repeats)
    print_table(rows)

    model_json = args.model / "model.json"
    report = {
        "model": str(args.model),
        "version": json.loads(model_json.read_text())["version"] if model_json.exists() else None,
        "texts": len(texts),
        "mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1),
        "repeats": args.repeats,
        "results": rows,
        "tensorflow": tf.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "measured": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
