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
import time
from importlib import resources
from typing import Any

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


def read_results(s3: Any, prefix: str) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    objects: dict[str, list[dict[str, Any]]] = {}
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
        data = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        lines = gzip.decompress(data).decode().splitlines()
        objects[item["Key"]] = [json.loads(line) for line in lines]
    return objects, sorted(objects)


def run_demo() -> int:
    from worker.aws import s3_client, sqs_client
    from worker.local.stack import create_stack
    from worker.observability import configure_logging
    from worker.service import run_worker
    from worker.settings import WorkerSettings, load_settings

    # The demo prints a summary; the worker's JSON logs and EMF metrics stay quiet unless asked.
    configure_logging(os.environ.get("SCORER_LOG_LEVEL", "WARNING"))
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    server = None if os.environ.get("AWS_ENDPOINT_URL") else start_embedded_moto()
    print(
        f"AWS endpoint: {os.environ['AWS_ENDPOINT_URL']}" + (" (embedded moto)" if server else "")
    )
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
    queue_url, dlq_url = stack.queue_url, stack.dlq_url
    samples = load_samples()
    started = time.perf_counter()
    messages = submit_samples(sqs, s3, queue_url, samples)
    print(f"sent {messages} messages ({len(samples)} sample reviews) to {queue_url}")

    settings = load_settings(
        WorkerSettings,
        queue_url=queue_url,
        output_uri=f"s3://{BUCKET}/results",
        allowed_input_uris=[f"s3://{BUCKET}/inputs"],
        health_port=0,
        health_host="127.0.0.1",
        wait_time_seconds=1,
        exit_when_idle=True,
    )
    code = run_worker(settings)
    seconds = time.perf_counter() - started

    objects, keys = read_results(s3, f"results/{JOB_ID}/")
    labels = {row["id"]: row["label"] for row in samples}
    results = [row for key in keys if "/_errors/" not in key for row in objects[key]]
    errors = [row for key in keys if "/_errors/" in key for row in objects[key]]
    correct = sum((row["label"] == "positive") == (labels.get(row["id"]) == 1) for row in results)
    dead = sqs.receive_message(
        QueueUrl=dlq_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    ).get("Messages", [])

    print(f"\nresults in s3://{BUCKET}/results/{JOB_ID}/:")
    for key in keys:
        print(f"  s3://{BUCKET}/{key}  ({len(objects[key])} lines)")
    print("\nfirst results:")
    for row in results[:4]:
        print("  " + json.dumps(row))
    for row in errors:
        print(f"errors file line: {json.dumps(row)}")
    for message in dead:
        reason = message.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
        print(f"dead-letter queue: 1 message, reason: {reason}")
    model_version = results[0]["model_version"] if results else "?"
    print(
        f"\nsummary: {len(results)} records scored, {len(errors)} rejected, "
        f"{len(dead)} message(s) dead-lettered, {seconds:.1f} s from first send to last result; "
        f"model {model_version}: {correct}/{len(results)} labels agree with the samples' labels"
    )
    if server is not None:
        server.stop()
    return code
