"""Runs the real `scorer work` process and lets callers wait on what it logs (no sleeps).

Used by the end-to-end tests, the benchmarks and the local stack.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SCORER = str(Path(sys.executable).parent / "scorer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WorkerProcess:
    """`scorer work` as ECS runs it: configured by environment, stopped by signals."""

    def __init__(
        self,
        env: dict[str, str],
        cpus: set[int] | None = None,
        args: Sequence[str] = ("work",),
        on_log: Callable[[dict[str, Any]], None] | None = None,
        own_process_group: bool = False,
    ) -> None:
        """`cpus`: run on these CPUs only (benchmarks keep the emulated AWS off them);
        `args`: the subcommand (`scorer serve` runs under the same harness);
        `on_log`: called with each JSON log line, from the reading thread;
        `own_process_group`: a terminal's Ctrl-C reaches only the parent, which decides."""
        self._on_log = on_log
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self.health_port = free_port()
        full_env = {
            **os.environ,
            "SCORER_HEALTH_PORT": str(self.health_port),
            "SCORER_HEALTH_HOST": "127.0.0.1",
            "SCORER_WAIT_TIME_SECONDS": "1",
            **env,
        }
        self.logs: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(
            [SCORER, *args],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=None if cpus is None else (lambda: os.sched_setaffinity(0, cpus)),
            process_group=0 if own_process_group else None,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()

    def _read_stderr(self) -> None:
        """Keep the last lines (a start-up error is one line there); never let the pipe fill."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr_tail.append(line.rstrip("\n"))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.raw.append(line)
                entry = None
                with contextlib.suppress(ValueError):  # a line TensorFlow printed itself
                    entry = json.loads(line)
                    self.logs.append(entry)
                self._changed.notify_all()
            if self._on_log is not None and isinstance(entry, dict):
                self._on_log(entry)
        with self._changed:
            self._changed.notify_all()

    def count(self, message: str) -> int:
        with self._changed:
            return sum(1 for entry in self.logs if entry.get("message") == message)

    def logged_in_order(self, *messages: str) -> bool:
        """Each message was logged, the first of each after the first of the one before."""
        with self._changed:
            order = [entry.get("message") for entry in self.logs]
        positions = [order.index(message) if message in order else -1 for message in messages]
        return -1 not in positions and positions == sorted(positions)

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 60.0, what: str = ""
    ) -> None:
        """Block until predicate() holds, re-checking on each log line the worker prints."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not predicate()):
                    tail = "".join(line[:400] for line in self.raw[-40:])
                    raise AssertionError(f"timed out waiting for {what or predicate}:\n{tail}")
                self._changed.wait(timeout=min(remaining, 1.0))

    def wait_for_log(self, message: str, count: int = 1, timeout: float = 60.0) -> None:
        self.wait_for(lambda: self._count_unlocked(message) >= count, timeout, repr(message))

    def _count_unlocked(self, message: str) -> int:
        return sum(1 for entry in self.logs if entry.get("message") == message)

    def health(self, path: str) -> tuple[int, dict[str, Any]] | None:
        """(status, body) from the health endpoint; None while it does not answer."""
        url = f"http://127.0.0.1:{self.health_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
        except OSError:
            return None

    def terminate(self, timeout: float = 60.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            tail = "".join(self.raw[-15:])
            message = f"worker still running {timeout} s after SIGTERM:\n{tail}"
            raise AssertionError(message) from None

    def wait_exit(self, timeout: float = 60.0) -> int:
        """The exit code, once every line the process printed has been read into `logs`."""
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
