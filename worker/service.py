"""Wiring the worker together from settings: health first, then model, queue, loop."""

from __future__ import annotations

import gc
import logging
import os
import sys
import threading

from schemas.uris import parse_s3_uri
from worker.aws import s3_client
from worker.health import HealthServer, HealthState
from worker.loop import LoopSettings, Worker
from worker.observability import WorkerMetrics
from worker.processing import BatchProcessor
from worker.protection import ScaleInProtection
from worker.scoring import BatchingScorer
from worker.settings import WorkerSettings
from worker.sqs import SqsQueue

log = logging.getLogger(__name__)


def run_worker(settings: WorkerSettings, install_signal_handlers: bool = False) -> int:
    """Run until stopped; returns the process exit code (0 after a clean drain)."""
    from worker.model import configure_tensorflow, load_model

    # Signals first: a SIGTERM while the model loads (ECS stopping a task that never got
    # ready) must end the process cleanly, not by the default action.
    stop_requested = threading.Event()
    running: list[Worker] = []

    def request_stop() -> None:
        stop_requested.set()
        for worker in running:
            worker.stop()

    if install_signal_handlers:
        from worker.commands import install_signal_handlers as install

        install(request_stop)

    health = HealthState(stale_after=max(60.0, 3.0 * settings.wait_time_seconds))
    server = HealthServer(health, settings.health_host, settings.health_port)
    server.start()
    log.info("health endpoint up", extra={"port": server.port})

    configure_tensorflow(settings.scoring_threads)
    model = load_model(settings.model_uri, settings.model_cache_dir)
    health.model_loaded = True
    queue = SqsQueue.connect(settings.queue_url, settings.dlq_url)
    if queue.dlq_url is None:
        log.warning("no DLQ: poison messages will be retried until the queue's policy says")
    health.queue_reachable = True

    scorer = BatchingScorer(model.score, settings.batch_size, settings.scoring_threads)
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
        log.info("stopped before the first receive")
        server.stop()
        scorer.close()
        return 0
    log.info(
        "worker ready",
        extra={
            "queue_url": settings.queue_url,
            "dlq_url": queue.dlq_url,
            "output_uri": settings.output_uri,
            "model_version": model.version,
            "scoring_threads": settings.scoring_threads,
            "batch_size": settings.batch_size,
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
