"""The command blocks of README.md and docs/jobs.md marked runnable run, as written, against
`scorer local up`: the docs cannot drift from the commands.

A block is marked by the HTML comment `<!-- runnable -->` on the line before its opening
fence; `<!-- runnable: serves -->` marks the one that starts the local stack (it runs until
Ctrl-C, so it is started once, in the background, for all the others). Blocks run in a
folder holding the files the docs name (`reviews.jsonl`, ...), with `.venv` linked to this
virtualenv, under `bash -euo pipefail`. README blocks bring their own environment (`eval
"$(scorer local env)"`); docs/jobs.md says to run its blocks after that, so they get it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import boto3
import pytest

from worker.local.worker_process import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- runnable(?P<kind>: serves)? -->\n```sh\n(?P<body>.*?)```", re.DOTALL)


def runnable_blocks(doc: str) -> list[tuple[str, str]]:
    """(kind, body) of each marked block, in order; kind is 'serves' or ''."""
    text = (ROOT / doc).read_text(encoding="utf-8")
    return [((m["kind"] or "").lstrip(": "), m["body"]) for m in BLOCK.finditer(text)]


def test_the_docs_mark_the_walk_through_as_runnable() -> None:
    readme = runnable_blocks("README.md")
    assert [kind for kind, _ in readme].count("serves") == 1
    bodies = "\n".join(body for _, body in readme)
    for command in (
        "scorer demo --input",
        "scorer local up",
        "scorer submit",
        "scorer status",
        "scorer results",
        "scorer report",
    ):
        assert command in bodies
    assert len(runnable_blocks("docs/jobs.md")) >= 6


@dataclass
class LocalUp:
    folder: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith("worker ready"):
                self.ready.set()
        self.ready.set()


def write_inputs(folder: Path) -> None:
    """The files the docs name, made from the bundled sample reviews (plus one empty text)."""
    text = resources.files("worker").joinpath("data/sample_reviews.jsonl").read_text("utf-8")
    rows = [{"id": r["id"], "text": r["text"]} for r in map(json.loads, text.splitlines())]
    lines = "".join(json.dumps(row) + "\n" for row in [*rows, {"id": "blank", "text": " "}])
    (folder / "reviews.jsonl").write_text(lines)
    (folder / "reviews.jsonl.gz").write_bytes(gzip.compress(lines.encode()))


def put_s3_inputs(env: dict[str, str]) -> None:
    """`s3://my-bucket/...`, which docs/jobs.md's S3 examples read."""
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    s3.create_bucket(Bucket="my-bucket")
    body = 'review_id,body\nc1,A fine film.\nc2,"Dull, long, and loud."\n'
    s3.put_object(Bucket="my-bucket", Key="exports/reviews.csv", Body=body.encode())
    s3.put_object(
        Bucket="my-bucket",
        Key="reviews/2026-11.jsonl",
        Body=b'{"id": "h1", "text": "An old favourite."}\n',
    )


@pytest.fixture(scope="module")
def local_up(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalUp]:
    folder = tmp_path_factory.mktemp("docs")
    (folder / ".venv").symlink_to(Path(sys.prefix))
    write_inputs(folder)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SCORER_", "AWS_")) and k != "PYTEST_CURRENT_TEST"
    }
    env.update(SCORER_MODEL_URI=str(tiny_model_dir), SCORER_LOCAL_PORT=str(free_port()))
    [serves] = [body for kind, body in runnable_blocks("README.md") if kind == "serves"]
    process = subprocess.Popen(
        shlex.split(serves, comments=True),
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = LocalUp(folder, env, process)
    threading.Thread(target=stack.read, daemon=True).start()
    try:
        assert stack.ready.wait(timeout=180) and process.poll() is None, "".join(stack.output)
        yield stack
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def run_block(stack: LocalUp, body: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", body],
        cwd=stack.folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{body}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr


def test_readme_blocks_run_as_written(local_up: LocalUp) -> None:
    for kind, body in runnable_blocks("README.md"):
        if kind != "serves":
            run_block(local_up, body, local_up.env)
    # `demo --input`: every record in the results or the errors file, and the report.
    scored = local_up.folder / "scored-mine"
    results = (scored / "results.jsonl").read_text().splitlines()
    assert len(results) == 40 and json.loads(results[0])["model_version"] == "tiny-1"
    assert json.loads((scored / "errors.jsonl").read_text()) == {
        "batch_id": "part-00000",
        "id": "blank",
        "error": "text is empty",
        "index": 40,
    }
    assert "data:image/png;base64," in (scored / "report.html").read_text()
    assert (local_up.folder / "mine.html").is_file()  # `report` on the local stack
    header, first = (local_up.folder / "mine.csv").read_text().splitlines()[:2]
    assert header == "id,label,score,model_version" and first.startswith("sample-")


def test_jobs_doc_blocks_run_as_written(local_up: LocalUp) -> None:
    exported = subprocess.run(
        [str(local_up.folder / ".venv" / "bin" / "scorer"), "local", "env"],
        env=local_up.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = {**local_up.env}
    for name, value in re.findall(r"(\w+)=(\S+)", exported.removeprefix("export ")):
        env[name] = value.strip('"').replace("$PATH", local_up.env["PATH"])
    put_s3_inputs(env)
    for _, body in runnable_blocks("docs/jobs.md"):
        run_block(local_up, body, env)
    assert (local_up.folder / "report.html").is_file()


def test_local_up_stops_cleanly_on_ctrl_c(local_up: LocalUp) -> None:
    local_up.process.send_signal(signal.SIGINT)
    try:
        code = local_up.process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        code = None
    assert code == 0, "".join(local_up.output)
    text = "".join(local_up.output)
    assert "stopping: the worker finishes what it holds" in text
    assert "stopped (worker exit code 0)" in text
    assert "mine/part-00000: 40 scored, 1 rejected" in text  # a sentence per batch
