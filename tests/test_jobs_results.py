"""`scorer results` and `scorer report` on a job the real worker scored."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest
from conftest import Stack, StartWorker

from jobs.report import JobReport, render_html
from jobs.status import FailedBatch, JobStatus
from worker.cli import main
from worker.errors import EXIT_INPUT

pytestmark = pytest.mark.e2e


def flags(stack: Stack) -> list[str]:
    return ["--queue-url", stack.queue_url, "--output-uri", stack.output_uri]


@pytest.fixture
def scored_job(
    http_stack: Stack, start_worker: StartWorker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Stack:
    """Job `j`: 2,500 records in 3 batches (order: part-00000, -01, -02), one empty text."""
    rows = [{"id": f"r{i:04d}", "text": "great" if i % 3 else "awful dull"} for i in range(2500)]
    rows[1234]["text"] = " "
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    worker = start_worker()
    submit = [
        "submit",
        str(source),
        "--job-id",
        "j",
        "--records-per-message",
        "1000",
        *flags(http_stack),
    ]
    assert main(submit) == 0
    status = ["status", "j", "--wait", "--interval", "0.2", "--timeout", "120", *flags(http_stack)]
    assert main(status) == 0
    assert worker.terminate() == 0
    capsys.readouterr()
    return http_stack


def test_results_and_report_of_a_scored_job(
    scored_job: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One job, scored once by the real worker, read every way (a worker start is slow)."""
    results_are_the_files_bytes_in_batch_order(scored_job, capsys)
    results_as_csv_file_table_and_errors(scored_job, tmp_path, capsys)
    report_is_one_page_with_counts_histogram_and_batches(scored_job, tmp_path, capsys)


def results_are_the_files_bytes_in_batch_order(
    scored_job: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["results", "j", "--format", "jsonl", *flags(scored_job)]) == 0
    out = capsys.readouterr().out
    expected = b"".join(
        gzip.decompress(
            scored_job.s3.get_object(Bucket=scored_job.bucket, Key=f"results/j/{name}.jsonl.gz")[
                "Body"
            ].read()
        )
        for name in ("part-00000", "part-00001", "part-00002")
    )
    assert out.encode() == expected
    ids = [json.loads(line)["id"] for line in out.splitlines()]
    assert ids == [f"r{i:04d}" for i in range(2500) if i != 1234]


def results_as_csv_file_table_and_errors(
    scored_job: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "j.csv.gz"
    assert main(["results", "j", "--output", str(target), *flags(scored_job)]) == 0
    assert "2,499 results from 3/3 batches written to" in capsys.readouterr().err
    rows = list(csv.DictReader(io.StringIO(gzip.decompress(target.read_bytes()).decode())))
    assert len(rows) == 2499 and set(rows[0]) == {"id", "label", "score", "model_version"}
    assert rows[0]["id"] == "r0000" and rows[0]["model_version"] == "tiny-1"

    assert main(["results", "j", "--format", "table", *flags(scored_job)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["id", "label", "score"] and table[1].split()[0] == "r0000"

    assert main(["results", "j", "--errors", *flags(scored_job)]) == 0
    errors = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert errors == [
        {"batch_id": "part-00001", "id": "r1234", "error": "text is empty", "index": 234}
    ]


def test_results_of_no_such_job(http_stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["results", "nope", *flags(http_stack)]) == EXIT_INPUT
    assert "no job nope under s3://scorer-test/results" in capsys.readouterr().err


def report_is_one_page_with_counts_histogram_and_batches(
    scored_job: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "j.html"
    assert main(["report", "j", "--output", str(page), *flags(scored_job)]) == 0
    summary = json.loads(capsys.readouterr().out)  # not a terminal: JSON
    assert (summary["records_scored"], summary["records_rejected"]) == (2499, 1)
    assert summary["failed_batches"] == [] and summary["model_versions"] == ["tiny-1"]
    text = page.read_text()
    assert '<img alt="histogram of scores" src="data:image/png;base64,iVBORw0KGgo' in text
    assert ">2,499<" in text and "tiny-1" in text and "text is empty" in text
    assert text.count("<tr><td>part-0000") == 3  # the slowest batches, each with its time
    assert "http://" not in text and "https://" not in text  # self-contained: nothing to fetch


def test_report_names_failed_batches_and_escapes_what_users_wrote() -> None:
    status = JobStatus(
        job_id="j",
        kind="submit",
        input="x.jsonl",
        batches=2,
        done=1,
        pending=0,
        failed=[FailedBatch("part-00001", "m-1", "schema: <script>alert(1)</script>")],
        records_expected=2,
        records_scored=1,
        records_rejected=0,
    )
    report = JobReport(job_id="j", output_uri="s3://b/results/j", status=status)
    report.labels["positive"] = 1
    report.histogram["positive"][19] = 1
    text = render_html(report)
    assert "part-00001" in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script>" not in text
    assert "failed" in text
