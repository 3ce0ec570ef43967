"""`scorer demo`: the whole system on a laptop, no AWS account.

Starts moto's server on 127.0.0.1 (unless AWS_ENDPOINT_URL already names one), creates the
queue, its DLQ and the bucket, submits the bundled sample reviews as inline messages and as
S3 JSON Lines / CSV inputs (plus one bad record and one poison message, to show where they
end), runs the real worker until the queue is empty, and prints what it wrote.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import sys
import time
from importlib import resources
from typing import Any

from schemas.layout import ERRORS_FOLDER
from worker.terminal_text import printable

QUEUE, DLQ, BUCKET = "scorer-demo", "scorer-demo-dlq", "scorer-demo"
JOB_ID = "demo"


def load_samples() -> list[dict[str, Any]]:
    text = resources.files("worker").joinpath("data/sample_reviews.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def start_embedded_moto() -> Any:
    """moto's server (with the project's fixes) in a thread; boto3 finds it by environment."""
    from worker.local.moto_server import LOCAL_CREDENTIALS, start_threaded

    server, endpoint = start_threaded()
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    return server


def submit_samples(sqs: Any, s3: Any, queue_url: str, samples: list[dict[str, Any]]) -> int:
    """Four ways in: two inline batches, one JSON Lines object, one CSV object. Returns messages."""
    records = [{"id": row["id"], "text": row["text"]} for row in samples]
    quarter = len(records) // 4
    inline_a, inline_b = records[:quarter], records[quarter : 2 * quarter]
    as_jsonl, as_csv = records[2 * quarter : 3 * quarter], records[3 * quarter :]
    inline_b = [*inline_b, {"id": "sample-empty", "text": "   "}]  # lands in the errors file

    jsonl = "".join(json.dumps(r) + "\n" for r in as_jsonl).encode()
    s3.put_object(Bucket=BUCKET, Key="inputs/reviews-3.jsonl.gz", Body=gzip.compress(jsonl))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["id", "text"])
    writer.writeheader()
    writer.writerows(as_csv)
    s3.put_object(Bucket=BUCKET, Key="inputs/reviews-4.csv", Body=buffer.getvalue().encode())

    bodies = [
        {"version": 1, "job_id": JOB_ID, "batch_id": "inline-1", "records": inline_a},
        {"version": 1, "job_id": JOB_ID, "batch_id": "inline-2", "records": inline_b},
        {
            "version": 1,
            "job_id": JOB_ID,
            "batch_id": "bulk-jsonl",
            "input": {"uri": f"s3://{BUCKET}/inputs/reviews-3.jsonl.gz", "format": "jsonl"},
        },
        {
            "version": 1,
            "job_id": JOB_ID,
            "batch_id": "bulk-csv",
            "input": {"uri": f"s3://{BUCKET}/inputs/reviews-4.csv", "format": "csv"},
        },
        {"version": 1, "job_id": JOB_ID, "records": [{"id": "x", "text": "y"}], "colour": "red"},
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    return len(bodies)


def quiet_logging() -> None:
    """The demo prints for a person: the worker's logs only when SCORER_LOG_LEVEL asks for them
    (as JSON), else only its errors, as sentences on stderr, never inside the summary."""
    from jobs.output import configure_sentences
    from worker.observability import configure_logging, log_level_from_env

    if os.environ.get("SCORER_LOG_LEVEL"):
        configure_logging(log_level_from_env())
    else:
        configure_sentences("ERROR")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")


def run_demo(
    input_path: str | None = None,
    job_id: str = JOB_ID,
    output_dir: str | None = None,
    fmt: str | None = None,
    id_field: str = "id",
    text_field: str = "text",
) -> int:
    """The bundled samples (no `input_path`), or the user's own file, end to end."""
    from worker.aws import s3_client, sqs_client
    from worker.local.stack import create_stack

    quiet_logging()
    server = None if os.environ.get("AWS_ENDPOINT_URL") else start_embedded_moto()
    try:
        where = " (embedded moto: gone when the demo ends)" if server else ""
        print(f"AWS endpoint: {os.environ['AWS_ENDPOINT_URL']}{where}", flush=True)
        sqs, s3 = sqs_client(), s3_client()
        stack = create_stack(
            os.environ["AWS_ENDPOINT_URL"],
            visibility_timeout=60,
            max_receives=3,
            make_client=lambda service: sqs if service == "sqs" else s3,
            queue=QUEUE,
            dlq=DLQ,
            bucket=BUCKET,
        )
        if input_path is None:
            return _samples_demo(stack)
        return _file_demo(stack, input_path, job_id, output_dir, fmt, id_field, text_field)
    finally:
        if server is not None:
            server.stop()


def _score_until_idle(queue_url: str) -> int:
    """The real worker, in this process, until the queue is empty."""
    from worker.quiet_tensorflow import import_tensorflow_quietly
    from worker.service import run_worker
    from worker.settings import WorkerSettings, load_settings

    settings = load_settings(
        WorkerSettings,
        queue_url=queue_url,
        output_uri=f"s3://{BUCKET}/results",
        # The samples' inputs; the staging area of `scorer submit` the worker allows itself.
        allowed_input_uris=[f"s3://{BUCKET}/inputs"],
        health_port=0,
        health_host="127.0.0.1",
        wait_time_seconds=1,
        exit_when_idle=True,
    )
    print("scoring: the worker loads the model, then empties the queue...", flush=True)
    import_tensorflow_quietly()
    return run_worker(settings)


