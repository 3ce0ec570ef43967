"""`scorer demo`, the newcomer's first command, runs the whole system and says what it did.

`scorer demo --input FILE` on a good file is run by tests/test_docs_commands.py (README)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCORER = str(Path(sys.executable).parent / "scorer")


def run_demo(
    tiny_model_dir: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCORER_MODEL_URI": str(tiny_model_dir)}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [SCORER, "demo", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.e2e
def test_demo_scores_every_sample_and_reports_where_results_are(tiny_model_dir: Path) -> None:
    done = run_demo(tiny_model_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "(embedded moto" in out
    assert re.search(r"summary: 40 records scored, 1 rejected, 1 message dead-lettered", out)
    assert "s3://scorer-demo/results/demo/inline-1.jsonl.gz  (10 lines)" in out
    assert "results/demo/_errors/inline-2.jsonl.gz  (1 line)" in out
    assert "reason: schema: colour" in out
    # The worker's JSON logs stay out of the summary; the lines shown are the files' bytes.
    assert not [line for line in out.splitlines() if line.startswith("{")]
    assert 'errors file line: {"id":"sample-empty","error":"text is empty","index":10}' in out
    assert "absl::InitializeLog" not in done.stderr


@pytest.mark.e2e
def test_demo_refuses_a_file_that_does_not_check_and_sends_nothing(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"id": "a", "text": "fine"}\nnot json\n')
    done = run_demo(tiny_model_dir, "--input", str(source), cwd=tmp_path)
    assert done.returncode == 2
    assert "line 2" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "scored-mine").exists()
