"""The whole worker, end to end: `scorer work` against moto's server on loopback.

- (a) 25 S3 JSON Lines objects of 1,000 reviews, (b) 250 inline messages of 100 reviews:
  seconds from the first send to the last result object written, with the worker already
  ready and past one untimed first job; reviews/s and the ratio to the model ceiling measured
  on the worker's CPUs right before and after each run. Five rounds; the medians count.
- Two layouts of the CPUs: `endpoint_isolated` keeps moto and the sending client off the
  worker's CPUs (all but one for the worker, the last for them), as on ECS, where SQS and S3
  do not run on the task's vCPUs: the bars are judged on it. `shared_cores` runs everything
  on every CPU, so moto's own CPU is charged to the worker: reported beside it.
- cold start: seconds from process start to /readyz answering 200;
- memory: the worker's peak RSS scoring one S3 object of 200,000 reviews vs one of 2,000.

    python -m bench.worker_speed [--model models/default] [--data ...test.jsonl.gz]
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.bars import WORKER_INLINE_US, WORKER_S3_OBJECTS_US, added_us
from bench.common import (
    WorkerProcess,
    bench_arguments,
    load_reviews,
    moto_server,
    peak_rss_mb,
    pin_process,
    print_table,
    split_cores,
    write_result,
)
from worker.log_events import LogEvent


def _stack(endpoint: str) -> Any:
    from worker.local.stack import create_stack  # queue + DLQ + bucket, as deployed

    return create_stack(endpoint, visibility_timeout=300)


def _start_worker(
    stack: Any, model_dir: Path, cpus: set[int] | None = None, **env: str
) -> tuple[WorkerProcess, float]:
    """Start `scorer work`; return it and the seconds until /readyz answered 200."""
    started = time.perf_counter()
    worker = WorkerProcess(
        {
            "AWS_ENDPOINT_URL": stack.endpoint,
            "SCORER_QUEUE_URL": stack.queue_url,
            "SCORER_OUTPUT_URI": stack.output_uri,
            "SCORER_ALLOWED_INPUT_URIS": f"s3://{stack.bucket}/inputs",
            "SCORER_MODEL_URI": str(model_dir),
            "SCORER_WAIT_TIME_SECONDS": "20",
            "POWERTOOLS_METRICS_DISABLED": "true",
            **env,
        },
        cpus=cpus,
    )
    while (worker.health("/readyz") or (0,))[0] != 200:
        if worker.process.poll() is not None:
            raise RuntimeError("worker exited:\n" + "".join(worker.raw[-20:]))
        time.sleep(0.02)
    return worker, time.perf_counter() - started


def _send_all(stack: Any, bodies: list[str]) -> None:
    """SendMessageBatch, up to 10 messages and 1 MiB per call (SQS's limits)."""
    batch: list[str] = []
    for body in [*bodies, None]:
        full = (
            body is None or len(batch) == 10 or (sum(len(b) for b in batch) + len(body) > 1_000_000)
        )
        if batch and full:
            entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(batch)]
            answer = stack.sqs.send_message_batch(QueueUrl=stack.queue_url, Entries=entries)
            if answer.get("Failed"):
                raise RuntimeError(f"send failed: {answer['Failed']}")
            batch = []
        if body is not None:
            batch.append(body)


def _timed_job(worker: WorkerProcess, stack: Any, bodies: list[str]) -> float:
    """Seconds from the first send until the worker logged the last 'batch written'."""
    before = worker.count(LogEvent.BATCH_WRITTEN)
    started = time.perf_counter()
    _send_all(stack, bodies)
    worker.wait_for_log(LogEvent.BATCH_WRITTEN, count=before + len(bodies), timeout=900)
    return time.perf_counter() - started


def _jsonl_gz(rows: list[dict[str, str]]) -> bytes:
    return gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode(), compresslevel=1)


def _bodies(
    stack: Any, reviews: list[dict[str, str]], round_: int | str
) -> tuple[list[str], list[str]]:
    """(a) one message per staged S3 object of 1,000; (b) inline messages of 100. A job id
    per round, so every round writes new result objects."""
    objects = [
        stack.put(f"inputs/part-{n // 1000:03d}.jsonl.gz", _jsonl_gz(reviews[n : n + 1000]))
        for n in range(0, len(reviews), 1000)
    ]
    bulk = [
        json.dumps(
            {
                "version": 1,
                "job_id": f"bench-s3-{round_}",
                "batch_id": f"p{i:03d}",
                "input": {"uri": uri, "format": "jsonl"},
            }
        )
        for i, uri in enumerate(objects)
    ]
    inline = [
        json.dumps(
            {
                "version": 1,
                "job_id": f"bench-inline-{round_}",
                "batch_id": f"m{i:03d}",
                "records": reviews[n : n + 100],
            }
        )
        for i, n in enumerate(range(0, len(reviews), 100))
    ]
    return bulk, inline