def _samples_demo(stack: Any) -> int:
    from jobs.output import plural
    from jobs.results import job_objects, object_lines
    from schemas.uris import parse_s3_uri

    samples = load_samples()
    started = time.perf_counter()
    messages = submit_samples(stack.sqs, stack.s3, stack.queue_url, samples)
    print(
        f"sent {plural(messages, 'message')} ({len(samples)} sample reviews: 2 inline batches, "
        "a JSON Lines and a CSV object in S3, 1 message that breaks the contract)"
    )
    code = _score_until_idle(stack.queue_url)
    seconds = time.perf_counter() - started

    output = parse_s3_uri(f"s3://{BUCKET}/results")
    labels = {row["id"]: row["label"] for row in samples}
    lines: dict[str, list[bytes]] = {}
    for errors in (False, True):
        for _, location in job_objects(stack.s3, output, JOB_ID, errors=errors).objects:
            lines[location.key] = list(object_lines(stack.s3, location))
    keys = sorted(lines)
    results = [
        json.loads(line) for key in keys if f"/{ERRORS_FOLDER}/" not in key for line in lines[key]
    ]
    errors = [line for key in keys if f"/{ERRORS_FOLDER}/" in key for line in lines[key]]
    correct = sum((row["label"] == "positive") == (labels.get(row["id"]) == 1) for row in results)
    dead = stack.sqs.receive_message(
        QueueUrl=stack.dlq_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    ).get("Messages", [])

    print(f"\nresults in s3://{BUCKET}/results/{JOB_ID}/:")
    for key in keys:
        print(f"  s3://{BUCKET}/{key}  ({plural(len(lines[key]), 'line')})")
    print("\nfirst results (the files' own lines):")
    first = next(key for key in keys if f"/{ERRORS_FOLDER}/" not in key)
    for line in lines[first][:4]:
        print("  " + line.decode())
    for line in errors:
        print(f"errors file line: {line.decode()}")
    for message in dead:
        reason = message.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
        print(f"dead-letter queue: 1 message, reason: {printable(reason)}")
    model_version = results[0]["model_version"] if results else "?"
    print(
        f"\nsummary: {plural(len(results), 'record')} scored, {len(errors)} rejected, "
        f"{plural(len(dead), 'message')} dead-lettered, {seconds:.1f} s from first send to last "
        f"result; model {model_version}: {correct}/{len(results)} labels agree with the samples' "
        "labels"
    )
    print("next: your own file, `scorer demo --input FILE` (README: Your own file)")
    return code


def _file_demo(
    stack: Any,
    input_path: str,
    job_id: str,
    output_dir: str | None,
    fmt: str | None,
    id_field: str,
    text_field: str,
) -> int:
    """The user's file through the real `scorer submit`, worker, `results` and `report`."""
    from pathlib import Path

    from jobs.output import plural
    from jobs.results import LineWriter, job_objects, write_job_lines
    from jobs.status import StatusReader
    from jobs.submit import SubmitPlan, describe, run_submit
    from schemas.uris import parse_s3_uri
    from worker.errors import EXIT_FAILED, EXIT_INPUT

    output = parse_s3_uri(f"s3://{BUCKET}/results")
    plan = SubmitPlan(
        source=input_path,
        job_id=job_id,
        queue_url=stack.queue_url,
        output=output,
        staging=None,
        fmt=fmt,
        id_field=id_field,
        text_field=text_field,
    )
    started = time.perf_counter()
    submitted = run_submit(plan)
    describe(plan, submitted, False, sys.stderr if submitted.errors else sys.stdout)
    if submitted.errors:
        return EXIT_INPUT
    code = _score_until_idle(stack.queue_url)
    seconds = time.perf_counter() - started

    from jobs.manifest_io import read_manifest

    manifest = read_manifest(stack.s3, output, job_id)
    assert manifest is not None
    status = StatusReader(stack.s3, stack.sqs, output, None, stack.dlq_url).read(manifest)
    folder = Path(output_dir or f"scored-{job_id}")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for errors, name in ((False, "results.jsonl"), (True, "errors.jsonl")):
        listing = job_objects(stack.s3, output, job_id, errors=errors)
        with open(folder / name, "w", encoding="utf-8", newline="") as out:
            writer = LineWriter(out, "jsonl", errors)
            write_job_lines(stack.s3, listing.objects, writer)
        written.append(f"{folder / name} ({plural(writer.rows, 'line')})")
    print("\nfirst results:")
    preview = LineWriter(sys.stdout, "table", False)
    for line in _first_lines(stack.s3, job_objects(stack.s3, output, job_id, False).objects, 5):
        preview.write("", line)
    written.append(_write_report(stack, output, job_id, folder))
    print(
        f"\nsummary: {plural(status.records_scored, 'record')} scored, "
        f"{status.records_rejected:,} rejected, {plural(len(status.failed), 'batch')} failed "
        f"(dead-lettered), {seconds:.1f} s from submit to last result"
    )
    for failed in status.failed:
        print(f"  failed: {printable(failed.batch_id)}: {printable(failed.reason)}")
    print("written: " + ", ".join(written))
    return code or (EXIT_FAILED if status.failed else 0)


def _first_lines(s3: Any, objects: list[Any], count: int) -> list[bytes]:
    from jobs.results import object_lines

    lines: list[bytes] = []
    for _, location in objects:
        for line in object_lines(s3, location):
            lines.append(line)
            if len(lines) == count:
                return lines
    return lines


def _write_report(stack: Any, output: Any, job_id: str, folder: Any) -> str:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "no report (it needs matplotlib: pip install 'scorer[report]')"
    from jobs.report import collect_report, render_html

    report = collect_report(stack.s3, stack.sqs, output, job_id, stack.dlq_url)
    assert report is not None
    path = folder / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return str(path)
