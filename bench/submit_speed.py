"""Submit speed: `scorer submit` of 100,000 reviews (~1,300 characters each) to moto's server.

    python -m bench.submit_speed [--records 100000]

Starts moto's ThreadedMotoServer on 127.0.0.1, creates a queue and a bucket, writes a JSON
Lines file of generated reviews (a small made-up vocabulary, no real data), and times the
whole `scorer submit` in-process (check and spool, manifest, staging, SendMessageBatch) twice:
with the default 1,000 records per batch (1.3 MB: over SQS's 1 MiB, so every batch is staged
in S3) and with 700 per batch (about 0.9 MB: every batch inline). Prints the figures and
writes bench/results/submit_speed.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import logging
import os
import platform
import random
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "submit_speed.json"
WORDS = [
    "film",
    "movie",
    "story",
    "plot",
    "actor",
    "actress",
    "scene",
    "camera",
    "music",
    "score",
    "director",
    "script",
    "ending",
    "character",
    "moment",
    "performance",
    "screen",
    "minutes",
    "hour",
    "time",
    "audience",
    "cast",
    "dialogue",
    "action",
    "good",
    "great",
    "wonderful",
    "excellent",
    "moving",
    "funny",
    "bad",
    "awful",
    "boring",
    "terrible",
    "slow",
    "dull",
    "the",
    "a",
    "and",
    "of",
    "to",
    "in",
    "was",
    "is",
    "it",
    "that",
    "this",
    "with",
    "but",
    "for",
    "not",
    "very",
    "really",
    "quite",
    "rather",
]


def make_reviews(path: Path, count: int, chars: int, seed: int = 1) -> int:
    """A JSON Lines file of `count` reviews of about `chars` characters; returns its size."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            words: list[str] = []
            length = 0
            while length < chars:
                word = rng.choice(WORDS)
                words.append(word)
                length += len(word) + 1
            out.write(json.dumps({"id": f"review-{number:06d}", "text": " ".join(words)}) + "\n")
    return path.stat().st_size


def time_submit(
    source: Path, job_id: str, queue_url: str, output: str, *extra: str
) -> dict[str, Any]:
    from worker.cli import main

    stdout = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = main(
            ["submit", str(source), "--job-id", job_id, "--json", "--queue-url", queue_url,
             "--output-uri", output, *extra]
        )  # fmt: skip
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"submit failed ({code}): {stdout.getvalue()}")
    summary = json.loads(stdout.getvalue())
    summary["wall_seconds"] = round(seconds, 3)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--chars", type=int, default=1300)
    args = parser.parse_args(argv)

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    try:
        from worker.aws import s3_client, sqs_client

        queue_url = sqs_client().create_queue(QueueName="bench")["QueueUrl"]
        s3_client().create_bucket(Bucket="bench")
        with tempfile.TemporaryDirectory(prefix="submit-speed-") as folder:
            source = Path(folder) / "reviews.jsonl"
            file_bytes = make_reviews(source, args.records, args.chars)
            runs = {
                "batch_1000_staged": time_submit(source, "staged", queue_url, "s3://bench/out"),
                "batch_700_inline": time_submit(
                    source, "inline", queue_url, "s3://bench/out", "--records-per-message", "700"
                ),
            }
    finally:
        server.stop()

    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "records": args.records,
        "review_chars": args.chars,
        "input_bytes": file_bytes,
        "endpoint": "moto ThreadedMotoServer on 127.0.0.1 (same process)",
        "runs": runs,
    }
    print(f"{args.records:,} records, {file_bytes:,} bytes of JSON Lines")
    for name, run in runs.items():
        print(
            f"{name:>18}: {run['wall_seconds']:6.2f} s, {run['messages_sent']} messages, "
            f"{run['message_bytes_sent']:,} message bytes, {run['staged']} staged objects "
            f"({run['staged_bytes']:,} bytes gzip), {run['send_calls']} SendMessageBatch calls, "
            f"{args.records / run['wall_seconds']:,.0f} records/s"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
