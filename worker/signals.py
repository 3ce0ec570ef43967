"""Two-stage shutdown on SIGTERM / SIGINT, as ECS and Ctrl-C stop the worker."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from types import FrameType

from worker.log_events import LogEvent

log = logging.getLogger(__name__)


def install_signal_handlers(stop: Callable[[], None]) -> None:
    """First SIGTERM/SIGINT: drain. Second: exit at once (rq's two-stage shutdown)."""

    def immediate(signum: int, frame: FrameType | None) -> None:
        os._exit(128 + signum)

    def graceful(signum: int, frame: FrameType | None) -> None:
        # Swap the handlers before anything else: a second signal that lands while this one
        # logs would otherwise run `graceful` again (Python handlers can nest) and be lost.
        signal.signal(signal.SIGTERM, immediate)
        signal.signal(signal.SIGINT, immediate)
        log.info(LogEvent.SIGNAL_RECEIVED, extra={"signal": signal.Signals(signum).name})
        stop()

    signal.signal(signal.SIGTERM, graceful)
    signal.signal(signal.SIGINT, graceful)
