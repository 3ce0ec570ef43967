"""What a user can get wrong ends in one line naming the setting, and a documented exit code."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from worker.cli import main
from worker.errors import EXIT_CONFIG, EXIT_INPUT

SCORER = str(Path(sys.executable).parent / "scorer")
GOOD = {
    "SCORER_QUEUE_URL": "http://127.0.0.1:9/123456789012/q",
    "SCORER_OUTPUT_URI": "s3://scorer-out/results",
    "SCORER_HEALTH_HOST": "127.0.0.1",
    "SCORER_HEALTH_PORT": "0",
}


def run_work(tiny_model_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **GOOD, "SCORER_MODEL_URI": str(tiny_model_dir), **env}
    return subprocess.run(
        [SCORER, "work"], env=full, capture_output=True, text=True, timeout=120, check=False
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SCORER_LOG_LEVEL": "LOUD"}, "SCORER_LOG_LEVEL='LOUD' is not a log level"),
        ({"AWS_MAX_ATTEMPTS": "abc"}, "AWS_MAX_ATTEMPTS='abc': must be a whole number"),
        (
            {"SCORER_TEXTS_PER_MODEL_CALL": "lots"},
            "SCORER_TEXTS_PER_MODEL_CALL='lots': Input should be a valid integer",
        ),
        ({"SCORER_QUEUE_URL": ""}, "SCORER_QUEUE_URL='': must be an SQS queue URL"),
        (
            {"SCORER_MODEL_URI": "/nonexistent"},
            "SCORER_MODEL_URI: /nonexistent: no saved_model.pb",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    tiny_model_dir: Path, env: dict[str, str], expected: str
) -> None:
    done = run_work(tiny_model_dir, **env)
    assert done.returncode == EXIT_CONFIG
    assert one_line(done).startswith("scorer work: ")
    assert expected in one_line(done)


def test_a_health_port_in_use_names_the_setting(tiny_model_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_work(tiny_model_dir, SCORER_HEALTH_PORT=str(port))
    assert done.returncode == EXIT_CONFIG
    assert f"cannot serve /healthz on 127.0.0.1:{port}" in one_line(done)
    assert "SCORER_HEALTH_PORT" in one_line(done)


def test_producer_commands_name_a_missing_setting(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "job-1"]) == EXIT_CONFIG
    assert capsys.readouterr().err.strip() == (
        "scorer status: missing configuration: set SCORER_OUTPUT_URI or pass --output-uri"
    )


def score(
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    stdin: bytes = b"",
) -> tuple[int, list[dict[str, object]]]:
    monkeypatch.setenv("SCORER_MODEL_URI", str(tiny_model_dir))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(["score", *args])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_score_rejects_empty_text_as_the_worker_does(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = score(tiny_model_dir, monkeypatch, capsys, "", "a great film")
    assert code == EXIT_INPUT
    assert lines[0] == {"id": "1", "error": "text is empty", "index": 0}
    assert lines[1]["id"] == "2" and lines[1]["label"] in ("positive", "negative")


def test_score_jsonl_bad_lines_become_error_lines_in_order(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = b'{"id": "a", "text": "good"}\nnot json\n{"id": "b"}\n\n{"id": "c", "text": "bad"}\n'
    code, lines = score(tiny_model_dir, monkeypatch, capsys, "--jsonl", stdin=stdin)
    assert code == EXIT_INPUT
    assert [line.get("id") for line in lines] == ["a", None, "b", "c"]
    assert lines[1]["index"] == 1 and "not valid JSON" in str(lines[1]["error"])
    assert lines[2] == {"id": "b", "error": "'text' is missing", "index": 2}
    assert set(lines[3]) == {"id", "label", "score", "model_version"}


def test_score_prints_the_byte_format_of_result_files(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCORER_MODEL_URI", str(tiny_model_dir))
    assert main(["score", "a great film"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('{"id":"1","label":"') and '"model_version":"tiny-1"}' in line
    assert " " not in line.replace("great film", "")
