"""`make bench`: every benchmark in one run, each figure beside its bar.

Runs, in order: the model's speed vs the previous model and vs Keras (model_speed), the
model ceiling and core scaling (scoring_speed), the worker end to end with cold start and
memory (worker_speed), the original design's per-review serving pattern (naive_baseline),
and `scorer serve` under wrk (serve_speed; needs Debian's `wrk` and `hey`). Each writes JSON
under bench/results/; this writes bench/results/summary.json with the bars.
"""

from __future__ import annotations

import json
import sys

from bench import naive_baseline, scoring_speed, serve_speed, worker_speed
from bench.common import (
    RESULTS_DIR,
    bench_arguments,
    print_table,
    write_result,
)


def main() -> int:
    parser = bench_arguments(__doc__, prog="python -m bench")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no review data at {args.data}: pass --data PATH (IMDB-style JSON Lines)")

    import subprocess

    # model_speed imports tf_keras and sets TensorFlow's threading: its own process.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.model_speed",
            "--model",
            str(args.model),
            "--data",
            str(args.data),
        ],
        check=True,
    )
    speed = json.loads((RESULTS_DIR / "model_speed.json").read_text(encoding="utf-8"))
    vs_previous = next(
        r["ratio_median"] for r in speed["comparison"] if r["threads"] == 1 and r["batch"] == 256
    )
    scoring = scoring_speed.run(args.model, args.data)
    worker = worker_speed.run(args.model, args.data)
    naive = naive_baseline.run(
        args.model,
        args.data,
        worker_rate=worker["shared_cores"]["s3_objects"]["reviews_per_second"],
    )
    serving = serve_speed.run(args.model, args.data)
    isolated, shared = worker["endpoint_isolated"], worker["shared_cores"]
    latency = serving["latency_quarter_rate_2"]
    bars = [
        ["model vs previous, 1 thread, batch 256", vs_previous, ">= 2.0"],
        ["worker (a) S3 objects / ceiling", isolated["s3_objects"]["ratio_to_ceiling"], ">= 0.85"],
        ["worker (b) inline / ceiling", isolated["inline_messages"]["ratio_to_ceiling"], ">= 0.70"],
        ["2 scorers / 1 scorer", scoring["scaling_2_vs_1"], ">= 1.6"],
        ["speed-up over naive serving", naive["speedup"], ">= 100"],
        ["RSS 200k - 2k reviews (MB)", worker["memory"]["difference_mb"], "< 100"],
        ["serve 1-review requests / ceiling", serving["one_review_ratio"], ">= 0.25"],
        [
            "serve 100-review requests / ceiling",
            serving["hundred_reviews_ratio"],
            ">= 0.70",
        ],
        ["serve p99 at a quarter of that rate (ms)", latency["p99_ms"], "< 50"],
        ["serve speed-up over Flask + predict", serving["speedup_one_review"], "report"],
        ["cold start to /readyz (s)", worker["cold_start_seconds"], "report"],
        ["(a) with moto on the worker's cores", shared["s3_objects"]["ratio_to_ceiling"], "report"],
        [
            "(b) with moto on the worker's cores",
            shared["inline_messages"]["ratio_to_ceiling"],
            "report",
        ],
    ]
    passed = [
        vs_previous >= 2.0,
        isolated["s3_objects"]["ratio_to_ceiling"] >= 0.85,
        isolated["inline_messages"]["ratio_to_ceiling"] >= 0.70,
        scoring["scaling_2_vs_1"] >= 1.6,
        naive["speedup"] >= 100,
        worker["memory"]["difference_mb"] < 100,
        serving["one_review_ratio"] >= 0.25,
        serving["hundred_reviews_ratio"] >= 0.70,
        latency["p99_ms"] < 50,
        True,
        True,
        True,
        True,
    ]
    print_table(
        "Summary",
        ["figure", "value", "bar", "holds"],
        [[*row, "yes" if ok else "NO"] for row, ok in zip(bars, passed, strict=True)],
    )
    write_result(
        "summary",
        {
            "bars": [dict(zip(["figure", "value", "bar"], row, strict=True)) for row in bars],
            "all_hold": all(passed),
        },
    )
    return 0 if all(passed) else 1


if __name__ == "__main__":
    sys.exit(main())
