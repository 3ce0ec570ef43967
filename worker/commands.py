"""The worker's subcommands: `scorer work`, `scorer score`, `scorer demo`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from types import FrameType
from typing import Any

from worker.settings import ModelSettings, WorkerSettings, load_settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    work = subparsers.add_parser(
        "work",
        help="run the worker: long-poll SQS, score, write results to S3",
        description="Configured by SCORER_* environment variables (see the README).",
    )
    work.add_argument(
        "--exit-when-idle",
        action="store_true",
        help="exit 0 once the queue is empty and nothing is in flight",
    )
    work.set_defaults(handler=_work)

    score = subparsers.add_parser(
        "score",
        help="score texts given as arguments, or one per line on stdin (no AWS)",
    )
    score.add_argument("texts", nargs="*", help="texts to score; stdin when none")
    score.add_argument(
        "--jsonl", action="store_true", help='stdin lines are {"id", "text"} objects'
    )
    score.set_defaults(handler=_score)

    demo = subparsers.add_parser(
        "demo",
        help="the whole system on an embedded moto server: queue, DLQ, bucket, worker",
    )
    demo.add_argument("--keep-running", action="store_true", help=argparse.SUPPRESS)
    demo.set_defaults(handler=_demo)


def _work(args: argparse.Namespace) -> int:
    from worker.observability import configure_logging
    from worker.service import run_worker

    configure_logging(os.environ.get("SCORER_LOG_LEVEL", "INFO"))
    overrides: dict[str, Any] = {"exit_when_idle": True} if args.exit_when_idle else {}
    settings = load_settings(WorkerSettings, **overrides)
    return run_worker(settings, install_signal_handlers=True)


def _score(args: argparse.Namespace) -> int:
    from worker.model import configure_tensorflow, load_model

    settings = load_settings(ModelSettings)
    configure_tensorflow(settings.scoring_threads)
    model = load_model(settings.model_uri, settings.model_cache_dir)
    if args.texts:
        items = [(str(i), text) for i, text in enumerate(args.texts, start=1)]
    else:
        items = []
        for number, line in enumerate(sys.stdin, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            if args.jsonl:
                record = json.loads(line)
                items.append((str(record["id"]), str(record["text"])))
            else:
                items.append((str(number), line))
    for start in range(0, len(items), settings.batch_size):
        chunk = items[start : start + settings.batch_size]
        scores = model.score([text for _, text in chunk])
        for (record_id, _), score in zip(chunk, scores.tolist(), strict=True):
            label = "positive" if score >= model.threshold else "negative"
            line = {
                "id": record_id,
                "label": label,
                "score": round(score, 6),
                "model_version": model.version,
            }
            print(json.dumps(line), flush=False)
    sys.stdout.flush()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from worker.demo import run_demo

    return run_demo()


def install_signal_handlers(stop: Any) -> None:
    """First SIGTERM/SIGINT: drain. Second: exit at once (rq's two-stage shutdown)."""

    def immediate(signum: int, frame: FrameType | None) -> None:
        os._exit(128 + signum)

    def graceful(signum: int, frame: FrameType | None) -> None:
        # Swap the handlers before anything else: a second signal that lands while this one
        # logs would otherwise run `graceful` again (Python handlers can nest) and be lost.
        signal.signal(signal.SIGTERM, immediate)
        signal.signal(signal.SIGINT, immediate)
        log.info("signal received, draining", extra={"signal": signal.Signals(signum).name})
        stop()

    signal.signal(signal.SIGTERM, graceful)
    signal.signal(signal.SIGINT, graceful)
