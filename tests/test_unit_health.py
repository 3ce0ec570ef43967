"""The health endpoints ECS asks: /healthz follows the loop's ticks, /readyz the worker's state."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from worker.health import HealthServer, HealthState

STALE_AFTER = 2.0


@dataclass
class Probe:
    state: HealthState
    base_url: str

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server_probe() -> Iterator[Probe]:
    state = HealthState(stale_after=STALE_AFTER)
    server = HealthServer(state, "127.0.0.1", 0)
    server.start()
    try:
        yield Probe(state, f"http://127.0.0.1:{server.port}")
    finally:
        server.stop()  # takes up to half a second (serve_forever's poll), so once per module


@pytest.fixture
def probe(server_probe: Probe) -> Probe:
    """The shared server, its state reset to a freshly constructed one."""
    vars(server_probe.state).update(vars(HealthState(stale_after=STALE_AFTER)))
    return server_probe


def test_server_on_port_zero_gets_a_real_port(probe: Probe) -> None:
    assert not probe.base_url.endswith(":0")


def test_healthz_is_starting_before_the_first_tick(probe: Probe) -> None:
    status, body = probe.get("/healthz")
    assert status == 200
    assert body["status"] == "starting"


def test_healthz_is_ok_after_a_tick(probe: Probe) -> None:
    probe.state.tick()
    status, body = probe.get("/healthz")
    assert status == 200
    assert body["status"] == "ok"


def test_healthz_is_stalled_when_the_last_tick_is_too_old(probe: Probe) -> None:
    probe.state.last_tick = time.monotonic() - 600
    status, body = probe.get("/healthz")
    assert status == 503
    assert body["status"] == "stalled"
    assert body["last_tick_age"] >= 600


def test_healthz_recovers_when_the_loop_ticks_again(probe: Probe) -> None:
    probe.state.last_tick = time.monotonic() - 600
    assert probe.get("/healthz")[0] == 503
    probe.state.tick()
    assert probe.get("/healthz")[0] == 200


def test_healthz_ignores_a_query_string(probe: Probe) -> None:
    probe.state.tick()
    status, body = probe.get("/healthz?verbose=1")
    assert (status, body["status"]) == (200, "ok")


@pytest.mark.parametrize(
    ("model_loaded", "queue_reachable"), [(False, False), (True, False), (False, True)]
)
def test_readyz_is_503_until_model_and_queue_are_both_ready(
    probe: Probe, model_loaded: bool, queue_reachable: bool
) -> None:
    probe.state.model_loaded = model_loaded
    probe.state.queue_reachable = queue_reachable
    status, body = probe.get("/readyz")
    assert status == 503
    assert body["status"] == "not ready"
    assert (body["model_loaded"], body["queue_reachable"]) == (model_loaded, queue_reachable)


def test_readyz_is_200_when_ready_and_503_again_when_draining(probe: Probe) -> None:
    probe.state.model_loaded = True
    probe.state.queue_reachable = True
    probe.state.in_flight = 3
    status, body = probe.get("/readyz")
    assert status == 200
    assert body["status"] == "ready"
    assert body["in_flight"] == 3

    probe.state.draining = True
    status, body = probe.get("/readyz")
    assert status == 503
    assert body["draining"] is True


@pytest.mark.parametrize("path", ["/", "/health", "/healthz/x", "/metrics"])
def test_unknown_path_is_404(probe: Probe, path: str) -> None:
    status, body = probe.get(path)
    assert status == 404
    assert body["status"] == "not found"


def test_live_and_ready_without_a_server() -> None:
    state = HealthState(stale_after=30)
    assert state.live() == (True, {"status": "starting", "seconds": 0})
    state.tick()
    assert state.live()[0] is True
    state.last_tick = time.monotonic() - 31
    assert state.live()[0] is False
    assert state.ready()[0] is False
