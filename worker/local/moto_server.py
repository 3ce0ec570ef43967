"""moto's HTTP server with the project's fixes: in a thread, or as a process of its own.

`python -m worker.local.moto_server --host 0.0.0.0 --port 5000` is the compose stack's AWS; the
benchmarks run it as a process pinned to its own CPUs; the demo and the tests start it in a
thread. Every way applies `moto_fixes.apply_all()` first, so all see the same moto.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from worker.local.moto_fixes import apply_all
from worker.local.worker_process import free_port

LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""What boto3 needs to sign requests to moto (it accepts any credentials)."""


def start_threaded(host: str = "127.0.0.1", port: int = 0) -> tuple[Any, str]:
    """(server, endpoint URL): moto in a thread of this process; `server.stop()` ends it."""
    from moto.server import ThreadedMotoServer

    apply_all()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request, unread
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def wait_until_up(endpoint: str, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """Poll moto's own API until it answers (a process start has no other event to wait on)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or (process is not None and process.poll() is not None):
                raise RuntimeError(f"moto's server did not start at {endpoint}") from None
            time.sleep(0.05)


@contextlib.contextmanager
def moto_process(cpus: set[int] | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """moto's server as a child process (on `cpus` only when given); yields its endpoint."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "worker.local.moto_server", "--host", host, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=None if cpus is None else (lambda: os.sched_setaffinity(0, cpus)),
    )
    endpoint = f"http://{host}:{port}"
    try:
        wait_until_up(endpoint, process, timeout=30)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto's server with scorer's fixes")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    apply_all()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from moto.server import main as moto_main

    moto_main(["-H", args.host, "-p", str(args.port)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
