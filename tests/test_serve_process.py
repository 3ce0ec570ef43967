"""The real `scorer serve` process: ready after the model loads, graceful on SIGTERM.

SIGTERM must answer the requests in flight and refuse new connections, then exit 0; a second
signal exits at once; a model that cannot load ends the process with 1. Waits are on the
process's own log lines, never on sleeps.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from worker.local.worker_process import WorkerProcess, free_port
from worker.log_events import LogEvent

WAIT = 60.0


@pytest.fixture
def serve(tiny_model_dir: Path) -> Iterator[WorkerProcess]:
    port = free_port()
    process = WorkerProcess(
        {"SCORER_MODEL_URI": str(tiny_model_dir), "SCORER_SERVE_DRAIN_TIMEOUT": "30"},
        args=("serve", "--host", "127.0.0.1", "--port", str(port)),
    )
    process.port = port  # type: ignore[attr-defined]
    process.wait_for_log("server ready", timeout=WAIT)
    yield process
    process.close()


def _post(port: int, body: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        connection.request("POST", "/v1/score", json.dumps(body).encode())
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _start_request(port: int, body: bytes, sent: int) -> socket.socket:
    """A request whose headers and first `sent` body bytes are on the wire: in flight."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    head = (
        f"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    sock.sendall(head + body[:sent])
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    return response.status, json.loads(response.read())


def test_serve_scores_a_request_over_http(serve: WorkerProcess) -> None:
    status, body = _post(serve.port, {"records": [{"id": "a", "text": "great"}]})  # type: ignore[attr-defined]
    assert status == 200
    assert body["results"] == [
        {
            "id": "a",
            "label": "positive",
            "score": body["results"][0]["score"],
            "model_version": "tiny-1",
        }
    ]


def test_sigterm_answers_the_request_in_flight_refuses_new_ones_and_exits_0(
    serve: WorkerProcess,
) -> None:
    port = serve.port  # type: ignore[attr-defined]
    body = json.dumps({"records": [{"id": "in-flight", "text": "a wonderful film"}]}).encode()
    in_flight = _start_request(port, body, sent=10)
    serve.process.send_signal(signal.SIGTERM)
    # Logged once the listening socket is closed and only in-flight connections remain.
    serve.wait_for_log("Waiting for connections to close. (CTRL+C to force quit)", timeout=WAIT)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=WAIT).close()
    assert serve.process.poll() is None
    in_flight.sendall(body[10:])
    status, answer = _read_response(in_flight)
    assert status == 200 and answer["results"][0]["id"] == "in-flight"
    assert answer["results"][0]["label"] == "positive"
    assert serve.wait_exit(timeout=WAIT) == 0
    stopped = next(entry for entry in serve.logs if entry.get("message") == LogEvent.STOPPED)
    assert stopped["requests"] == 1 and stopped["records_scored"] == 1


def test_a_second_sigterm_exits_at_once(serve: WorkerProcess) -> None:
    port = serve.port  # type: ignore[attr-defined]
    in_flight = _start_request(port, b'{"records": []}', sent=5)
    serve.process.send_signal(signal.SIGTERM)
    serve.wait_for_log("Waiting for connections to close. (CTRL+C to force quit)", timeout=WAIT)
    serve.process.send_signal(signal.SIGTERM)
    assert serve.wait_exit(timeout=WAIT) == 128 + signal.SIGTERM
    in_flight.close()


def test_a_model_that_cannot_load_ends_the_process_with_1(tmp_path: Path) -> None:
    process = WorkerProcess(
        {"SCORER_MODEL_URI": str(tmp_path / "no-model")},
        args=("serve", "--host", "127.0.0.1", "--port", str(free_port())),
    )
    try:
        assert process.wait_exit(timeout=WAIT) == 1
        assert process.count(LogEvent.MODEL_LOAD_FAILED) == 1
    finally:
        process.close()


def test_sigterm_while_the_model_loads_exits_0(tiny_model_dir: Path) -> None:
    """ECS may stop a task that never got ready: the process ends cleanly, not by the signal."""
    process = WorkerProcess(
        {"SCORER_MODEL_URI": str(tiny_model_dir)},
        args=("serve", "--host", "127.0.0.1", "--port", str(free_port())),
    )
    try:
        # Bound before TensorFlow is even imported: the model is (almost always) still loading.
        process.wait_for(lambda: any("Uvicorn running" in line for line in process.raw), WAIT)
        process.process.send_signal(signal.SIGTERM)
        assert process.wait_exit(timeout=WAIT) == 0
        assert process.count(LogEvent.STOPPED) == 1
    finally:
        process.close()
