"""Subcommands for getting work in and results out: submit, status, backfill, dlq.

Each handler imports its module only when run, so `scorer --help` stays instant. Settings
come from the same `SCORER_*` variables as the worker's; flags override them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from jobs.output import json_wanted, plural
from schemas.ids import check_safe_id
from worker.errors import EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_TIMEOUT
from worker.terminal_text import printable

#: Seconds `status --wait` waits when no --timeout is given.
DEFAULT_WAIT_TIMEOUT = 3600.0


def _safe_id(value: str) -> str:
    try:
        return check_safe_id(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r}: {error}") from None


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _timestamp(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _queue_flags(parser: argparse.ArgumentParser, output: bool = True, dlq: bool = False) -> None:
    parser.add_argument("--queue-url", help="the worker's queue (default: $SCORER_QUEUE_URL)")
    if output:
        parser.add_argument(
            "--output-uri", help="s3://bucket/prefix of results (default: $SCORER_OUTPUT_URI)"
        )
    if dlq:
        parser.add_argument(
            "--dlq-url", help="dead-letter queue (default: $SCORER_DLQ_URL, else redrive policy)"
        )


def _command(
    subparsers: argparse._SubParsersAction,
    name: str,
    handler: Any,
    help: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.set_defaults(handler=handler)
    return parser


def _json_flag(parser: argparse.ArgumentParser, what: str = "print the summary as JSON") -> None:
    parser.add_argument("--json", action="store_true", help=f"{what} (the default off a terminal)")


def _record_fields(parser: argparse.ArgumentParser, formats: bool = True) -> None:
    """How to read an input file: its format and which keys (or columns) hold id and text."""
    if formats:
        parser.add_argument(
            "--format", choices=["jsonl", "csv"], help="default: from the extension"
        )
    parser.add_argument("--id-field", default="id", help="the id column or key (default: id)")
    parser.add_argument("--text-field", default="text", help="the text column or key")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds this package's subcommands; each imports its module only when run."""
    demo = _command(
        subparsers,
        "demo",
        _demo,
        help="the whole system on an embedded moto server: queue, DLQ, bucket, worker",
    )
    demo.add_argument(
        "--input",
        metavar="FILE",
        help="score your own JSON Lines or CSV file (.gz too) instead of the bundled samples",
    )
    demo.add_argument(
        "--job-id", default="mine", type=_safe_id, help="with --input (default: mine)"
    )
    demo.add_argument(
        "--output-dir",
        help="with --input: where results.jsonl, errors.jsonl, report.html go "
        "(default: scored-JOB_ID)",
    )
    _record_fields(demo)

    submit = _command(
        subparsers,
        "submit",
        _submit,
        help="put a JSON Lines or CSV file (local or s3://, .gz too) on the queue",
        description=(
            "Checks the whole file first (nothing is sent when it fails), writes the job "
            "manifest, then sends batches: inline when they fit a message, else staged to S3."
        ),
    )
    submit.add_argument("source", help="a local path or s3:// URI (.jsonl, .csv, .gz)")
    submit.add_argument("--job-id", required=True, type=_safe_id)
    _record_fields(submit)
    submit.add_argument(
        "--records-per-message",
        "--batch-size",  # its old name, still accepted
        type=_positive_int,
        help=(
            "records per batch (one message each), at most 10000 "
            "(default: $SCORER_SUBMIT_RECORDS_PER_MESSAGE or 1000)"
        ),
    )
    submit.add_argument(
        "--max-message-bytes",
        type=_positive_int,
        help="stage batches whose body is larger (default: $SCORER_MAX_MESSAGE_BYTES or 1 MiB)",
    )
    submit.add_argument(
        "--staging-uri",
        help="s3:// prefix for staged batches (default: {output}/{job_id}/_staging)",
    )
    submit.add_argument(
        "--strict",
        action="store_true",
        help="also refuse records the worker would reject (e.g. empty text) instead of warning",
    )
    submit.add_argument(
        "--allow-duplicates",
        action="store_true",
        help="send even when ids repeat across the file (each copy is scored)",
    )
    submit.add_argument("--dry-run", action="store_true", help="check and plan; send nothing")
    _json_flag(submit)
    _queue_flags(submit)

    status = _command(
        subparsers,
        "status",
        _status,
        help="batches done, pending and failed of a job; writes _SUCCESS when complete",
        description=(
            "Exit codes: 0 complete (or running, without --wait), 1 a batch failed (its "
            "message is in the DLQ), 2 no such job, 3 --timeout passed."
        ),
    )
    status.add_argument("job_id", type=_safe_id)
    status.add_argument("--wait", action="store_true", help="block until the job is finished")
    status.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        help="seconds --wait waits at most, then exits 3 (default: %(default).0f; 0: no limit)",
    )
    status.add_argument(
        "--interval", type=float, default=5.0, help="seconds between polls (default: %(default)s)"
    )
    _json_flag(status, "print the status as JSON")
    _queue_flags(status, dlq=True)

    backfill = _command(
        subparsers,
        "backfill",
        _backfill,
        help="enqueue every .jsonl/.csv(.gz) object under an S3 prefix not yet scored",
        description=(
            "One message per object; objects already scored by the current model version "
            "from their current ETag are skipped (unless --force). Sentences at a terminal, "
            "JSON log lines otherwise (--json). "
            "Exit 0 when everything needed was enqueued (or nothing was needed), 1 otherwise."
        ),
    )
    backfill.add_argument("prefix", help="s3://bucket/prefix (folder semantics)")
    backfill.add_argument("--job-id", required=True, type=_safe_id)
    backfill.add_argument("--start-after", help="only keys after this one")
    backfill.add_argument("--end-before", help="only keys before this one")
    backfill.add_argument("--modified-since", type=_timestamp, help="ISO time; default UTC")
    backfill.add_argument("--modified-before", type=_timestamp, help="ISO time; default UTC")
    backfill.add_argument(
        "--model-version", help="the version to compare with (default: model.json at the model)"
    )
    backfill.add_argument("--force", action="store_true", help="enqueue even what is scored")
    backfill.add_argument("--dry-run", action="store_true", help="list what would be sent")
    _json_flag(backfill, "JSON log lines")
    _record_fields(backfill, formats=False)  # each object's format: from its key's extension
    _queue_flags(backfill)

    results = _command(
        subparsers,
        "results",
        _results,
        help="every result line of a job in batch order (--errors: rejected records and why)",
        description=(
            "Streams each results object of the job (batch order: the manifest's), so a job "
            "of millions of records needs little memory. Exit 2 when there is no such job."
        ),
    )
    results.add_argument("job_id", type=_safe_id)
    results.add_argument(
        "--format",
        choices=["table", "csv", "jsonl"],
        help="default: table at a terminal, else jsonl (the files' own lines); "
        "with --output, from its extension",
    )
    results.add_argument("--output", help="write to this file (.csv, .jsonl; .gz compresses)")
    results.add_argument(
        "--errors", action="store_true", help="the rejected records (batch, id, error, index)"
    )
    _queue_flags(results, dlq=False)

    report = _command(
        subparsers,
        "report",
        _report,
        help="a self-contained HTML page about a job: counts, labels, score histogram, batches",
        description="Needs matplotlib (pip install 'scorer[report]'). Exit 2: no such job.",
    )
    report.add_argument("job_id", type=_safe_id)
    report.add_argument("--output", help="the HTML file to write (default: JOB_ID.html)")
    _json_flag(report)
    _queue_flags(report, dlq=True)

    dlq = subparsers.add_parser("dlq", help="look at or redrive the dead-letter queue")
    actions = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    listing = _command(
        actions, "list", _dlq_list, help="the DLQ's messages and reasons, without consuming them"
    )
    listing.add_argument("--max", type=_positive_int, help="show at most this many")
    _json_flag(listing, "one JSON object per message")
    _queue_flags(listing, output=False, dlq=True)
    redrive = _command(
        actions, "redrive", _dlq_redrive, help="move the DLQ's messages back to the queue"
    )
    redrive.add_argument("--max", type=_positive_int, help="move at most this many")
    redrive.add_argument(
        "--no-move-task",
        action="store_true",
        help="move by receive/send/delete even where SQS's message move task exists",
    )
    _json_flag(redrive, "print the result as JSON")
    _queue_flags(redrive, output=False, dlq=True)


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from jobs.settings import load_job_settings

    flags = {
        name: getattr(args, name, None)
        for name in ("queue_url", "output_uri", "dlq_url", "staging_uri")
    }
    return load_job_settings(**flags, **extra)


