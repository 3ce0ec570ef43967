"""How long the garbage collector stops the process, per generation.

A loaded model leaves ~300,000 long-lived objects (TensorFlow, pydantic, uvicorn). Each full
collection walks them all unless they are frozen (`gc.freeze()` after start-up); every request
allocates, so collections keep coming. This counts them and their pauses, cheaply (two clock
reads per collection), for the server's `stopped` log line and the benchmark.
"""

from __future__ import annotations

import gc
import time
from typing import Any


class GcPauses:
    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self.longest = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        pause = time.perf_counter() - self._started
        generation = info["generation"]
        self.count[generation] += 1
        self.seconds[generation] += pause
        self.longest = max(self.longest, pause)

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def summary(self) -> dict[str, Any]:
        return {
            "gc_collections": list(self.count),
            "gc_pause_ms": [round(1000 * s, 1) for s in self.seconds],
            "gc_longest_pause_ms": round(1000 * self.longest, 2),
            "gc_frozen_objects": gc.get_freeze_count(),
        }
