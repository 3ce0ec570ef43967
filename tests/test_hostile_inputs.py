"""One test (or a few) per hostile input of issue 12, each failing on the code before the fix.

The worker's promise: every message ends as results or in the DLQ with its reason, every
record in the results or the errors file, in bounded memory. Memory itself is measured in
tests/fuzz/test_input_memory.py (RSS in a subprocess); the properties in tests/fuzz/.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import threading
from typing import Any

import pytest
from conftest import MakeProcessor, Stack

from jobs.dlq import parse_dead_letter, peek, redrive
from schemas.layout import result_locations
from schemas.messages import MAX_MESSAGE_BYTES, SQS_MAX_MESSAGE_BYTES
from schemas.uris import parse_s3_uri
from worker.health import HealthState
from worker.inputs import MAX_CSV_COLUMNS, InputError, iter_csv, iter_jsonl
from worker.loop import LoopSettings, Worker
from worker.observability import WorkerMetrics
from worker.processing import BatchProcessor, PoisonMessage, parse_request
from worker.protection import ScaleInProtection
from worker.record_checks import Rejected
from worker.settings import WorkerSettings
from worker.sqs import MAX_REASON_CHARS, Message, SqsQueue, dead_letter_attributes
from worker.terminal_text import printable


@pytest.fixture
def processor(make_processor: MakeProcessor) -> BatchProcessor:
    return make_processor(
        threads=1, max_records_per_message=10_000, max_input_bytes=64 * 1024 * 1024
    )


def body(**fields: object) -> str:
    return json.dumps({"version": 1, "job_id": "job", **fields})


def csv_items(data: bytes, max_row_bytes: int = 1000) -> list[Any]:
    return list(iter_csv(io.BytesIO(data), "id", "text", max_row_bytes))


# -- 1. memory bomb through CSV; the default limits --------------------------------------


def test_a_csv_row_over_the_row_cap_is_one_error_line_and_the_next_row_is_read() -> None:
    data = b"id,text\n1," + b"," * 5000 + b"\n2,fine\n"
    items = csv_items(data)
    assert isinstance(items[0], Rejected) and "over 1000 bytes" in items[0].error
    assert items[1] == (1, {"id": "2", "text": "fine"})


def test_a_quoted_csv_record_over_the_cap_is_skipped_to_its_real_end() -> None:
    long_text = b'"' + b"line\n" * 400 + b'say ""hi""\n' + b'"'
    data = b"id,text\n1," + long_text + b"\n2,fine\n"
    items = csv_items(data)
    assert len(items) == 2 and isinstance(items[0], Rejected)
    assert "lines 2-" in items[0].error
    assert items[1] == (1, {"id": "2", "text": "fine"})


def test_a_csv_header_wider_than_the_column_cap_is_a_reason_for_the_dlq() -> None:
    with pytest.raises(InputError, match=f"over {MAX_CSV_COLUMNS}"):
        csv_items(b"id,text" + b",x" * MAX_CSV_COLUMNS + b"\n", max_row_bytes=1 << 20)


def test_default_limits_fit_a_2_gib_task() -> None:
    fields = WorkerSettings.model_fields
    assert fields["max_input_bytes"].default <= 2 * 1024**3
    max_text = [m.le for m in fields["max_text_bytes"].metadata if hasattr(m, "le")]
    assert max_text and max_text[0] <= 1024 * 1024  # caps lines at 6 MiB, rows at 2.1 MiB


# -- 2. blank lines count toward the per-input limit -------------------------------------


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("jsonl", b'{"id":"a","text":"x"}\n' + b"\n" * 5000),
        ("csv", b"id,text\na,x\n" + b"\r\n" * 5000),
    ],
)
def test_blank_lines_count_toward_the_per_input_limit(
    processor: BatchProcessor, inprocess_stack: Stack, fmt: str, data: bytes
) -> None:
    uri = inprocess_stack.put(f"inputs/blank.{fmt}", data)
    with pytest.raises(InputError, match="more than 1000 lines"):
        processor.process(body(batch_id="b", input={"uri": uri, "format": fmt}))
    assert inprocess_stack.keys() == []


# -- 3. keys of different batches never collide ------------------------------------------


def test_a_batch_named_x_errors_never_overwrites_batch_x_errors(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    output = parse_s3_uri(inprocess_stack.output_uri)
    keys = {loc.key for b in ("x", "x.errors") for loc in result_locations(output, "job", b)}
    assert len(keys) == 4
    processor.process(body(batch_id="x", records=[{"id": "1", "text": "ok"}, {"id": "2"}]))
    processor.process(body(batch_id="x.errors", records=[{"id": "3", "text": "fine"}]))
    errors_of_x = result_locations(output, "job", "x")[1].key
    assert [line["id"] for line in inprocess_stack.read_lines(errors_of_x)] == ["2"]


# -- 4. strict CSV: an unclosed quote, a bare carriage return ----------------------------


def test_an_unclosed_csv_quote_sends_the_input_to_the_dlq_not_into_one_record(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    uri = inprocess_stack.put("inputs/quote.csv", b'id,text\n1,"good\n2,ok\n3,fine\n')
    with pytest.raises(InputError, match="quote opened on line 2 is never closed"):
        processor.process(body(batch_id="q", input={"uri": uri, "format": "csv"}))
    assert inprocess_stack.keys() == []


def test_a_bare_carriage_return_is_an_error_line_not_a_truncated_text() -> None:
    items = csv_items(b"id,text\n1,first half\rsecond half\n2,ok\n")
    assert isinstance(items[0], Rejected) and "carriage return" in items[0].error
    assert items[1] == (1, {"id": "2", "text": "ok"})
    quoted = csv_items(b'id,text\n1,"first\rsecond"\n')
    assert quoted == [(0, {"id": "1", "text": "first\rsecond"})]


def test_text_after_a_closing_quote_is_an_error_line_for_that_record_only() -> None:
    items = csv_items(b'id,text\n1,"quoted"tail\n2,ok\n')
    assert isinstance(items[0], Rejected) and "malformed" in items[0].error
    assert items[1] == (1, {"id": "2", "text": "ok"})


# -- 5. gzip by its magic bytes ----------------------------------------------------------


@pytest.mark.parametrize("key", ["inputs/upper.JSONL.GZ", "inputs/named-plain.jsonl"])
def test_gzip_is_found_by_its_magic_bytes_whatever_the_key(
    processor: BatchProcessor, inprocess_stack: Stack, key: str
) -> None:
    lines = b"".join(json.dumps({"id": f"r{i}", "text": "nice"}).encode() + b"\n" for i in range(5))
    uri = inprocess_stack.put(key, gzip.compress(lines))
    summary = processor.process(body(batch_id="g", input={"uri": uri, "format": "jsonl"}))
    assert (summary.records_scored, summary.records_rejected) == (5, 0)


# -- 6. dead-lettering with the reason, whatever the body --------------------------------


def enforce_sqs_message_size(client: Any) -> None:
    """SQS counts attributes (name, type, value) toward the 1 MiB; moto does not check."""

    def check(params: dict[str, Any], **_: Any) -> None:
        size = len(params["MessageBody"].encode())
        for name, value in params.get("MessageAttributes", {}).items():
            size += len(name) + len(value["DataType"]) + len(value.get("StringValue", ""))
        if size > SQS_MAX_MESSAGE_BYTES:
            raise ValueError(f"InvalidParameterValue: message of {size} bytes is too long")

    client.meta.events.register("before-parameter-build.sqs.SendMessage", check)


def run_worker_until_idle(stack: Stack, processor: BatchProcessor) -> Worker:
    queue = SqsQueue(stack.queue_url, stack.dlq_url)
    enforce_sqs_message_size(queue._client)
    worker = Worker(
        queue=queue,
        processor=processor,
        settings=LoopSettings(
            wait_time_seconds=0,
            visibility_timeout=60,
            heartbeat_fraction=0.5,
            max_in_flight=2,
            retry_delay_seconds=0,
            drain_timeout=10,
            exit_when_idle=True,
        ),
        health=HealthState(stale_after=60),
        metrics=WorkerMetrics("scorer-test"),
        protection=ScaleInProtection(agent_uri=""),
    )
    runner = threading.Thread(target=worker.run)
    runner.start()
    runner.join(timeout=20)
    assert not runner.is_alive()
    return worker


def test_a_poison_message_near_1_mib_reaches_the_dlq_with_its_reason(
    processor: BatchProcessor, inprocess_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = body(batch_id="big", unknown="")
    padding = SQS_MAX_MESSAGE_BYTES - 64 - len(prefix)
    big = body(batch_id="big", unknown="p" * padding)
    assert SQS_MAX_MESSAGE_BYTES - 100 < len(big) <= SQS_MAX_MESSAGE_BYTES
    inprocess_stack.send(big)
    with caplog.at_level(logging.WARNING):
        worker = run_worker_until_idle(inprocess_stack, processor)
    assert worker.counts.get("dead_lettered") == 1
    (letter,) = inprocess_stack.dlq_messages()
    assert letter["Body"] == big  # byte for byte, for a redrive
    assert letter["MessageAttributes"]["reason"]["StringValue"].startswith("schema")


def test_the_dlq_reason_and_its_log_line_are_bounded(
    processor: BatchProcessor, inprocess_stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    inprocess_stack.send(
        body(batch_id="u", input={"uri": "http://" + "x" * 200_000, "format": "csv"})
    )
    with caplog.at_level(logging.WARNING):
        run_worker_until_idle(inprocess_stack, processor)
    (letter,) = inprocess_stack.dlq_messages()
    reason = letter["MessageAttributes"]["reason"]["StringValue"]
    assert reason.startswith("schema: input") and len(reason) <= MAX_REASON_CHARS
    logged = [r for r in caplog.records if r.getMessage() == "sent to DLQ"]
    assert len(logged) == 1 and logged[0].reason == reason  # type: ignore[attr-defined]


def test_a_producer_that_keeps_the_reserve_gets_every_dlq_attribute_in_full() -> None:
    message = Message("m-1", "rh", "x" * MAX_MESSAGE_BYTES, 1, {})
    url = "https://sqs.eu-west-1.amazonaws.com/123456789012/" + "q" * 80
    attributes = dead_letter_attributes(message, "r" * 5000, url)
    assert attributes["reason"]["StringValue"] == "r" * (MAX_REASON_CHARS - 3) + "..."
    assert attributes["source_queue_url"]["StringValue"] == url
    assert attributes["source_message_id"]["StringValue"] == "m-1"


@pytest.mark.parametrize("with_batch_id", [False, True])
def test_any_nesting_depth_is_a_request_or_a_reason(with_batch_id: bool) -> None:
    batch = '"batch_id":"b",' if with_batch_id else ""
    for depth in range(900, 1100):
        nested = "[" * depth + "]" * depth
        text = '{"version":1,"job_id":"j",' + batch + '"records":[' + nested + "]}"
        try:
            parse_request(text, 10)
        except PoisonMessage as error:
            assert "nested too deeply" in str(error)


# -- 7. the producer tools, on any DLQ content -------------------------------------------


NESTED = '{"version":1,"job_id":"j","records":[' + "[" * 100_000 + "]" * 100_000 + "]}"


@pytest.mark.parametrize(
    "text",
    [
        NESTED,
        '{"version":1,"job_id":"j","records":[' + "[" * 991 + "]" * 991 + "]}",
        '{"job_id":' + "9" * 5000 + "}",
        "not json",
    ],
)
def test_parse_dead_letter_never_raises(text: str) -> None:
    letter = parse_dead_letter({"MessageId": "m", "ReceiptHandle": "r", "Body": text})
    assert letter.body == text


def test_dlq_list_and_redrive_survive_hostile_messages_and_escape_them(
    inprocess_stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jobs import cli as jobs_cli
    from worker.cli import main

    stack = inprocess_stack
    escape = "\x1b[2J\x1b[1;1Hfake line\nsecond\u202e"
    stack.sqs.send_message(
        QueueUrl=stack.dlq_url,
        MessageBody=json.dumps({"version": 1, "job_id": escape, "batch_id": "b"}),
        MessageAttributes={"reason": {"DataType": "String", "StringValue": escape}},
    )
    stack.sqs.send_message(QueueUrl=stack.dlq_url, MessageBody=NESTED)
    assert main(["dlq", "list", "--queue-url", stack.queue_url, "--json"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and len(out.splitlines()) == 2
    monkeypatch.setattr(jobs_cli, "json_wanted", lambda args: False)  # as at a terminal
    assert main(["dlq", "list", "--queue-url", stack.queue_url]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and len(out.splitlines()) == 2
    assert "\\x1b[2J" in out
    assert len(peek(stack.sqs, stack.dlq_url)) == 2  # what `scorer status` reads
    assert redrive(stack.sqs, stack.queue_url, stack.dlq_url, native=False).moved == 2


def test_printable_escapes_what_a_terminal_would_obey() -> None:
    assert printable("ok é 日本") == "ok é 日本"
    assert printable("\x1b[31m\r\n\x9b\u2028\u202e\ud800") == (
        "\\x1b[31m\\x0d\\x0a\\x9b\\u2028\\u202e\\ud800"
    )
    assert printable(None) == "None"


# -- 8. smaller: a huge integer id, U+2028 in an id --------------------------------------


def test_a_4301_digit_integer_id_costs_one_error_line_not_the_batch(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    text = (
        '{"version":1,"job_id":"job","batch_id":"n","records":['
        '{"id":"a","text":"good"},{"id":' + "9" * 4301 + ',"text":"x"},{"id":"c","text":"ok"}]}'
    )
    summary = processor.process(text)
    assert (summary.records_scored, summary.records_rejected) == (2, 1)
    (error,) = inprocess_stack.read_lines("results/job/_errors/n.jsonl.gz")
    assert error["index"] == 1 and "4301" in error["error"]


def test_jsonl_line_with_a_4301_digit_id_is_rejected_by_the_checker_not_the_parser() -> None:
    items = list(iter_jsonl(io.BytesIO(b'{"id":' + b"9" * 4301 + b',"text":"t"}\n'), 10_000))
    assert items[0][0] == 0 and not isinstance(items[0], Rejected)


def test_a_line_separator_in_an_id_stays_inside_its_line(
    processor: BatchProcessor, inprocess_stack: Stack
) -> None:
    records = [{"id": "a\u2028b", "text": "good"}, {"id": "a\u2028b", "text": "again"}]
    processor.process(body(batch_id="ls", records=records))
    for key in ("results/job/ls.jsonl.gz", "results/job/_errors/ls.jsonl.gz"):
        raw = gzip.decompress(
            inprocess_stack.s3.get_object(Bucket="scorer-test", Key=key)["Body"].read()
        )
        assert len(raw.decode().splitlines()) == 1, key
        assert json.loads(raw)["id"] == "a\u2028b"
