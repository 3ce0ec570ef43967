"""The worker's subcommands: `scorer work`, `scorer score`, `scorer local`."""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from collections.abc import Iterable
from typing import IO, Any

from worker.errors import EXIT_INPUT
from worker.record_checks import Record, Rejected
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

    local = subparsers.add_parser(
        "local",
        help="a local AWS (moto) with the queue, DLQ, bucket and a worker, for your own files",
    )
    actions = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    for name, text in (
        ("up", "start moto, create the queue, DLQ and bucket, run a worker; Ctrl-C stops all"),
        ("env", "print the environment of a running `scorer local up` (for eval)"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("SCORER_LOCAL_PORT") or 5000),
            help="moto's port (default: $SCORER_LOCAL_PORT or 5000)",
        )
        action.add_argument("--host", default="127.0.0.1", help="moto's address")
        action.set_defaults(handler=_local)


def _work(args: argparse.Namespace) -> int:
    from worker.aws import retries_from_env
    from worker.observability import configure_logging, log_level_from_env
    from worker.service import run_worker

    configure_logging(log_level_from_env())
    overrides: dict[str, Any] = {"exit_when_idle": True} if args.exit_when_idle else {}
    settings = load_settings(WorkerSettings, **overrides)
    retries_from_env()  # AWS_MAX_ATTEMPTS / AWS_RETRY_MODE checked now, not after the model loads
    return run_worker(settings, install_signal_handlers=True)


def _score(args: argparse.Namespace) -> int:
    """The worker's record rules and line format, without AWS: error lines where it rejects."""
    from worker.inputs import iter_jsonl, max_jsonl_line_bytes
    from worker.model import configure_tensorflow
    from worker.quiet_tensorflow import import_tensorflow_quietly
    from worker.record_checks import RecordChecker
    from worker.service import load_model_named_by_settings

    settings = load_settings(ModelSettings)
    import_tensorflow_quietly()
    configure_tensorflow(settings.scoring_threads)
    model = load_model_named_by_settings(settings.model_uri, settings.model_cache_dir)
    checker = RecordChecker(settings.max_text_bytes)
    if args.texts:
        raw: Iterable[Any] = (
            (index, {"id": str(index + 1), "text": text}) for index, text in enumerate(args.texts)
        )
    elif args.jsonl:
        # The bytes, as the worker reads a file (a text stream in memory has no buffer).
        stdin = getattr(sys.stdin, "buffer", None) or io.BytesIO(sys.stdin.read().encode())
        raw = iter_jsonl(stdin, max_jsonl_line_bytes(settings.max_text_bytes))
    else:
        raw = (
            (index, {"id": str(index + 1), "text": line.rstrip("\r\n")})
            for index, line in enumerate(sys.stdin)
            if line.strip()
        )
    rejected = 0
    pending: list[Record] = []
    out = sys.stdout
    for item in raw:
        checked = item if isinstance(item, Rejected) else checker.check(*item)
        if isinstance(checked, Rejected):
            _flush_scored(model, pending, out)
            rejected += 1
            out.write(error_file_line(checked) + "\n")
            continue
        pending.append(checked)
        if len(pending) >= settings.texts_per_model_call:
            _flush_scored(model, pending, out)
    _flush_scored(model, pending, out)
    out.flush()
    return EXIT_INPUT if rejected else 0


def _flush_scored(model: Any, pending: list[Record], out: IO[str]) -> None:
    """Score what is pending and write its lines (before any later error line: input order)."""
    if not pending:
        return
    from schemas.records import result_lines

    scores = model.score([record.text for record in pending]).tolist()
    ids = [record.id for record in pending]
    for line in result_lines(ids, scores, model.version, model.threshold):
        out.write(line + "\n")
    pending.clear()


def _local(args: argparse.Namespace) -> int:
    from worker.local.up import print_env, run_local_up

    if args.local_command == "env":
        return print_env(args.host, args.port)
    return run_local_up(args.host, args.port)


def error_file_line(rejected: Rejected) -> str:
    """Byte for byte a line of an errors file (the contract's rule, schemas/records.py)."""
    from schemas.records import error_line

    return error_line(rejected.id, rejected.error, rejected.index)