def _rates(runs: list[tuple[float, float]], reviews: int, messages: int) -> dict[str, Any]:
    """Runs as (seconds, ceiling around the run); each run's ratio uses its own ceiling."""
    seconds = [run_seconds for run_seconds, _ in runs]
    ratios = [reviews / run_seconds / ceiling for run_seconds, ceiling in runs]
    median_seconds = statistics.median(seconds)
    return {
        "messages": messages,
        "reviews": reviews,
        "seconds_by_round": seconds,
        "ceiling_by_round": [ceiling for _, ceiling in runs],
        "ratio_by_round": ratios,
        "seconds": median_seconds,
        "reviews_per_second": reviews / median_seconds,
        "ratio_to_ceiling": statistics.median(ratios),
    }


@dataclass(frozen=True)
class Layout:
    """Which CPUs the worker and the emulated AWS (moto and the sending client) run on."""

    name: str
    description: str
    worker_cpus: set[int] | None  # None: every CPU, shared with moto and the sender
    endpoint_cpus: set[int] | None


def layouts() -> list[Layout]:
    worker_cpus, endpoint_cpus = split_cores()
    return [
        Layout(
            "endpoint_isolated",
            f"worker on CPU {sorted(worker_cpus)}, moto and the sender on CPU "
            f"{sorted(endpoint_cpus)} (as on ECS: SQS and S3 are not on the task's vCPUs)",
            worker_cpus,
            endpoint_cpus,
        ),
        Layout(
            "shared_cores",
            f"worker, moto and the sender all on CPUs {sorted(os.sched_getaffinity(0))}",
            None,
            None,
        ),
    ]


def throughput(
    model_dir: Path, data: Path, reviews: list[dict[str, str]], layout: Layout, rounds: int = 5
) -> dict[str, Any]:
    """One untimed first job, then `rounds` of (a) and (b), with the ceiling measured on the
    worker's CPUs before the first run and after every run: each run is divided by the mean
    of the two ceilings around it, as the machine's speed drifts 10-25% within minutes."""
    from bench.scoring_speed import CeilingProcess, model_ceiling

    texts = [row["text"] for row in reviews]
    everything = os.sched_getaffinity(0)
    meter = None
    if layout.worker_cpus is not None:
        meter = CeilingProcess(model_dir, data, layout.worker_cpus)
    measure = meter.measure if meter else lambda: model_ceiling(model_dir, texts)
    measure()  # model loaded and warm before the worker starts: its cold start is its own
    runs: dict[str, list[tuple[float, float]]] = {"s3_objects": [], "inline_messages": []}
    with moto_server(layout.endpoint_cpus) as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        stack = _stack(endpoint)
        worker, cold_start = _start_worker(stack, model_dir, cpus=layout.worker_cpus)
        try:
            bulk, inline = _bodies(stack, reviews, "first")
            if layout.endpoint_cpus:
                pin_process(os.getpid(), layout.endpoint_cpus)  # the sender, with moto
            first_job = (_timed_job(worker, stack, bulk), _timed_job(worker, stack, inline))
            ceilings = [measure()]  # the worker idle, long-polling, while it is measured
            for round_ in range(rounds):
                bulk, inline = _bodies(stack, reviews, round_)
                for kind, bodies in (("s3_objects", bulk), ("inline_messages", inline)):
                    seconds = _timed_job(worker, stack, bodies)
                    ceilings.append(measure())
                    runs[kind].append((seconds, (ceilings[-2] + ceilings[-1]) / 2))
            scored = sum(
                int(e.get("records_scored", 0))
                for e in worker.logs
                if e.get("message") == LogEvent.BATCH_WRITTEN
            )
            ready = next(e for e in worker.logs if e.get("message") == LogEvent.WORKER_READY)
        finally:
            pin_process(os.getpid(), everything)
            worker.terminate()
            if meter:
                meter.close()
    return {
        "layout": layout.name,
        "description": layout.description,
        "worker_scoring_threads": ready.get("scoring_threads"),
        "rounds": rounds,
        "ceilings_measured": ceilings,
        "ceiling_reviews_per_second": statistics.median(ceilings),
        "cold_start_seconds": cold_start,
        "first_job_after_start_seconds": {"s3_objects": first_job[0], "inline": first_job[1]},
        "s3_objects": _rates(runs["s3_objects"], len(reviews), len(bulk)),
        "inline_messages": _rates(runs["inline_messages"], len(reviews), len(inline)),
        "records_scored_total": scored,
    }


