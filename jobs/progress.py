"""Progress on stderr: tqdm's bar on a terminal, a line per 10% otherwise.

When stderr is not a terminal (CI, a log file, ECS) a redrawn bar would fill the log with
carriage returns, so only a line per 10% is written: logs stay short and greppable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm


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
        self.done = 0
        self._started = time.monotonic()
        self._next_decile = 1
        self._bar = (
            tqdm(
                total=total,
                desc=label,
                unit=" " + unit,
                unit_scale=False,
                file=self.stream,
                mininterval=min_interval,
                dynamic_ncols=True,
                leave=True,
            )
            if self.interactive
            else None
        )

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        if self._bar is not None:
            self._bar.update(amount)
        elif self.total and self._next_decile <= 10:
            reached = min(10, self.done * 10 // self.total)
            if reached >= self._next_decile:
                self._next_decile = reached + 1
                self._line(f"{reached * 10}%")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif not self.total:
            self._line("done")

    def _line(self, what: str) -> None:
        total = f"/{self.total:,}" if self.total else ""
        elapsed = f"{time.monotonic() - self._started:.1f}s"
        self.stream.write(f"{self.label}: {what} ({self.done:,}{total} {self.unit}, {elapsed})\n")
        self.stream.flush()
