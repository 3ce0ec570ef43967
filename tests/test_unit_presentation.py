"""What commands print for people: plurals, escaped user text, worker logs as sentences."""

from __future__ import annotations

import io
import os
import subprocess
import sys

from jobs.output import plural
from jobs.report import reason_kind
from jobs.results import LineWriter, batch_ids_from_listing
from worker.local.up import LocalNames, export_line, sentence
from worker.terminal_text import printable


def test_plurals() -> None:
    assert plural(1, "batch") == "1 batch"
    assert plural(3, "batch") == "3 batches"
    assert plural(1, "message") == "1 message"
    assert plural(0, "message") == "0 messages"
    assert plural(1_000, "record") == "1,000 records"


def test_user_text_cannot_drive_the_terminal() -> None:
    assert printable("job\x1b[2J\nnext") == "job\\x1b[2J\\x0anext"
    assert printable("x" * 500, limit=10) == "x" * 9 + "…"
    assert printable("ordinary id-1.2") == "ordinary id-1.2"


def test_worker_logs_become_one_sentence_per_batch() -> None:
    written = {
        "message": "batch written",
        "job_id": "mine",
        "batch_id": "part-00000",
        "records_scored": 1000,
        "records_rejected": 2,
        "seconds": 1.25,
    }
    assert sentence(written) == "mine/part-00000: 1,000 scored, 2 rejected in 1.2 s"
    dead = {"message": "sent to DLQ", "job_id": "j", "batch_id": "b", "reason": "bad\x1b]0;x"}
    assert sentence(dead) == "j/b: dead-lettered: bad\\x1b]0;x"
    assert sentence({"message": "message received", "level": "INFO"}) is None


def test_the_printed_environment_runs_in_a_shell() -> None:
    names = LocalNames(
        "http://127.0.0.1:5000", "http://127.0.0.1:5000/123456789012/scorer-requests"
    )
    line = export_line({**names.user_env(), "PATH": "/opt/venv/bin:$PATH"})
    script = f"{line}; echo $SCORER_OUTPUT_URI; echo $PATH"
    out = subprocess.run(
        ["sh", "-c", script], env={"PATH": os.defpath}, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["s3://scorer-results/results", f"/opt/venv/bin:{os.defpath}"]


def test_results_order_and_table() -> None:
    names = ["b.jsonl.gz", "a.jsonl.gz", "_manifest.json", "_SUCCESS"]
    assert batch_ids_from_listing(names) == ["a", "b"]
    out = io.StringIO()
    writer = LineWriter(out, "table", errors=False)
    writer.write("a", b'{"id":"r1","label":"positive","score":0.5,"model_version":"m"}')
    header, row = out.getvalue().splitlines()
    assert header.split() == ["id", "label", "score"]
    assert row.split() == ["r1", "positive", "0.500000"]


def test_rejection_reasons_group_without_their_numbers() -> None:
    assert reason_kind("line 7 is not valid JSON") == reason_kind("line 12 is not valid JSON")


def test_piped_results_end_quietly_when_the_reader_stops() -> None:
    code = (
        "import sys; from worker.errors import run_command; import argparse\n"
        "def handler(args):\n"
        "    for i in range(100000): print('x' * 80)\n"
        "sys.exit(run_command(argparse.Namespace(command='results'), handler))\n"
    )
    done = subprocess.run(
        f'{sys.executable} -c "{code}" | head -1', shell=True, capture_output=True, text=True
    )
    assert done.stdout == "x" * 80 + "\n" and done.stderr == ""
