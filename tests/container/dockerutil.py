"""Helpers of the container tests: docker as a subprocess, waits on events, reported figures."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("IMAGE", "scorer:local")
MOTO_IMAGE = os.environ.get("MOTO_IMAGE", "scorer-moto:local")
REQUIRED = os.environ.get("SCORER_CONTAINER_TESTS") == "1"
RESULTS = ROOT / "tests" / "container" / "results"
#: Generous bounds on waits for events (a container starting TensorFlow on a busy machine);
#: never reached when things work. Durations are reported, not asserted.
START_TIMEOUT = 180.0
T = TypeVar("T")


def docker(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client (tests/container/dockerd.sh installs docker.io)"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        return "no Docker daemon answers (tests/container/dockerd.sh starts one, as root)"
    for image in (IMAGE, MOTO_IMAGE):
        if docker("image", "inspect", image, check=False).returncode != 0:
            return f"image {image} is not built (make image)"
    return None


def report(name: str, figures: dict[str, object]) -> None:
    """Print figures and keep them in tests/container/results/ (docs/deployment.md quotes them)."""
    RESULTS.mkdir(exist_ok=True)
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    line = json.dumps({"figure": name, "at": at, **figures})
    print(line)
    with (RESULTS / "figures.jsonl").open("a") as out:
        out.write(line + "\n")


def wait_for(
    check: Callable[[], T], what: str, timeout: float = START_TIMEOUT, interval: float = 0.25
) -> T:
    """Poll `check()` until it returns a true value (a container offers no event to wait on)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@dataclass
class Container:
    """A detached container: its logs, state and exit code, removed at the end."""

    id: str

    def logs(self) -> str:
        result = docker("logs", self.id, check=False)
        return result.stdout + result.stderr

    def log_events(self) -> list[dict[str, object]]:
        events = []
        for line in self.logs().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def logged(self, message: str) -> bool:
        return any(event.get("message") == message for event in self.log_events())

    def state(self) -> dict[str, object]:
        return json.loads(docker("inspect", "-f", "{{json .State}}", self.id).stdout)

    def remove(self) -> None:
        docker("rm", "-f", self.id, check=False)
