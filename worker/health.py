"""The health endpoint ECS (and a load balancer, or a person with curl) asks.

`/healthz`: the process is alive and its receive loop ticked recently (a stuck loop fails it,
so ECS replaces the task). `/readyz`: the model is loaded, the queue answered, and the
worker is not draining.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HealthState:
    """Timestamps and flags the loop updates; the server only reads them."""

    def __init__(self, stale_after: float) -> None:
        self.stale_after = stale_after
        self.started = time.monotonic()
        self.last_tick: float | None = None
        self.model_loaded = False
        self.queue_reachable = False
        self.draining = False
        self.in_flight = 0

    def tick(self) -> None:
        self.last_tick = time.monotonic()

    def live(self) -> tuple[bool, dict[str, object]]:
        if self.last_tick is None:
            return True, {"status": "starting", "seconds": round(time.monotonic() - self.started)}
        age = time.monotonic() - self.last_tick
        alive = age <= self.stale_after
        return alive, {"status": "ok" if alive else "stalled", "last_tick_age": round(age, 1)}

    def ready(self) -> tuple[bool, dict[str, object]]:
        ready = self.model_loaded and self.queue_reachable and not self.draining
        return ready, {
            "status": "ready" if ready else "not ready",
            "model_loaded": self.model_loaded,
            "queue_reachable": self.queue_reachable,
            "draining": self.draining,
            "in_flight": self.in_flight,
        }


class HealthServer:
    """A tiny HTTP server on its own daemon thread."""

    def __init__(self, state: HealthState, host: str, port: int) -> None:
        checks = {"/healthz": state.live, "/readyz": state.ready}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                check = checks.get(self.path.split("?", 1)[0])
                if check is None:
                    self._reply(404, {"status": "not found"})
                    return
                ok, body = check()
                self._reply(200 if ok else 503, body)

            def _reply(self, status: int, body: dict[str, object]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return  # health probes every few seconds would drown the logs

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="health", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
