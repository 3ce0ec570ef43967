"""Wiring the worker together from settings: health first, then model, queue, loop."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.uris import parse_s3_uri
from worker.aws import s3_client
from worker.errors import ConfigError, setting_value
from worker.health import HealthServer, HealthState
from worker.log_events import LogEvent
from worker.loop import LoopSettings, Worker
from worker.observability import WorkerMetrics
from worker.processing import BatchProcessor
from worker.protection import ScaleInProtection
from worker.quiet_tensorflow import import_tensorflow_quietly
from worker.scoring import BatchingScorer
from worker.settings import WorkerSettings
from worker.sqs import SqsQueue
from worker.terminal_text import printable

if TYPE_CHECKING:
    from worker.model import SentimentModel

log = logging.getLogger(__name__)


def start_health_server(health: HealthState, host: str, port: int) -> HealthServer:
    """The health endpoint, or a ConfigError naming SCORER_HEALTH_PORT (e.g. port in use)."""
    try:
        server = HealthServer(health, host, port)
    except OSError as error:
        raise ConfigError(
            f"cannot serve /healthz on {host}:{port}: {error.strerror or error} "
            "(another worker on this machine? set SCORER_HEALTH_PORT, 0 picks a free port; "
            "SCORER_HEALTH_HOST sets the address)"
        ) from None
    server.start()
    return server


def load_model_named_by_settings(uri: str, cache_dir: Path | None) -> SentimentModel:
    """The model, or a ConfigError naming SCORER_MODEL_URI and what is wrong with it."""
    from worker.model import ModelLoadError, load_model

    try:
        return load_model(uri, cache_dir)
    except ModelLoadError as error:
        raise ConfigError(f"SCORER_MODEL_URI: {printable(error)}") from None


def open_queue(queue_url: str, dlq_url: str | None) -> SqsQueue:
    """The queue, or a ConfigError naming SCORER_QUEUE_URL when SQS says it does not exist."""
    from botocore.exceptions import ClientError

    try:
        return SqsQueue.connect(queue_url, dlq_url)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "NonExistentQueue" in code or code == "QueueDoesNotExist":
            raise ConfigError(
                f"{setting_value('SCORER_QUEUE_URL', queue_url)}: no such queue "
                "(or SCORER_DLQ_URL / the redrive policy's DLQ)"
            ) from None
        raise


def run_worker(settings: WorkerSettings, install_signal_handlers: bool = False) -> int:
    """Run until stopped; returns the process exit code (0 after a clean drain)."""
    from worker.model import configure_tensorflow

    # Signals first: a SIGTERM while the model loads (ECS stopping a task that never got
    # ready) must end the process cleanly, not by the default action.
    stop_requested = threading.Event()
    running: list[Worker] = []

    def request_stop() -> None:
        stop_requested.set()
        for worker in running:
            worker.stop()

    if install_signal_handlers:
        from worker.signals import install_signal_handlers as install

        install(request_stop)

    health = HealthState(stale_after=max(60.0, 3.0 * settings.wait_time_seconds))
    server = start_health_server(health, settings.health_host, settings.health_port)
    log.info(LogEvent.HEALTH_UP, extra={"port": server.port})

    import_tensorflow_quietly()
    configure_tensorflow(settings.scoring_threads)
    model = load_model_named_by_settings(settings.model_uri, settings.model_cache_dir)
    health.model_loaded = True
    queue = open_queue(settings.queue_url, settings.dlq_url)
    if queue.dlq_url is None:
        log.warning("no DLQ: poison messages will be retried until the queue's policy says")
    health.queue_reachable = True

    scorer = BatchingScorer(model.score, settings.texts_per_model_call, settings.scoring_threads)
    scorer.warm_up()
    s3_client()  # built now (botocore loads S3's service model), not inside the first message
    # Startup leaves ~300,000 objects (TensorFlow, botocore) that live as long as the process:
    # out of the collector's reach, each full collection no longer walks them (profiled:
    # collections took ~5% of the worker's CPU while scoring).
    gc.freeze()
    processor = BatchProcessor(
        scorer=scorer,
        model_version=model.version,
        threshold=model.threshold,
        output=parse_s3_uri(settings.output_uri),
        allowed_inputs=[parse_s3_uri(uri) for uri in settings.allowed_input_uris],
        max_records_per_message=settings.max_records_per_message,
        max_records_per_input=settings.max_records_per_input,
        max_input_bytes=settings.max_input_bytes,
        max_text_bytes=settings.max_text_bytes,
        part_size=settings.part_size_bytes,
        pipeline_depth=2 * settings.scoring_threads,
    )
    worker = Worker(
        queue=queue,
        processor=processor,
        settings=LoopSettings(
            wait_time_seconds=settings.wait_time_seconds,
            visibility_timeout=settings.visibility_timeout,
            heartbeat_fraction=settings.heartbeat_fraction,
            max_in_flight=settings.max_in_flight,
            retry_delay_seconds=settings.retry_delay_seconds,
            drain_timeout=settings.drain_timeout,
            exit_when_idle=settings.exit_when_idle,
        ),
        health=health,
        metrics=WorkerMetrics(settings.metrics_namespace),
        protection=ScaleInProtection(),
    )
    running.append(worker)
    if stop_requested.is_set():
        log.info(LogEvent.STOPPED_BEFORE_RECEIVE)
        server.stop()
        scorer.close()
        return 0
    log.info(
        LogEvent.WORKER_READY,
        extra={
            "queue_url": settings.queue_url,
            "dlq_url": queue.dlq_url,
            "output_uri": settings.output_uri,
            "model_version": model.version,
            "scoring_threads": settings.scoring_threads,
            "texts_per_model_call": settings.texts_per_model_call,
        },
    )
    code = worker.run()
    server.stop()
    if not worker.drained:
        # Released messages may still have threads blocked in I/O; they must not hold the
        # process past the ECS stop timeout. Everything they held is back on the queue.
        sys.stdout.flush()
        os._exit(code)
    scorer.close()
    return code
