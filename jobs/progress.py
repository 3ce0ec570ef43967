"""Progress on stderr: a redrawn bar on a terminal, a few plain lines otherwise.

No dependency: a bar is one carriage-returned line. When stderr is not a terminal (CI, a
log file, ECS) only a line per 10% is written, so logs stay short and greppable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30


class Progress:
    """Counts `unit`s done out of `total` (None when unknown) and shows it on `stream`."""

    def __init__(
        self,
        label: str,
        total: int | None = None,
        unit: str = "records",
        stream: TextIO | None = None,
        interactive: bool | None = None,
        min_interval: float = 0.1,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.min_interval = min_interval
        self.done = 0
        self._started = time.monotonic()
        self._drawn = 0.0
        self._next_decile = 1

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self.interactive:
            now = time.monotonic()
            if now - self._drawn >= self.min_interval:
                self._drawn = now
                self._draw()
        elif self.total and self._next_decile <= 10:
            reached = min(10, self.done * 10 // self.total)
            if reached >= self._next_decile:
                self._next_decile = reached + 1
                self._line(f"{reached * 10}%")

    def close(self) -> None:
        if self.interactive:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        elif not self.total:
            self._line("done")

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self._started:.1f}s"

    def _draw(self) -> None:
        if self.total:
            filled = min(_WIDTH, _WIDTH * self.done // self.total)
            bar = "#" * filled + "-" * (_WIDTH - filled)
            text = (
                f"{self.label} [{bar}] {100 * self.done // self.total:3d}% "
                f"{self.done:,}/{self.total:,} {self.unit} {self._elapsed()}"
            )
        else:
            unit = self.unit.removesuffix("s") if self.done == 1 else self.unit
            text = f"{self.label} {self.done:,} {unit} {self._elapsed()}"
        self.stream.write("\r" + text + "\033[K")
        self.stream.flush()

    def _line(self, what: str) -> None:
        total = f"/{self.total:,}" if self.total else ""
        self.stream.write(
            f"{self.label}: {what} ({self.done:,}{total} {self.unit}, {self._elapsed()})\n"
        )
        self.stream.flush()