def _submit(args: argparse.Namespace) -> int:
    from jobs.settings import require
    from jobs.submit import SubmitPlan, describe, run_submit
    from schemas.uris import parse_s3_uri

    settings = _settings(
        args,
        submit_records_per_message=args.records_per_message,
        max_message_bytes=args.max_message_bytes,
    )
    plan = SubmitPlan(
        source=args.source,
        job_id=args.job_id,
        queue_url=require(settings, "queue_url", "--queue-url"),
        output=settings.output,
        staging=parse_s3_uri(settings.staging_uri) if settings.staging_uri else None,
        fmt=args.format,
        id_field=args.id_field,
        text_field=args.text_field,
        records_per_message=settings.submit_records_per_message,
        max_message_bytes=settings.max_message_bytes,
        max_text_bytes=settings.max_text_bytes,
        strict=args.strict,
        allow_duplicates=args.allow_duplicates,
        dry_run=args.dry_run,
    )
    result = run_submit(plan)
    as_json = json_wanted(args)
    if result.errors:  # a person reads stderr, even when stdout goes to a script
        describe(plan, result, False, sys.stderr)
    if as_json or not result.errors:
        describe(plan, result, as_json, sys.stdout)
    return result.exit_code


def _status(args: argparse.Namespace) -> int:
    from jobs.status import StatusReader, follow
    from worker.aws import s3_client, sqs_client

    settings = _settings(args)
    dlq_url = _dlq_if_known(settings)
    reader = StatusReader(s3_client(), sqs_client(), settings.output, settings.queue_url, dlq_url)
    as_json = json_wanted(args)
    timeout = args.timeout if args.timeout and args.timeout > 0 else None
    last: list[tuple[int, int]] = []
    if args.wait and not as_json:
        limit = f"up to {timeout:.0f} s (--timeout)" if timeout else "with no time limit"
        print(f"waiting for job {printable(args.job_id)}, {limit}", file=sys.stderr, flush=True)

    def report_progress(current: Any) -> None:
        counts = (current.done, len(current.failed))
        if args.wait and not as_json and last != [counts]:
            last[:] = [counts]
            print(
                f"{printable(current.job_id)}: {current.done:,}/"
                f"{plural(current.batches, 'batch')} done, {len(current.failed):,} failed",
                file=sys.stderr,
                flush=True,
            )

    status, outcome = follow(
        reader, args.job_id, args.wait, args.interval, timeout, report_progress
    )
    if status is None:
        print(
            f"no job {printable(args.job_id)}: no manifest under {settings.output.uri}",
            file=sys.stderr,
        )
        return EXIT_INPUT
    if as_json:
        print(json.dumps({**status.to_dict(), "outcome": outcome}, sort_keys=True, default=str))
    else:
        _print_status(status, outcome, settings.output)
    if status.failed:
        return EXIT_FAILED
    return EXIT_TIMEOUT if outcome == "timeout" else EXIT_OK


