"""Running `scorer serve`: bind first, load the model beside it, stop gracefully on SIGTERM.

One process, one event loop for HTTP, the worker's BatchingScorer with one scoring thread per
core behind it: concurrent requests share model calls. The port answers `/healthz` while the
model loads (`/readyz` and `/v1/score` say 503 until it is ready), as the worker does.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from worker.log_events import LogEvent
from worker.scoring import BatchingScorer
from worker.serve.app import ServeState, build_app
from worker.serve.gc_pauses import GcPauses
from worker.serve.request_scorer import RequestScorer
from worker.settings import ServeSettings

log = logging.getLogger(__name__)
AppFactory = Callable[[ServeState], Any]

#: Longer than a load balancer's idle timeout (60 s on an ALB): the balancer, not the
#: server, closes idle connections, so it never sends a request on one being closed.
KEEP_ALIVE_SECONDS = 65


class _GracefulServer(uvicorn.Server):
    """uvicorn's server with the worker's two-stage stop: the first SIGTERM or SIGINT stops
    accepting and answers what is in flight, a second exits at once. Exits 0 after a drain
    (uvicorn would re-raise the signal and die by it)."""

    def __init__(self, config: uvicorn.Config, state: ServeState) -> None:
        super().__init__(config)
        self.state = state

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            os._exit(128 + sig)
        log.info(LogEvent.SIGNAL_RECEIVED, extra={"signal": signal.Signals(sig).name})
        self.state.draining = True
        self.should_exit = True


def _load_model(
    settings: ServeSettings,
    state: ServeState,
    server: _GracefulServer,
    failed: threading.Event,
    pauses: GcPauses,
) -> None:
    from worker.model import configure_tensorflow, load_model

    try:
        configure_tensorflow(settings.scoring_threads)
        model = load_model(settings.model_uri, settings.model_cache_dir)
        scorer = BatchingScorer(
            model.score, settings.texts_per_model_call, settings.scoring_threads
        )
        scorer.warm_up()
    except BaseException:
        log.exception(LogEvent.MODEL_LOAD_FAILED)
        failed.set()
        server.should_exit = True
        return
    # Start-up leaves ~300,000 objects that live as long as the process: out of the
    # collector's reach, full collections no longer walk them on every request's garbage.
    gc.collect()
    gc.freeze()
    pauses.start()  # the pauses of serving, not those of loading TensorFlow
    state.scorer = RequestScorer(scorer, model.version, model.threshold, settings.max_text_bytes)
    log.info(
        "server ready",
        extra={
            "model_version": model.version,
            "scoring_threads": settings.scoring_threads,
            "texts_per_model_call": settings.texts_per_model_call,
            "frozen_objects": gc.get_freeze_count(),
        },
    )


class _DropColourCodes(logging.Filter):
    """uvicorn attaches an ANSI-coloured copy of some messages; JSON logs need only one."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


def run_server(settings: ServeSettings, app_factory: AppFactory = build_app) -> int:
    """Serve until SIGTERM; returns the exit code (0 after a drain, 1 if the model failed).

    `app_factory` builds the ASGI application around the state (the benchmark passes a FastAPI
    one to compare frameworks on the same server, model and batching).
    """
    logging.getLogger("uvicorn.error").addFilter(_DropColourCodes())
    state = ServeState(max_body_bytes=settings.serve_max_body_bytes)
    config = uvicorn.Config(
        app_factory(state),
        host=settings.serve_host,
        port=settings.serve_port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_config=None,  # the process's JSON logging (configure_logging) applies
        access_log=False,
        limit_concurrency=settings.serve_max_connections,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=max(1, round(settings.serve_drain_timeout)),
    )
    server = _GracefulServer(config, state)
    failed = threading.Event()
    pauses = GcPauses()
    loader = threading.Thread(
        target=_load_model,
        args=(settings, state, server, failed, pauses),
        name="model-loader",
        daemon=True,
    )
    loader.start()
    server.run()
    pauses.stop()
    extra: dict[str, object] = {"model_failed": failed.is_set(), **pauses.summary()}
    if state.scorer is not None:
        batching = state.scorer.scorer
        batching.close()
        counts = state.scorer.counts
        extra.update(
            requests=counts.requests,
            records_scored=counts.records_scored,
            records_rejected=counts.records_rejected,
            overloaded=counts.overloaded,
            model_calls=batching.model_calls,
            texts_scored=batching.texts_scored,
            model_busy_seconds=round(batching.busy_seconds, 3),
        )
    log.info(LogEvent.STOPPED, extra=extra)
    return 1 if failed.is_set() else 0
