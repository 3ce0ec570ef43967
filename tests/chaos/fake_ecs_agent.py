"""A fake ECS agent on 127.0.0.1: records the task-protection PUTs the worker sends.

The worker finds it through `ECS_AGENT_URI`, as in a real task. A path prefix per worker
(`{url}/w1`) tells several workers apart on one agent.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ProtectionCall:
    path: str
    body: dict[str, Any]
    at: float


class FakeEcsAgent:
    def __init__(self) -> None:
        self.calls: list[ProtectionCall] = []
        self.changed = threading.Condition()
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with agent.changed:
                    agent.calls.append(ProtectionCall(self.path, body, time.monotonic()))
                    agent.changed.notify_all()
                answer = json.dumps(
                    {"protection": {"ProtectionEnabled": body.get("ProtectionEnabled", False)}}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeEcsAgent:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def states(self, prefix: str) -> list[bool]:
        """The ProtectionEnabled values one worker asked for, in order."""
        with self.changed:
            return [
                bool(call.body.get("ProtectionEnabled"))
                for call in self.calls
                if call.path == f"{prefix}/task-protection/v1/state"
            ]
