"""`scorer local up` / `scorer local env`: a local AWS and a worker, for your own files.

`up` starts moto's server (with the project's fixes) on a fixed port, creates the queue, its
dead-letter queue and the bucket (the compose stack's names), runs the real `scorer work`
against them, and prints the environment that makes `scorer submit`, `status`, `results` and
`report` work from another terminal. The worker's JSON logs become one sentence per batch.
Ctrl-C (or SIGTERM) stops the worker first (it finishes what it holds), then moto.
`env` prints that environment again, for `eval "$(scorer local env)"`.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from worker.errors import EXIT_INTERRUPTED, ConfigError
from worker.log_events import LogEvent
from worker.terminal_text import printable

#: The compose stack's names (docs/deployment.md), so one environment fits both.
QUEUE, DLQ, BUCKET = "scorer-requests", "scorer-requests-dlq", "scorer-results"
DEFAULT_PORT = 5000
#: Seconds Ctrl-C waits for the worker: its drain timeout (25 s by default) and a margin.
STOP_TIMEOUT = 60


@dataclass(frozen=True)
class LocalNames:
    endpoint: str
    queue_url: str
    bucket: str = BUCKET

    @property
    def output_uri(self) -> str:
        return f"s3://{self.bucket}/results"

    def user_env(self) -> dict[str, str]:
        """What producer commands need; PATH too when `scorer` is not on it yet."""
        from worker.local.moto_server import LOCAL_CREDENTIALS

        env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            **LOCAL_CREDENTIALS,
            "SCORER_QUEUE_URL": self.queue_url,
            "SCORER_OUTPUT_URI": self.output_uri,
        }
        bin_dir = str(Path(sys.executable).parent)
        if shutil.which("scorer") != str(Path(bin_dir) / "scorer"):
            env["PATH"] = f"{bin_dir}:$PATH"
        return env

    @property
    def inputs_uri(self) -> str:
        return f"s3://{self.bucket}/inputs"

    def worker_env(self) -> dict[str, str]:
        """The worker reads inputs uploaded under `inputs/` (and, on its own, staged batches)."""
        env = {k: v for k, v in self.user_env().items() if k != "PATH"}
        return {**env, "SCORER_ALLOWED_INPUT_URIS": self.inputs_uri}


def export_line(env: dict[str, str]) -> str:
    """One `export` command a POSIX shell runs as printed ($PATH is left to the shell)."""
    parts = []
    for name, value in env.items():
        quoted = shlex.quote(value)
        if name == "PATH":
            quoted = '"' + value.replace('"', '\\"') + '"'
        parts.append(f"{name}={quoted}")
    return "export " + " ".join(parts)


def sentence(entry: dict[str, Any]) -> str | None:
    """A worker log line as a sentence for the terminal; None for the ones not worth one."""
    message = entry.get("message")
    where = f"{printable(entry.get('job_id', '?'))}/{printable(entry.get('batch_id', '?'))}"
    if message == LogEvent.WORKER_READY:
        return (
            f"worker ready: model {printable(entry.get('model_version'))}, "
            f"{entry.get('scoring_threads')} scoring thread(s). Ctrl-C stops the worker and "
            "the local AWS."
        )
    if message == LogEvent.BATCH_WRITTEN:
        return (
            f"{where}: {entry.get('records_scored', 0):,} scored, "
            f"{entry.get('records_rejected', 0):,} rejected in {entry.get('seconds', 0):.1f} s"
        )
    if message == LogEvent.SENT_TO_DLQ:
        return f"{where}: dead-lettered: {printable(entry.get('reason'))}"
    if message == LogEvent.BATCH_FAILED:
        return f"{where}: failed, will retry: {printable(entry.get('error'))}"
    if entry.get("level") in ("ERROR", "CRITICAL"):
        return f"worker error: {printable(message)} {printable(entry.get('error', ''))}".rstrip()
    return None


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        # As moto's server binds: connections closed a moment ago (TIME_WAIT) do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigError(
                f"--port {port}: cannot listen on {host}:{port}: {error.strerror} (is another "
                "`scorer local up` or moto running? `scorer local env` prints its environment; "
                "or pass --port)"
            ) from None


def find_local_stack(endpoint: str) -> LocalNames:
    """The names of a running `local up` at `endpoint`, or a ConfigError saying to start one."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from worker.local.moto_server import LOCAL_CREDENTIALS

    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name=LOCAL_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    try:
        queue_url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    except (BotoCoreError, ClientError):
        raise ConfigError(
            f"no local stack at {endpoint}: start one with `scorer local up` (--port to match)"
        ) from None
    return LocalNames(endpoint, queue_url)


