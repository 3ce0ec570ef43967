"""`make bench`: every benchmark in one run, each figure beside its bar.

Runs, in order: the model's speed vs the previous model and vs Keras (model_speed), the
model ceiling and core scaling (scoring_speed), the worker end to end with cold start and
memory (worker_speed), the original design's per-review serving pattern (naive_baseline),
and `scorer serve` under wrk (serve_speed; needs Debian's `wrk` and `hey`). Each writes JSON
under bench/results/; this writes bench/results/summary.json with the bars.
"""

from __future__ import annotations

import json
import statistics
import sys

from bench import bars as bars_module
from bench import naive_baseline, scoring_speed, serve_speed, worker_speed
from bench.bars import added_us
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
    worker_ceiling = isolated["ceiling_reviews_per_second"]
    serve_ceiling = statistics.mean(serving["ceilings"])
    a_ratio = isolated["s3_objects"]["ratio_to_ceiling"]
    b_ratio = isolated["inline_messages"]["ratio_to_ceiling"]
    one_ratio, hundred_ratio = serving["one_review_ratio"], serving["hundred_reviews_ratio"]
    a_us, b_us = added_us(a_ratio, worker_ceiling), added_us(b_ratio, worker_ceiling)
    one_us = added_us(one_ratio, serve_ceiling)
    hundred_us = added_us(hundred_ratio, serve_ceiling)
    # (figure, value, bar text, holds); bench/bars.py says why the bars are added time.
    bars = [
        [
            "model vs previous, 1 thread, 256 texts per call",
            vs_previous,
            ">= 2.0",
            vs_previous >= 2.0,
        ],
        [
            "worker (a) S3 objects: us added per review",
            a_us,
            f"<= {bars_module.WORKER_S3_OBJECTS_US:.1f}",
            a_us <= bars_module.WORKER_S3_OBJECTS_US,
        ],
        [
            "worker (b) inline: us added per review",
            b_us,
            f"<= {bars_module.WORKER_INLINE_US:.1f}",
            b_us <= bars_module.WORKER_INLINE_US,
        ],
        [
            "2 scorers / 1 scorer",
            scoring["scaling_2_vs_1"],
            ">= 1.6",
            scoring["scaling_2_vs_1"] >= 1.6,
        ],
        ["speed-up over naive serving", naive["speedup"], ">= 100", naive["speedup"] >= 100],
        [
            "RSS 200k - 2k reviews (MB)",
            worker["memory"]["difference_mb"],
            "< 100",
            worker["memory"]["difference_mb"] < 100,
        ],
        [
            "serve 1-review requests: us added per request",
            one_us,
            f"<= {bars_module.SERVE_ONE_REVIEW_US:.0f}",
            one_us <= bars_module.SERVE_ONE_REVIEW_US,
        ],
        [
            "serve 100-review requests: us added per review",
            hundred_us,
            f"<= {bars_module.SERVE_HUNDRED_US:.1f}",
            hundred_us <= bars_module.SERVE_HUNDRED_US,
        ],
        [
            "serve p99 at a quarter of that rate (ms)",
            latency["p99_ms"],
            "< 50",
            latency["p99_ms"] < 50,
        ],
        ["worker (a) / ceiling", a_ratio, "report", True],
        ["worker (b) / ceiling", b_ratio, "report", True],
        ["serve 1-review / ceiling", one_ratio, "report", True],
        ["serve 100-review / ceiling", hundred_ratio, "report", True],
        ["serve speed-up over Flask + predict", serving["speedup_one_review"], "report", True],
        ["cold start to /readyz (s)", worker["cold_start_seconds"], "report", True],
        [
            "(a) with moto on the worker's cores",
            shared["s3_objects"]["ratio_to_ceiling"],
            "report",
            True,
        ],
        [
            "(b) with moto on the worker's cores",
            shared["inline_messages"]["ratio_to_ceiling"],
            "report",
            True,
        ],
    ]
    passed = [row.pop() for row in bars]
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
