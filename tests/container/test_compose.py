"""The compose stack as a user runs it: `docker-compose up` (moto image built from the same
base with the project's fixes, init, two workers), a job submitted from the host with
`scorer submit` and followed with `scorer status --wait`, then `docker-compose down` with
every worker exiting 0 (read back from Docker's own `die` events)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from container.dockerutil import ROOT, Container, docker, free_port, report, wait_for
from worker.log_events import LogEvent

pytestmark = pytest.mark.container

RECORDS = 6000
BATCH = 100  # 60 messages: more than one worker takes at once (max_in_flight 32)
WORDS = ["great", "awful", "moving", "boring", "brilliant", "dull", "funny", "a mess"]


class Compose:
    """docker-compose on the repository's file, under a project name of its own."""

    def __init__(self, project: str, moto_port: int) -> None:
        self.project = project
        self.env = {**os.environ, "SCORER_MOTO_PORT": str(moto_port)}
        # Debian's docker-compose 1.29, else Docker's own `docker compose` (v2 plugin).
        tool = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
        self.command = [*tool, "-p", project, "-f", str(ROOT / "docker-compose.yml")]

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self.command, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"docker-compose {args}: {result.stdout}{result.stderr}"
        return result

    def containers(self, service: str) -> list[Container]:
        ids = self("ps", "-q", service).stdout.split()
        return [Container(i) for i in ids]


@pytest.fixture
def compose() -> Iterator[Compose]:
    stack = Compose(f"scorer-ci-{uuid.uuid4().hex[:8]}", free_port())
    yield stack
    subprocess.run(
        [*stack.command, "down", "--volumes", "--timeout", "5"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        timeout=300,
    )


def _scorer(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    scorer = str(Path(sys.executable).parent / "scorer")
    return subprocess.run(
        [scorer, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )


def test_compose_up_scores_a_submitted_job_with_two_workers_and_down_exits_0(
    compose: Compose, tmp_path: Path
) -> None:
    started = time.monotonic()
    compose("up", "-d", "--no-build", "worker")  # with moto and init; `serve` is not needed
    workers = compose.containers("worker")
    assert len(workers) == 2, "deploy.replicas: 2"
    for worker in workers:
        wait_for(lambda w=worker: w.logged("worker ready"), "both workers ready")
    up_seconds = time.monotonic() - started

    source = tmp_path / "reviews.jsonl"
    source.write_text(
        "".join(
            json.dumps({"id": f"r{i}", "text": f"{WORDS[i % 8]}, {WORDS[(i * 5) % 8]} film"}) + "\n"
            for i in range(RECORDS)
        )
    )
    endpoint = f"http://127.0.0.1:{compose.env['SCORER_MOTO_PORT']}"
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "SCORER_QUEUE_URL": f"{endpoint}/123456789012/scorer-requests",
        "SCORER_OUTPUT_URI": "s3://scorer-results/results",
    }
    submitted = time.monotonic()
    submit = _scorer(
        env, "submit", str(source), "--job-id", "compose", "--records-per-message", str(BATCH)
    )
    assert submit.returncode == 0, submit.stdout + submit.stderr
    status = _scorer(env, "status", "compose", "--wait", "--timeout", "300", "--interval", "1")
    job_seconds = time.monotonic() - submitted
    assert status.returncode == 0, status.stdout + status.stderr
    per_worker = [
        sum(1 for e in w.log_events() if e.get("message") == LogEvent.MESSAGE_DELETED)
        for w in workers
    ]
    assert sum(per_worker) == RECORDS // BATCH

    since = _docker_clock()
    stopping = time.monotonic()
    compose("down", timeout=400)
    down_seconds = time.monotonic() - stopping
    exits = _exit_codes(compose.project, since)
    report(
        "compose",
        {
            "up_to_both_ready_seconds": round(up_seconds, 1),
            "records": RECORDS,
            "messages": RECORDS // BATCH,
            "submit_to_status_done_seconds": round(job_seconds, 1),
            "messages_per_worker": per_worker,
            "down_seconds": round(down_seconds, 1),
            "exit_codes": exits,
        },
    )
    worker_exits = {name: code for name, code in exits.items() if name.startswith("worker/")}
    assert len(worker_exits) == 2 and set(worker_exits.values()) == {0}, exits


def _docker_clock() -> str:
    """The engine's own time, for `docker events --since` (its clock, not ours)."""
    info: Any = json.loads(docker("info", "--format", "{{json .SystemTime}}").stdout)
    return str(info)


def _exit_codes(project: str, since: str) -> dict[str, int]:
    """{service/container: exit code} of the project's containers that died since `since`."""
    events = docker(
        "events", "--since", since, "--until", _docker_clock(),
        "--filter", "type=container", "--filter", "event=die",
        "--filter", f"label=com.docker.compose.project={project}",
        "--format", "{{json .Actor.Attributes}}",
    ).stdout  # fmt: skip
    codes = {}
    for line in events.splitlines():
        attributes = json.loads(line)
        service = attributes["com.docker.compose.service"]
        codes[f"{service}/{attributes['name']}"] = int(attributes["exitCode"])
    return codes
