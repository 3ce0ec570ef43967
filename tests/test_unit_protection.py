"""Scale-in protection against a fake ECS agent on 127.0.0.1: on when busy, off when idle."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from worker.protection import ScaleInProtection

STATE_PATH = "/task-protection/v1/state"


class FakeAgent:
    """Records the PUTs it gets and answers like the ECS agent (or with `status` when set)."""

    def __init__(self) -> None:
        self.puts: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        self.answer: dict[str, Any] | None = None  # replaces the normal answer when set
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                agent.puts.append((self.path, body))
                answer = agent.answer or {
                    "protection": {"ProtectionEnabled": body.get("ProtectionEnabled")}
                }
                payload = json.dumps(answer if agent.status == 200 else {}).encode()
                self.send_response(agent.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.puts]

    def reset(self) -> None:
        self.puts.clear()
        self.status = 200
        self.answer = None

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def shared_agent() -> Iterator[FakeAgent]:
    agent = FakeAgent()
    yield agent
    agent.stop()  # waits for serve_forever's half-second poll, so once per module


@pytest.fixture
def agent(shared_agent: FakeAgent, monkeypatch: pytest.MonkeyPatch) -> FakeAgent:
    monkeypatch.delenv("ECS_AGENT_URI", raising=False)
    shared_agent.reset()
    return shared_agent


def test_busy_enables_protection_with_an_expiry(agent: FakeAgent) -> None:
    protection = ScaleInProtection(agent_uri=agent.uri, expires_minutes=30)
    protection.update(busy=True)
    assert agent.puts == [(STATE_PATH, {"ProtectionEnabled": True, "ExpiresInMinutes": 30})]
    assert protection.enabled is True


def test_agent_uri_with_a_trailing_slash(agent: FakeAgent) -> None:
    ScaleInProtection(agent_uri=agent.uri + "/").update(busy=True)
    assert [path for path, _ in agent.puts] == [STATE_PATH]


def test_staying_busy_does_not_send_again_before_renewal_is_due(agent: FakeAgent) -> None:
    protection = ScaleInProtection(agent_uri=agent.uri, expires_minutes=60)
    protection.update(busy=True)
    protection.update(busy=True)
    protection.update(busy=True)
    assert len(agent.puts) == 1


def test_idle_after_the_grace_period_disables_protection(agent: FakeAgent) -> None:
    protection = ScaleInProtection(agent_uri=agent.uri, idle_grace_seconds=0)
    protection.update(busy=True)
    protection.update(busy=False)
    assert agent.bodies[-1] == {"ProtectionEnabled": False}
    assert len(agent.puts) == 2
    assert protection.enabled is False


def test_idle_within_the_grace_period_keeps_protection(agent: FakeAgent) -> None:
    protection = ScaleInProtection(agent_uri=agent.uri, idle_grace_seconds=3600)
    protection.update(busy=True)
    protection.update(busy=False)
    assert len(agent.puts) == 1
    assert protection.enabled is True


def test_idle_when_never_enabled_sends_nothing(agent: FakeAgent) -> None:
    ScaleInProtection(agent_uri=agent.uri, idle_grace_seconds=0).update(busy=False)
    assert agent.puts == []


def test_release_disables_protection(agent: FakeAgent) -> None:
    protection = ScaleInProtection(agent_uri=agent.uri)
    protection.update(busy=True)
    protection.release()
    assert agent.bodies == [
        {"ProtectionEnabled": True, "ExpiresInMinutes": 60},
        {"ProtectionEnabled": False},
    ]


def test_agent_uri_comes_from_the_ecs_variable(
    agent: FakeAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECS_AGENT_URI", agent.uri)
    ScaleInProtection().update(busy=True)
    assert len(agent.puts) == 1


def test_without_an_agent_nothing_is_sent(
    agent: FakeAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *args, **kw: opened.append(args))
    protection = ScaleInProtection(agent_uri=None, idle_grace_seconds=0)
    protection.update(busy=True)
    protection.update(busy=False)
    protection.release()
    assert opened == []
    assert agent.puts == []
    assert protection.enabled is False


def test_agent_error_does_not_raise_and_is_retried(agent: FakeAgent) -> None:
    agent.status = 500
    protection = ScaleInProtection(agent_uri=agent.uri)
    protection.update(busy=True)
    assert protection.enabled is False
    agent.status = 200
    protection.update(busy=True)
    assert protection.enabled is True
    assert len(agent.puts) == 2


def test_agent_refusal_leaves_protection_off(agent: FakeAgent) -> None:
    agent.answer = {"failure": {"Arn": "task", "Reason": "TASK_NOT_VALID"}}
    protection = ScaleInProtection(agent_uri=agent.uri)
    protection.update(busy=True)
    assert len(agent.puts) == 1
    assert protection.enabled is False


def test_agent_not_listening_does_not_raise() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    protection = ScaleInProtection(agent_uri=f"http://127.0.0.1:{port}", idle_grace_seconds=0)
    protection.update(busy=True)
    assert protection.enabled is False
