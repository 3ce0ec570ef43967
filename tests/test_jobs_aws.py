"""The producer side against moto in-process: sending, manifests, status, the DLQ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Stack

from jobs.dlq import peek, redrive
from jobs.sending import MessageSender, Outgoing
from worker.cli import main


class FailSomeEntriesOnce:
    """A real SQS client whose first SendMessageBatch call fails the chosen entries.

    The failed entries are not sent at all (as SQS does), the others go through for real.
    """

    def __init__(self, client: Any, fail_ids: set[str], sender_fault: bool = False) -> None:
        self._client = client
        self._fail_ids = fail_ids
        self._sender_fault = sender_fault
        self.calls: list[list[str]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([entry["Id"] for entry in Entries])
        failing = [e for e in Entries if e["Id"] in self._fail_ids] if len(self.calls) == 1 else []
        passing = [e for e in Entries if e not in failing]
        response = self._client.send_message_batch(QueueUrl=QueueUrl, Entries=passing)
        response["Failed"] = response.get("Failed", []) + [
            {
                "Id": e["Id"],
                "SenderFault": self._sender_fault,
                "Code": "InternalError",
                "Message": "x",
            }
            for e in failing
        ]
        return response


def drain(stack: Stack, url: str | None = None) -> list[dict[str, Any]]:
    return stack.dlq_messages() if url == stack.dlq_url else _receive_all(stack, url)


def _receive_all(stack: Stack, url: str | None) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while batch := stack.sqs.receive_message(
        QueueUrl=url or stack.queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=60,
        MessageAttributeNames=["All"],
    ).get("Messages", []):
        got.extend(batch)
    return got


def test_failed_entries_are_sent_again_and_each_message_arrives_once(
    inprocess_stack: Stack,
) -> None:
    client = FailSomeEntriesOnce(inprocess_stack.sqs, {"m1", "m3"})
    pauses: list[float] = []
    sender = MessageSender(client, inprocess_stack.queue_url, sleep=pauses.append)
    for i in range(12):
        sender.add(Outgoing(f"b{i}", json.dumps({"n": i})))
    report = sender.close()
    assert report.sent == 12 and report.failed == [] and report.retried_entries == 2
    assert client.calls == [[f"m{i}" for i in range(10)], ["m1", "m3"], ["m0", "m1"]]
    assert len(pauses) == 1 and 0 < pauses[0] <= 0.2
    bodies = sorted(json.loads(m["Body"])["n"] for m in drain(inprocess_stack))
    assert bodies == list(range(12))


def test_entries_failed_by_the_sender_are_reported_not_retried(inprocess_stack: Stack) -> None:
    client = FailSomeEntriesOnce(inprocess_stack.sqs, {"m0"}, sender_fault=True)
    sender = MessageSender(client, inprocess_stack.queue_url, sleep=lambda _: None)
    sender.add(Outgoing("bad", "{}"))
    sender.add(Outgoing("good", "{}"))
    report = sender.close()
    assert report.sent == 1 and [key for key, _ in report.failed] == ["bad"]
    assert len(client.calls) == 1


def test_big_messages_go_fewer_per_call_within_the_request_limit(inprocess_stack: Stack) -> None:
    calls: list[int] = []
    client = FailSomeEntriesOnce(inprocess_stack.sqs, set())
    sender = MessageSender(client, inprocess_stack.queue_url)
    for i in range(5):
        sender.add(Outgoing(f"b{i}", "x" * 400_000))
    report = sender.close()
    calls = [len(ids) for ids in client.calls]
    assert report.sent == 5 and calls == [2, 2, 1]  # moto refuses a call over 1 MiB in all


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def submit_args(stack: Stack, *extra: str) -> list[str]:
    return ["--queue-url", stack.queue_url, "--output-uri", stack.output_uri, *extra]


def test_submit_writes_the_manifest_and_a_rerun_sends_the_same_work(
    inprocess_stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = inprocess_stack
    rows = [{"id": f"r{i}", "text": f"good film number {i} " * 5} for i in range(2500)]
    source = write_jsonl(tmp_path / "reviews.jsonl", rows)
    stack.put("results/j1/_SUCCESS", b"{}")  # left by an earlier run of the same job id
    args = ["submit", str(source), "--job-id", "j1", "--records-per-message", "1000", "--json"]
    assert main([*args, *submit_args(stack, "--max-message-bytes", "65536")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["records"], summary["batches"], summary["messages_sent"]) == (2500, 3, 3)
    assert (summary["inline"], summary["staged"]) == (0, 3)

    manifest = json.loads(
        stack.s3.get_object(Bucket=stack.bucket, Key="results/j1/_manifest.json")["Body"].read()
    )
    assert manifest["kind"] == "submit" and manifest["total_records"] == 2500
    assert [(b["batch_id"], b["records"]) for b in manifest["batches"]] == [
        ("part-00000", 1000),
        ("part-00001", 1000),
        ("part-00002", 500),
    ]
    assert manifest["batches"][0]["source"] == (
        "s3://scorer-test/results/j1/_staging/part-00000.jsonl.gz"
    )
    assert "results/j1/_SUCCESS" not in stack.keys("results/")
    first = sorted(m["Body"] for m in drain(stack))
    etags = {
        k: stack.s3.head_object(Bucket=stack.bucket, Key=k)["ETag"] for k in stack.keys("results/")
    }

    assert main([*args, *submit_args(stack, "--max-message-bytes", "65536")]) == 0
    assert sorted(m["Body"] for m in drain(stack)) == first
    staged = [k for k in stack.keys("results/") if "_staging" in k]
    assert len(staged) == 3
    assert all(stack.s3.head_object(Bucket=stack.bucket, Key=k)["ETag"] == etags[k] for k in staged)


def test_small_batches_go_inline(inprocess_stack: Stack, tmp_path: Path) -> None:
    rows = [{"id": i, "text": "great"} for i in range(25)]
    source = write_jsonl(tmp_path / "small.jsonl", rows)
    assert main(["submit", str(source), "--job-id", "j2", "--records-per-message", "10",
                 *submit_args(inprocess_stack)]) == 0  # fmt: skip
    bodies = [json.loads(m["Body"]) for m in drain(inprocess_stack)]
    assert sorted(b["batch_id"] for b in bodies) == ["part-00000", "part-00001", "part-00002"]
    assert sorted(r["id"] for b in bodies for r in b["records"]) == sorted(
        str(i) for i in range(25)
    )


def test_a_bad_file_sends_nothing_and_names_the_line(
    inprocess_stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"id": "1", "text": "good"}\n{"id": "2", "text": "ok"\n', encoding="utf-8")
    assert main(["submit", str(source), "--job-id", "bad", *submit_args(inprocess_stack)]) == 2
    err = capsys.readouterr().err
    assert "nothing was sent" in err and "line 2 is not valid JSON" in err
    assert inprocess_stack.depth() == 0 and inprocess_stack.keys("results/") == []

    dup = write_jsonl(tmp_path / "dup.jsonl", [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}])
    assert main(["submit", str(dup), "--job-id", "dup", *submit_args(inprocess_stack)]) == 2
    assert "duplicate id 'a' at line 1, line 2" in capsys.readouterr().err
    assert inprocess_stack.depth() == 0


def put_results(stack: Stack, job: str, batch: str, scored: int, rejected: int = 0) -> None:
    stack.s3.put_object(
        Bucket=stack.bucket,
        Key=f"results/{job}/{batch}.jsonl.gz",
        Body=b"",
        Metadata={
            "records-scored": str(scored),
            "records-rejected": str(rejected),
            "model-version": "m",
        },
    )


def status_json(stack: Stack, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main(["status", *args, "--json", *submit_args(stack)])
    return code, json.loads(capsys.readouterr().out)


def test_status_counts_and_writes_success_once_complete(
    inprocess_stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = inprocess_stack
    source = write_jsonl(tmp_path / "s.jsonl", [{"id": i, "text": "good"} for i in range(30)])
    # --batch-size: the old name of --records-per-message, still accepted (3 batches of 10 below).
    main(["submit", str(source), "--job-id", "st", "--batch-size", "10", *submit_args(stack)])
    capsys.readouterr()
    assert main(["status", "nope", *submit_args(stack)]) == 2

    put_results(stack, "st", "part-00000", 9, 1)
    code, status = status_json(stack, capsys, "st")
    assert code == 0 and status["outcome"] == "running"
    assert (status["done"], status["pending"], status["records_scored"]) == (1, 2, 9)
    assert status["queue"]["visible"] == 3 and not status["success_marker"]
    code, status = status_json(
        stack, capsys, "st", "--wait", "--timeout", "0.2", "--interval", "0.05"
    )
    assert code == 3 and status["outcome"] == "timeout"

    # part-00001 was dead-lettered (a DLQ body may lack its batch id: derived then).
    stack.sqs.send_message(
        QueueUrl=stack.dlq_url,
        MessageBody=json.dumps({"version": 1, "job_id": "st", "batch_id": "part-00001"}),
        MessageAttributes={"reason": {"DataType": "String", "StringValue": "NoSuchKey"}},
    )
    put_results(stack, "st", "part-00002", 10)
    code, status = status_json(stack, capsys, "st", "--wait", "--interval", "0.05")
    assert code == 1 and status["outcome"] == "failed"
    assert status["failed"][0]["batch_id"] == "part-00001"
    assert status["failed"][0]["reason"] == "NoSuchKey"
    assert "results/st/_SUCCESS" not in stack.keys("results/")
    assert stack.depth(stack.dlq_url) == 1  # looked at, not consumed

    put_results(stack, "st", "part-00001", 10)
    code, status = status_json(stack, capsys, "st", "--wait", "--interval", "0.05")
    assert code == 0 and status["complete"] and status["success_marker"]
    assert status["records_scored"] == 29 and status["records_rejected"] == 1
    marker = json.loads(
        stack.s3.get_object(Bucket=stack.bucket, Key="results/st/_SUCCESS")["Body"].read()
    )
    assert marker["records_scored"] == 29


def test_dlq_list_consumes_nothing_and_redrive_falls_back_to_send_then_delete(
    inprocess_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = inprocess_stack
    for i in range(13):
        stack.sqs.send_message(
            QueueUrl=stack.dlq_url,
            MessageBody=json.dumps({"version": 1, "job_id": "d", "batch_id": f"b{i}"}),
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": f"reason {i}"},
                "source_message_id": {"DataType": "String", "StringValue": "x"},
                "source_queue_url": {"DataType": "String", "StringValue": stack.queue_url},
                "team": {"DataType": "String", "StringValue": "reviews"},
            },
        )
    assert main(["dlq", "list", "--json", "--queue-url", stack.queue_url]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(item["batch_id"] for item in listed) == sorted(f"b{i}" for i in range(13))
    assert {item["reason"] for item in listed} == {f"reason {i}" for i in range(13)}
    visible = stack.sqs.get_queue_attributes(
        QueueUrl=stack.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert visible == "13"  # all visible again at once

    assert main(["dlq", "redrive", "--max", "3", "--json", "--queue-url", stack.queue_url]) == 0
    assert json.loads(capsys.readouterr().out)["moved"] == 3
    result = redrive(stack.sqs, stack.queue_url, stack.dlq_url)
    assert result.method == "receive-send-delete" and result.fallback_reason
    assert result.moved == 10 and result.failed == []
    moved = drain(stack)
    assert len(moved) == 13 and stack.depth(stack.dlq_url) == 0
    assert all(set(m["MessageAttributes"]) == {"team"} for m in moved)
    assert peek(stack.sqs, stack.dlq_url) == []