def _print_status(status: Any, outcome: str, output: Any) -> None:
    job = printable(status.job_id)
    print(f"job {job} ({status.kind} of {printable(status.input)}): {outcome}")
    print(
        f"  batches: {status.batches:,} = {status.done:,} done, {status.pending:,} pending, "
        f"{len(status.failed):,} failed"
    )
    expected = f" of {status.records_expected:,}" if status.records_expected else ""
    print(
        f"  records: {status.records_scored:,} scored, {status.records_rejected:,} "
        f"rejected{expected}"
    )
    if status.queue:
        print(f"  queue: {status.queue['visible']} visible, {status.queue['in_flight']} in flight")
    if status.dlq:
        print(f"  dead-letter queue: {plural(status.dlq['visible'], 'message')} (all jobs)")
    for failed in status.failed[:20]:
        print(
            f"  failed: {printable(failed.batch_id)}: {printable(failed.reason)} "
            f"(message {printable(failed.message_id)})"
        )
    if status.success_marker:
        print(f"  {output.child(status.job_id, '_SUCCESS').uri} written")
    if status.done:
        print(f"  results: scorer results {job}   report: scorer report {job} --output {job}.html")
    if status.records_rejected:
        print(f"  rejected records and why: scorer results {job} --errors")


def _backfill(args: argparse.Namespace) -> int:
    import logging

    from jobs.backfill import current_model_version, run_backfill
    from jobs.output import configure_sentences
    from schemas.uris import parse_s3_uri
    from worker.aws import s3_client, sqs_client
    from worker.observability import configure_logging, log_level_from_env

    as_json = json_wanted(args)
    level = log_level_from_env()
    if as_json:
        configure_logging(level)  # an ECS scheduled task: CloudWatch Logs reads JSON lines
    else:
        configure_sentences(level)
    log = logging.getLogger("jobs.backfill")
    settings = _settings(args)
    try:
        prefix = parse_s3_uri(args.prefix)
    except ValueError as error:
        if not as_json:
            print(f"scorer backfill: {printable(error)}", file=sys.stderr)
            return EXIT_INPUT
        log.error("invalid prefix", extra={"error": str(error)})
        return EXIT_INPUT
    s3 = s3_client()
    model_version = args.model_version or current_model_version(s3, settings.model_uri)
    result = run_backfill(
        s3,
        sqs_client(),
        prefix,
        args.job_id,
        settings.output,
        settings.queue_url,
        model_version,
        start_after=args.start_after,
        end_before=args.end_before,
        modified_since=args.modified_since,
        modified_before=args.modified_before,
        force=args.force,
        dry_run=args.dry_run,
        id_field=args.id_field,
        text_field=args.text_field,
    )
    counts = result.counts()
    report = result.report
    failed = report.failed if report else []
    for batch_id, error in failed:
        log.error("not sent", extra={"batch_id": batch_id, "error": error})
    if as_json:
        log.info(
            "backfill finished" if not args.dry_run else "backfill dry run",
            extra={
                "job_id": args.job_id,
                "model_version": model_version,
                "objects": len(result.decisions),
                "enqueued": report.sent if report else 0,
                "to_enqueue": counts["send"],
                "already_scored": counts["skip"],
                "ignored": counts["ignore"],
                "failed": len(failed),
            },
        )
    else:
        verb = "would enqueue" if args.dry_run else "enqueued"
        sent = counts["send"] if args.dry_run else (report.sent if report else 0)
        print(
            f"backfill {printable(args.job_id)} of {printable(prefix.uri)}: "
            f"{plural(len(result.decisions), 'object')}; {verb} {sent:,}, "
            f"{counts['skip']:,} already scored by {printable(model_version)}, "
            f"{counts['ignore']:,} not input, {len(failed):,} failed"
            + (" (--dry-run: nothing sent)" if args.dry_run else "")
        )
    return EXIT_FAILED if failed else EXIT_OK


