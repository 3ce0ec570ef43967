"""Structured JSON logs and CloudWatch embedded-metric-format (EMF) metrics on stdout.

ECS ships stdout to CloudWatch Logs; EMF lines there become metrics with no agent. Logs
name ids and counts, never review text.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from worker.errors import ConfigError, setting_value

SERVICE = "scorer"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level_from_env(default: str = "INFO") -> str:
    """`SCORER_LOG_LEVEL` (any case), or ConfigError naming it when it is not a level."""
    value = os.environ.get("SCORER_LOG_LEVEL", default)
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(
            f"invalid configuration: {setting_value('SCORER_LOG_LEVEL', value)} is not a log "
            f"level: use one of {', '.join(LOG_LEVELS)}"
        )
    return level


def configure_logging(level: str = "INFO") -> None:
    """Every logger of the process writes one JSON object per line to stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(LambdaPowertoolsFormatter(service=SERVICE))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "tensorflow", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class WorkerMetrics:
    """One EMF line per finished message, from any thread."""

    def __init__(self, namespace: str) -> None:
        self._metrics = Metrics(namespace=namespace, service=SERVICE)
        self._lock = threading.Lock()

    def message_done(
        self, outcome: str, records_scored: int, records_rejected: int, seconds: float
    ) -> None:
        with self._lock:
            self._metrics.add_metric(name="Messages", unit=MetricUnit.Count, value=1)
            if outcome != "scored":
                name = {"dead_lettered": "MessagesDeadLettered"}.get(outcome, "MessagesRetried")
                self._metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            self._metrics.add_metric(
                name="RecordsScored", unit=MetricUnit.Count, value=records_scored
            )
            self._metrics.add_metric(
                name="RecordsRejected", unit=MetricUnit.Count, value=records_rejected
            )
            self._metrics.add_metric(name="MessageLatency", unit=MetricUnit.Seconds, value=seconds)
            blob = self._metrics.serialize_metric_set()
            self._metrics.clear_metrics()
        if is_metrics_disabled():  # POWERTOOLS_METRICS_DISABLED, honoured as flush_metrics does
            return
        # One write per line (print() makes two: the text, then the newline), so a log line
        # written by another thread can never land between an EMF object and its newline.
        sys.stdout.write(json.dumps(blob, separators=(",", ":")) + "\n")
        sys.stdout.flush()
