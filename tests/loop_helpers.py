"""A real `Worker` for the loop's tests: settings sized for tests, health and metrics stubs off.

Shared by the in-memory tests (test_unit_loop.py) and those against moto in-process
(test_unit_loop_receive.py, test_unit_loop_stop.py), so a new `Worker` argument is one edit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.health import HealthState
from worker.loop import LoopSettings, Worker
from worker.observability import WorkerMetrics
from worker.protection import ScaleInProtection

WAIT = 10.0  # seconds before a stuck test gives up; never reached when the code works


@dataclass
class Stats:
    """What the loop reads of a processor's scorer (for its metrics)."""

    model_calls: int = 0
    texts_scored: int = 0
    busy_seconds: float = 0.0


def loop_settings(**changes: float | int | bool) -> LoopSettings:
    values: dict[str, float | int | bool] = {
        "wait_time_seconds": 0,  # in-memory queues: no poll to wait out at the end
        "visibility_timeout": 30,
        "heartbeat_fraction": 0.5,
        "max_in_flight": 8,
        "retry_delay_seconds": 0,
        "drain_timeout": WAIT,
        "exit_when_idle": True,
        **changes,
    }
    return LoopSettings(**values)  # type: ignore[arg-type]


def make_worker(
    queue: Any,
    processor: Any,
    clock: Callable[[], float] = time.monotonic,
    **settings: float | int | bool,
) -> Worker:
    return Worker(
        queue=queue,
        processor=processor,
        settings=loop_settings(**settings),
        health=HealthState(stale_after=60),
        metrics=WorkerMetrics("scorer-test"),
        protection=ScaleInProtection(agent_uri=""),
        clock=clock,
    )