def _dlq_list(args: argparse.Namespace) -> int:
    from jobs.dlq import peek
    from jobs.queues import resolve_dlq
    from worker.aws import sqs_client

    settings = _settings(args)
    dlq_url = resolve_dlq(settings.queue_url, settings.dlq_url)
    letters = peek(sqs_client(), dlq_url, args.max)
    as_json = json_wanted(args)
    for letter in letters:
        if as_json:
            print(json.dumps(letter.summary(), sort_keys=True))
        else:
            print(
                f"{printable(letter.message_id)}  job={printable(letter.job_id)} "
                f"batch={printable(letter.batch_id)} receives={letter.receive_count}  "
                f"reason: {printable(letter.reason)}"
            )
    if not as_json:
        print(f"{plural(len(letters), 'message')} in {dlq_url}", file=sys.stderr)
    return EXIT_OK


def _dlq_redrive(args: argparse.Namespace) -> int:
    from jobs.dlq import redrive
    from jobs.queues import resolve_dlq
    from jobs.settings import require
    from worker.aws import sqs_client

    settings = _settings(args)
    queue_url = require(settings, "queue_url", "--queue-url")
    dlq_url = resolve_dlq(queue_url, settings.dlq_url)
    result = redrive(sqs_client(), queue_url, dlq_url, args.max, native=not args.no_move_task)
    summary = {
        "method": result.method,
        "moved": result.moved,
        "failed": [{"message_id": key, "error": error} for key, error in result.failed],
        "fallback_reason": result.fallback_reason,
    }
    if json_wanted(args):
        print(json.dumps(summary, sort_keys=True))
    else:
        print(f"moved {plural(result.moved, 'message')} back to {queue_url} ({result.method})")
        for key, error in result.failed:
            print(f"  not moved: {printable(key)}: {printable(error)}")
    return EXIT_FAILED if result.failed else EXIT_OK


