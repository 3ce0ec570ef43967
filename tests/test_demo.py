"""`scorer demo`, the newcomer's first command, runs the whole system and says what it did."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCORER = str(Path(sys.executable).parent / "scorer")


@pytest.mark.e2e
def test_demo_scores_every_sample_and_reports_where_results_are(tiny_model_dir: Path) -> None:
    env = {**os.environ, "SCORER_MODEL_URI": str(tiny_model_dir)}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run(
        [SCORER, "demo"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "(embedded moto)" in out
    assert re.search(r"summary: 40 records scored, 1 rejected, 1 message\(s\) dead-lettered", out)
    assert "s3://scorer-demo/results/demo/inline-1.jsonl.gz  (10 lines)" in out
    assert "reason: schema: colour" in out
