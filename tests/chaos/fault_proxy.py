"""A fault-injecting HTTP proxy between the worker and moto's server, on 127.0.0.1.

It forwards each request byte for byte (method, path, headers in order including Host, body;
only hop-by-hop headers are dropped), and for a configured fraction answers instead with what
AWS answers under stress: 500 InternalError, 503 ServiceUnavailable, S3 503 SlowDown, SQS
throttling; or drops the connection without an answer; or forwards and then cuts the response
body of an S3 object GET halfway; or delays the answer. A seeded RNG makes a run repeatable.

Faults that answer instead of moto are injected *before* forwarding, so moto never sees the
faulted attempt (no ambiguous half-done request). Every request is logged with its service,
operation, path, botocore attempt number and invocation id (the `amz-sdk-request` and
`amz-sdk-invocation-id` headers), which is how a test proves that botocore did the retrying.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import socket
import struct
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: Headers that belong to one connection, not to the request: never forwarded.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
    "expect",  # 100-continue is negotiated between the client and this proxy
}

S3_ERRORS = {
    "s3_500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "s3_503": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "s3_slowdown": (503, "SlowDown", "Please reduce your request rate."),
}
SQS_ERRORS = {
    "sqs_500": (500, "InternalError", "InternalFailure", "Internal failure."),
    "sqs_503": (503, "ServiceUnavailable", "ServiceUnavailable", "Service unavailable."),
    "sqs_throttled": (400, "ThrottlingException", "RequestThrottled", "Rate exceeded."),
}


@dataclass(frozen=True)
class FaultPlan:
    """Fractions of requests (per service) that get each family of fault."""

    error_rate: float = 0.0  # 500 / 503 / SlowDown / throttling, chosen evenly
    reset_rate: float = 0.0  # connection dropped unanswered, or an S3 object body cut halfway
    delay_rate: float = 0.0  # answered after a random delay of up to max_delay seconds
    max_delay: float = 1.0
    services: tuple[str, ...] = ("s3", "sqs")


@dataclass
class ProxiedRequest:
    """One request as the proxy saw it, and what it did with it."""

    seq: int
    service: str
    method: str
    path: str
    operation: str
    attempt: int
    max_attempts: int
    invocation: str
    fault: str | None
    status: int | None
    delay: float
    body_sha256: str | None
    body_bytes: int
    started: float = field(default_factory=time.monotonic)

    @property
    def key_path(self) -> str:
        """The decoded path without the query string (`/bucket/key` for S3)."""
        return urllib.parse.unquote(self.path.split("?", 1)[0])

    @property
    def query(self) -> dict[str, list[str]]:
        return urllib.parse.parse_qs(self.path.partition("?")[2], keep_blank_values=True)


def _service_of(headers: http.client.HTTPMessage) -> str:
    target = headers.get("X-Amz-Target", "")
    if target.startswith("AmazonSQS"):
        return "sqs"
    authorization = headers.get("Authorization", "")
    for name in ("sqs", "s3"):
        if f"/{name}/aws4_request" in authorization:
            return name
    return "s3"


def _operation_of(service: str, method: str, path: str, headers: http.client.HTTPMessage) -> str:
    if service == "sqs":
        return headers.get("X-Amz-Target", "").rpartition(".")[2] or "unknown"
    bare, _, query = path.partition("?")
    parts = [p for p in bare.split("/") if p]
    params = urllib.parse.parse_qs(query, keep_blank_values=True)
    if len(parts) <= 1:
        return f"{method} bucket" + (" list" if "list-type" in params or method == "GET" else "")
    if "uploads" in params:
        return "CreateMultipartUpload"
    if "uploadId" in params:
        return {"PUT": "UploadPart", "POST": "CompleteMultipartUpload"}.get(
            method, f"{method} multipart"
        )
    return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject"}.get(
        method, f"{method} object"
    )


def _read_chunked(rfile: object) -> bytes:
    """A chunked request body, raw (chunk sizes, extensions and trailers kept as sent)."""
    raw = bytearray()
    while True:
        line = rfile.readline()  # type: ignore[attr-defined]
        raw += line
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while True:
                trailer = rfile.readline()  # type: ignore[attr-defined]
                raw += trailer
                if trailer in (b"\r\n", b"\n", b""):
                    return bytes(raw)
        raw += rfile.read(size + 2)  # type: ignore[attr-defined]


def _decode_chunked(raw: bytes) -> bytes:
    out = bytearray()
    position = 0
    while True:
        end = raw.index(b"\r\n", position)
        size = int(raw[position:end].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += raw[end + 2 : end + 2 + size]
        position = end + 2 + size + 2


class FaultProxy:
    """`with FaultProxy(upstream, plan, seed) as proxy:` then point AWS_ENDPOINT_URL at `.url`."""

    def __init__(self, upstream: str, plan: FaultPlan | None = None, seed: int = 7) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream_host = parsed.hostname or "127.0.0.1"
        self.upstream_port = parsed.port or 80
        self.plan = plan or FaultPlan()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.requests: list[ProxiedRequest] = []
        self.injected: Counter[tuple[str, str]] = Counter()  # (service, kind)
        self.enabled = True
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                proxy._handle(self)

            do_PUT = do_POST = do_HEAD = do_DELETE = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- figures --------------------------------------------------------------------------

    def snapshot(self) -> list[ProxiedRequest]:
        with self._lock:
            return list(self.requests)

    def injected_by_kind(self) -> dict[str, int]:
        with self._lock:
            totals: Counter[str] = Counter()
            for (_, kind), count in self.injected.items():
                totals[kind] += count
            return dict(totals)

    def injected_by_service(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (service, kind), count in sorted(self.injected.items()):
                out.setdefault(service, {})[kind] = count
            return out

    # -- one request ----------------------------------------------------------------------

    def _choose(self, service: str, method: str, operation: str) -> tuple[str | None, float]:
        plan = self.plan
        with self._lock:
            if not self.enabled or service not in plan.services:
                return None, 0.0
            roll = self._rng.random()
            delay = (
                self._rng.uniform(0.0, plan.max_delay)
                if self._rng.random() < plan.delay_rate
                else 0.0
            )
            if roll < plan.error_rate:
                kinds = sorted(S3_ERRORS if service == "s3" else SQS_ERRORS)
                return self._rng.choice(kinds), delay
            if roll < plan.error_rate + plan.reset_rate:
                if service == "s3" and operation == "GetObject" and self._rng.random() < 0.5:
                    return "cut_body", delay
                return "reset", delay
            return None, delay

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        headers = handler.headers
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            body = _read_chunked(handler.rfile)
            payload = _decode_chunked(body)
        else:
            length = int(headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
            payload = body
        service = _service_of(headers)
        method = handler.command
        operation = _operation_of(service, method, handler.path, headers)
        attempt, max_attempts = 1, 0
        for part in headers.get("amz-sdk-request", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "attempt" and value.isdigit():
                attempt = int(value)
            elif name == "max" and value.isdigit():
                max_attempts = int(value)
        fault, delay = self._choose(service, method, operation)
        record = ProxiedRequest(
            seq=0,
            service=service,
            method=method,
            path=handler.path,
            operation=operation,
            attempt=attempt,
            max_attempts=max_attempts,
            invocation=headers.get("amz-sdk-invocation-id", ""),
            fault=fault,
            status=None,
            delay=round(delay, 3),
            body_sha256=hashlib.sha256(payload).hexdigest() if method in ("PUT", "POST") else None,
            body_bytes=len(payload),
        )
        with self._lock:
            record.seq = len(self.requests)
            self.requests.append(record)
            if fault is not None:
                self.injected[(service, fault)] += 1
            if delay:
                self.injected[(service, "delay")] += 1
        if delay:
            time.sleep(delay)  # the injected fault itself: a slow answer
        if fault == "reset":
            self._reset(handler)
            return
        if fault in S3_ERRORS or fault in SQS_ERRORS:
            record.status = self._answer_error(handler, service, fault)
            return
        status, reason, response_headers, data = self._forward(handler, body)
        record.status = status
        if fault == "cut_body" and len(data) >= 2:
            self._send(handler, status, reason, response_headers, data, cut=len(data) // 2)
            self._reset(handler)
            return
        self._send(handler, status, reason, response_headers, data)

    def _forward(
        self, handler: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        try:
            connection.putrequest(
                handler.command, handler.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in handler.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.endheaders()
            if body:
                connection.send(body)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.reason, response.getheaders(), data
        finally:
            connection.close()

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        status: int,
        reason: str | None,
        headers: list[tuple[str, str]],
        data: bytes,
        cut: int | None = None,
    ) -> None:
        handler.send_response_only(status, reason)
        length = None
        for name, value in headers:
            lowered = name.lower()
            if lowered in ("transfer-encoding", "connection", "keep-alive"):
                continue
            if lowered == "content-length":
                length = value
                continue
            handler.send_header(name, value)
        if handler.command == "HEAD":
            handler.send_header("Content-Length", length or "0")
        else:
            handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data if cut is None else data[:cut])
        handler.wfile.flush()

    @staticmethod
    def _reset(handler: BaseHTTPRequestHandler) -> None:
        """Drop the connection with a TCP reset: the client sees it die, no answer."""
        handler.close_connection = True
        try:
            handler.wfile.flush()
            handler.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            handler.connection.close()
        except OSError:
            pass

    @staticmethod
    def _answer_error(handler: BaseHTTPRequestHandler, service: str, fault: str) -> int:
        request_id = f"chaos-{random.getrandbits(32):08x}"
        if service == "s3":
            status, code, message = S3_ERRORS[fault]
            payload = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{message}</Message>"
                f"<RequestId>{request_id}</RequestId></Error>"
            ).encode()
            headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
        else:
            status, json_type, query_code, message = SQS_ERRORS[fault]
            payload = (
                f'{{"__type": "com.amazonaws.sqs#{json_type}", "message": "{message}"}}'
            ).encode()
            kind = "Receiver" if status >= 500 else "Sender"
            headers = [
                ("Content-Type", "application/x-amz-json-1.0"),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-query-error", f"{query_code};{kind}"),
            ]
        FaultProxy._send(handler, status, None, headers, payload)
        return status