def _output_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        name = args.output.removesuffix(".gz")
        return "csv" if name.endswith(".csv") else "jsonl"
    return "table" if sys.stdout.isatty() else "jsonl"


def _results(args: argparse.Namespace) -> int:
    import contextlib
    import io

    from isal import igzip

    from jobs.results import LineWriter, job_objects, write_job_lines
    from worker.aws import s3_client

    settings = _settings(args)
    s3 = s3_client()
    listing = job_objects(s3, settings.output, args.job_id, errors=args.errors)
    if not listing.found:
        print(f"no job {printable(args.job_id)} under {settings.output.uri}", file=sys.stderr)
        return EXIT_INPUT
    fmt = _output_format(args)
    with contextlib.ExitStack() as stack:
        if args.output:
            raw = stack.enter_context(open(args.output, "wb"))
            if args.output.endswith(".gz"):
                raw = stack.enter_context(igzip.GzipFile(fileobj=raw, mode="wb", mtime=0))
            out = stack.enter_context(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        else:
            out = sys.stdout
        writer = LineWriter(out, fmt, args.errors)
        write_job_lines(s3, listing.objects, writer)
        out.flush()
    what = "rejected record" if args.errors else "result"
    where = f" written to {args.output}" if args.output else ""
    done = listing.batches - len(listing.missing)
    note = f"{plural(writer.rows, what)} from {done:,}/{plural(listing.batches, 'batch')}{where}"
    if listing.missing:
        note += (
            f"; {plural(len(listing.missing), 'batch')} without results yet "
            f"(scorer status {printable(args.job_id)})"
        )
    if args.output or sys.stderr.isatty():
        print(note, file=sys.stderr)
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from jobs.report import collect_report, render_html
    from worker.aws import s3_client, sqs_client

    settings = _settings(args)
    dlq_url = _dlq_if_known(settings)
    report = collect_report(s3_client(), sqs_client(), settings.output, args.job_id, dlq_url)
    if report is None:
        print(f"no job {printable(args.job_id)} under {settings.output.uri}", file=sys.stderr)
        return EXIT_INPUT
    path = args.output or f"{args.job_id}.html"
    with open(path, "w", encoding="utf-8") as page:
        page.write(render_html(report))
    if json_wanted(args):
        summary = {
            "job_id": args.job_id,
            "output": path,
            "records_scored": report.scored,
            "records_rejected": report.rejected,
            "labels": dict(report.labels),
            "failed_batches": [failed.batch_id for failed in report.failed],
            "model_versions": sorted(report.model_versions),
        }
        print(json.dumps(summary, sort_keys=True))
        return EXIT_OK
    print(
        f"report of job {printable(args.job_id)} written to {path}: "
        f"{plural(report.scored, 'record')} scored, {report.rejected:,} rejected, "
        f"{plural(len(report.failed), 'batch')} failed"
    )
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from jobs.demo import run_demo

    return run_demo(
        args.input, args.job_id, args.output_dir, args.format, args.id_field, args.text_field
    )


def _dlq_if_known(settings: Any) -> str | None:
    """The DLQ to count failed batches in: SCORER_DLQ_URL, or the queue's redrive policy."""
    from jobs.queues import resolve_dlq

    if settings.dlq_url or settings.queue_url:
        return resolve_dlq(settings.queue_url, settings.dlq_url)
    return None