def memory(
    model_dir: Path, reviews: list[dict[str, str]], sizes: tuple[int, ...]
) -> dict[str, Any]:
    """Peak RSS of a fresh worker per input size (one object, the same texts repeated)."""
    peaks: dict[str, Any] = {}
    with moto_server() as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        stack = _stack(endpoint)
        for size in sizes:
            rows = [{"id": f"r{i}", "text": reviews[i % len(reviews)]["text"]} for i in range(size)]
            uri = stack.put(f"inputs/memory-{size}.jsonl.gz", _jsonl_gz(rows))
            del rows
            worker, _ = _start_worker(stack, model_dir)
            try:
                ready_rss = peak_rss_mb(worker.process.pid)
                body = json.dumps(
                    {
                        "version": 1,
                        "job_id": "bench-memory",
                        "batch_id": f"m{size}",
                        "input": {"uri": uri, "format": "jsonl"},
                    }
                )
                seconds = _timed_job(worker, stack, [body])
                peaks[str(size)] = {
                    "peak_rss_mb": peak_rss_mb(worker.process.pid),
                    "rss_when_ready_mb": ready_rss,
                    "seconds": seconds,
                }
            finally:
                worker.terminate()
    small, large = (peaks[str(s)]["peak_rss_mb"] for s in (min(sizes), max(sizes)))
    return {"by_reviews": peaks, "difference_mb": large - small}


def _print_layout(speed: dict[str, Any], reviews: int) -> None:
    a, b = speed["s3_objects"], speed["inline_messages"]
    print_table(
        f"Worker end to end, {speed['layout']}: {speed['description']}\n"
        f"  ({reviews:,} reviews; {speed['worker_scoring_threads']} scoring thread(s); each run "
        "divided by the mean of the ceilings measured on the worker's CPUs just before and after)",
        [
            "round",
            "(a) s",
            "(a) /s",
            "ceiling",
            "(a) ratio",
            "(b) s",
            "(b) /s",
            "ceiling",
            "(b) ratio",
        ],
        [
            [
                i + 1,
                a["seconds_by_round"][i],
                reviews / a["seconds_by_round"][i],
                a["ceiling_by_round"][i],
                a["ratio_by_round"][i],
                b["seconds_by_round"][i],
                reviews / b["seconds_by_round"][i],
                b["ceiling_by_round"][i],
                b["ratio_by_round"][i],
            ]
            for i in range(speed["rounds"])
        ],
    )
    ceiling = speed["ceiling_reviews_per_second"]
    judged = speed["layout"] == "endpoint_isolated"  # moto's CPU is not the worker's own
    a_bar = f"<= {WORKER_S3_OBJECTS_US:.1f}" if judged else "report"
    b_bar = f"<= {WORKER_INLINE_US:.1f}" if judged else "report"
    print_table(
        f"  medians, {speed['layout']}",
        ["input", "messages", "seconds", "reviews/s", "ratio to ceiling", "us added/review",
         "bar"],
        [
            ["model ceiling", "", "", ceiling, "", "", ""],
            ["(a) S3 JSON Lines, 1,000 each", a["messages"], a["seconds"],
             a["reviews_per_second"], a["ratio_to_ceiling"],
             added_us(a["ratio_to_ceiling"], ceiling), a_bar],
            ["(b) inline, 100 each", b["messages"], b["seconds"],
             b["reviews_per_second"], b["ratio_to_ceiling"],
             added_us(b["ratio_to_ceiling"], ceiling), b_bar],
        ],
    )  # fmt: skip
    first = speed["first_job_after_start_seconds"]
    print(
        f"  first job after start (untimed warm-up): (a) {first['s3_objects']:.2f} s, "
        f"(b) {first['inline']:.2f} s; cold start to /readyz 200: "
        f"{speed['cold_start_seconds']:.2f} s"
    )


def run(model_dir: Path, data: Path) -> dict[str, Any]:
    reviews = load_reviews(data, 25_000)
    speeds = {}
    for layout in layouts():
        speeds[layout.name] = throughput(model_dir, data, reviews, layout)
        _print_layout(speeds[layout.name], len(reviews))
    mem = memory(model_dir, reviews, (2_000, 200_000))
    rows = [
        [k, v["peak_rss_mb"], v["rss_when_ready_mb"], v["seconds"]]
        for k, v in mem["by_reviews"].items()
    ]
    print_table(
        "Worker peak RSS, one S3 object", ["reviews", "peak MB", "ready MB", "seconds"], rows
    )
    print(f"  difference: {mem['difference_mb']:.1f} MB (bar: < 100 MB)")
    isolated = speeds["endpoint_isolated"]
    result = {
        "bars_judged_on": "endpoint_isolated",
        **speeds,
        "cold_start_seconds": isolated["cold_start_seconds"],
        "memory": mem,
    }
    write_result("worker_speed", result)
    return result


def main() -> None:
    parser = bench_arguments(__doc__)
    args = parser.parse_args()
    run(args.model, args.data)


if __name__ == "__main__":
    main()