def print_env(host: str, port: int) -> int:
    names = find_local_stack(f"http://{host}:{port}")
    print(export_line(names.user_env()))
    return 0


def run_local_up(host: str, port: int) -> int:
    from worker.local.moto_server import LOCAL_CREDENTIALS, start_threaded
    from worker.local.stack import create_stack
    from worker.local.worker_process import WorkerProcess

    check_port_free(host, port)
    os.environ.update(LOCAL_CREDENTIALS)  # moto's, never a real account's
    server, endpoint = start_threaded(host, port)
    worker = None
    try:
        stack = create_stack(
            endpoint, visibility_timeout=120, max_receives=5, queue=QUEUE, dlq=DLQ, bucket=BUCKET
        )
        names = LocalNames(endpoint, stack.queue_url)
        _print_welcome(names, port)

        def show(entry: dict[str, Any]) -> None:
            line = sentence(entry)
            if line is not None:
                print(line, flush=True)

        # SIGINT too: a shell starts background jobs with it ignored, and `kill -INT` must work.
        previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            worker = WorkerProcess(names.worker_env(), on_log=show, own_process_group=True)
            code = worker.process.wait()
        except KeyboardInterrupt:
            return _stop(worker)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        for line in worker.stderr_tail:
            print(line, file=sys.stderr)
        print(f"the worker exited ({code}); the local AWS is stopped", file=sys.stderr)
        return code
    finally:
        stop_in_time(server)


def stop_in_time(server: Any, timeout: float = 10.0) -> None:
    """Stop moto's server, without letting a stuck connection hold the process."""
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(timeout)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stop(worker: Any) -> int:
    """One SIGTERM: the worker drains as on ECS. A second Ctrl-C stops it at once."""
    if worker is None:
        return EXIT_INTERRUPTED
    print("stopping: the worker finishes what it holds (Ctrl-C again: at once)", flush=True)
    worker.process.send_signal(signal.SIGTERM)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = worker.process.wait(timeout=STOP_TIMEOUT)
    except (KeyboardInterrupt, subprocess.TimeoutExpired) as reason:
        if isinstance(reason, subprocess.TimeoutExpired):
            print(f"the worker did not stop within {STOP_TIMEOUT} s: killing it", flush=True)
        worker.kill()
        code = EXIT_INTERRUPTED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"stopped (worker exit code {code}); queues and objects are forgotten", flush=True)
    return 0 if code == 0 else code


def _print_welcome(names: LocalNames, port: int) -> None:
    env = names.user_env()
    more = (
        ""
        if port == int(os.environ.get("SCORER_LOCAL_PORT") or DEFAULT_PORT)
        else f" --port {port}"
    )
    print(
        f"local AWS (moto) at {names.endpoint}: queue {QUEUE} (dead letters: {DLQ}), "
        f"bucket s3://{BUCKET} (results under results/; the worker may read inputs/)\n"
        f"\nIn another terminal:\n"
        f'  eval "$({shlex.quote(os.path.join(os.path.dirname(sys.executable), "scorer"))} '
        f'local env{more})"\n'
        f"or paste:\n  {export_line(env)}\n"
        "then:\n"
        "  scorer submit reviews.jsonl --job-id mine\n"
        "  scorer status mine --wait\n"
        "  scorer results mine\n"
        "  scorer report mine --output mine.html\n"
        "\nstarting the worker (loading the model)...",
        flush=True,
    )
